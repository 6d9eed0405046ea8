"""Exact token counts offline: tiktoken's BPE on the encoding files bpe-openai ships."""

from __future__ import annotations

import inspect
import re

import pytest
from tiktoken_ext import openai_public

from reviewer.adapters.llm import tokens
from reviewer.adapters.llm.tokens import (
    PUBLISHED_SHA256,
    counter_source,
    is_exact,
    packaged_encoding,
    token_counter,
)
from reviewer.llm.tokens import estimate_tokens


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_the_hashes_we_check_are_the_ones_tiktoken_expects(encoding):
    source = inspect.getsource(getattr(openai_public, encoding))
    assert re.search(r'expected_hash="([0-9a-f]{64})"', source).group(1) == PUBLISHED_SHA256[encoding]


@pytest.mark.parametrize("encoding,text,ids", [
    # token ids published in tiktoken's README and OpenAI's cookbook
    ("cl100k_base", "hello world", [15339, 1917]),
    ("o200k_base", "hello world", [24912, 2375]),
])
def test_packaged_encodings_give_openais_token_ids(encoding, text, ids):
    assert packaged_encoding(encoding).encode(text) == ids


@pytest.mark.parametrize("text,count", [
    ("hello world", 2),
    ("tiktoken is great!", 6),
    ('    cur.execute(f"SELECT * FROM users WHERE id = {user_id}")\n', 16),  # bpe-openai's Rust BPE agrees
    ("", 0),
])
def test_the_default_counter_is_exact_o200k(text, count):
    counter = token_counter()
    assert is_exact(counter) and "o200k_base" in counter_source(counter)
    assert counter(text) == count


def test_counts_agree_with_an_independent_implementation():
    """bpe-openai's own Rust BPE (GitHub's crate, not tiktoken) counts the same on code."""
    import bpe_openai

    rust = bpe_openai.get_encoding("o200k_base")
    sample = (inspect.getsource(tokens) + inspect.getsource(openai_public)).replace("<|", "<")
    for piece in sample.split("\n\n"):
        assert token_counter()(piece) == len(rust.encode(piece))


def test_without_the_package_and_network_the_estimate_is_used_and_said(monkeypatch, caplog):
    def unavailable(encoding):
        raise tokens.EncodingUnavailable("not installed")

    def offline(encoding):
        raise ConnectionError("no network")

    monkeypatch.setattr(tokens, "packaged_encoding", unavailable)
    monkeypatch.setattr("tiktoken.get_encoding", offline)
    token_counter.cache_clear()
    try:
        counter = token_counter()
        assert not is_exact(counter) and counter_source(counter).startswith("estimate")
        assert counter("x = 1\n") == estimate_tokens("x = 1\n")
        assert "llm.token_counter_estimate" in caplog.text
    finally:
        token_counter.cache_clear()
