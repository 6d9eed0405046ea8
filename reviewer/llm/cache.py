"""The similarity cache in front of the chunk reviewer: keys, normalisation, remapping (pure).

A chunk is a list of rendered units (``### path (lines a-b)`` + numbered lines). The cache
works per unit, not per chunk, because chunks are re-packed whenever any unit changes: after a
push that touches one file, every unchanged unit still hits, and only the changed ones are sent
(the request is rewritten to hold just those). A unit is looked up by the hash of its
normalised code + agent + version (exact), then by embedding (same agent, language and
version, cosine ≥ threshold). Findings are stored with lines relative to the unit's first
line and remapped onto the new unit, so moved code reuses them; ``mapping.map_findings``
still checks every remapped line against what the PR added. Storage and embeddings are
injected; a failing store never fails a review (it is a miss).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Protocol

from reviewer.llm.calls import ChunkAnswer, ChunkRequest, ChunkReviewer
from reviewer.llm.schema import LLMFinding

log = logging.getLogger(__name__)

CACHE_FORMAT = "c1"  # bump when what is stored changes shape
DEFAULT_THRESHOLD = 0.95
SEGMENT_LINES = 30  # units longer than an enclosing function (selection's cap) are split

_HEADER = re.compile(r"^### (?P<path>.+) \(lines (?P<start>\d+)-(?P<end>\d+)\)$")
_INSIDE = re.compile(r"^   \(inside: .*\)$")
_LINE = re.compile(r"^(?P<mark>[+ ])(?P<number>\d+)\|(?P<text>.*)$")
_SPACE = re.compile(r"[ \t]+")
_LANGUAGES = {
    ".py": "python", ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript", ".ts": "typescript",
    ".tsx": "typescript", ".go": "go", ".java": "java", ".rb": "ruby", ".rs": "rust", ".php": "php",
    ".cs": "csharp", ".kt": "kotlin", ".c": "c", ".h": "c", ".cpp": "cpp", ".sql": "sql", ".sh": "shell",
}


@dataclass(frozen=True)
class RenderedUnit:
    """A unit as it appears in a request: where it sits in the message and what it holds."""

    path: str
    start: int
    end: int
    lines: tuple[str, ...]
    text: str  # the exact rendered block, header included
    marks: tuple[str, ...] = ()  # "+" (added) or " " per line

    @property
    def language(self) -> str:
        return language_of(self.path)


@dataclass(frozen=True)
class CachedFinding:
    """An LLM finding without a path, its lines relative to the unit's first line."""

    offset: int
    end_offset: int | None
    severity: str
    rule: str
    cwe: str | None
    message: str
    confidence: float
    suggestion: str | None

    def to_json(self) -> dict:
        return self.__dict__.copy()

    @classmethod
    def from_json(cls, data: dict) -> CachedFinding:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class CacheEntry:
    key_hash: str
    agent: str
    language: str
    version: str
    findings: tuple[CachedFinding, ...]
    embedding: Sequence[float] | None = None


class CacheStore(Protocol):
    """Where entries live (``reviewer.adapters.storage.cache`` in production)."""

    def exact(self, key_hash: str) -> CacheEntry | None: ...

    def near(
        self, *, agent: str, language: str, version: str, embedding: Sequence[float], threshold: float
    ) -> CacheEntry | None: ...

    def put(self, entry: CacheEntry) -> None: ...


Embed = Callable[[Sequence[str]], list[list[float]]]


def language_of(path: str) -> str:
    return _LANGUAGES.get(PurePosixPath(path).suffix.lower(), "other")


def normalise(code: str) -> str:
    """Whitespace-insensitive code: no indentation differences, runs of blanks, empty lines."""
    out = []
    for line in code.splitlines():
        line = _SPACE.sub(" ", line).strip()
        if line:
            out.append(line)
    return "\n".join(out)


def cache_version(prompt_version: str, model: str, ruleset: str = "") -> str:
    """What invalidates entries: the prompt, the model, the ruleset (e.g. repo instructions)."""
    return f"{CACHE_FORMAT}|{prompt_version}|{model}|{ruleset}"


def key_hash(code: str, *, agent: str, version: str) -> str:
    digest = hashlib.sha256()
    for part in (agent, version, normalise(code)):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def parse_units(content: str) -> list[RenderedUnit]:
    """The rendered units in a request message, in order (see ``selection.Unit.render``)."""
    units: list[RenderedUnit] = []
    lines = content.split("\n")
    i = 0
    while i < len(lines):
        header = _HEADER.match(lines[i])
        if not header:
            i += 1
            continue
        first = i
        i += 1
        if i < len(lines) and _INSIDE.match(lines[i]):
            i += 1
        code: list[str] = []
        marks: list[str] = []
        while i < len(lines) and (m := _LINE.match(lines[i])):
            code.append(m.group("text"))
            marks.append(m.group("mark"))
            i += 1
        units.append(
            RenderedUnit(
                path=header.group("path"), start=int(header.group("start")), end=int(header.group("end")),
                lines=tuple(code), text="\n".join(lines[first:i]), marks=tuple(marks),
            )
        )
    return units


