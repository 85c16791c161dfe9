"""Latency distributions: exact quantiles and means, sampling statistics, and spec errors."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from harness.demo_api.distributions import Distribution, DistributionError, parse_distribution

Z95 = 1.6448536269514715  # standard normal 0.95 quantile
N = 20_000


def draws(dist: Distribution, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [dist.sample(rng) for _ in range(N)]


def empirical_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(q * len(ordered)) - 1]


# ---- exact figures ----


def test_constant():
    d = parse_distribution({"dist": "constant", "ms": 120})
    assert d.quantile(0.05) == d.quantile(0.95) == d.mean() == 120.0
    assert d.sample(random.Random(0)) == 120.0


def test_bare_number_is_constant():
    d = parse_distribution(75)
    assert d == Distribution("constant", {"ms": 75})
    assert d.quantile(0.99) == 75.0
    assert parse_distribution(2.5).mean() == 2.5


def test_uniform():
    d = parse_distribution({"dist": "uniform", "low_ms": 100, "high_ms": 300})
    assert d.quantile(0.95) == pytest.approx(290.0)
    assert d.quantile(0.5) == pytest.approx(200.0)
    assert d.mean() == 200.0


def test_normal():
    d = parse_distribution({"dist": "normal", "mean_ms": 100, "sd_ms": 10})
    assert d.quantile(0.5) == pytest.approx(100.0)
    assert d.quantile(0.95) == pytest.approx(100 + 10 * Z95)  # 116.4485
    assert d.quantile(0.05) == pytest.approx(100 - 10 * Z95)
    assert d.mean() == 100.0


def test_normal_quantile_is_clipped_at_zero():
    d = parse_distribution({"dist": "normal", "mean_ms": 5, "sd_ms": 10})
    assert d.quantile(0.05) == 0.0
    assert d.quantile(0.5) == pytest.approx(5.0)


def test_lognormal():
    d = parse_distribution({"dist": "lognormal", "median_ms": 180, "sigma": 0.25})
    assert d.quantile(0.5) == pytest.approx(180.0)
    assert d.quantile(0.95) == pytest.approx(180 * math.exp(0.25 * Z95))  # 271.5565
    assert d.quantile(0.05) == pytest.approx(180 * math.exp(-0.25 * Z95))  # 119.3122
    assert d.mean() == pytest.approx(180 * math.exp(0.25**2 / 2))  # 185.7138


def test_choice_quantiles_step_through_sorted_values():
    d = parse_distribution({"dist": "choice", "values_ms": [100, 10, 20], "weights": [2, 1, 1]})
    # sorted: 10 (0.25), 20 (0.25), 100 (0.5) -> cumulative 0.25, 0.5, 1.0
    assert [d.quantile(q) for q in (0.1, 0.25, 0.3, 0.5, 0.51, 0.99)] == [10, 10, 20, 20, 100, 100]
    assert d.mean() == pytest.approx((100 * 2 + 10 + 20) / 4)  # 57.5


def test_choice_weights_default_to_equal():
    d = parse_distribution({"dist": "choice", "values_ms": [10, 30]})
    assert d.params["weights"] == [1, 1]
    assert d.mean() == 20.0
    assert d.quantile(0.5) == 10.0 and d.quantile(0.6) == 30.0


def test_to_dict_round_trips():
    spec = {"dist": "lognormal", "median_ms": 180, "sigma": 0.25}
    d = parse_distribution(spec)
    assert d.to_dict() == spec
    assert parse_distribution(d.to_dict()) == d


# ---- sampling, seeded ----


def test_sampling_is_reproducible_with_a_seed():
    d = parse_distribution({"dist": "normal", "mean_ms": 12, "sd_ms": 3})
    assert draws(d, seed=7)[:50] == draws(d, seed=7)[:50]


def test_uniform_samples():
    d = parse_distribution({"dist": "uniform", "low_ms": 100, "high_ms": 300})
    values = draws(d)
    assert 100 <= min(values) and max(values) <= 300
    assert statistics.fmean(values) == pytest.approx(200, abs=2)
    assert empirical_quantile(values, 0.95) == pytest.approx(290, abs=3)


def test_normal_samples_never_go_below_zero():
    d = parse_distribution({"dist": "normal", "mean_ms": 12, "sd_ms": 3})
    values = draws(d)
    assert statistics.fmean(values) == pytest.approx(12, abs=0.1)
    assert statistics.stdev(values) == pytest.approx(3, abs=0.1)
    assert empirical_quantile(values, 0.95) == pytest.approx(d.quantile(0.95), abs=0.2)
    clipped = draws(parse_distribution({"dist": "normal", "mean_ms": 1, "sd_ms": 5}))
    assert min(clipped) == 0.0


def test_lognormal_samples_match_the_exact_quantiles():
    d = parse_distribution({"dist": "lognormal", "median_ms": 180, "sigma": 0.25})
    values = draws(d)
    assert statistics.median(values) == pytest.approx(180, rel=0.02)
    assert empirical_quantile(values, 0.95) == pytest.approx(d.quantile(0.95), rel=0.02)
    assert statistics.fmean(values) == pytest.approx(d.mean(), rel=0.02)


def test_choice_samples_follow_the_weights():
    d = parse_distribution({"dist": "choice", "values_ms": [10, 500], "weights": [9, 1]})
    values = draws(d)
    assert set(values) == {10.0, 500.0}
    assert values.count(500.0) / N == pytest.approx(0.1, abs=0.01)
    assert empirical_quantile(values, 0.85) == 10.0
    assert empirical_quantile(values, 0.95) == 500.0


def test_choice_with_a_zero_weight_never_draws_it():
    d = parse_distribution({"dist": "choice", "values_ms": [10, 999], "weights": [1, 0]})
    assert set(draws(d)[:2000]) == {10.0}


# ---- spec errors name the key ----


@pytest.mark.parametrize(
    "spec, message",
    [
        ("fast", 'target.latency.chat: expected a table like {dist = "constant", ms = 120}'),
        (True, "target.latency.chat: expected a table like"),
        ({"ms": 5}, "target.latency.chat.dist: expected one of constant, uniform, normal, lognormal, choice, got None"),
        (
            {"dist": "gamma"},
            "target.latency.chat.dist: expected one of constant, uniform, normal, lognormal, choice, got 'gamma'",
        ),
        ({"dist": "constant"}, "target.latency.chat.ms: required for dist 'constant'"),
        ({"dist": "normal", "mean_ms": 5}, "target.latency.chat.sd_ms: required for dist 'normal'"),
        (
            {"dist": "constant", "ms": 5, "sd_ms": 1},
            "target.latency.chat: unknown key(s) ['sd_ms'] for dist 'constant'",
        ),
        ({"dist": "uniform", "low_ms": 10, "high_ms": 5}, "target.latency.chat: low_ms must not exceed high_ms"),
        ({"dist": "constant", "ms": -1}, "target.latency.chat: expected finite non-negative numbers, got -1"),
        ({"dist": "constant", "ms": "120"}, "target.latency.chat: expected finite non-negative numbers, got '120'"),
        (
            {"dist": "lognormal", "median_ms": 100, "sigma": True},
            "target.latency.chat: expected finite non-negative numbers, got True",
        ),
        (
            {"dist": "choice", "values_ms": []},
            "target.latency.chat.values_ms: expected a non-empty list of milliseconds",
        ),
        (
            {"dist": "choice", "values_ms": 10},
            "target.latency.chat.values_ms: expected a non-empty list of milliseconds",
        ),
        (
            {"dist": "choice", "values_ms": [10, 20], "weights": [1]},
            "target.latency.chat.weights: expected 2 non-negative weights",
        ),
        (
            {"dist": "choice", "values_ms": [10, 20], "weights": [1, -1]},
            "target.latency.chat.weights: expected 2 non-negative weights",
        ),
        (
            {"dist": "choice", "values_ms": [10, 20], "weights": [0, 0]},
            "target.latency.chat.weights: expected 2 non-negative weights",
        ),
        (
            {"dist": "choice", "values_ms": [10, "x"]},
            "target.latency.chat: expected finite non-negative numbers, got 'x'",
        ),
    ],
)
def test_spec_errors_name_the_key(spec, message):
    with pytest.raises(DistributionError) as info:
        parse_distribution(spec, "target.latency.chat")
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("weights", [3, ["a", "b"], [1, None]])
def test_non_numeric_choice_weights_are_a_spec_error(weights):
    """Bug: weights that are not a list of numbers crash with TypeError instead of naming the key."""
    with pytest.raises(DistributionError, match=r"^target\.latency\.chat\.weights: "):
        parse_distribution({"dist": "choice", "values_ms": [10, 20], "weights": weights}, "target.latency.chat")


def test_default_where_is_distribution():
    with pytest.raises(DistributionError, match=r"^distribution\.dist: "):
        parse_distribution({})
