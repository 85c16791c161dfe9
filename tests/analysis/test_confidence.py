"""The p95 confidence interval: ranks checked against exact binomial sums, and its coverage by
simulation; the sample-count warnings."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from harness.analysis.confidence import ci_ranks, few_samples_note, quantile_ci, sample_warnings


def binomial_below(n: int, k: int) -> Fraction:
    """P(B <= k) for B ~ Binomial(n, 0.95), summed term by term in exact rationals."""
    return Fraction(sum(math.comb(n, i) * 19**i for i in range(0, k + 1)), 20**n)


def test_n_100_ranks_by_hand():
    # P(B <= 89) = 0.0115 <= 0.025 < P(B <= 90) = 0.0282: the lower rank is 90.
    # P(B >= 100) = 0.95^100 = 0.0059 <= 0.025 < P(B >= 99) = 0.0371: the upper rank is 100.
    assert binomial_below(100, 89) <= 0.025 < binomial_below(100, 90)
    assert 1 - binomial_below(100, 99) <= 0.025 < 1 - binomial_below(100, 98)
    lower, upper = ci_ranks([100])
    assert (int(lower[0]), int(upper[0])) == (90, 100)
    coverage = binomial_below(100, 99) - binomial_below(100, 89)
    assert float(coverage) == pytest.approx(0.9826, abs=1e-4)


@pytest.mark.parametrize("n", [72, 100, 150, 200, 300, 500, 1000, 2345])
def test_ranks_are_the_tightest_equal_tailed_ones(n):
    (lo,), (u,) = ci_ranks([n])
    alpha = Fraction(1, 40)
    assert binomial_below(n, lo - 1) <= alpha < binomial_below(n, lo)  # lo is the largest such rank
    assert 1 - binomial_below(n, u - 1) <= alpha
    assert 1 - binomial_below(n, u - 2) > alpha  # u is the smallest such rank
    assert binomial_below(n, u - 1) - binomial_below(n, lo - 1) >= 0.95
    assert 1 <= lo < math.ceil(0.95 * n) <= u <= n


def test_too_few_samples_for_two_sides_is_none():
    # the top rank n only covers when 0.95^n <= 0.025, i.e. n >= 72
    lower, upper = ci_ranks([0, 1, 10, 71, 72])
    assert lower.tolist()[:4] == [0, 0, 0, 0] and upper.tolist()[:4] == [0, 0, 0, 0]
    assert (int(lower[4]), int(upper[4])) == (64, 72)
    assert quantile_ci(np.arange(71.0)) is None
    assert quantile_ci([]) is None


def test_large_n_matches_the_normal_approximation():
    n = 10_000_000
    (lo,), (u,) = ci_ranks([n])
    sd = math.sqrt(n * 0.95 * 0.05)
    assert abs(lo - (0.95 * n - 1.96 * sd)) <= 3
    assert abs(u - (0.95 * n + 1.96 * sd)) <= 3


def test_values_are_those_at_the_ranks():
    values = np.random.default_rng(3).permutation(np.arange(1.0, 101.0))  # 1..100, shuffled
    assert quantile_ci(values) == (90.0, 100.0)
    assert quantile_ci(np.concatenate([values, [np.nan]])) == (90.0, 100.0)


def test_coverage_by_simulation():
    """2,000 samples of n = 300 from a lognormal: the interval holds the true p95 93–97 % of times."""
    rng = np.random.default_rng(20261130)
    median, sigma = 120.0, 0.6
    true_p95 = median * math.exp(sigma * 1.6448536269514722)
    draws = np.sort(median * rng.lognormal(0.0, sigma, size=(2000, 300)), axis=1)
    (lo,), (u,) = ci_ranks([300])
    covered = (draws[:, lo - 1] <= true_p95) & (true_p95 < draws[:, u - 1])
    assert 0.93 <= covered.mean() <= 0.97
    # and it is the same interval quantile_ci gives for one of them
    assert quantile_ci(draws[0]) == (draws[0, lo - 1], draws[0, u - 1])


def test_rejects_percent_instead_of_fraction():
    with pytest.raises(ValueError, match="fractions"):
        ci_ranks([100], q=95)


def test_warnings_say_what_the_percentile_is_and_what_is_needed():
    assert sample_warnings(0) == []
    assert sample_warnings(10_000) == []
    (p999,) = sample_warnings(2_000)
    assert p999.startswith("p99.9 from 2,000 samples: fewer than 10,000, so it is the 3rd slowest request")
    p99, p999 = sample_warnings(240)
    assert p99 == (
        "p99 from 240 samples: fewer than 1,000, so it is the 3rd slowest request; "
        "about 1,000 are needed for a steady p99"
    )
    assert "so it is the slowest request" in p999
    p95, _, _ = sample_warnings(150)
    assert p95.startswith("p95 from 150 samples: fewer than 200, so it is the 8th slowest")
    assert "so it is the 2nd slowest request" in sample_warnings(150)[1]  # rank 149 of 150


def test_few_samples_note_lists_only_thin_endpoints():
    endpoints = {
        "chat": {"latency_samples": 120},
        "login": {"latency_samples": 5_000},
        "me": {"latency_samples": 999},
        "idle": {"latency_samples": 0},
    }
    note = few_samples_note(endpoints)
    assert note is not None and note.startswith("few latency samples")
    assert "chat 120, me 999;" in note and "login" not in note and "idle" not in note
    assert few_samples_note({"login": {"latency_samples": 1_000}}) is None
