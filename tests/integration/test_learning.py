"""The learning loop in the review pipeline (real Postgres + pgvector, Redis, the fake GitHub):
a finding similar to one developers rejected in a repository is held back in that
repository's next PR — and the summary says so — but not in another repository; accepted
feedback suppresses nothing; a keep override brings the finding back.

The canvas' tasks run in this process; the security agent is the runner of
``tests.support.review_pipeline`` that flags ``danger(...)`` and ``eval(...)`` calls.
Feedback rows are made with the storage functions the signal handlers use, with the code's
embedding from the shipped MiniLM model.
"""

from __future__ import annotations

import re

import pytest
from pydantic import SecretStr

from reviewer.adapters.llm.embeddings import MiniLMEmbedder, model_dir
from reviewer.adapters.storage import Database, LearningOverrideAction
from reviewer.adapters.storage import feedback as fb
from reviewer.adapters.storage import repositories as repo
from reviewer.adapters.storage.learning import learning_record
from reviewer.applied import snippet
from reviewer.feedback import FeedbackItem, Signal, Verdict
from reviewer.learning import finding_code
from reviewer.render import parse_finding_marker
from reviewer.summary import SUMMARY_MARKER
from tasks.app import create_celery_app
from tasks.services import Services
from tests.conftest import settings_from_env
from tests.support.pulls import REPO
from tests.support.review_pipeline import deliver, flagging_runner, module, run_review

pytestmark = pytest.mark.integration

OTHER_REPO = "octo-org/billing"


@pytest.fixture(scope="module")
def embed():
    return MiniLMEmbedder(model_dir())


@pytest.fixture
def env(service_env):
    settings = settings_from_env(service_env)
    services = Services(settings, agent_runner=flagging_runner([]))
    app = create_celery_app(settings, services=services)
    return services, app, Database(service_env["REVIEWER_DATABASE_URL"])


def review_pr(env, fake_github, repo_name: str, number: int, flagged: dict[int, str]) -> tuple[int, dict]:
    services, app, _db = env
    pr = fake_github.add_pull_request_from_texts(repo_name, number, {"app/views.py": ("", module(flagged))})
    review_id = deliver(services, app, repo_name, pr, "opened", f"d-{repo_name}-{number}").review_id
    run_review(app, review_id)
    [review] = fake_github.reviews(repo_name, number)
    return review_id, review


def posted_messages(review: dict) -> list[str]:
    return [c["body"] for c in review["comments"]]


def give_feedback(env, embed, repo_name: str, number: int, needle: str, verdict: Verdict, key: str,
                  signal: Signal = Signal.REACTION, actor: str = "dev", with_context: bool = False) -> None:
    """Record ``verdict`` on the finding posted on PR ``number`` whose comment mentions ``needle``,
    with the embedding of its flagged lines (or, ``with_context``, of the lines around them as
    the webhook handlers store them)."""
    _services, _app, db = env
    with db.session() as s:
        [review] = [r for r in [repo.latest_review(s, repo_name, number)] if r is not None]
        snapshot = repo.load_snapshot(s, review.id)
        [finding] = [f for f in repo.load_findings(s, review.id) if needle in f.message]
        row = fb.posted_finding(s, repo_name, number, finding.fingerprint)
        assert row is not None, "the finding was posted inline"
        text = snapshot.file(finding.path).head_content
        code = snippet(text, finding.line, finding.end_line) if with_context else finding_code(finding, text)
        item = FeedbackItem(
            repo=repo_name, pr_number=number, fingerprint=finding.fingerprint, signal=signal,
            verdict=verdict, source_key=key, actor=actor,
        )
        assert fb.record_feedback(s, item, row, code=code, embedding=embed([code])[0])


def summary_of(fake_github, repo_name: str, number: int) -> str:
    [summary] = [c for c in fake_github.issue_comments(repo_name, number) if SUMMARY_MARKER in c["body"]]
    return summary["body"]


