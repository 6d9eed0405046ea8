"""Tokens per PR: the naive design (4 agents × whole diff × strong model) vs this one.

Both run against the fake OpenAI-compatible server (real HTTP), which counts the tokens of
every request and answer; the numbers are what a provider would bill, the answer schema sent
as ``response_format`` included (OpenAI puts it in the prompt; ``tests/fakes/openai.py``). The PRs are generated:
realistic Python services (handlers, repositories, SQL, HTTP clients, settings, tests), ~15
files each, with lockfile and generated-code churn in some, as real PRs have.

Then, per PR, a push that edits one of its files is reviewed again the way production does
it (``prepare``'s incremental scope from the compare of the two heads: only the pushed file,
only the code the push changed, agents sharing one request when cheaper), behind the
similarity cache the first review filled (in memory here; pgvector in production): the
re-review's tokens as a share of the first review's (target ≤ 10 % on every PR; ``--rows``
prints each PR's share).

Tokens are counted exactly (o200k_base, from the encoding file bpe-openai ships) when it is
installed, else estimated; the output says which.

    .venv/bin/python -m benchmarks.llm_tokens [--prs 20] [--seed 7] [--budget 11000] [--embeddings local|none]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys

import openai

from config.settings import Settings
from reviewer import incremental
from reviewer.adapters.llm.client import OpenAICompleter
from reviewer.adapters.llm.service import LLMReviewService
from reviewer.adapters.llm.tokens import counter_source, token_counter
from reviewer.agents.registry import run_agent
from reviewer.fixes.llm import FIX_AGENT
from reviewer.llm.agent_pass import LLMPassConfig, MemoryLedger, Rereview, run_llm_pass
from reviewer.llm.budget import BudgetPolicy
from reviewer.llm.cache import CachedChunkReviewer, CacheStore, Embed, MemoryCacheStore
from reviewer.llm.calls import review_chunk
from reviewer.llm.joint import MemoryJointStore
from reviewer.llm.pricing import PriceTable
from reviewer.merge import merge_findings
from reviewer.payloads import AGENT_NAMES, AgentResult
from reviewer.ports import PullRequestFile
from reviewer.snapshot import ChangedFile, FileStatus, PullRequestSnapshot

_NOUNS = ["order", "invoice", "customer", "shipment", "payment", "account", "report", "session",
          "product", "ticket", "user", "audit", "coupon", "refund", "stock"]

_FUNCS = [
    '''def get_{n}(conn, {n}_id):
    cur = conn.cursor()
    cur.execute("SELECT * FROM {n}s WHERE id = %s", ({n}_id,))
    row = cur.fetchone()
    if row is None:
        raise NotFound("{n} %s" % {n}_id)
    return {N}.from_row(row)
''',
    '''def list_{n}s(conn, limit=100, offset=0):
    rows = conn.execute(
        "SELECT id, name, created_at FROM {n}s ORDER BY created_at DESC LIMIT ? OFFSET ?",
        (limit, offset),
    ).fetchall()
    return [{N}.from_row(r) for r in rows]
''',
    '''def total_{n}s(items):
    total = 0
    for item in items:
        if item.status == "cancelled":
            continue
        total += item.amount * item.quantity
    return round(total, 2)
''',
    '''class {N}Service:
    def __init__(self, repo, clock):
        self.repo = repo
        self.clock = clock

    def create(self, payload):
        {n} = {N}(**payload)
        {n}.created_at = self.clock.now()
        self.repo.add({n})
        return {n}

    def archive(self, {n}_id):
        {n} = self.repo.get({n}_id)
        {n}.archived = True
        self.repo.save({n})
''',
    '''def format_{n}({n}):
    parts = [str({n}.id), {n}.name.strip().title()]
    if {n}.note:
        parts.append({n}.note[:80])
    return " | ".join(parts)
''',
    '''def sync_{n}s(client, repo):
    for page in range(1, 50):
        data = client.get("/api/{n}s", params={{"page": page}}).json()
        if not data:
            break
        for entry in data:
            repo.upsert({N}.from_api(entry))
''',
]

_CHANGES = [
    ('    cur.execute("SELECT * FROM {n}s WHERE id = %s", ({n}_id,))',
     '    cur.execute(f"SELECT * FROM {n}s WHERE id = {{{n}_id}}")'),
    ("    total = 0", "    total = 0\n    seen = []"),
    ("        total += item.amount * item.quantity",
     "        if item in seen:\n            continue\n        seen.append(item)\n        total += item.amount * item.quantity"),
    ('        data = client.get("/api/{n}s", params={{"page": page}}).json()',
     '        data = requests.get(BASE + "/api/{n}s", params={{"page": page}}, verify=False).json()'),
    ("        self.repo.add({n})", "        try:\n            self.repo.add({n})\n        except Exception:\n            pass"),
    ("    return \" | \".join(parts)", "    out = \"\"\n    for p in parts:\n        out = out + p + \" | \"\n    return out"),
    ("        {n}.archived = True", "        {n}.archived = True\n        {n}.archived_by = os.environ.get(\"USER\")\n        audit_log.write(f\"archived {{{n}_id}}\")"),
]


def _module(rng: random.Random, noun: str, funcs: int) -> str:
    header = f'"""{noun.title()} handling."""\n\nimport os\n\nimport requests\n\nfrom app.models import {noun.title()}, NotFound\n\n\n'
    body = "\n\n".join(rng.choice(_FUNCS).format(n=noun, N=noun.title()) for _ in range(funcs))
    return header + body


def _change(rng: random.Random, text: str, noun: str, edits: int) -> str:
    out = text
    for old, new in rng.sample(_CHANGES, k=len(_CHANGES)):
        old, new = old.format(n=noun), new.format(n=noun)
        if old in out and edits > 0:
            out = out.replace(old, new, 1)
            edits -= 1
    extras = [rng.choice(_FUNCS).format(n=f"{noun}_v{k}", N=f"{noun.title()}V{k}") for k in range(rng.randint(2, 4))]
    return out + "\n\n" + "\n\n".join(extras)


def _patch(base: str, head: str) -> tuple[str, int, int]:
    import difflib

    lines = list(difflib.unified_diff(base.splitlines(True), head.splitlines(True), n=3))[2:]
    text = "".join(ln if ln.endswith("\n") else ln + "\n" for ln in lines)
    return text.rstrip("\n"), sum(ln.startswith("+") for ln in lines), sum(ln.startswith("-") for ln in lines)


def synthetic_pr(seed: int, files: int = 15) -> PullRequestSnapshot:
    """A realistic PR: modified modules, a new module, tests, sometimes lockfile/generated churn."""
    return synthetic_pr_with_bases(seed, files)[0]


def synthetic_pr_with_bases(seed: int, files: int = 15) -> tuple[PullRequestSnapshot, dict[str, str]]:
    """:func:`synthetic_pr` and each code file's base text (to diff a later push against)."""
    rng = random.Random(seed)
    changed: list[ChangedFile] = []
    bases: dict[str, str] = {}
    for i in range(files):
        noun = rng.choice(_NOUNS)
        kind = rng.random()
        if i == 0 and rng.random() < 0.5:
            lock_base = "".join(f'"pkg-{k}": {{"version": "1.{k}.0", "integrity": "sha512-{rng.getrandbits(128):x}"}},\n' for k in range(60))
            lock_head = lock_base.replace("1.1", "1.2")
            patch, add, rem = _patch(lock_base, lock_head)
            changed.append(ChangedFile(path="package-lock.json", patch=patch, head_content=lock_head, additions=add, deletions=rem))
            continue
        if i == 1 and rng.random() < 0.3:
            gen = "# Generated by the protocol buffer compiler.  DO NOT EDIT!\n" + "".join(
                f"_{noun.upper()}_{k} = _descriptor.FieldDescriptor(name='f{k}', index={k})\n" for k in range(80))
            changed.append(ChangedFile(path=f"app/proto/{noun}_pb2.py", status=FileStatus.ADDED, patch=_patch("", gen)[0], head_content=gen, additions=81))
            continue
        path = f"app/{rng.choice(['services', 'api', 'repositories', 'jobs'])}/{noun}_{i}.py"
        if kind < 0.2:
            path = f"tests/test_{noun}_{i}.py"
        base = _module(rng, noun, rng.randint(6, 10))
        if kind > 0.85:
            head = _change(rng, base, noun, 2)
            patch, add, _ = _patch("", head)
            bases[path] = ""
            changed.append(ChangedFile(path=path, status=FileStatus.ADDED, patch=patch, head_content=head, additions=add))
            continue
        head = _change(rng, base, noun, rng.randint(1, 3))
        patch, add, rem = _patch(base, head)
        changed.append(ChangedFile(path=path, patch=patch, head_content=head, additions=add, deletions=rem))
        bases[path] = base
    snapshot = PullRequestSnapshot(repo="bench/app", number=seed, head_sha="h" * 40, base_sha="b" * 40,
                                   title=f"Rework {rng.choice(_NOUNS)} handling", files=changed)
    return snapshot, bases


