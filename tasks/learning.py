"""The learning loop in the review canvas: hold back what developers rejected, lower what they
doubted, and hand the LLM similar past verdicts as examples.

Called from the canvas' tasks in one place each: ``generate_fixes`` (after ``.reviewer.toml``
and ``/reviewer ignore``, before fixes and rendering, so suppressed findings are in neither the
review, the check run nor the summary's counts, and lowered ones meet the fix threshold like
any other) and ``run_agent`` (few-shot examples). Decisions are ``reviewer.learning``'s; this
module only fetches their inputs. Learning must never cost a review: any failure here is
logged and the findings pass unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reviewer import learning
from reviewer.adapters.storage import feedback as fb
from reviewer.adapters.storage import learning as store
from reviewer.findings import Finding
from reviewer.repo_config import RepoConfig
from reviewer.snapshot import PullRequestSnapshot

Embed = Callable[[Sequence[str]], list[list[float]]]

def embedder(services) -> tuple[Embed | None, str]:
    """The embedding model of the similarity cache (and its name), or (None, why not).

    The LLM service's own embedder when it has one (same model, same memo); otherwise the
    local MiniLM model, loaded once per process on first use.
    """
    kind = services.settings.embeddings
    if kind == "none":
        return None, "embeddings off (REVIEWER_EMBEDDINGS=none)"
    llm = services.llm
    shared = getattr(llm, "embed", None) if llm is not None else None
    if shared is not None:
        return shared, getattr(shared, "name", kind)
    if kind != "local":
        return None, "no embedding model (openai embeddings need OPENAI_API_KEY)"
    from reviewer.adapters.llm.embeddings import EmbeddingsUnavailable, shared_local_embedder

    try:
        model = shared_local_embedder()
    except EmbeddingsUnavailable:
        return None, "local embedding model not installed"
    return model, model.name


def _persons(s, repo: str) -> dict[str, learning.PersonDecision]:
    return {
        rule: learning.PersonDecision(rule, str(row.action), row.created_by, row.reason)
        for rule, row in fb.overrides(s, repo).items()
    }


def rule_decisions(s, repo: str, config: RepoConfig) -> dict[str, learning.RuleDecision]:
    """Every rule decision for ``repo`` (also what the dashboard lists)."""
    return learning.decide_rules(repo, fb.rule_verdicts(s, repo=repo), _persons(s, repo), config.learning)


def apply(services, s, review, snapshot: PullRequestSnapshot | None, findings: list[Finding],
          config: RepoConfig, log) -> list[Finding]:
    """The findings a GitHub review posts after learning; what was held back or lowered is
    stored in the review's run record (``summary.learning``)."""
    if review is None or review.source != "github" or not config.learning.enabled:
        return findings
    try:
        outcome, embeddings = _decide(services, s, review.repo, snapshot, findings, config)
    except Exception:  # learning improves a review, it must never fail one
        log.exception("learning.failed")
        return findings
    store.save_learning_record(s, review.id, outcome.record(embeddings=embeddings))
    if outcome.held_back or outcome.lowered:
        log.info(
            "learning.applied", held_back=len(outcome.held_back), lowered=len(outcome.lowered),
            rules=sorted({h.rule for h in outcome.held_back}),
        )
    return outcome.findings


def _decide(services, s, repo: str, snapshot, findings, config):
    options = config.learning
    decisions = rule_decisions(s, repo, config)
    settled = {
        rule.lower() for rule, d in decisions.items()
        if d.action in (learning.RuleAction.KEPT, learning.RuleAction.SUPPRESSED)
    }
    wanted = {r.lower() for r in store.rules_with_rejections(s, repo)} - settled
    candidates = [f for f in findings if f.rule.lower() in wanted]
    similar: dict[str, list[learning.PastFeedback]] = {}
    embeddings = "not needed"
    if candidates:
        embed, embeddings = embedder(services)
        texts = {f.path: f.head_content for f in snapshot.files} if snapshot is not None else {}
        coded = [(f, code) for f in candidates for code in _codes(f, texts.get(f.path))]
        if embed is not None and coded:
            vectors = embed([code for _, code in coded])
            for (f, _), vector in zip(coded, vectors, strict=True):
                near = store.similar_feedback(s, repo=repo, rule=f.rule, embedding=vector)
                similar[f.fingerprint] = _closest(similar.get(f.fingerprint, []) + near)
    return learning.apply_learning(repo, findings, decisions, similar, options), embeddings


