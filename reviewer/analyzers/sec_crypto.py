"""Security misconfiguration patterns bandit misses or gets wrong: crypto, cookies, debug, TLS.

Each rule is a single call or assignment whose meaning does not depend on where data comes
from: a cipher in ECB mode, a cookie explicitly marked not secure, ``DEBUG = True`` in a
settings module, a small RSA key. They are matched on qualified names (import aliases
resolved), so ``from Crypto.Cipher import DES`` and ``import Crypto.Cipher.DES as D`` agree.
"""

from __future__ import annotations

import ast
from pathlib import PurePosixPath

from reviewer.analyzers.base import Analyzer, AnalyzerOutput, Hit, SourceFile
from reviewer.analyzers.sec_flow import dotted, import_aliases
from reviewer.findings import Category, Finding, Severity

WEAK_CIPHERS = {
    "DES": "DES",
    "DES3": "Triple DES",
    "ARC2": "RC2",
    "ARC4": "RC4",
    "Blowfish": "Blowfish",
    "XOR": "XOR",
    "CAST": "CAST",
}
WEAK_CIPHER_MODULES = ("Crypto.Cipher.", "Cryptodome.Cipher.")
HAZMAT_WEAK = {"TripleDES", "ARC4", "Blowfish", "CAST5", "IDEA", "SEED", "RC2"}
SETTINGS_STEMS = frozenset({"config", "production", "prod", "prod_settings"})
WEAK_HASHES = frozenset({"md5", "sha1", "md4", "md2", "sha"})


def is_settings_module(path: str) -> bool:
    """A Django/Flask settings file: ``settings.py``, ``settings/prod.py``, ``config.py``."""
    pure = PurePosixPath(path)
    stem = pure.stem.lower()
    if "test" in stem or "local" in stem or "dev" in stem:
        return False
    return "settings" in stem or stem in SETTINGS_STEMS or "settings" in pure.parent.name


def _qualify(name: str, imports: dict[str, str]) -> str:
    head, _, rest = name.partition(".")
    base = imports.get(head)
    if base is None:
        return name
    return f"{base}.{rest}" if rest else base


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_false(node: ast.expr | None) -> bool:
    return (
        isinstance(node, ast.Constant) and node.value in (False, 0, None) and node.value is not None
    )


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


