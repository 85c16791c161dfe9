"""Latency distributions with known truth.

The demo API draws injected delays from these, and tests and benchmarks ask the same objects for
their exact quantiles, so a measured p95 can be compared with the true one.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

__all__ = ["Distribution", "parse_distribution", "DistributionError"]


class DistributionError(ValueError):
    """A distribution spec that cannot be used; the message says which key and what is expected."""


@dataclass(frozen=True)
class Distribution:
    """A delay distribution in milliseconds.

    kinds: constant(ms), uniform(low_ms, high_ms), normal(mean_ms, sd_ms) clipped at 0,
    lognormal(median_ms, sigma), choice(values_ms, weights).
    """

    kind: str
    params: dict[str, Any] = field(default_factory=dict)

    def sample(self, rng: random.Random) -> float:
        p = self.params
        if self.kind == "constant":
            return float(p["ms"])
        if self.kind == "uniform":
            return rng.uniform(p["low_ms"], p["high_ms"])
        if self.kind == "normal":
            return max(0.0, rng.gauss(p["mean_ms"], p["sd_ms"]))
        if self.kind == "lognormal":
            return p["median_ms"] * math.exp(rng.gauss(0.0, p["sigma"]))
        # choice
        return float(rng.choices(p["values_ms"], weights=p["weights"])[0])

    def quantile(self, q: float) -> float:
        """The exact q-quantile (0 < q < 1) of the distribution, in ms."""
        p = self.params
        if self.kind == "constant":
            return float(p["ms"])
        if self.kind == "uniform":
            return p["low_ms"] + q * (p["high_ms"] - p["low_ms"])
        if self.kind == "normal":
            return max(0.0, NormalDist(p["mean_ms"], p["sd_ms"]).inv_cdf(q))
        if self.kind == "lognormal":
            return p["median_ms"] * math.exp(p["sigma"] * NormalDist().inv_cdf(q))
        pairs = sorted(zip(p["values_ms"], p["weights"]))
        total = sum(w for _, w in pairs)
        running = 0.0
        for value, weight in pairs:
            running += weight / total
            if running >= q - 1e-12:
                return float(value)
        return float(pairs[-1][0])

    def mean(self) -> float:
        p = self.params
        if self.kind == "constant":
            return float(p["ms"])
        if self.kind == "uniform":
            return (p["low_ms"] + p["high_ms"]) / 2
        if self.kind == "normal":
            return float(p["mean_ms"])  # clipping at 0 ignored: sd is small against the mean in practice
        if self.kind == "lognormal":
            return p["median_ms"] * math.exp(p["sigma"] ** 2 / 2)
        total = sum(p["weights"])
        return sum(v * w for v, w in zip(p["values_ms"], p["weights"])) / total

    def to_dict(self) -> dict[str, Any]:
        return {"dist": self.kind, **self.params}


_REQUIRED = {
    "constant": ("ms",),
    "uniform": ("low_ms", "high_ms"),
    "normal": ("mean_ms", "sd_ms"),
    "lognormal": ("median_ms", "sigma"),
    "choice": ("values_ms",),
}


def parse_distribution(spec: Any, where: str = "distribution") -> Distribution:
    """Build a Distribution from a mapping like {dist = "constant", ms = 120}; a bare number is constant."""
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        spec = {"dist": "constant", "ms": spec}
    if not isinstance(spec, dict):
        raise DistributionError(f'{where}: expected a table like {{dist = "constant", ms = 120}}')
    kind = spec.get("dist")
    if not isinstance(kind, str) or kind not in _REQUIRED:
        raise DistributionError(f"{where}.dist: expected one of {', '.join(_REQUIRED)}, got {kind!r}")
    params = {k: v for k, v in spec.items() if k != "dist"}
    unknown = set(params) - set(_REQUIRED[kind]) - ({"weights"} if kind == "choice" else set())
    if unknown:
        raise DistributionError(f"{where}: unknown key(s) {sorted(unknown)} for dist {kind!r}")
    for key in _REQUIRED[kind]:
        if key not in params:
            raise DistributionError(f"{where}.{key}: required for dist {kind!r}")
    if kind == "choice":
        values = params["values_ms"]
        if not isinstance(values, list) or not values:
            raise DistributionError(f"{where}.values_ms: expected a non-empty list of milliseconds")
        weights = params.setdefault("weights", [1] * len(values))
        if not isinstance(weights, list) or not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) for w in weights
        ):
            raise DistributionError(f"{where}.weights: expected a list of {len(values)} numbers, got {weights!r}")
        if len(weights) != len(values) or any(w < 0 for w in weights) or sum(weights) <= 0:
            raise DistributionError(f"{where}.weights: expected {len(values)} non-negative weights")
        numbers = list(values)
    else:
        numbers = [params[k] for k in _REQUIRED[kind]]
    for n in numbers:
        if not isinstance(n, (int, float)) or isinstance(n, bool) or not 0 <= n < math.inf:
            raise DistributionError(f"{where}: expected finite non-negative numbers, got {n!r}")
    if kind == "uniform" and params["low_ms"] > params["high_ms"]:
        raise DistributionError(f"{where}: low_ms must not exceed high_ms")
    return Distribution(kind, params)
