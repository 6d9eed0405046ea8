"""A fake OpenAI-compatible server (``/v1/chat/completions``), real HTTP on loopback.

Shared by every LLM test and the token benchmark. Answers are scripted per agent (the agent
is read from the prompt's ``reviewer-agent: NAME`` line) as JSON, raw text (malformed
output) or a function of the request; failures are scripted too: 429 with ``retry-after``,
500s, latency, a 429 storm on every k-th request. Every request is recorded with its arrival
time and its token count (the messages plus, as OpenAI bills it, the ``response_format``
JSON schema), and the answer carries ``usage`` like the real API.

    with FakeOpenAI() as llm:
        llm.script("security", Reply({"findings": [...]}))
        ...  # OPENAI_BASE_URL=llm.base_url, OPENAI_API_KEY=llm.api_key
        assert llm.requests[0].agent == "security"
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from reviewer.adapters.llm.tokens import token_counter
from reviewer.llm.tokens import count_messages

_AGENT = re.compile(r"reviewer-agents?: (\w+)")  # a joint request: its first agent
_JOINT = re.compile(r"^reviewer-agents: (.+)$", re.MULTILINE)
_ADDED = re.compile(r"^\+(\d+)\|", re.MULTILINE)
_FILE = re.compile(r"^### (\S+) \(lines \d+-\d+\)", re.MULTILINE)

Content = str | dict | Callable[[dict], "str | dict"]


@dataclass
class Reply:
    """One scripted answer: content (dict → JSON, str → sent as is), or an HTTP error."""

    content: Content = field(default_factory=lambda: {"findings": []})
    status: int = 200
    retry_after: float | None = None
    latency_s: float = 0.0
    usage: bool = True


@dataclass
class Recorded:
    at: float
    agent: str | None
    model: str
    messages: list[dict]
    response_format: dict | None
    prompt_tokens: int
    completion_tokens: int
    status: int


def schema_tokens(response_format: dict | None) -> int:
    """Prompt tokens OpenAI bills for a ``json_schema`` response format: it puts the schema in
    front of the system message (its prompt-caching guide) and, as a user measured in
    openai/openai-cookbook#2140, bills the schema's JSON without ``required``,
    ``additionalProperties`` and ``$schema``, plus 9 tokens. Plain JSON mode: nothing."""
    if not response_format or response_format.get("type") != "json_schema":
        return 0
    schema = (response_format.get("json_schema") or {}).get("schema") or {}

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("required", "additionalProperties", "$schema")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return token_counter()(json.dumps(strip(schema), separators=(",", ":"))) + 9


def first_added_line(body: dict) -> tuple[str, int] | None:
    """``(path, line)`` of the first ``+`` line the prompt shows, for answers that must anchor."""
    text = "\n".join(m.get("content") or "" for m in body.get("messages", []))
    for block in re.split(r"(?=^### )", text, flags=re.MULTILINE):
        path = _FILE.match(block)
        line = _ADDED.search(block)
        if path and line:
            return path.group(1), int(line.group(1))
    return None


def joint_agents(body: dict) -> list[str]:
    """The agents a joint request (one call for several agents) names; [] for one agent."""
    text = "\n".join(m.get("content") or "" for m in body.get("messages", []))
    found = _JOINT.search(text)
    return [a.strip() for a in found.group(1).split(",")] if found else []


def finding_on_first_added_line(rule: str = "llm-issue", severity: str = "medium", message: str = "found") -> Callable[[dict], dict]:
    """An answer function: one finding on the first added line of the request."""

    def answer(body: dict) -> dict:
        where = first_added_line(body)
        if where is None:
            return {"findings": []}
        path, line = where
        joint = joint_agents(body)
        return {"findings": [{
            **({"agent": joint[0]} if joint else {}),
            "path": path, "line": line, "end_line": None, "severity": severity, "rule": rule,
            "cwe": None, "message": message, "confidence": 0.8, "suggestion": None,
        }]}

    return answer


_ASKED = re.compile(r"^\*(\d+)\|(.*)$", re.MULTILINE)


def fix_for_marked_lines(body: dict) -> dict:
    """An answer function for fix requests (``reviewer.fixes.llm``): one finding on the lines
    marked ``*`` whose suggestion is those lines rewritten (a comment added to the first), as
    long as a real fix of them would be."""
    text = "\n".join(m.get("content") or "" for m in body.get("messages", []))
    path = _FILE.search(text)
    marked = _ASKED.findall(text)
    if path is None or not marked:
        return {"findings": []}
    lines = [code for _, code in marked]
    lines[0] += "  # fixed: parameters passed separately"
    return {"findings": [{
        "path": path.group(1), "line": int(marked[0][0]), "end_line": int(marked[-1][0]),
        "severity": "high", "rule": "fix", "cwe": None,
        "message": "Pass the value as a parameter instead of formatting it into the text.",
        "confidence": 0.8, "suggestion": "\n".join(lines),
    }]}


class FakeOpenAI:
    def __init__(self, *, api_key: str = "sk-test-fake", latency_s: float = 0.0) -> None:
        self.api_key = api_key
        self.latency_s = latency_s
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: list[Recorded] = []
            self._scripts: dict[str | None, deque[Reply]] = {}
            self._defaults: dict[str | None, Reply] = {}
            self._failures: deque[Reply] = deque()
            self._always: Reply | None = None
            self._storm: tuple[int, float] | None = None
            self._arrivals = 0
            self.reject_json_schema = False

    # scripting

    def script(self, agent: str | None, *replies: Reply) -> None:
        """Queue replies for an agent (None: any agent), used once each, in order."""
        with self._lock:
            self._scripts.setdefault(agent, deque()).extend(replies)

    def default(self, reply: Reply, agent: str | None = None) -> None:
        """The reply when nothing is queued (for one agent, or all)."""
        with self._lock:
            self._defaults[agent] = reply

    def fail_next(self, count: int, status: int = 500, retry_after: float | None = None) -> None:
        with self._lock:
            self._failures.extend(Reply(status=status, retry_after=retry_after) for _ in range(count))

    def fail_always(self, status: int | None = 500) -> None:
        """Every request fails with ``status`` (None: back to normal)."""
        with self._lock:
            self._always = Reply(status=status) if status else None

    def storm(self, every: int, retry_after: float) -> None:
        """A 429 storm: every ``every``-th request is refused with ``retry-after``."""
        with self._lock:
            self._storm = (every, retry_after)

    # inspection

    @property
    def base_url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def completed(self) -> list[Recorded]:
        return [r for r in self.requests if r.status == 200]

    def tokens(self) -> int:
        """Prompt + completion tokens of every answered request (what a provider bills)."""
        return sum(r.prompt_tokens + r.completion_tokens for r in self.completed())

    def max_in_window(self, window_s: float) -> int:
        """The most requests (any outcome) that arrived within any ``window_s`` span."""
        times = sorted(r.at for r in self.requests)
        best, left = 0, 0
        for right, t in enumerate(times):
            while t - times[left] >= window_s:
                left += 1
            best = max(best, right - left + 1)
        return best

    # serving

    def _choose(self, agent: str | None) -> Reply:
        with self._lock:
            self._arrivals += 1
            if self._always is not None:
                return self._always
            if self._failures:
                return self._failures.popleft()
            if self._storm and self._arrivals % self._storm[0] == 0:
                return Reply(status=429, retry_after=self._storm[1])
            for key in (agent, None):
                queue = self._scripts.get(key)
                if queue:
                    return queue.popleft()
            return self._defaults.get(agent) or self._defaults.get(None) or Reply()

    def handle(self, body: dict, authorised: bool) -> tuple[int, dict[str, str], dict]:
        arrived = time.time()
        messages = body.get("messages") or []
        text = "\n".join(str(m.get("content") or "") for m in messages)
        found = _AGENT.search(text)
        agent = found.group(1) if found else None
        # counted as the provider bills them: exact o200k_base when the encoding is installed,
        # the response_format's JSON schema included (OpenAI puts it in the prompt)
        prompt_tokens = count_messages(messages, token_counter()) + schema_tokens(body.get("response_format"))
        if not authorised:
            reply = Reply(status=401)
        elif self.reject_json_schema and (body.get("response_format") or {}).get("type") == "json_schema":
            reply = Reply(status=400, content="response_format json_schema is not supported")
        else:
            reply = self._choose(agent)
        if reply.latency_s or self.latency_s:
            time.sleep(reply.latency_s or self.latency_s)
        headers: dict[str, str] = {}
        if reply.status != 200:
            if reply.retry_after is not None:
                headers["retry-after"] = f"{reply.retry_after:g}"
            record = Recorded(arrived, agent, body.get("model", ""), messages, body.get("response_format"), prompt_tokens, 0, reply.status)
            with self._lock:
                self.requests.append(record)
            message = reply.content if isinstance(reply.content, str) else "scripted failure"
            return reply.status, headers, {"error": {"message": message, "type": "fake", "code": reply.status}}
        content = reply.content(body) if callable(reply.content) else reply.content
        text_out = content if isinstance(content, str) else json.dumps(content)
        completion_tokens = token_counter()(text_out)
        with self._lock:
            self.requests.append(Recorded(
                arrived, agent, body.get("model", ""), messages, body.get("response_format"),
                prompt_tokens, completion_tokens, 200,
            ))
        answer: dict[str, Any] = {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(arrived),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text_out}}],
        }
        if reply.usage:
            answer["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                               "total_tokens": prompt_tokens + completion_tokens}
        return 200, headers, answer

    # lifecycle

    def start(self) -> Self:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-openai", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._send(404, {}, {"error": {"message": "not found"}})
        try:
            body = json.loads(raw)
        except ValueError:
            return self._send(400, {}, {"error": {"message": "invalid JSON"}})
        authorised = self.headers.get("authorization") == f"Bearer {self.fake.api_key}"
        status, headers, answer = self.fake.handle(body, authorised)
        self._send(status, headers, answer)

    def _send(self, status: int, headers: dict[str, str], body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
