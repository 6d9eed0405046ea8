"""Prices per model (USD per million tokens) from ``config/prices.toml``, and a call's cost."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class ModelPrice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    output: float = Field(ge=0)


@dataclass(frozen=True)
class PriceTable:
    """Known models, plus a fallback price for unknown ones (so the dollar cap still bites)."""

    models: dict[str, ModelPrice]
    fallback: ModelPrice

    @classmethod
    def from_toml(cls, text: str) -> PriceTable:
        data = tomllib.loads(text)
        models = {name: ModelPrice.model_validate(p) for name, p in data.get("models", {}).items()}
        fallback = ModelPrice.model_validate(data["fallback"]) if "fallback" in data else max(
            models.values(), key=lambda p: p.output, default=ModelPrice(input=0, output=0)
        )
        return cls(models=models, fallback=fallback)

    def price(self, model: str) -> ModelPrice:
        """The price of ``model``; dated snapshots (``gpt-4o-2024-08-06``) match their family."""
        if model in self.models:
            return self.models[model]
        family = max((name for name in self.models if model.startswith(name + "-")), key=len, default=None)
        return self.models[family] if family else self.fallback

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        """USD for one call; cached prompt tokens at the cached rate when the table has one."""
        p = self.price(model)
        cached = min(max(cached_tokens, 0), prompt_tokens)
        cached_rate = p.cached_input if p.cached_input is not None else p.input
        usd = ((prompt_tokens - cached) * p.input + cached * cached_rate + completion_tokens * p.output) / 1e6
        return round(usd, 8)
