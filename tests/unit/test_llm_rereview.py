"""Re-review after a push: only changed code is sent, agents share one request when cheaper."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from benchmarks.llm_tokens import incremental_run, push_one_file, synthetic_pr_with_bases
from reviewer.adapters.llm.tokens import token_counter
from reviewer.incremental import pushed_lines
from reviewer.llm.agent_pass import LLMPassConfig, MemoryLedger, Rereview, run_llm_pass
from reviewer.llm.budget import BudgetPolicy
from reviewer.llm.calls import Completion, review_chunk
from reviewer.llm.joint import MemoryJointStore, plan_joint
from reviewer.llm.pricing import PriceTable
from reviewer.llm.prompts import JOINT_MARK, BoundaryCollision, build_messages, system_message
from reviewer.llm.schema import response_format, schema_prompt_tokens
from reviewer.llm.selection import REREVIEW_AROUND, build_units, focus_units
from reviewer.llm.tokens import count_messages
from reviewer.payloads import AGENT_NAMES, AgentResult, AgentStatus
from reviewer.ports import PullRequestFile
from tests.fakes.github import make_patch

PRICES = PriceTable.from_toml((Path(__file__).parents[2] / "config" / "prices.toml").read_text())
MODELS = {"security": "gpt-4o", "performance": "gpt-4o-mini", "quality": "gpt-4o-mini", "architecture": "gpt-4o"}
COUNT = token_counter()


class Provider:
    """A ``Complete`` that answers one finding per agent named in the request, on the first
    added line it shows, and records every call."""

    def __init__(self):
        self.calls = []

    def __call__(self, *, model, messages, max_tokens, estimated_tokens, joint=False):
        self.calls.append({"model": model, "messages": messages, "joint": joint})
        text = "\n".join(m["content"] for m in messages)
        line = next(int(x.split("|")[0][1:]) for x in text.splitlines() if x.startswith("+") and "|" in x)
        path = next(x.split(" ")[1] for x in text.splitlines() if x.startswith("### "))
        agents = next((x.split(": ", 1)[1].split(", ") for x in text.splitlines() if x.startswith(JOINT_MARK)), [None])
        findings = [{"path": path, "line": line, "end_line": None, "severity": "medium", "rule": f"r-{a}",
                     "cwe": None, "message": "m", "confidence": 0.8, "suggestion": None,
                     **({"agent": a} if joint else {})} for a in agents]
        answer = json.dumps({"findings": findings})
        billed = count_messages(messages, COUNT) + schema_prompt_tokens(COUNT, joint=joint)  # as OpenAI bills
        return Completion(text=answer, model=model, prompt_tokens=billed, completion_tokens=COUNT(answer))


def _pushed(n: int):
    snapshot, bases = synthetic_pr_with_bases(7000 + n)
    return snapshot, incremental_run(snapshot, push_one_file(snapshot, bases, random.Random(n)))


def _pass(agent, snapshot, provider, rereview=None, ledger=None):
    return run_llm_pass(
        agent, snapshot, AgentResult(agent=agent, status=AgentStatus.OK),
        reviewer=lambda r: review_chunk(r, complete=provider, count=COUNT),
        config=LLMPassConfig(models=MODELS, policy=BudgetPolicy()), count=COUNT, prices=PRICES,
        ledger=ledger or MemoryLedger(), nonce=lambda: "a1b2c3d4e5f60718", rereview=rereview,
    )


def test_pushed_lines_are_the_heads_added_lines_and_the_place_of_a_deletion():
    base = "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nf = 6\ng = 7\nh = 8\ni = 9\n"
    head = "a = 1\nb = 20\nc = 3\nd = 4\ne = 5\nf = 6\ng = 7\ni = 9\n"  # b rewritten, h deleted
    patch, add, rem = make_patch(base, head)
    entry = PullRequestFile(filename="x.py", status="modified", patch=patch, additions=add, deletions=rem)
    assert pushed_lines(entry) == [2, 8]  # line 2 rewritten; line 8 ("i") is where h was removed
    assert pushed_lines(entry.model_copy(update={"status": "renamed"})) is None


def test_only_the_function_the_push_changed_is_a_candidate():
    _, (pushed, rereview) = _pushed(10)
    units, _ = build_units(pushed)
    kept, unchanged = focus_units(units, rereview.focus)
    assert len(kept) == 1 and unchanged, "the file's other functions were reviewed before"
    (unit,) = kept
    changed = rereview.focus[unit.path]
    assert changed & set(range(unit.start, unit.end + 1))
    assert unit.end - unit.start < 25, "one definition, not the whole added tail of the file"


def test_a_method_change_sends_the_method_with_its_class_as_header():
    head = "class Service:\n    def a(self):\n        return 1\n\n    def b(self, q):\n        return q\n"
    new = head.replace("        return q\n", "        return db.execute(q)\n")
    from reviewer.snapshot import ChangedFile, PullRequestSnapshot

    patch, add, rem = make_patch("", new)
    snapshot = PullRequestSnapshot(repo="o/r", files=[ChangedFile(path="s.py", patch=patch, head_content=new,
                                                                  additions=add, deletions=rem)])
    units, _ = build_units(snapshot)
    kept, _ = focus_units(units, {"s.py": frozenset({6})})
    assert [(u.start, u.end, u.header.strip()) for u in kept] == [(5, 6, "class Service:")]


def test_agents_share_one_request_and_each_gets_its_findings_and_share_of_tokens():
    _, (pushed, rereview) = _pushed(19)  # an f-string SQL query added: security and performance
    provider, ledger = Provider(), MemoryLedger()
    results = {a: _pass(a, pushed, provider, rereview, ledger) for a in AGENT_NAMES}
    assert len(provider.calls) == 1 and provider.calls[0]["joint"]
    call = provider.calls[0]
    assert call["model"] == "gpt-4o"  # the strongest of the sharing agents' models
    sharing = [a for a, r in results.items() if r.tokens]
    assert len(sharing) >= 2
    billed = count_messages(call["messages"], COUNT)
    assert sum(r.tokens for r in results.values()) >= billed  # prompt + answer, split, nothing lost
    assert max(r.tokens for r in results.values()) - min(results[a].tokens for a in sharing) <= 2
    for agent in sharing:
        assert [f.rule for f in results[agent].findings] == [f"r-{agent}"]
        assert "not sent again" in results[agent].error and "clipped ones stay clipped" in results[agent].error
    assert ledger.spent() > 0


def test_rereview_tokens_are_a_small_share_of_the_first_review():
    first, (pushed, rereview) = _pushed(4)
    provider = Provider()
    before = sum(_pass(a, first, provider).tokens for a in AGENT_NAMES)
    after = sum(_pass(a, pushed, provider, rereview).tokens for a in AGENT_NAMES)
    assert 0 < after < before * 0.15


def test_an_agent_whose_share_never_comes_sends_its_own_request():
    class OwnerDied(MemoryJointStore):
        def claim(self, key, ttl_s):
            return False  # someone else claimed it ... and died before publishing

    _, (pushed, rereview) = _pushed(0)
    provider = Provider()
    alone = Rereview(focus=rereview.focus, since_sha=rereview.since_sha, store=OwnerDied(), run_key="r1")
    result = _pass("security", pushed, provider, alone)
    assert len(provider.calls) == 1 and not provider.calls[0]["joint"]
    assert [f.rule for f in result.findings] == ["r-none"] and result.mode == "llm"


def test_one_agent_alone_is_not_a_joint_request():
    _, (pushed, rereview) = _pushed(2)  # a loop added: only performance cares
    units, _ = build_units(pushed)
    kept, _ = focus_units(units, rereview.focus)

    def measure(agents, chosen):
        return count_messages(build_messages(list(agents), list(chosen), nonce="n" * 16), COUNT)

    plan = plan_joint(kept, agents=AGENT_NAMES, models=MODELS, prices=PRICES, policy=BudgetPolicy(),
                      measure=measure, scope_key="r")
    assert plan is None


def _one_file(text: str, path: str = "s.py"):
    from reviewer.snapshot import ChangedFile, PullRequestSnapshot

    patch, add, rem = make_patch("", text)
    return PullRequestSnapshot(repo="o/r", title="Rework", files=[
        ChangedFile(path=path, patch=patch, head_content=text, additions=add, deletions=rem)])


LONG_METHOD = "class Service:\n    def run(self, q):\n" + "".join(f"        step_{i} = {i}\n" for i in range(1, 21))


def test_a_long_function_is_resent_as_the_changed_lines_with_context_under_an_outline():
    units, _ = build_units(_one_file(LONG_METHOD))
    kept, _ = focus_units(units, {"s.py": frozenset({12})})  # step_10, in the middle of run()
    assert [(u.start, u.end) for u in kept] == [(12 - REREVIEW_AROUND, 12 + REREVIEW_AROUND)]
    (unit,) = kept
    assert unit.header == "class Service: > def run(self, q):"
    assert "(inside: class Service: > def run(self, q):)" in unit.render()
    assert unit.lines[REREVIEW_AROUND] == "        step_10 = 10"


def test_distant_changes_in_one_function_are_separate_windows_and_a_short_function_is_whole():
    units, _ = build_units(_one_file(LONG_METHOD))
    kept, _ = focus_units(units, {"s.py": frozenset({4, 20})})
    assert [(u.start, u.end) for u in kept] == [(2, 7), (17, 22)]  # clipped to the function
    assert [u.header for u in kept] == ["class Service:", "class Service: > def run(self, q):"]
    short = "def f(a):\n    b = a\n    c = b\n    return c\n"
    units, _ = build_units(_one_file(short))
    kept, _ = focus_units(units, {"s.py": frozenset({3})})
    assert [(u.start, u.end, u.header) for u in kept] == [(1, 4, "")]


def test_a_rereview_request_is_the_compact_variant_with_the_same_rules_and_boundaries():
    units, _ = build_units(_one_file(LONG_METHOD))
    kept, _ = focus_units(units, {"s.py": frozenset({12})})
    first = build_messages("security", units, nonce="a" * 16, title="Rework")
    again = build_messages(["security", "performance"], kept, nonce="b" * 16, title="Rework", followup=True)
    assert again[0] == first[0] == system_message()  # same rules, byte for byte
    data, task = again[1]["content"], again[-1]["content"]
    assert data.startswith("Pull request data:\n<<<UNTRUSTED-" + "b" * 16 + ">>>\n")
    assert data.endswith("<<<END-UNTRUSTED-" + "b" * 16 + ">>>") and "title" not in data
    assert task.startswith(f"{JOINT_MARK}: security, performance\n") and '"agent"' in task
    assert COUNT(again[-1]["content"]) < COUNT(first[-1]["content"]) * 1.2  # two agents, in fewer words
    with pytest.raises(BoundaryCollision):  # the nonce is still checked against the code
        build_messages("security", kept, nonce="step_10", followup=True)


def test_the_fake_provider_bills_the_json_schema_like_openai():
    from tests.fakes.openai import FakeOpenAI, Reply

    fake = FakeOpenAI()
    fake.default(Reply({"findings": []}))
    messages = build_messages("security", [], nonce="n" * 16)
    plain = fake.handle({"model": "gpt-4o", "messages": messages, "response_format": {"type": "json_object"}}, True)
    schema = fake.handle({"model": "gpt-4o", "messages": messages, "response_format": response_format()}, True)
    joint = fake.handle({"model": "gpt-4o", "messages": messages, "response_format": response_format(True)}, True)
    base = plain[2]["usage"]["prompt_tokens"]
    assert base == count_messages(messages, COUNT)
    assert schema[2]["usage"]["prompt_tokens"] - base == schema_prompt_tokens(COUNT) > 50
    assert joint[2]["usage"]["prompt_tokens"] - base == schema_prompt_tokens(COUNT, joint=True) > schema_prompt_tokens(COUNT)


def test_the_schema_sent_is_compact_and_still_strict():
    schema = response_format(True)["json_schema"]["schema"]
    assert "$defs" not in json.dumps(schema) and "title" not in json.dumps(schema)
    finding = schema["properties"]["findings"]["items"]
    assert finding["additionalProperties"] is False and set(finding["required"]) == set(finding["properties"])
    assert finding["properties"]["end_line"]["type"] == ["integer", "null"]
    assert finding["properties"]["severity"]["enum"] == ["critical", "high", "medium", "low", "info"]


def test_a_pushed_comment_adds_no_risk_even_when_it_names_one():
    text = LONG_METHOD.replace("        step_10 = 10\n", "        # keep the SQL query and password checks\n        step_10 = 10\n")
    units, _ = build_units(_one_file(text))
    kept, _ = focus_units(units, {"s.py": frozenset({12})})  # only the comment line changed
    assert kept and all(score == 0 for unit in kept for score in unit.risk.values())
    assert build_units(_one_file(text))[0][0].risk["security"] > 0  # in a first review it would count