@pytest.mark.parametrize("with_context", [False, True], ids=["flagged-lines", "with-context"])
def test_a_rejected_finding_is_held_back_on_the_next_similar_pr_of_that_repository_only(
    env, fake_github, embed, with_context
):
    _services, _app, db = env
    review_pr(env, fake_github, REPO, 1, {10: "danger(request.args['name'])", 30: "x = eval(y)"})
    give_feedback(env, embed, REPO, 1, "danger(", Verdict.REJECTED, "reply:1", Signal.REPLY_COMMAND,
                  with_context=with_context)

    # PR 2: the same pattern with another argument, plus the eval the team never objected to.
    second_id, second = review_pr(env, fake_github, REPO, 2, {12: "danger(request.args['title'])", 40: "z = eval(w)"})
    bodies = posted_messages(second)
    assert len(bodies) == 1 and "eval" in bodies[0]
    assert not any("danger(" in b for b in bodies)
    summary = summary_of(fake_github, REPO, 2)
    assert "1 finding held back by learned feedback" in summary
    assert f"/dashboard/learning/{REPO}" in summary
    [run] = fake_github.check_runs(REPO, fake_github.reviews(REPO, 2)[0]["commit_id"])
    assert not any("danger(" in a["message"] for a in run["annotations"])
    with db.session() as s:
        record = learning_record(repo.get_review(s, second_id))
        stored = repo.load_findings(s, second_id)
    [held] = record["held_back"]
    assert held["rule"] == "danger-call" and held["by"] == "similar" and held["similarity"] >= 0.85
    assert f"in {REPO} PR #1" in held["reason"]
    assert all(f.rule != "danger-call" for f in stored)  # not in the review's findings either

    # Another repository learned nothing: the same code is posted there.
    _other_id, other = review_pr(env, fake_github, OTHER_REPO, 3, {12: "danger(request.args['title'])"})
    assert any("danger(" in b for b in posted_messages(other))
    assert "held back" not in summary_of(fake_github, OTHER_REPO, 3)


def test_dismissed_by_resolving_counts_as_rejection_and_different_code_is_still_posted(env, fake_github, embed):
    review_pr(env, fake_github, REPO, 4, {10: "danger(request.args['name'])"})
    give_feedback(env, embed, REPO, 4, "danger(", Verdict.DISMISSED, "thread:4:resolved",
                  Signal.THREAD_RESOLVED_UNCHANGED)
    _id, review = review_pr(env, fake_github, REPO, 5, {
        10: "danger(request.args['name'])",
        20: "result = danger(subprocess.check_output(['ls', '-la', directory]).decode().split())",
    })
    bodies = posted_messages(review)
    assert len(bodies) == 1 and "check_output" in bodies[0]


def test_accepted_feedback_suppresses_nothing(env, fake_github, embed):
    review_pr(env, fake_github, REPO, 6, {10: "x = eval(y)"})
    give_feedback(env, embed, REPO, 6, "eval", Verdict.ACCEPTED, "reaction:6")
    _id, review = review_pr(env, fake_github, REPO, 7, {10: "x = eval(y)"})
    assert [parse_finding_marker(b) is not None for b in posted_messages(review)] == [True]
    assert "held back" not in summary_of(fake_github, REPO, 7)


def test_a_keep_override_restores_the_finding(env, fake_github, embed):
    _services, _app, db = env
    review_pr(env, fake_github, REPO, 8, {10: "danger(request.args['name'])"})
    give_feedback(env, embed, REPO, 8, "danger(", Verdict.REJECTED, "reaction:8")
    _id, held = review_pr(env, fake_github, REPO, 9, {10: "danger(request.args['name'])"})
    assert posted_messages(held) == []
    with db.session() as s:
        fb.set_override(s, REPO, "danger-call", LearningOverrideAction.KEEP, by="lead", reason="real bugs")
    _id, kept = review_pr(env, fake_github, REPO, 10, {10: "danger(request.args['name'])"})
    assert len(posted_messages(kept)) == 1
    assert "held back" not in summary_of(fake_github, REPO, 10)


