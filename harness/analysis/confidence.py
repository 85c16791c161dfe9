"""How far a percentile can be trusted: a confidence interval for it, and warnings when too few
samples stand behind it.

A p95 from 150 requests is the 8th slowest of them; another run of the same load can read quite
differently. The interval is distribution-free (order statistics, nothing assumed about the shape
of the latencies): with B the number of the n samples below the true q-quantile, B ~ Binomial(n, q),
and the sorted samples x(l) ≤ ξ_q < x(u) exactly when l ≤ B < u. Ranks l and u are chosen with at
most (1 − level)/2 of B's probability outside on each side, so [x(l), x(u)] covers ξ_q with
probability at least `level`. The tails are summed exactly (log-space, no scipy).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

__all__ = ["LEVEL", "MIN_SAMPLES", "ci_ranks", "quantile_ci", "sample_warnings", "few_samples_note"]

LEVEL = 0.95
# percentile name -> (fraction, samples needed before it stops being one of the slowest few requests)
MIN_SAMPLES: dict[str, tuple[float, int]] = {
    "p95": (0.95, 200),
    "p99": (0.99, 1_000),
    "p99.9": (0.999, 10_000),
}
# the summary note lists endpoints below this many samples (p99.9 is short on almost every run)
NOTE_BELOW = MIN_SAMPLES["p99"][1]
_SPAN_SD = 12.0  # binomial mass beyond 12 standard deviations (plus a margin) is far below 1e-20


def _binomial_window(n: int, q: float) -> tuple[int, np.ndarray]:
    """(lo, pmf of Binomial(n, q) at lo..hi): every k that carries any real probability."""
    sd = math.sqrt(n * q * (1.0 - q))
    lo = max(0, math.floor(n * q - _SPAN_SD * sd) - 10)
    hi = min(n, math.ceil(n * q + _SPAN_SD * sd) + 10)
    k = np.arange(lo, hi, dtype=np.float64)  # successive pmf ratios: pmf(k+1)/pmf(k)
    steps = np.log((n - k) / (k + 1.0)) + math.log(q / (1.0 - q))
    first = (
        math.lgamma(n + 1)
        - math.lgamma(lo + 1)
        - math.lgamma(n - lo + 1)
        + lo * math.log(q)
        + (n - lo) * math.log1p(-q)
    )
    return lo, np.exp(first + np.concatenate(([0.0], np.cumsum(steps))))


def _ranks_for(n: int, q: float, level: float) -> tuple[int, int]:
    """1-based ranks (l, u) of one sample size, (0, 0) when n is too small for two sides."""
    if n < 2:
        return 0, 0
    alpha = (1.0 - level) / 2.0
    lo, pmf = _binomial_window(n, q)
    below = np.cumsum(pmf)  # below[i] = P(B <= lo + i)
    at_least = np.cumsum(pmf[::-1])[::-1]  # at_least[i] = P(B >= lo + i), summed from the small end
    # l: the largest rank with P(B < l) = P(B <= l - 1) <= alpha
    fits = np.flatnonzero(below <= alpha)
    lower = lo + int(fits[-1]) + 1 if fits.size else lo
    # u: the smallest rank with P(B >= u) <= alpha
    fits = np.flatnonzero(at_least <= alpha)
    upper = lo + int(fits[0]) if fits.size else n + 1
    if lower < 1 or upper > n:
        return 0, 0
    return lower, upper


def ci_ranks(counts: np.ndarray | list[int], q: float = 0.95, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Ranks (1-based, into each group's sorted values) of the interval's ends, one per count;
    0 where the count is too small for a two-sided interval (below 72 for the p95 at 95 %)."""
    if not 0.0 < q < 1.0 or not 0.0 < level < 1.0:
        raise ValueError(f"q and level are fractions in (0, 1), got q={q!r}, level={level!r}")
    counts = np.asarray(counts, dtype=np.int64)
    lower = np.zeros(counts.shape, dtype=np.int64)
    upper = np.zeros(counts.shape, dtype=np.int64)
    for n in np.unique(counts):  # a loop over distinct sample sizes (one per endpoint at most)
        lower[counts == n], upper[counts == n] = _ranks_for(int(n), q, level)
    return lower, upper


def quantile_ci(values: np.ndarray | list[float], q: float = 0.95, level: float = LEVEL) -> tuple[float, float] | None:
    """[low, high] covering the true q-quantile with probability >= level; None if too few values."""
    v = np.asarray(values, dtype=np.float64)
    v = np.sort(v[~np.isnan(v)])
    lower, upper = ci_ranks([v.size], q, level)
    if not lower[0]:
        return None
    return float(v[lower[0] - 1]), float(v[upper[0] - 1])


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def sample_warnings(n: int) -> list[str]:
    """One line per percentile that n samples cannot pin down, saying what it is and what is needed."""
    if n <= 0:
        return []
    warnings = []
    for name, (q, needed) in MIN_SAMPLES.items():
        if n >= needed:
            continue
        slowest = n - max(1, math.ceil(round(q * n, 9))) + 1  # nearest rank, counted from the top
        which = "the slowest request" if slowest == 1 else f"the {_ordinal(slowest)} slowest request"
        warnings.append(
            f"{name} from {n:,} samples: fewer than {needed:,}, so it is {which}; "
            f"about {needed:,} are needed for a steady {name}"
        )
    return warnings


def few_samples_note(endpoints: Mapping[str, Mapping]) -> str | None:
    """The summary's note naming the endpoints whose p99 (or p95) rests on too few samples."""
    few = [(name, int(e.get("latency_samples") or 0)) for name, e in endpoints.items()]
    few = [(name, n) for name, n in few if 0 < n < NOTE_BELOW]
    if not few:
        return None
    listed = ", ".join(f"{name} {n:,}" for name, n in few)
    return (
        f"few latency samples (a steady p95 needs about {MIN_SAMPLES['p95'][1]:,}, a p99 about "
        f"{MIN_SAMPLES['p99'][1]:,}, a p99.9 about {MIN_SAMPLES['p99.9'][1]:,}): {listed}; "
        "see each endpoint's warnings and p95 interval"
    )
