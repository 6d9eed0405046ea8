"""Hard-coded credentials in JS/TS, with the same patterns and thresholds as the Python check.

Provider token formats are reported in any string literal; otherwise a string literal bound
to a secret-sounding name (variable, property, class field, ``x.password = ...``) is reported
when it looks random enough to be real (``sec_secrets.looks_like_secret``). camelCase names
are read as snake_case so ``apiKey`` and ``tokenUrl`` get the same treatment as
``api_key`` and ``token_url``. Name-based findings are not reported in test files, where
fixture passwords are the norm; token formats are, since a real key leaks from a test too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from reviewer.analyzers.base import Hit
from reviewer.analyzers.js_parser import JsTree, line_of, strip_wrappers
from reviewer.analyzers.sec_secrets import (
    NOT_SECRET_NAME,
    PLACEHOLDER,
    SECRET_NAME,
    TOKEN_PATTERNS,
    looks_like_secret,
)
from reviewer.findings import Severity

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_TEST_PATH = re.compile(
    r"(^|/)(__tests__|__mocks__|tests?|spec|fixtures?|e2e|cypress|mocks?)/|\.(test|spec|stories)\.[a-z]+$"
)

# A value shaped like a lowercase identifier (`auth_token`, `x-api-key`) names a storage key,
# header or field; real secrets mix cases or digits in.
_KEY_BODY = re.compile(r"(?:[A-Za-z0-9+/=]|\\n|\s){40,}")
_KEY_NAME = re.compile(r"[a-z][a-z]*(?:[_.:-][a-z]+)*")


def is_test_path(path: str) -> bool:
    return bool(_TEST_PATH.search(path))


def is_secret_name(name: str) -> bool:
    snake = _CAMEL.sub("_", name.strip("'\"`#"))
    return bool(SECRET_NAME.search(snake)) and not NOT_SECRET_NAME.search(snake)


def secret_hits(analyzer, tree: JsTree) -> Iterator[Hit]:
    """``hardcoded-secret`` hits for the file (``analyzer`` is the JsAnalyzer making them)."""
    best: dict[int, tuple[float, str, object]] = {}
    in_tests = is_test_path(tree.source.path)
    for node in tree.nodes(
        "string",
        "template_string",
        "variable_declarator",
        "pair",
        "assignment_expression",
        "public_field_definition",
        "field_definition",
    ):
        found = _check(node, in_tests)
        if found is None:
            continue
        label, confidence = found
        line = line_of(node)
        if line not in best or confidence > best[line][0]:
            best[line] = (confidence, label, node)
    for line in sorted(best):
        confidence, label, node = best[line]
        yield analyzer.hit(
            tree,
            node,
            "hardcoded-secret",
            f"hard-coded {label}: load it from the environment or a secret store, and rotate "
            "it if it was ever committed.",
            severity=Severity.HIGH if confidence >= 0.85 else Severity.MEDIUM,
            confidence=confidence,
            single_line=True,
        )


def _check(node, in_tests: bool) -> tuple[str, float] | None:
    if node.type in {"string", "template_string"}:
        text = _literal_value(node)
        for label, pattern in TOKEN_PATTERNS.items():
            match = pattern.search(text or "")
            if match and not PLACEHOLDER.search(match.group(0)):
                if label == "private key" and not _KEY_BODY.search(text, match.end()):
                    continue  # a header quoted in documentation, no key after it
                return label, 0.9
        return None
    if in_tests:
        return None
    name, value = _binding(node)
    if name is None or value is None:
        return None
    text = _literal_value(value)
    if (
        text is not None
        and is_secret_name(name)
        and looks_like_secret(text)
        and not _KEY_NAME.fullmatch(text)
    ):
        return f"secret in `{name}`", 0.8
    return None


def _binding(node):
    """(name, value node) for a declaration, property, field or assignment."""
    if node.type == "variable_declarator":
        name = node.child_by_field_name("name")
        if name is None or name.type != "identifier":
            return None, None
        return name.text.decode(), node.child_by_field_name("value")
    if node.type == "pair":
        key = node.child_by_field_name("key")
        return (key.text.decode() if key is not None else None), node.child_by_field_name("value")
    if node.type in {"public_field_definition", "field_definition"}:
        key = node.child_by_field_name("name") or node.child_by_field_name("property")
        return (key.text.decode() if key is not None else None), node.child_by_field_name("value")
    if node.type == "assignment_expression":
        left = node.child_by_field_name("left")
        if left is not None and left.type == "member_expression":
            left = left.child_by_field_name("property")
        if left is None or left.type not in {"identifier", "property_identifier"}:
            return None, None
        return left.text.decode(), node.child_by_field_name("right")
    return None, None


def _literal_value(node) -> str | None:
    """The text of a string literal or a template without substitutions, else None."""
    node = strip_wrappers(node)
    if node is None or node.type not in {"string", "template_string"}:
        return None
    if any(child.type == "template_substitution" for child in node.named_children):
        return None
    raw = node.text.decode("utf-8", "replace")
    return raw[1:-1] if len(raw) >= 2 else ""