def _codes(finding: Finding, text: str | None) -> list[str]:
    """The texts a finding's code is compared by: its flagged lines (``learning.finding_code``)
    and the same lines with the context the signal handlers store (``applied.snippet``).

    A stored verdict's embedding is of one of the two; comparing both ways keeps each
    comparison like with like (a flagged line against a snippet scores ~0.75 even when equal).
    """
    from reviewer.applied import snippet

    if not text:
        return []
    codes = [learning.finding_code(finding, text), snippet(text, finding.line, finding.end_line)]
    return list(dict.fromkeys(c for c in codes if c and c.strip()))


def _closest(matches: list[learning.PastFeedback]) -> list[learning.PastFeedback]:
    """One entry per stored verdict, with its best similarity."""
    best: dict[int, learning.PastFeedback] = {}
    for m in matches:
        if m.id not in best or m.similarity > best[m.id].similarity:
            best[m.id] = m
    return list(best.values())


def few_shot(services, snapshot: PullRequestSnapshot, agent: str, log, static: Sequence[Finding] = ()) -> str:
    """Similar past accepted/rejected findings of ``agent`` in this repository, as prompt
    lines ("" when learning is off, nothing is near, or anything fails).

    Looked up by the code the agent flagged statically and by short windows of what the PR
    adds: one embedding of a whole PR would blur a single risky line into its neighbours.
    """
    from reviewer.repo_config import load_repo_config

    try:
        if not load_repo_config(snapshot.config_files).config.learning.enabled:
            return ""
        texts = {f.path: f.head_content for f in snapshot.files}
        queries = [code for f in static[:8] if (code := learning.finding_code(f, texts.get(f.path)))]
        queries += _added_windows(snapshot)
        if not queries:
            return ""
        with services.db.session() as s:
            if not store.has_feedback(s, snapshot.repo, agent):
                return ""
            embed, _ = embedder(services)
            if embed is None:
                return ""
            best: dict[int, tuple[learning.PastFeedback, str]] = {}
            for vector in embed(list(dict.fromkeys(queries))):
                for past, message in store.nearest_examples(s, repo=snapshot.repo, agent=agent, embedding=vector):
                    if past.id not in best or past.similarity > best[past.id][0].similarity:
                        best[past.id] = (past, message)
        ranked = sorted(best.values(), key=lambda pair: -pair[0].similarity)
        unique = list({pair[0].code or pair[0].id: pair for pair in ranked}.values())[:EXAMPLES]
        return learning.few_shot_text(unique)
    except Exception:  # learning improves a review, it must never fail one
        log.exception("learning.examples_failed")
        return ""


#: Few-shot examples per prompt, and how the PR's added code is cut for looking them up.
EXAMPLES = 4
WINDOW_LINES = 4
MAX_WINDOWS = 16


def _added_windows(snapshot: PullRequestSnapshot) -> list[str]:
    """The PR's added lines (``+`` in the patches), non-blank, in windows of a few lines."""
    added = [
        line[1:].strip()
        for f in snapshot.files
        for line in (f.patch or "").splitlines()
        if line.startswith("+") and not line.startswith("+++") and line[1:].strip()
    ]
    windows = ["\n".join(added[i : i + WINDOW_LINES]) for i in range(0, len(added), WINDOW_LINES)]
    return windows[:MAX_WINDOWS]


def learning_url(services, repo: str) -> str:
    """The dashboard's learning page of ``repo`` (linked from the summary comment)."""
    from urllib.parse import quote

    return f"{services.settings.public_url.rstrip('/')}/dashboard/learning/{quote(repo)}"