_PUSHED_LINES = [  # what a follow-up push adds to a function, when it is not a plain refactor
    '    rows = conn.execute(f"SELECT * FROM audit WHERE ref = {ref}").fetchall()',
    '    health = requests.get(BASE + "/health", verify=False).json()',
    '    for entry in repo.all():\n        repo.refresh(entry)',
    '    token = os.environ.get("API_TOKEN", "dev-secret")',
]


def push_one_file(snapshot: PullRequestSnapshot, bases: dict[str, str], rng: random.Random) -> PullRequestSnapshot:
    """The PR after a push that edits one of its code files: a line changed inside an added
    function, and a line inserted above it, so every later unit of that file moves down; in
    half of the pushes the function also gets a risky new line (SQL, HTTP, a loop, a secret)."""
    candidates = [f for f in snapshot.files if f.path in bases and not f.path.startswith("tests/")]
    target = rng.choice(candidates or [f for f in snapshot.files if f.path in bases])
    lines = target.head_content.split("\n")
    defs = [i for i, line in enumerate(lines) if line.startswith(("def ", "class "))]
    at = defs[len(defs) // 2] if defs else len(lines) // 2
    lines.insert(at, "# reviewed: keep the query parameterised")
    if rng.random() < 0.5:
        lines.insert(at + 2, rng.choice(_PUSHED_LINES))
    for i in range(at + 1, min(at + 8, len(lines))):
        if "return" in lines[i]:
            lines[i] = lines[i].replace("return", "result =", 1) + "\n" + lines[i][: len(lines[i]) - len(lines[i].lstrip())] + "return result"
            break
    head = "\n".join(lines)
    patch, add, rem = _patch(bases[target.path], head)
    files = [f if f.path != target.path else f.model_copy(update={"patch": patch, "head_content": head,
                                                                  "additions": add, "deletions": rem})
             for f in snapshot.files]
    return snapshot.model_copy(update={"files": files, "head_sha": "i" * 40})


def incremental_run(before: PullRequestSnapshot, after: PullRequestSnapshot) -> tuple[PullRequestSnapshot, Rereview]:
    """What ``prepare`` hands the agents after the push: GitHub's compare of the two heads
    becomes the incremental scope (reviewer.incremental), the snapshot keeps the pushed files."""
    old = {f.path: f.head_content or "" for f in before.files}
    compared = []
    for f in after.files:
        if (f.head_content or "") != old.get(f.path, ""):
            patch, add, rem = _patch(old.get(f.path, ""), f.head_content or "")
            compared.append(PullRequestFile(filename=f.path, status="modified", patch=patch,
                                            additions=add, deletions=rem))
    scope = incremental.plan_scope(since_sha=before.head_sha, since_review_id=1, compared=compared, earlier_open=[])
    focus = {p: None if lines is None else frozenset(lines) for p, lines in scope.changed.items()}
    rereview = Rereview(focus=focus, since_sha=scope.since_sha, store=MemoryJointStore(), run_key=after.head_sha)
    return incremental.restrict(after, scope), rereview


def whole_diff(snapshot: PullRequestSnapshot) -> str:
    return "\n".join(f"diff --git a/{f.path} b/{f.path}\n--- a/{f.path}\n+++ b/{f.path}\n{f.patch}"
                     for f in snapshot.files if f.patch)


NAIVE_SYSTEM = ("You are a senior reviewer. Review this pull request diff for {agent} problems and "
                "answer with JSON findings (path, line, severity, rule, message).")


def naive_review(client: openai.OpenAI, snapshot: PullRequestSnapshot, model: str = "gpt-4o") -> None:
    diff = whole_diff(snapshot)
    for agent in AGENT_NAMES:
        client.chat.completions.create(model=model, messages=[
            {"role": "system", "content": NAIVE_SYSTEM.format(agent=agent)},
            {"role": "user", "content": f"reviewer-agent: {agent}\n{diff}"},
        ])


def designed_review(client: openai.OpenAI, snapshot: PullRequestSnapshot, prices: PriceTable, policy: BudgetPolicy,
                    cache: CacheStore | None = None, embed: Embed | None = None,
                    rereview: Rereview | None = None) -> tuple[float, list[AgentResult]]:
    """This design's four LLM passes; behind the similarity cache when a store is given.

    Each pass gets its agent's real static result first, as in production (``tasks.agents``):
    its findings on the code a request shows are listed in the prompt as already known, and
    those tokens are billed like the rest."""
    complete = OpenAICompleter(client, limiter=None, breaker=None)
    count = token_counter()

    def call(request):
        return review_chunk(request, complete=complete, count=count)

    reviewer = CachedChunkReviewer(inner=call, store=cache, embed=embed) if cache is not None else call
    config = LLMPassConfig(models={"security": "gpt-4o", "performance": "gpt-4o-mini",
                                   "quality": "gpt-4o-mini", "architecture": "gpt-4o"}, policy=policy)
    ledger = MemoryLedger()
    results = []
    for agent in AGENT_NAMES:
        static = run_agent(agent, snapshot)
        results.append(run_llm_pass(agent, snapshot, static,
                                    reviewer=reviewer,
                                    config=config, count=count, prices=prices, ledger=ledger,
                                    nonce=lambda: f"{random.getrandbits(64):016x}", rereview=rereview))
    return ledger.spent(), results


class _Quiet:
    """A structlog-shaped logger that drops everything (the benchmark prints JSON only)."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def llm_fixes(client: openai.OpenAI, snapshot: PullRequestSnapshot, results: list[AgentResult],
              prices: PriceTable, policy: BudgetPolicy, posted: set[str] = frozenset()) -> set[str]:
    """The review's fix step as production runs it (``tasks.fixing.with_fixes`` in
    ``generate_fixes``): deterministic rewrites first, then up to ``llm_fix_max_findings``
    LLM-written fixes for confident findings without one (none for findings an earlier
    review already reported, ``posted``), on the merged findings. Returns what this review
    reports, inline or in its body (``reviewer.render.build_review`` at the default cap)."""
    from types import SimpleNamespace

    from reviewer.diff import parse_file_patch
    from reviewer.render import build_review
    from tasks.fixing import with_fixes

    settings = Settings()
    service = LLMReviewService(
        complete=OpenAICompleter(client, limiter=None, breaker=None),
        config=LLMPassConfig(models={}, policy=policy), prices=prices, count=token_counter(),
    )
    fixed, _ = with_fixes(merge_findings(results), snapshot, SimpleNamespace(settings=settings, llm=service),
                          review_id=0, log=_Quiet(), posted=posted)
    diffs = {f.path: parse_file_patch(f.path, f.patch, status=str(f.status)) for f in snapshot.files}
    rendered = build_review([f for f in fixed if f.fingerprint not in posted], diffs, {}, review_id=0,
                            head_sha=snapshot.head_sha, inline_cap=settings.inline_comment_cap,
                            llm_used=True, skipped=[], dashboard_url=None)
    return {f.fingerprint for f in rendered.inline_findings + rendered.body_findings if f.fingerprint}


def main(argv: list[str] | None = None) -> int:
    from pathlib import Path

    from tests.fakes.openai import (
        FakeOpenAI,
        Reply,
        finding_on_first_added_line,
        fix_for_marked_lines,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    default_budget = Settings.model_fields["llm_tokens_per_pr"].default  # what production uses
    parser.add_argument("--budget", type=int, default=default_budget, help="tokens per PR")
    parser.add_argument("--embeddings", choices=["local", "none"], default="local",
                        help="near hits with the local MiniLM model, or exact hits only")
    parser.add_argument("--rows", action="store_true", help="also print one line per PR")
    args = parser.parse_args(argv)
    random.seed(args.seed)  # the prompts' boundary nonces: the same run gives the same counts
    embed = None
    if args.embeddings == "local":
        from reviewer.adapters.llm.embeddings import MiniLMEmbedder

        embed = MiniLMEmbedder()
    prices = PriceTable.from_toml((Path(__file__).parents[1] / "config" / "prices.toml").read_text())
    policy = BudgetPolicy(tokens_per_pr=args.budget)
    rows = []
    with FakeOpenAI() as fake:
        fake.default(Reply(finding_on_first_added_line("bench-issue")))
        client = openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)
        for n in range(args.prs):
            snapshot, bases = synthetic_pr_with_bases(args.seed * 1000 + n)
            fake.reset()
            fake.default(Reply(finding_on_first_added_line("bench-issue")))
            naive_review(client, snapshot)
            naive = fake.tokens()
            naive_cost = sum(prices.cost("gpt-4o", r.prompt_tokens, r.completion_tokens) for r in fake.completed())
            fake.reset()
            fake.default(Reply(finding_on_first_added_line("bench-issue")))
            fake.default(Reply(fix_for_marked_lines), agent=FIX_AGENT)
            store = MemoryCacheStore()  # cold for every PR: no hits from the PRs before it
            cost, results = designed_review(client, snapshot, prices, policy, store, embed)
            ours = fake.tokens()
            requests = len(fake.completed())
            posted = llm_fixes(client, snapshot, results, prices, policy)
            fixes = fake.tokens() - ours
            fake.reset()
            fake.default(Reply(finding_on_first_added_line("bench-issue")))
            fake.default(Reply(fix_for_marked_lines), agent=FIX_AGENT)
            pushed, rereview = incremental_run(snapshot, push_one_file(snapshot, bases, random.Random(n)))
            _, again = designed_review(client, pushed, prices, policy, store, embed, rereview)
            rereviewed = fake.tokens()
            rereview_requests = len(fake.completed())
            llm_fixes(client, pushed, again, prices, policy, posted)  # as production: not again
            rows.append({"files": len(snapshot.files), "naive": naive, "ours": ours,
                         "requests": requests, "naive_usd": naive_cost, "ours_usd": cost,
                         "rereview": rereviewed, "rereview_requests": rereview_requests,
                         "rereview_share": round(rereviewed / ours, 4) if ours else 0.0,
                         "fixes": fixes, "rereview_fixes": fake.tokens() - rereviewed})
    naive_mean = statistics.mean(r["naive"] for r in rows)
    ours_mean = statistics.mean(r["ours"] for r in rows)
    summary = {
        "prs": len(rows),
        "files_per_pr": statistics.mean(r["files"] for r in rows),
        "naive_tokens_per_pr": round(naive_mean),
        "design_tokens_per_pr": round(ours_mean),
        "design_max_tokens_per_pr": max(r["ours"] for r in rows),
        "budget_tokens_per_pr": policy.tokens_per_pr,
        "reduction": round(1 - ours_mean / naive_mean, 4),
        "naive_usd_per_pr": round(statistics.mean(r["naive_usd"] for r in rows), 4),
        "design_usd_per_pr": round(statistics.mean(r["ours_usd"] for r in rows), 4),
        "design_requests_per_pr": statistics.mean(r["requests"] for r in rows),
        "rereview_tokens_per_pr": round(statistics.mean(r["rereview"] for r in rows)),
        "rereview_requests_per_pr": statistics.mean(r["rereview_requests"] for r in rows),
        "rereview_share_mean": round(statistics.mean(r["rereview"] / r["ours"] for r in rows if r["ours"]), 4),
        "rereview_share_max": round(max(r["rereview"] / r["ours"] for r in rows if r["ours"]), 4),
        "rereview_prs_over_10pct": sum(r["rereview"] > 0.10 * r["ours"] for r in rows),
        # the fix step (LLM-written fixes for confident findings without a deterministic one),
        # reported apart: the naive design has no such step
        "fixes_tokens_per_pr": round(statistics.mean(r["fixes"] for r in rows)),
        "rereview_fixes_tokens_per_pr": round(statistics.mean(r["rereview_fixes"] for r in rows)),
        "reduction_with_fixes": round(1 - statistics.mean(r["ours"] + r["fixes"] for r in rows) / naive_mean, 4),
        "rereview_share_with_fixes_max": round(max((r["rereview"] + r["rereview_fixes"]) / (r["ours"] + r["fixes"])
                                                   for r in rows if r["ours"]), 4),
        "embeddings": args.embeddings,
        "token_counts": counter_source(token_counter()),
    }
    if args.rows:
        for row in rows:
            print(json.dumps(row))
    print(json.dumps(summary, indent=2))
    return 0 if summary["reduction"] >= 0.85 and summary["rereview_share_max"] <= 0.10 else 1


if __name__ == "__main__":
    sys.exit(main())
