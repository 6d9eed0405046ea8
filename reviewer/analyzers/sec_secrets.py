"""Hard-coded credentials: known token formats anywhere, and random-looking secrets by name.

Two checks. Provider token formats (AWS, GitHub, Slack, Stripe, Google, private keys) are
distinctive enough to report wherever they appear in a string literal. Otherwise a string
assigned to (or passed as) a name like ``password``/``secret``/``api_key`` is reported only
when it looks like a real secret: long enough, high Shannon entropy, and not a placeholder,
an environment variable name, a URL or a path — which is what keeps bandit's B105 noise out.
"""

from __future__ import annotations

import ast
import math
import re
from collections import Counter

from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.findings import Category, Finding, Severity

TOKEN_PATTERNS: dict[str, re.Pattern[str]] = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})"),
    "Slack token": re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}"),
    "Slack webhook": re.compile(r"https://hooks\.slack\.com/services/T[0-9A-Z]+/B[0-9A-Z]+/\w+"),
    "Stripe secret key": re.compile(r"\b[rs]k_live_[0-9a-zA-Z]{20,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    "private key": re.compile(
        r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP )?PRIVATE KEY( BLOCK)?-----"
    ),
    "OpenAI API key": re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}"),
}
SECRET_NAME = re.compile(
    r"(pass(word|wd|phrase)?|pwd|secret|token|api_?key|access_?key|private_?key|auth_?key|"
    r"client_?secret|credentials?|signing_?key)$|^(pass(word|wd)?|secret|token)",
    re.IGNORECASE,
)
NOT_SECRET_NAME = re.compile(
    r"(_(name|field|file|path|url|len|length|type|id|header|prefix|"
    r"param|key_name|env|var|pattern|regex|label|hint|policy)$)|"
    r"(^(is|has|use|show|min|max|num|check)_)",
    re.IGNORECASE,
)
PLACEHOLDER = re.compile(
    r"(change.?me|example|placeholder|dummy|sample|your[_-]|xxx|\*\*\*|<[^>]+>|\$\{|\{\{|%\(|"
    r"^test|^fake|^none$|^null$|redacted|todo|fixme|insert|replace|^password$|^secret$)",
    re.IGNORECASE,
)
MIN_LENGTH = 8
MIN_ENTROPY = 3.0  # bits per character; English words sit near 2.5-3, random tokens above 3.5


def shannon_entropy(text: str) -> float:
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def looks_like_secret(value: str) -> bool:
    """A literal that could be a real credential rather than a placeholder or a label."""
    if len(value) < MIN_LENGTH or len(value) > 500 or PLACEHOLDER.search(value):
        return False
    if " " in value.strip() or value.startswith(("/", "http://", "https://", "./")):
        return False
    if re.fullmatch(r"[A-Z][A-Z0-9_]+", value):  # an environment variable's name
        return False
    if re.fullmatch(r"(.)\1+", value):
        return False
    classes = sum(bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z0-9]"))
    return shannon_entropy(value) >= MIN_ENTROPY and classes >= 2


def _target_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    else:
        return []
    names = []
    for target in targets:
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, ast.Attribute):
            names.append(target.attr)
        elif isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
            names.append(str(target.slice.value))
    return names


def _is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name)) and not NOT_SECRET_NAME.search(name)


class SecretsAnalyzer(Analyzer):
    name = "sec-secrets"
    tool = "reviewer-secrets"

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        output = AnalyzerOutput()
        reported: set[int] = set()
        for node in ast.walk(source.syntax_tree()):
            for line, label, confidence in self._check(node):
                if line in reported:
                    continue
                reported.add(line)
                output.hits.append(
                    Hit(
                        Finding(
                            path=source.path,
                            line=line,
                            category=Category.SECURITY,
                            severity=Severity.HIGH if confidence >= 0.85 else Severity.MEDIUM,
                            rule="hardcoded-secret",
                            cwe="CWE-798",
                            message=f"hard-coded {label}: load it from the environment or a secret "
                            "store, and rotate it if it was ever committed",
                            confidence=confidence,
                            source=self.source,
                        )
                    )
                )
        return output

    def _check(self, node: ast.AST):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for label, pattern in TOKEN_PATTERNS.items():
                match = pattern.search(node.value)
                if match and not PLACEHOLDER.search(match.group(0)):
                    yield node.lineno, label, 0.9
                    return
        value = getattr(node, "value", None)
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and _literal(value):
            if any(_is_secret_name(n) for n in _target_names(node)) and looks_like_secret(
                value.value
            ):
                yield node.lineno, "secret in a variable", 0.8
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if (
                    keyword.arg
                    and _is_secret_name(keyword.arg)
                    and _literal(keyword.value)
                    and (looks_like_secret(keyword.value.value))
                ):
                    yield keyword.value.lineno, f"`{keyword.arg}` argument", 0.8
        elif isinstance(node, ast.Dict):
            for key, item in zip(node.keys, node.values):
                if (
                    isinstance(key, ast.Constant)
                    and isinstance(key.value, str)
                    and _is_secret_name(key.value)
                    and _literal(item)
                    and looks_like_secret(item.value)
                ):
                    yield item.lineno, f"`{key.value}` entry", 0.75
        elif (
            isinstance(node, ast.Compare)
            and len(node.ops) == 1
            and isinstance(node.ops[0], (ast.Eq, ast.NotEq))
        ):
            left, right = node.left, node.comparators[0]
            name = getattr(left, "id", None) or getattr(left, "attr", None)
            if (
                name
                and _is_secret_name(name)
                and _literal(right)
                and looks_like_secret(right.value)
            ):
                yield node.lineno, "password compared with a literal", 0.75


def _literal(node) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)
