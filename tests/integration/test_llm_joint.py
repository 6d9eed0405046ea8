"""A re-review's agents, running at the same time, share one request through Redis."""

from __future__ import annotations

import random
import threading

import pytest
import redis

from benchmarks.llm_tokens import push_one_file, synthetic_pr_with_bases
from reviewer import incremental
from reviewer.adapters.llm import RetryPolicy, build_llm_service
from reviewer.adapters.llm.joint_store import RedisJointStore
from reviewer.payloads import AGENT_NAMES, AgentResult, AgentStatus
from reviewer.ports import PullRequestFile
from tests.fakes.openai import FakeOpenAI, Reply, finding_on_first_added_line
from tests.support.processes import ROOT
from tests.unit.test_llm_core import MODELS

pytestmark = pytest.mark.integration


@pytest.fixture
def r(clean_redis):
    client = redis.Redis.from_url(clean_redis)
    yield client
    client.close()


def _stored_scope(before, after) -> dict:
    """The scope ``prepare`` stores with the review after GitHub's compare of the two heads."""
    from benchmarks.llm_tokens import _patch

    old = {f.path: f.head_content for f in before.files}
    compared = [PullRequestFile(filename=f.path, status="modified", patch=_patch(old[f.path], f.head_content)[0])
                for f in after.files if f.head_content != old[f.path]]
    scope = incremental.plan_scope(since_sha=before.head_sha, since_review_id=1, compared=compared, earlier_open=[])
    return scope.model_dump(mode="json")


def test_concurrent_agents_make_one_request_and_split_its_tokens(r):
    snapshot, bases = synthetic_pr_with_bases(7019)
    pushed = push_one_file(snapshot, bases, random.Random(19))  # an f-string SQL query: two agents
    scope = _stored_scope(snapshot, pushed)
    pushed = incremental.restrict(pushed, incremental.IncrementalScope.model_validate(scope))
    with FakeOpenAI(latency_s=0.3) as fake:  # slow enough that the agents overlap
        fake.default(Reply(finding_on_first_added_line("joint-issue")))
        service = build_llm_service(
            api_key=fake.api_key, base_url=fake.base_url, models=MODELS,
            prices_toml=(ROOT / "config" / "prices.toml").read_text(), redis_client=r,
            retry=RetryPolicy(max_attempts=2, backoff_s=0.01, max_wait_s=2), timeout_s=5,
        )
        results: dict[str, AgentResult] = {}

        def agent(name):
            static = AgentResult(agent=name, status=AgentStatus.OK)
            results[name] = service.augment(name, pushed, static, review_key="77",
                                            rereview=service.rereview(scope, review_key="77"))

        threads = [threading.Thread(target=agent, args=(name,)) for name in AGENT_NAMES]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(fake.completed()) == 1, "one joint request for the agents that want the changed code"
        assert sum(x.tokens for x in results.values()) == fake.tokens()
        sharing = [a for a in AGENT_NAMES if results[a].tokens]  # canvas order, as in the prompt
        assert len(sharing) >= 2 and all(results[a].mode == "llm" for a in sharing)
        assert [f.rule for f in results[sharing[0]].findings] == ["joint-issue"]  # the tag picks the agent
        assert float(r.get("reviewer:llm:spend:77")) > 0  # the PR ledger got every share


def test_a_dead_owner_lets_the_others_go_alone(r):
    store = RedisJointStore(r, poll_s=0.01)
    assert store.claim("k", ttl_s=1) and not store.claim("k", ttl_s=1)
    assert store.wait("k", timeout_s=0.05) is None  # owner alive, no answer yet: timed out
    r.delete("reviewer:llm:joint:k:owner")  # the owner's lease ran out
    assert store.wait("k", timeout_s=5) is None
    store.publish("k", {"security": {"findings": [], "calls": []}})
    assert store.wait("k", timeout_s=0) == {"security": {"findings": [], "calls": []}}
