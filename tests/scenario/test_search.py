"""`[search]`: the capacity search's settings, their defaults and one-line errors; `capacity(rps)`."""

from __future__ import annotations

import pytest

from harness.scenario import ScenarioError, Search, load_scenario, parse_scenario
from harness.scenario.thresholds import ThresholdError, parse_threshold

SMOKE = load_scenario("smoke").raw


def with_search(table: dict) -> Search | None:
    return parse_scenario({**SMOKE, "search": table}).search


def test_no_table_no_search_and_an_empty_table_takes_the_defaults() -> None:
    assert parse_scenario(SMOKE).search is None
    assert with_search({}) == Search()


def test_the_settings_are_read_with_their_units() -> None:
    search = with_search({"start_rate": 5, "max_rate": 100, "hold": "4s", "max_hold": "8s", "p95_ms": 200})
    assert search == Search(start_rate=5.0, max_rate=100.0, hold_s=4.0, max_hold_s=8.0, p95_ms=200.0)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"hold": "10s", "max_hold": "5s"}, "search.max_hold: expected at least search.hold (10 s), got 5 s"),
        ({"max_rate": 9000}, "search.max_rate: 9000 arrivals/s is over guardrails.max_arrival_rate (5000)"),
        ({"growth": 1}, "search.growth: expected a number >= 1.1, got 1"),
        ({"start_rate": 50, "max_rate": 10}, "search.max_rate: expected a number >= 50, got 10"),
        ({"p95": "200ms"}, "search.p95: unknown field"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_field(table: dict, message: str) -> None:
    with pytest.raises(ScenarioError) as error:
        with_search(table)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_threshold_gates_on_the_capacity_found() -> None:
    rule = parse_threshold("capacity(rps) >= 50", "x")
    assert (rule.metric, rule.target, rule.limit, rule.unit) == ("capacity", "rps", 50.0, "rps")
    with pytest.raises(ThresholdError, match="capacity takes one of: rps"):
        parse_threshold("capacity(login) >= 50", "x")