def test_repeated_rejections_suppress_the_rule_and_the_toml_keep_wins(env, fake_github, embed):
    services, app, db = env
    patterns = {
        10: "danger(request.args['name'])",
        20: "total = danger(sum(values) / len(values))",
        30: "with open(path) as fh: danger(fh.read())",
    }
    review_pr(env, fake_github, REPO, 11, patterns)
    for (line, code), actor in zip(patterns.items(), ("ann", "bob", "cy"), strict=True):
        give_feedback(env, embed, REPO, 11, code, Verdict.REJECTED, f"reaction:{line}", actor=actor)
    # Entirely different code of the same rule: held back by the rule-wide decision.
    different = "payload = danger(json.loads(sys.stdin.read())['command'], shell=True, timeout=30)"
    held_id, review = review_pr(env, fake_github, REPO, 14, {10: different})
    assert posted_messages(review) == []
    with db.session() as s:
        [held] = learning_record(repo.get_review(s, held_id))["held_back"]
    assert held["by"] == "rule"
    assert held["reason"].startswith(f"rule danger-call: rejected 3 of 3 times in {REPO} since ")

    # The base branch's .reviewer.toml keeps the rule: posted again, similar code included.
    pr = fake_github.add_pull_request_from_texts(REPO, 15, {"app/views.py": ("", module({10: different, 20: patterns[20]}))})
    fake_github.set_content(REPO, pr.base_sha, ".reviewer.toml", '[learning]\nkeep = ["danger-call"]\n')
    fake_github.set_content(REPO, pr.head_sha, ".reviewer.toml", "[learning]\nenabled = true\n")  # the head's is not read
    run_review(app, deliver(services, app, REPO, pr, "opened", "d-15").review_id)
    [kept] = fake_github.reviews(REPO, 15)
    assert len(posted_messages(kept)) == 2


def test_similar_past_verdicts_reach_the_llm_prompt_as_delimited_examples(service_env, fake_github, embed):
    from tests.fakes.openai import FakeOpenAI

    with FakeOpenAI() as llm:
        settings = settings_from_env(service_env).model_copy(
            update={"openai_api_key": SecretStr(llm.api_key), "openai_base_url": llm.base_url,
                    "llm_cache_enabled": False}
        )
        services = Services(settings, agent_runner=flagging_runner([]))
        app = create_celery_app(settings, services=services)
        env = (services, app, Database(service_env["REVIEWER_DATABASE_URL"]))
        review_pr(env, fake_github, REPO, 21, {10: "danger(request.args['name'])"})
        assert not any("Earlier verdicts" in m["content"] for r in llm.completed() for m in r.messages)
        give_feedback(env, embed, REPO, 21, "danger(", Verdict.REJECTED, "reply:21", Signal.REPLY_COMMAND)
        sent_before = len(llm.completed())

        review_pr(env, fake_github, REPO, 22, {10: "danger(request.args['title'])", 30: "x = eval(y)"})
        requests = llm.completed()[sent_before:]
    by_agent = {r.agent: r for r in requests}
    security = [m["content"] for m in by_agent["security"].messages if "Earlier verdicts" in m["content"]]
    assert len(security) == 1
    [nonce] = re.findall(r"<<<UNTRUSTED-(\w+)>>>", security[0])
    inside = security[0].split(f"<<<UNTRUSTED-{nonce}>>>", 1)[1].split(f"<<<END-UNTRUSTED-{nonce}>>>", 1)[0]
    assert "developers here rejected this kind of finding: danger-call" in inside
    assert "danger(request.args['name'])" in inside  # the code developers rejected, as data
    # Only the agent whose findings got feedback sees examples.
    assert not any("Earlier verdicts" in m["content"] for m in by_agent["quality"].messages)
