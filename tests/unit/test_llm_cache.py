"""The similarity cache's pure part: keys, parsing requests, remapping, partial hits."""

from __future__ import annotations

from reviewer.llm.cache import (
    CachedChunkReviewer,
    MemoryCacheStore,
    cache_version,
    key_hash,
    normalise,
    parse_units,
    remap,
    to_cached,
)
from reviewer.llm.calls import CallUsage, ChunkAnswer, ChunkRequest
from reviewer.llm.prompts import PROMPT_VERSION, build_messages
from reviewer.llm.schema import LLMFinding
from reviewer.llm.selection import Unit

FUNC = [
    "def load(conn, user_id):",
    "    cur = conn.cursor()",
    '    cur.execute("SELECT * FROM users WHERE id = " + user_id)',
    "    return cur.fetchone()",
]


def _unit(path: str, start: int, lines: list[str] = FUNC) -> Unit:
    end = start + len(lines) - 1
    return Unit(path=path, start=start, end=end, added=frozenset(range(start, end + 1)), lines=tuple(lines))


def _request(units: list[Unit], *, version: str = PROMPT_VERSION, model: str = "gpt-4o") -> ChunkRequest:
    return ChunkRequest(
        agent="security", code="\n\n".join(u.code() for u in units), prompt_version=version, model=model,
        messages=build_messages("security", units, nonce="0123456789abcdef", title="t"),
        max_output_tokens=600,
    )


class FakeModel:
    """Answers one finding on the third line of every unit it is shown, and counts tokens."""

    def __init__(self) -> None:
        self.requests: list[ChunkRequest] = []

    def __call__(self, request: ChunkRequest) -> ChunkAnswer:
        self.requests.append(request)
        units = parse_units(request.messages[1]["content"])
        findings = [
            LLMFinding(path=u.path, line=u.start + 2, severity="high", rule="sql-injection", cwe="CWE-89",
                       message="query built by concatenation", confidence=0.9)
            for u in units
        ]
        return ChunkAnswer(findings=findings, calls=[CallUsage("gpt-4o", 100, 100 * len(units), 20)])


def _embed(texts):
    """A toy embedding: bag of characters (unit norm), enough to tell near from far."""
    out = []
    for text in texts:
        v = [0.0] * 64
        for ch in text:
            v[ord(ch) % 64] += 1.0
        norm = sum(x * x for x in v) ** 0.5 or 1.0
        out.append([x / norm for x in v])
    return out


def test_parse_units_reads_back_what_the_prompt_rendered():
    units = [_unit("app/a.py", 10), _unit("app/b.py", 40, FUNC[:2])]
    parsed = parse_units(_request(units).messages[1]["content"])
    assert [(p.path, p.start, p.end, p.lines) for p in parsed] == [
        ("app/a.py", 10, 13, tuple(FUNC)), ("app/b.py", 40, 41, tuple(FUNC[:2]))
    ]
    assert parsed[0].text == units[0].render()


def test_key_ignores_whitespace_but_not_code_agent_or_version():
    v = cache_version(PROMPT_VERSION, "gpt-4o")
    base = key_hash("\n".join(FUNC), agent="security", version=v)
    assert key_hash("\n".join("  " + line + "   " for line in FUNC) + "\n\n", agent="security", version=v) == base
    assert key_hash("\n".join(FUNC).replace("users", "admins"), agent="security", version=v) != base
    assert key_hash("\n".join(FUNC), agent="quality", version=v) != base
    assert key_hash("\n".join(FUNC), agent="security", version=cache_version("next", "gpt-4o")) != base
    assert normalise("a  =\t1\n\n   b") == "a = 1\nb"


def test_findings_are_stored_relative_and_remapped_onto_moved_code():
    old, new = parse_units(_request([_unit("app/a.py", 10)]).messages[1]["content"])[0], None
    finding = LLMFinding(path="app/a.py", line=12, end_line=13, severity="high", rule="r",
                         message="m", confidence=0.5)
    cached = to_cached(finding, old)
    assert (cached.offset, cached.end_offset) == (2, 3)
    new = parse_units(_request([_unit("app/moved.py", 100)]).messages[1]["content"])[0]
    [moved] = remap([cached], new)
    assert (moved.path, moved.line, moved.end_line) == ("app/moved.py", 102, 103)
    short = parse_units(_request([_unit("app/c.py", 5, FUNC[:2])]).messages[1]["content"])[0]
    assert remap([cached], short) == []  # the line no longer exists in the unit


def test_exact_hit_costs_nothing_and_a_partial_hit_sends_only_the_new_unit():
    model = FakeModel()
    cache = CachedChunkReviewer(inner=model, store=MemoryCacheStore(), embed=_embed)
    first = cache(_request([_unit("app/a.py", 10), _unit("app/b.py", 50, [*FUNC, "    # b"])]))
    assert len(model.requests) == 1 and len(first.findings) == 2 and not first.cache_hit

    again = cache(_request([_unit("app/a.py", 20), _unit("app/b.py", 70, [*FUNC, "    # b"])]))
    assert len(model.requests) == 1 and again.cache_hit and again.calls == []
    assert sorted((f.path, f.line) for f in again.findings) == [("app/a.py", 22), ("app/b.py", 72)]

    changed = ["def other(x):", "    y = x * 2", "    z = compute(y)", "    return z"]
    partial = cache(_request([_unit("app/a.py", 20), _unit("app/new.py", 1, changed)]))
    assert len(model.requests) == 2
    sent = parse_units(model.requests[-1].messages[1]["content"])
    assert [u.path for u in sent] == ["app/new.py"]  # the cached unit was cut out of the prompt
    assert "app/a.py" not in model.requests[-1].messages[1]["content"]
    assert sorted((f.path, f.line) for f in partial.findings) == [("app/a.py", 22), ("app/new.py", 3)]
    assert cache.stats.exact == 3 and cache.stats.misses == 3


def test_near_hit_reuses_findings_for_renamed_code_and_version_bump_misses():
    model = FakeModel()
    store = MemoryCacheStore()
    cache = CachedChunkReviewer(inner=model, store=store, embed=_embed, threshold=0.95)
    cache(_request([_unit("app/a.py", 10)]))
    renamed = [line.replace("user_id", "uid") for line in FUNC]
    near = cache(_request([_unit("app/a.py", 30, renamed)]))
    assert len(model.requests) == 1 and near.cache_hit and cache.stats.near == 1
    assert [(f.line, f.rule) for f in near.findings] == [(32, "sql-injection")]

    bumped = cache(_request([_unit("app/a.py", 10)], version="next-prompt"))
    assert len(model.requests) == 2 and not bumped.cache_hit
    other_model = cache(_request([_unit("app/a.py", 10)], model="gpt-4o-mini"))
    assert len(model.requests) == 3 and not other_model.cache_hit


def test_failed_answers_are_not_stored_and_a_broken_store_is_a_miss():
    class Broken(MemoryCacheStore):
        def exact(self, key_hash):
            raise ConnectionError("db down")

    model = FakeModel()
    cache = CachedChunkReviewer(inner=lambda r: ChunkAnswer(unavailable="breaker open"), store=MemoryCacheStore())
    assert cache(_request([_unit("app/a.py", 10)])).unavailable == "breaker open"
    assert cache.store.entries == {}
    broken = CachedChunkReviewer(inner=model, store=Broken())
    answer = broken(_request([_unit("app/a.py", 10)]))
    assert answer.ok and len(answer.findings) == 1 and broken.stats.errors == 1
