"""Model prices: list prices from genai-prices (Pydantic's maintained price data for OpenAI, Anthropic,
Google and the other providers, shipped inside the package: no network), which a scenario can override
or extend with `[spend.prices."MODEL"]`.

Prices are USD per million tokens: `input`, `cached_input` (a prompt-cache read) and `output`, taken at
today's date from the package's data (a price that changed on a date is the one in force now), for a
request of a thousand tokens (a provider that charges more above 200k tokens of prompt is priced at its
first tier). The table is named by the package and its version ("genai-prices 0.2.5") in run.json and
summary.json (`price_table_date`), so a figure can be traced to its prices.
Every error is one line naming the field, e.g.
`spend.prices.gpt-4o.output: expected a non-negative number, got 'x'` (the scenario's fields).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import version
from typing import Any

__all__ = ["Price", "PriceTable", "PriceError", "load_prices", "package_price", "PRICE_FIELDS", "PACKAGE"]

PRICE_FIELDS = ("input", "cached_input", "output")
PACKAGE = "genai-prices"
_PER = 1000  # tokens per priced request: below every provider's long-prompt tier


class PriceError(ValueError):
    """A bad override, or a model no table prices; the message is one line."""


@dataclass(frozen=True)
class Price:
    """USD per million tokens for one model."""

    model: str
    input: float
    cached_input: float
    output: float

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "input": self.input, "cached_input": self.cached_input, "output": self.output}


@lru_cache(maxsize=64)
def package_price(model: str) -> Price | None:
    """`model`'s list price in genai-prices' data (its provider found from the name), or None."""
    from genai_prices import Usage, calc_price  # 1.6 MB of data: imported only when a price is needed

    try:
        fresh = calc_price(Usage(input_tokens=_PER), model)
        cached = calc_price(Usage(input_tokens=_PER, cache_read_tokens=_PER), model)
        output = calc_price(Usage(output_tokens=_PER), model)
    except LookupError:
        return None
    per_million = 1_000_000 / _PER
    return Price(
        model=model,
        input=float(fresh.input_price) * per_million,
        cached_input=float(cached.input_price) * per_million,
        output=float(output.output_price) * per_million,
    )


@dataclass(frozen=True)
class PriceTable:
    """The package's prices under the scenario's own. `date` names the table ("genai-prices 0.2.5");
    `prices` are the scenario's (they win); `overridden` names the models a scenario changed or added."""

    date: str
    source: str
    prices: Mapping[str, Price] = field(default_factory=dict)
    overridden: tuple[str, ...] = field(default=())
    lookup: Callable[[str], Price | None] = package_price

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self._find(model) is not None

    def _find(self, model: str) -> Price | None:
        if model in self.prices:
            return self.prices[model]
        lowered = model.strip().lower()
        for name, price in self.prices.items():
            if name.lower() == lowered:
                return price
        return self.lookup(model.strip()) if model.strip() else None

    def get(self, model: str) -> Price:
        """The price of `model`: the scenario's own, else the package's; PriceError when neither has one."""
        price = self._find(model) if isinstance(model, str) else None
        if price is None:
            raise PriceError(
                f"unknown model {model!r}: {self.date} has no price for it; set [spend] model to a model "
                f"a provider lists (gpt-4o-mini, claude-sonnet-4-5, gemini-2.5-flash, ...), or add "
                f'[spend.prices."{model}"] with input, cached_input and output (USD per million tokens)'
            )
        return price


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise PriceError(f"{where}: expected a non-negative number, got {value!r}")
    return float(value)


def _parse_entry(model: str, entry: Any, where: str, base: Price | None) -> Price:
    """One model's prices. Over a priced model any subset of fields may be given; a new model needs
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
                raise PriceError(f"{where}.{key}: missing (a model no price table knows needs input and output)")
        values.setdefault("cached_input", values["input"])
        return Price(model=model, **values)
    return Price(
        model=model,
        input=values.get("input", base.input),
        cached_input=values.get("cached_input", base.cached_input),
        output=values.get("output", base.output),
    )


def load_prices(overrides: Mapping[str, Any] | None = None) -> PriceTable:
    """The package's price table with a scenario's overrides on top.

    `overrides` is the scenario's `[spend.prices]` table: `{model: {input=.., cached_input=.., output=..}}`.
    """
    name = f"{PACKAGE} {version(PACKAGE)}"
    source = f"list prices per million tokens from {name} (standard tier, no batch discount): check them"
    table = PriceTable(date=name, source=source)
    if overrides is None:
        return table
    if not isinstance(overrides, Mapping):
        raise PriceError(f"spend.prices: expected a table of models, got {overrides!r}")
    prices: dict[str, Price] = {}
    for model, entry in overrides.items():
        if not isinstance(model, str) or not model.strip():
            raise PriceError(f"spend.prices: expected model names, got {model!r}")
        prices[model] = _parse_entry(model, entry, f"spend.prices.{model}", table.lookup(model))
    return PriceTable(date=name, source=source, prices=prices, overridden=tuple(prices))
