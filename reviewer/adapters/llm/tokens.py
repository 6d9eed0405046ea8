"""tiktoken counts when its encoding files can be loaded, else the pure offline estimate.

tiktoken fetches ``o200k_base`` on first use (cached under ``TIKTOKEN_CACHE_DIR``); on a
machine without internet that fails, and the review must not: we fall back, once per process.
"""

from __future__ import annotations

import functools
import logging

from reviewer.llm.tokens import TokenCounter, estimate_tokens

log = logging.getLogger(__name__)


@functools.cache
def token_counter(encoding: str = "o200k_base") -> TokenCounter:
    """A counter for ``encoding`` (tiktoken), or :func:`estimate_tokens` if it cannot load."""
    try:
        import tiktoken

        enc = tiktoken.get_encoding(encoding)
    except Exception as exc:  # noqa: BLE001 - no network, no cache: estimate instead
        log.warning("tiktoken encoding %s unavailable (%s); using the offline estimate", encoding, type(exc).__name__)
        return estimate_tokens

    def count(text: str) -> int:
        return len(enc.encode(text, disallowed_special=())) if text else 0

    return count