class CryptoConfigAnalyzer(Analyzer):
    name = "sec-crypto"
    tool = "reviewer-security"

    def analyze(self, source: SourceFile) -> AnalyzerOutput:
        tree = source.syntax_tree()
        imports: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.update(import_aliases(node))
        output = AnalyzerOutput()
        settings_module = is_settings_module(source.path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for finding in self._call(source.path, node, imports):
                    output.hits.append(Hit(finding))
            elif isinstance(node, ast.Assign) and settings_module:
                finding = self._setting(source.path, node)
                if finding is not None:
                    output.hits.append(Hit(finding))
        return output

    def _finding(self, path, node, rule, cwe, severity, message, confidence) -> Finding:
        return Finding(
            path=path,
            line=node.lineno,
            category=Category.SECURITY,
            severity=severity,
            rule=rule,
            cwe=cwe,
            message=message,
            confidence=confidence,
            source=self.source,
        )

    def _call(self, path: str, node: ast.Call, imports: dict[str, str]):
        name = dotted(node.func) or ""
        qualified = _qualify(name, imports)
        last = qualified.rsplit(".", 1)[-1]
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        # weak ciphers (pycryptodome / cryptography)
        if qualified.startswith(WEAK_CIPHER_MODULES) and method == "new":
            algorithm = qualified.split(".")[2]
            if algorithm in WEAK_CIPHERS:
                yield self._finding(
                    path,
                    node,
                    "weak-cipher",
                    "CWE-327",
                    Severity.HIGH,
                    f"{WEAK_CIPHERS[algorithm]} is a broken cipher; use AES-GCM "
                    "or ChaCha20-Poly1305",
                    0.9,
                )
            mode = node.args[1] if len(node.args) > 1 else _keyword(node, "mode")
            if mode is not None and (dotted(mode) or "").endswith("MODE_ECB"):
                yield self._finding(
                    path,
                    node,
                    "weak-cipher-mode",
                    "CWE-327",
                    Severity.MEDIUM,
                    "ECB mode leaks patterns of the plaintext; use an "
                    "authenticated mode (GCM, EAX)",
                    0.85,
                )
        if ".algorithms." in qualified and last in HAZMAT_WEAK:
            yield self._finding(
                path,
                node,
                "weak-cipher",
                "CWE-327",
                Severity.HIGH,
                f"{last} is a weak cipher; use AES-GCM or ChaCha20-Poly1305",
                0.85,
            )
        if qualified.endswith("modes.ECB"):
            yield self._finding(
                path,
                node,
                "weak-cipher-mode",
                "CWE-327",
                Severity.MEDIUM,
                "ECB mode leaks patterns of the plaintext; use GCM",
                0.85,
            )
        # weak hashes given by name: hashlib.new("md5") (bandit reads only the direct calls)
        if qualified == "hashlib.new" and node.args and isinstance(node.args[0], ast.Constant):
            algorithm = str(node.args[0].value).lower().replace("-", "")
            used_for_security = _keyword(node, "usedforsecurity")
            if algorithm in WEAK_HASHES and not _is_false(used_for_security):
                yield self._finding(
                    path,
                    node,
                    "weak-hash",
                    "CWE-328",
                    Severity.MEDIUM,
                    f"{algorithm} is broken for security use; use SHA-256 or "
                    "better (or pass usedforsecurity=False)",
                    0.8,
                )
        # cookies: explicitly not secure / readable by scripts
        if method == "set_cookie":
            if _is_false(_keyword(node, "secure")):
                yield self._finding(
                    path,
                    node,
                    "insecure-cookie",
                    "CWE-614",
                    Severity.MEDIUM,
                    "cookie set with secure=False is sent over plain HTTP",
                    0.85,
                )
            if _is_false(_keyword(node, "httponly")):
                yield self._finding(
                    path,
                    node,
                    "cookie-without-httponly",
                    "CWE-1004",
                    Severity.LOW,
                    "cookie set with httponly=False is readable by scripts",
                    0.75,
                )
        # debug servers
        if (
            method == "run"
            and _is_true(_keyword(node, "debug"))
            and name.split(".")[0] in ("app", "application", "server", "api", "flask_app")
        ):
            yield self._finding(
                path,
                node,
                "debug-enabled",
                "CWE-489",
                Severity.HIGH,
                "the debugger lets anyone who reaches the server run code; "
                "never enable it outside local development",
                0.8,
            )
        # TLS verification
        if _is_false(_keyword(node, "verify")) and qualified.split(".")[0] in (
            "requests",
            "httpx",
            "aiohttp",
        ):
            yield self._finding(
                path,
                node,
                "tls-verification-disabled",
                "CWE-295",
                Severity.HIGH,
                "certificate verification is disabled: "
                "anyone on the path can read and change the traffic",
                0.9,
            )
        if qualified in ("ssl._create_unverified_context", "ssl._create_stdlib_context"):
            yield self._finding(
                path,
                node,
                "tls-verification-disabled",
                "CWE-295",
                Severity.HIGH,
                "an unverified SSL context accepts any certificate",
                0.85,
            )

    def _setting(self, path: str, node: ast.Assign) -> Finding | None:
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if "DEBUG" in names and _is_true(node.value):
            return self._finding(
                path,
                node,
                "debug-enabled",
                "CWE-489",
                Severity.MEDIUM,
                "DEBUG = True in a settings module leaks stack traces and "
                "settings; read it from the environment",
                0.7,
            )
        if any(n in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE") for n in names) and _is_false(
            node.value
        ):
            return self._finding(
                path,
                node,
                "insecure-cookie",
                "CWE-614",
                Severity.MEDIUM,
                "cookies are allowed over plain HTTP",
                0.75,
            )
        return None