def segments(unit: RenderedUnit, *, max_lines: int = SEGMENT_LINES) -> list[RenderedUnit]:
    """A long unit (a whole new file is one) split at top-level definitions, so that a push
    editing one function of it re-sends that function, not the file. Short units stay whole."""
    if len(unit.lines) <= max_lines:
        return [unit]
    cuts = [0] + [
        i for i in range(1, len(unit.lines))
        if unit.lines[i][:1].strip() and not unit.lines[i - 1].strip()
    ]
    out = []
    for a, b in zip(cuts, [*cuts[1:], len(unit.lines)], strict=True):
        lines, marks = unit.lines[a:b], unit.marks[a:b]
        while lines and not lines[-1].strip():
            lines, marks = lines[:-1], marks[:-1]
        if not lines:
            continue
        start = unit.start + a
        end = start + len(lines) - 1
        text = "\n".join(
            [f"### {unit.path} (lines {start}-{end})"]
            + [f"{mark}{start + k}|{line}" for k, (mark, line) in enumerate(zip(marks, lines, strict=True))]
        )
        out.append(RenderedUnit(path=unit.path, start=start, end=end, lines=lines, text=text, marks=marks))
    return out


def to_cached(finding: LLMFinding, unit: RenderedUnit) -> CachedFinding:
    return CachedFinding(
        offset=finding.line - unit.start,
        end_offset=(finding.end_line - unit.start) if finding.end_line is not None else None,
        severity=finding.severity, rule=finding.rule, cwe=finding.cwe, message=finding.message,
        confidence=finding.confidence, suggestion=finding.suggestion,
    )


def remap(cached: Sequence[CachedFinding], unit: RenderedUnit) -> list[LLMFinding]:
    """Cached findings placed on ``unit``'s lines; offsets past its end are dropped."""
    out = []
    for c in cached:
        line = unit.start + c.offset
        end_line = unit.start + c.end_offset if c.end_offset is not None else None
        if c.offset < 0 or line > unit.end:
            continue
        out.append(
            LLMFinding(
                path=unit.path, line=line, end_line=min(end_line, unit.end) if end_line else None,
                severity=c.severity, rule=c.rule, cwe=c.cwe, message=c.message,
                confidence=c.confidence, suggestion=c.suggestion,
            )
        )
    return out


def owner(finding: LLMFinding, units: Sequence[RenderedUnit]) -> RenderedUnit | None:
    for unit in units:
        if unit.path == finding.path and unit.start <= finding.line <= unit.end:
            return unit
    return None


def rewrite(request: ChunkRequest, blocks: dict[str, str]) -> ChunkRequest:
    """The same request with each rendered unit block ``old`` replaced by ``blocks[old]``
    (the segments that missed the cache, or nothing), so only uncached code is sent."""
    messages = []
    for message in request.messages:
        content = message["content"]
        for old, new in blocks.items():
            if new:
                content = content.replace(old, new, 1)
                continue
            for joined in (old + "\n\n", "\n\n" + old, old):
                if joined in content:
                    content = content.replace(joined, "", 1)
                    break
        messages.append({**message, "content": content})
    kept = parse_units("\n".join(m["content"] for m in messages if "<<<UNTRUSTED-" in m.get("content", "")))
    return ChunkRequest(
        agent=request.agent, code="\n\n".join("\n".join(u.lines) for u in kept),
        prompt_version=request.prompt_version, model=request.model, messages=messages,
        max_output_tokens=request.max_output_tokens,
    )


def _data_message(request: ChunkRequest) -> str:
    return "\n".join(m["content"] for m in request.messages if "<<<UNTRUSTED-" in m.get("content", ""))


@dataclass
class CacheStats:
    exact: int = 0
    near: int = 0
    misses: int = 0
    errors: int = 0


