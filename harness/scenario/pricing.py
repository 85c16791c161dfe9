"""Model prices: a dated table shipped as package data (`harness/scenario/prices.toml`), which a scenario
can override or extend.

Prices are USD per million tokens: `input`, `cached_input` (a prompt-cache read) and `output`.
Every error is one line naming the field, e.g.
`spend.prices.gpt-4o.output: expected a non-negative number, got 'x'` (the scenario's fields).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["Price", "PriceTable", "PriceError", "load_prices", "PRICE_FIELDS"]

PRICE_FIELDS = ("input", "cached_input", "output")


class PriceError(ValueError):
    """A bad price table or override, or an unknown model; the message is one line."""


@dataclass(frozen=True)
class Price:
    """USD per million tokens for one model."""

    model: str
    input: float
    cached_input: float
    output: float

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "input": self.input, "cached_input": self.cached_input, "output": self.output}


@dataclass(frozen=True)
class PriceTable:
    """The dated table after overrides. `overridden` names the models a scenario changed or added."""

    date: str
    source: str
    prices: Mapping[str, Price]
    overridden: tuple[str, ...] = field(default=())

    @property
    def models(self) -> list[str]:
        return sorted(self.prices)

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self._find(model) is not None

    def _find(self, model: str) -> Price | None:
        if model in self.prices:
            return self.prices[model]
        lowered = model.strip().lower()
        for name, price in self.prices.items():
            if name.lower() == lowered:
                return price
        return None

    def get(self, model: str) -> Price:
        """The price of `model` (exact name, else case-insensitive); PriceError naming known models."""
        price = self._find(model) if isinstance(model, str) else None
        if price is None:
            raise PriceError(
                f"unknown model {model!r} in the price table dated {self.date} "
                f"(known: {', '.join(self.models)}); set [spend] model to one of them, or add "
                f'[spend.prices."{model}"] with input, cached_input and output (USD per million tokens)'
            )
        return price


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise PriceError(f"{where}: expected a non-negative number, got {value!r}")
    return float(value)


def _parse_entry(model: str, entry: Any, where: str, base: Price | None) -> Price:
    """One model's prices. Over a known model any subset of fields may be given; a new model needs
    `input` and `output`, and `cached_input` defaults to `input` (no cache discount assumed)."""
    if not isinstance(entry, dict):
        raise PriceError(f"{where}: expected a table with input, cached_input, output, got {entry!r}")
    extra = sorted(set(entry) - set(PRICE_FIELDS))
    if extra:
        raise PriceError(f"{where}.{extra[0]}: unknown field (expected one of: {', '.join(PRICE_FIELDS)})")
    values = {key: _number(entry[key], f"{where}.{key}") for key in PRICE_FIELDS if key in entry}
    if base is None:
        for key in ("input", "output"):
            if key not in values:
                raise PriceError(f"{where}.{key}: missing (a model not in the price table needs input and output)")
        values.setdefault("cached_input", values["input"])
        return Price(model=model, **values)
    return Price(
        model=base.model,
        input=values.get("input", base.input),
        cached_input=values.get("cached_input", base.cached_input),
        output=values.get("output", base.output),
    )


def _read_table(path: str | Path | None) -> tuple[dict[str, Any], str]:
    if path is None:
        resource = resources.files("harness.scenario").joinpath("prices.toml")
        return tomllib.loads(resource.read_text(encoding="utf-8")), "harness/scenario/prices.toml"
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PriceError(f"{path}: cannot read the price table ({exc.strerror or exc})") from None
    return tomllib.loads(text), str(path)


def load_prices(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> PriceTable:
    """Load the price table (the shipped one when `path` is None) and apply a scenario's overrides.

    `overrides` is the scenario's `[spend.prices]` table: `{model: {input=.., cached_input=.., output=..}}`.
    """
    try:
        data, name = _read_table(path)
    except tomllib.TOMLDecodeError as exc:
        raise PriceError(f"{path or 'harness/scenario/prices.toml'}: invalid TOML ({exc})") from None
    date = data.get("date")
    if not isinstance(date, str) or not date:
        raise PriceError(f'{name}: date: expected a date string like "2026-11-01", got {date!r}')
    source = data.get("source", "")
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise PriceError(f"{name}: models: expected a table of models, got {models!r}")
    prices: dict[str, Price] = {}
    for model, entry in models.items():
        where = f"{name}: models.{model}"
        if not isinstance(entry, dict) or set(PRICE_FIELDS) - set(entry):
            raise PriceError(f"{where}: expected a table with input, cached_input and output")
        prices[model] = _parse_entry(model, entry, where, None)

    changed: list[str] = []
    if overrides is not None:
        if not isinstance(overrides, Mapping):
            raise PriceError(f"spend.prices: expected a table of models, got {overrides!r}")
        for model, entry in overrides.items():
            if not isinstance(model, str) or not model.strip():
                raise PriceError(f"spend.prices: expected model names, got {model!r}")
            base = PriceTable(date, source, prices)._find(model)
            price = _parse_entry(model, entry, f"spend.prices.{model}", base)
            prices[price.model] = price
            changed.append(price.model)
    return PriceTable(date=date, source=str(source), prices=prices, overridden=tuple(changed))
