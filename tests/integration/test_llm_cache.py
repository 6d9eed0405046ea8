"""The similarity cache on real Postgres + pgvector, the local MiniLM model and the fake OpenAI server."""

from __future__ import annotations

import difflib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from reviewer.adapters.llm import build_llm_service
from reviewer.adapters.llm.embeddings import DIMENSIONS, MiniLMEmbedder, model_dir
from reviewer.adapters.storage import Database
from reviewer.adapters.storage.cache import PgReviewCache
from reviewer.adapters.storage.cache_models import ReviewCacheRow
from reviewer.llm import agent_pass
from reviewer.llm.cache import CachedFinding, CacheEntry, cache_version, current_versions
from reviewer.payloads import AgentResult, AgentStatus
from reviewer.snapshot import ChangedFile, PullRequestSnapshot
from tests.fakes.openai import FakeOpenAI, Reply, finding_on_first_added_line
from tests.unit.test_llm_core import MODELS

pytestmark = pytest.mark.integration

PREFIX = '"""Users."""\n\nimport os\n\n\ndef ping():\n    return True\n'
FUNC = '''

def load_user(conn, user_id):
    cur = conn.cursor()
    cur.execute("SELECT * FROM users WHERE id = " + user_id)
    row = cur.fetchone()
    if row is None:
        raise NotFound(user_id)
    return User.from_row(row)
'''


def _snapshot(func: str = FUNC, *, shift: int = 0, number: int = 1) -> PullRequestSnapshot:
    base = "# note\n" * shift + PREFIX
    head = base + func
    lines = list(difflib.unified_diff(base.splitlines(True), head.splitlines(True), n=3))[2:]
    patch = "".join(ln if ln.endswith("\n") else ln + "\n" for ln in lines).rstrip("\n")
    changed = ChangedFile(path="app/users.py", patch=patch, head_content=head,
                          additions=sum(ln.startswith("+") for ln in lines))
    return PullRequestSnapshot(repo="o/r", number=number, head_sha="h" * 40, base_sha="b" * 40,
                               title="Add load_user", files=[changed])


@pytest.fixture(scope="module")
def embedder():
    return MiniLMEmbedder(model_dir())


@pytest.fixture
def store(clean_database):
    db = Database(clean_database)
    yield PgReviewCache(db)
    db.dispose()


@pytest.fixture
def fake_llm():
    with FakeOpenAI() as fake:
        fake.default(Reply(finding_on_first_added_line("sql-injection", "high", "concatenated SQL")))
        yield fake


def _service(fake, store, embedder, models=MODELS):
    service = build_llm_service(api_key=fake.api_key, base_url=fake.base_url, models=models,
                                prices_toml=_prices(), redis_client=None, cache_store=store)
    service.embed = embedder
    return service


def _prices() -> str:
    from pathlib import Path

    return (Path(__file__).parents[2] / "config" / "prices.toml").read_text()


def _review(service, snapshot, key="1"):
    return service.augment("security", snapshot, AgentResult(agent="security", status=AgentStatus.OK), review_key=key)


def test_local_model_gives_unit_vectors_close_for_paraphrases_far_for_unrelated(embedder):
    same, para, other, again = embedder(
        ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
         "A man is eating food."]
    )
    dot = lambda a, b: sum(x * y for x, y in zip(a, b, strict=True))
    assert len(same) == DIMENSIONS and abs(dot(same, same) - 1.0) < 1e-5
    assert dot(same, again) > 0.9999
    assert 0.7 < dot(same, para) < 0.8  # sentence-transformers reports 0.755 for this pair
    assert dot(same, other) < 0.1


