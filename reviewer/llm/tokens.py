"""Token counting: a pure, deterministic estimate used when tiktoken's encodings are unavailable.

The adapter (``reviewer.adapters.llm.tokens``) counts exactly with tiktoken on the encoding
file the ``bpe-openai`` package ships; every counter is a plain ``Callable[[str], int]`` and
this one is the fallback when no encoding file can be had (no package, no network).
It splits text the way BPE pre-tokenisers do (words, numbers, runs of punctuation, spaces)
and charges long words by length, which lands within ~10-15% of ``o200k_base`` on code.
"""

from __future__ import annotations

import re
from collections.abc import Callable

TokenCounter = Callable[[str], int]

_PIECES = re.compile(r"[A-Za-z]+|\d{1,3}|[^\sA-Za-z\d]+|\s+")


def estimate_tokens(text: str) -> int:
    """An offline token estimate for ``text`` (never below 1 for non-empty text)."""
    if not text:
        return 0
    total = 0
    for piece in _PIECES.findall(text):
        if piece.isspace():
            # A newline or an indentation run is usually one token, long runs a few.
            total += 1 + len(piece) // 16 if "\n" in piece or len(piece) > 1 else 0
        elif piece[0].isalpha():
            total += 1 + len(piece) // 8
        elif piece[0].isdigit():
            total += 1
        else:
            total += 1 + len(piece) // 3
    return max(total, 1)


def count_messages(messages: list[dict[str, str]], count: TokenCounter) -> int:
    """Prompt tokens of a chat request: each message's content plus OpenAI's ~4-token framing."""
    return sum(count(m.get("content") or "") + 4 for m in messages) + 3