@dataclass
class CachedChunkReviewer:
    """A :data:`ChunkReviewer` that answers cached units at zero tokens and sends only the rest."""

    inner: ChunkReviewer
    store: CacheStore
    embed: Embed | None = None
    threshold: float = DEFAULT_THRESHOLD
    ruleset: str = ""
    stats: CacheStats = field(default_factory=CacheStats)

    def __call__(self, request: ChunkRequest) -> ChunkAnswer:
        units = parse_units(_data_message(request))
        if not units:
            return self.inner(request)
        version = cache_version(request.prompt_version, request.model, self.ruleset)
        if request.joint:
            return self._joint(request, units, version)
        before = (self.stats.exact, self.stats.near, self.stats.misses)
        hit_count = 0
        reused: list[LLMFinding] = []
        misses: list[tuple[RenderedUnit, str, Sequence[float] | None]] = []
        blocks: dict[str, str] = {}
        for unit in units:
            missed = []
            for part in segments(unit):
                code = "\n".join(part.lines)
                digest = key_hash(code, agent=request.agent, version=version)
                entry, vector = self._lookup(request.agent, part, version, digest, code)
                if entry is None:
                    misses.append((part, digest, vector))
                    missed.append(part)
                    continue
                hit_count += 1
                reused.extend(remap(entry.findings, part))
            if len(missed) == 1 and missed[0].text == unit.text:
                continue  # nothing of this unit was cached: it goes as it is
            blocks[unit.text] = "\n\n".join(part.text for part in missed)
        if not hit_count:
            answer = self.inner(request)
        elif not misses:
            return ChunkAnswer(findings=reused, calls=[], cache_hit=True, cache_layers=self._layers(before))
        else:
            answer = self.inner(rewrite(request, blocks))
        if answer.ok:
            self._store(request.agent, version, answer.findings, misses)
        answer.findings = [*reused, *answer.findings]
        answer.cache_layers = self._layers(before)
        return answer

    def _layers(self, before: tuple[int, int, int]) -> dict[str, int]:
        exact, near, misses = before
        return {"exact": self.stats.exact - exact, "near": self.stats.near - near,
                "miss": self.stats.misses - misses}

    def _joint(self, request: ChunkRequest, units: list[RenderedUnit], version: str) -> ChunkAnswer:
        """A joint request (several agents, code changed since the last review) is sent as it
        is; its answer is stored per agent and unit, so the same code later hits for each."""
        answer = self.inner(request)
        if not answer.ok:
            return answer
        parts = [part for unit in units for part in segments(unit)]
        vectors: list[Sequence[float] | None] = [None] * len(parts)
        if self.embed is not None and parts:
            try:
                vectors = list(self.embed([normalise("\n".join(p.lines)) for p in parts]))
            except Exception:
                log.warning("llm.cache_embed_failed", exc_info=True)
        for agent in request.agents:
            mine = [f for f in answer.findings if (getattr(f, "agent", None) or request.agents[0]) == agent]
            misses = [(part, key_hash("\n".join(part.lines), agent=agent, version=version), vector)
                      for part, vector in zip(parts, vectors, strict=True)]
            self._store(agent, version, mine, misses)
        return answer

    def _lookup(self, agent, unit, version, digest, code):
        try:
            entry = self.store.exact(digest)
            if entry is not None:
                self.stats.exact += 1
                return entry, None
            vector = self.embed([normalise(code)])[0] if self.embed else None
            if vector is not None:
                entry = self.store.near(
                    agent=agent, language=unit.language, version=version, embedding=vector,
                    threshold=self.threshold,
                )
                if entry is not None:
                    self.stats.near += 1
                    return entry, vector
            self.stats.misses += 1
            return None, vector
        except Exception:  # the cache is an optimisation: a broken one is a miss
            log.warning("llm.cache_lookup_failed", exc_info=True)
            self.stats.errors += 1
            return None, None

    def _store(self, agent, version, findings, misses) -> None:
        units = [unit for unit, _, _ in misses]
        per_unit: dict[RenderedUnit, list[CachedFinding]] = {unit: [] for unit in units}
        for finding in findings:
            unit = owner(finding, units)
            if unit is not None:
                per_unit[unit].append(to_cached(finding, unit))
        for unit, digest, vector in misses:
            try:
                self.store.put(
                    CacheEntry(
                        key_hash=digest, agent=agent, language=unit.language, version=version,
                        findings=tuple(per_unit[unit]), embedding=vector,
                    )
                )
            except Exception:
                log.warning("llm.cache_store_failed", exc_info=True)
                self.stats.errors += 1


class MemoryCacheStore:
    """A :class:`CacheStore` in one process (unit tests, benchmarks); cosine by brute force."""

    def __init__(self) -> None:
        self.entries: dict[str, CacheEntry] = {}

    def exact(self, key_hash: str) -> CacheEntry | None:
        return self.entries.get(key_hash)

    def near(
        self, *, agent: str, language: str, version: str, embedding: Sequence[float], threshold: float
    ) -> CacheEntry | None:
        best, best_score = None, threshold
        for entry in self.entries.values():
            if (entry.agent, entry.language, entry.version) != (agent, language, version) or entry.embedding is None:
                continue
            score = sum(a * b for a, b in zip(entry.embedding, embedding, strict=True))
            if score >= best_score:
                best, best_score = entry, score
        return best

    def put(self, entry: CacheEntry) -> None:
        self.entries[entry.key_hash] = entry


def current_versions(models: Sequence[str], prompt_version: str, ruleset: str = "") -> list[str]:
    """The versions entries may have now; any other can never hit again (prune them)."""
    return sorted({cache_version(prompt_version, model, ruleset) for model in models})
