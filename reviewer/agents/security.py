"""The security agent: bandit's checks plus the project's taint, crypto and secret rules.

One engine (``SecurityEngine``) runs them all per file so bandit's pattern findings can be
checked against what the taint tracker proved about the same line before they are reported.
"""

from __future__ import annotations

from reviewer.agents.base import Agent, AgentOptions
from reviewer.analyzers.base import Analyzer
from reviewer.analyzers.registry import ANALYZERS
from reviewer.analyzers.sec_engine import SecurityEngine
from reviewer.findings import Category


def security_analyzers(options: AgentOptions) -> list[Analyzer]:
    return [SecurityEngine(), ANALYZERS["js-security"]]


SECURITY = Agent(name="security", category=Category.SECURITY, analyzers=security_analyzers)
