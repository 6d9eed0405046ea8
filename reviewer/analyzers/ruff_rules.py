"""Which ruff rules each agent runs, and how much each one matters.

The selection is deliberate and small: rules that point at behaviour (bugs, wasted work,
blocking calls), not at style. A reviewer bot that comments on formatting is muted within a
week; formatting belongs to the project's own linter config, which we do not read (ruff runs
``--isolated``). Left out on purpose:

- ``S`` (flake8-bandit): bandit itself runs in the security agent.
- ``C901``: radon measures complexity with thresholds we control.
- ``F403``/``F405`` (star imports): the architecture agent's import rules own them.
- ``E501``, ``E7xx`` style, ``UP``, ``SIM``, ``I``, ``N``, ``D``, ``ANN``: style or taste.
- ``B904``/``B905``/``B028``: opinionated, and noisy in existing code.
- ``PERF203`` (try/except in a loop): free since Python 3.11's zero-cost exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass

from reviewer.findings import Severity


@dataclass(frozen=True)
class RuleInfo:
    severity: Severity
    confidence: float
    cwe: str | None = None


_H, _M, _L = Severity.HIGH, Severity.MEDIUM, Severity.LOW

# Code (or prefix) -> how it matters. The longest matching prefix wins.
QUALITY_RULES: dict[str, RuleInfo] = {
    "F": RuleInfo(_L, 0.8),  # pyflakes: the rest of the family
    "F401": RuleInfo(_L, 0.9),  # unused import
    "F811": RuleInfo(_M, 0.85),  # redefinition of unused name
    "F821": RuleInfo(_H, 0.85),  # undefined name: NameError at run time
    "F822": RuleInfo(_H, 0.85),  # undefined name in __all__
    "F823": RuleInfo(_H, 0.85),  # local variable referenced before assignment
    "F632": RuleInfo(_M, 0.95),  # `is` with a literal
    "F841": RuleInfo(_L, 0.85),  # unused local variable
    "E711": RuleInfo(_L, 0.9),  # comparison to None
    "E712": RuleInfo(_L, 0.85),  # comparison to True/False
    "E721": RuleInfo(_L, 0.8),  # type() comparison
    "E722": RuleInfo(_M, 0.9, "CWE-396"),  # bare except
    "B002": RuleInfo(_H, 0.95),  # unary prefix increment (no-op)
    "B006": RuleInfo(_M, 0.9),  # mutable argument default
    "B007": RuleInfo(_L, 0.8),  # unused loop variable
    "B008": RuleInfo(_L, 0.6),  # call in argument default
    "B012": RuleInfo(_H, 0.9, "CWE-584"),  # return/break in finally swallows exceptions
    "B015": RuleInfo(_M, 0.85),  # pointless comparison
    "B017": RuleInfo(_M, 0.8),  # assertRaises(Exception)
    "B018": RuleInfo(_L, 0.7),  # useless expression
    "B020": RuleInfo(_M, 0.85),  # loop variable overrides iterable
    "B023": RuleInfo(_M, 0.75),  # closure binds loop variable late
    "PLE": RuleInfo(_H, 0.85),  # pylint errors: code that fails at run time
    "PLW0120": RuleInfo(_L, 0.8),  # else on a loop without break
    "PLW0127": RuleInfo(_M, 0.9),  # self-assignment
    "PLW1508": RuleInfo(_M, 0.85),  # invalid os.getenv default type
    "PLW1510": RuleInfo(_M, 0.75),  # subprocess.run without check
    "PLW2901": RuleInfo(_L, 0.7),  # loop variable overwritten in the body
    "RUF006": RuleInfo(_H, 0.85),  # dangling asyncio task may be garbage-collected
    "RUF013": RuleInfo(_L, 0.8),  # implicit Optional
    "PIE794": RuleInfo(_M, 0.9),  # class field defined twice
    "PIE796": RuleInfo(_M, 0.9),  # duplicate enum values
    "PGH005": RuleInfo(_H, 0.9),  # mock assertion that is not one
    "DTZ003": RuleInfo(_M, 0.8),  # datetime.utcnow(): naive, deprecated
    "DTZ004": RuleInfo(_M, 0.8),  # datetime.utcfromtimestamp(): naive, deprecated
}
QUALITY_IGNORE: tuple[str, ...] = ("F403", "F405")

PERFORMANCE_RULES: dict[str, RuleInfo] = {
    "ASYNC2": RuleInfo(_M, 0.85),  # blocking calls (HTTP, subprocess, open, sleep) in async code
    "ASYNC110": RuleInfo(_L, 0.7),  # sleep-polling in a while loop
    "ASYNC115": RuleInfo(_L, 0.7),  # sleep(0)
    "PERF101": RuleInfo(_L, 0.8),  # list() around something already iterable
    "PERF102": RuleInfo(_L, 0.8),  # .items() when only keys or values are used
    "PERF401": RuleInfo(_L, 0.6),  # append loop instead of a comprehension
    "PERF402": RuleInfo(_L, 0.7),  # manual list copy
    "PERF403": RuleInfo(_L, 0.6),  # manual dict comprehension
    "C419": RuleInfo(_M, 0.8),  # list comprehension in any()/all(): no short-circuit
    "C414": RuleInfo(_L, 0.8),  # double cast (list(sorted(...)) etc.)
    "C401": RuleInfo(_L, 0.6),  # set(generator) instead of a comprehension
    "C402": RuleInfo(_L, 0.6),
    "C403": RuleInfo(_L, 0.6),
    "C417": RuleInfo(_L, 0.6),  # map(lambda ...)
    "RUF015": RuleInfo(_L, 0.8),  # list(x)[0] builds a whole list for one item
    "PLW3301": RuleInfo(_L, 0.8),  # nested min()/max()
    "FURB129": RuleInfo(_L, 0.8),  # .readlines() in a for loop reads the whole file
}


def rule_info(table: dict[str, RuleInfo], code: str) -> RuleInfo:
    """The entry of the longest prefix of ``code`` in ``table`` (a low default if none)."""
    for end in range(len(code), 0, -1):
        info = table.get(code[:end])
        if info is not None:
            return info
    return RuleInfo(Severity.LOW, 0.6)
