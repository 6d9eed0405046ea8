"""The LLM pass on the real canvas: a worker pointed at the fake OpenAI server."""

from __future__ import annotations

import pytest
import redis

from reviewer.adapters.storage import Database
from reviewer.adapters.storage import repositories as repo
from reviewer.render import LLM_UNAVAILABLE_NOTE
from tests.fakes.openai import FakeOpenAI
from tests.integration.test_canvas import _create_review, _dispatch, _posted
from tests.support.pulls import REPO, add_sample_pull_request, wait_for

pytestmark = pytest.mark.integration


def test_breaker_opens_and_the_review_still_posts_static_only(service_env, start_worker, fake_github):
    with FakeOpenAI() as llm:
        llm.fail_always(500)
        pr = add_sample_pull_request(fake_github)
        env = {
            "OPENAI_API_KEY": llm.api_key, "OPENAI_BASE_URL": llm.base_url,
            "REVIEWER_LLM_MAX_ATTEMPTS": "2", "REVIEWER_LLM_BACKOFF_S": "0.01",
            "REVIEWER_LLM_BREAKER_FAILURES": "2", "REVIEWER_LLM_BREAKER_COOLDOWN_S": "600",
        }
        service_env.update(env)
        start_worker(**env)
        db = Database(service_env["REVIEWER_DATABASE_URL"])
        review_id = _create_review(db, pr)
        _dispatch(service_env, review_id)
        wait_for(lambda: _posted(fake_github, pr.number, db, review_id), timeout=90, what="the review")

        body = fake_github.reviews(REPO, pr.number)[0]["body"]
        assert LLM_UNAVAILABLE_NOTE in body
        with db.session() as s:
            results = repo.load_agent_results(s, review_id)
            rules = {f.rule for f in repo.load_findings(s, review_id)}
        assert {r.status for r in results.values()} == {"ok"}
        assert {r.mode for r in results.values()} == {"static (llm unavailable)"}
        assert "sql-injection" in rules  # the static findings were posted
        # Two failed calls (2 attempts each) opened the breaker; agents after that sent nothing.
        assert len(llm.requests) <= 2 * 2 + 4
        r = redis.Redis.from_url(service_env["REVIEWER_REDIS_URL"])
        assert r.hget("reviewer:llm:breaker:default", "opened_at") is not None
        r.close()