def test_exact_hit_costs_zero_tokens_on_re_review(fake_llm, store, embedder):
    service = _service(fake_llm, store, embedder)
    first = _review(service, _snapshot())
    assert first.tokens > 0 and first.cache_hits == 0 and [f.rule for f in first.findings] == ["sql-injection"]
    sent, tokens = len(fake_llm.completed()), fake_llm.tokens()

    again = _review(service, _snapshot(number=2), key="2")
    assert len(fake_llm.completed()) == sent and fake_llm.tokens() == tokens
    assert again.tokens == 0 and again.cost_usd == 0 and again.cache_hits == 1
    assert [(f.path, f.line, f.rule) for f in again.findings] == [(f.path, f.line, f.rule) for f in first.findings]
    assert store.count() >= 1


def test_findings_are_remapped_onto_shifted_lines(fake_llm, store, embedder):
    service = _service(fake_llm, store, embedder)
    first = _review(service, _snapshot())
    sent = len(fake_llm.completed())
    moved = _review(service, _snapshot(shift=5), key="2")
    assert len(fake_llm.completed()) == sent and moved.cache_hits == 1
    assert [f.line for f in moved.findings] == [f.line + 5 for f in first.findings]


def test_near_hit_for_code_differing_only_in_names_and_whitespace(fake_llm, store, embedder):
    service = _service(fake_llm, store, embedder)
    _review(service, _snapshot())
    sent = len(fake_llm.completed())
    renamed = FUNC.replace("user_id", "uid").replace("    cur = conn", "    cur  =  conn")
    near = _review(service, _snapshot(renamed), key="2")
    assert len(fake_llm.completed()) == sent, "a renamed parameter should be a near hit"
    assert near.cache_hits == 1 and near.tokens == 0 and [f.rule for f in near.findings] == ["sql-injection"]

    unrelated = "\n\ndef total(items):\n    return sum(i.amount for i in items if i.ok)\n" * 1
    _review(service, _snapshot(unrelated + FUNC.replace("load_user", "q").replace("SELECT", "DELETE")), key="3")
    assert len(fake_llm.completed()) > sent


def test_version_bump_invalidates(fake_llm, store, embedder, monkeypatch):
    service = _service(fake_llm, store, embedder)
    _review(service, _snapshot())
    sent = len(fake_llm.completed())
    monkeypatch.setattr(agent_pass, "PROMPT_VERSION", "next-prompt")
    bumped = _review(service, _snapshot(), key="2")
    assert len(fake_llm.completed()) > sent and bumped.cache_hits == 0 and bumped.tokens > 0
    sent = len(fake_llm.completed())
    other_model = _service(fake_llm, store, embedder, models={**MODELS, "security": "gpt-4.1"})
    assert _review(other_model, _snapshot(), key="3").cache_hits == 0
    assert len(fake_llm.completed()) > sent


def test_prune_drops_old_entries_and_retired_versions(store):
    live = cache_version("p1", "gpt-4o")
    finding = CachedFinding(0, None, "low", "r", None, "m", 0.5, None)
    for key, version in (("a" * 64, live), ("b" * 64, cache_version("p0", "gpt-4o")), ("c" * 64, live)):
        store.put(CacheEntry(key_hash=key, agent="security", language="python", version=version,
                             findings=(finding,), embedding=[1.0] + [0.0] * (DIMENSIONS - 1)))
    with store._db.session() as s:
        s.execute(update(ReviewCacheRow).where(ReviewCacheRow.key_hash == "c" * 64)
                  .values(created_at=datetime.now(UTC) - timedelta(days=40)))
    assert store.prune(older_than_days=30, keep_versions=current_versions(["gpt-4o"], "p1")) == 2
    hit = store.exact("a" * 64)
    assert hit is not None and hit.findings == (finding,) and store.count() == 1
    near = store.near(agent="security", language="python", version=live,
                      embedding=[0.99, 0.1] + [0.0] * (DIMENSIONS - 2), threshold=0.95)
    assert near is not None and near.key_hash == "a" * 64
    assert store.near(agent="quality", language="python", version=live,
                      embedding=[1.0] + [0.0] * (DIMENSIONS - 1), threshold=0.95) is None
