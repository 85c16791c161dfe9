"""The capacity search's judgement on synthetic samples: each criterion, the next rate (coarse, then
bisection, never above the first failure), and the section recomputed from run.json and the samples."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from harness.analysis.capacity import capacity_section, criteria_of, judge, next_rate, step_figures
from harness.documents.run import CapacityRun, CapacityStep, LoopSeries, RunMeta
from harness.documents.summary import CapacityStepFigures
from harness.samples import DEFAULTS, SCHEMA
from harness.scenario.arrivals import ArrivalSchedule, ArrivalStage

SETTINGS = {"start_rate": 10.0, "max_rate": 400.0, "growth": 2.0, "resolution": 0.05}


def frame(rows: list[dict]):
    columns = {name: [r.get(name, DEFAULTS[name]) for r in rows] for name in SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=SCHEMA).to_pandas()


def requests(start: float, rate: float, seconds: float, latency_ms: float, **extra) -> list[dict]:
    """One legit GET of `work` per arrival, sent on time, answered in `latency_ms`."""
    n = round(rate * seconds)
    base = {"endpoint": "work", "method": "GET", "status": 200, "role": "legit", "latency_ms": latency_ms}
    return [{**base, "start_s": start + i / rate, "intended_s": start + i / rate, **extra} for i in range(n)]


def test_the_rates_grow_then_bisect_and_never_pass_the_first_failure() -> None:
    assert next_rate([], SETTINGS) == 10.0
    assert next_rate([(10, True)], SETTINGS) == 20.0
    assert next_rate([(10, True), (20, True), (40, True)], SETTINGS) == 80.0
    after = [(10, True), (20, True), (40, True), (80, False)]
    assert next_rate(after, SETTINGS) == pytest.approx(math.sqrt(40 * 80))
    rates = list(after)
    while (rate := next_rate(rates, SETTINGS)) is not None:  # a target that holds up to 70/s
        assert 40 < rate < 80
        rates.append((rate, rate <= 70))
    passed = max(r for r, ok in rates if ok)
    failed = min(r for r, ok in rates if not ok)
    assert passed <= 70 < failed <= passed * 1.05 and len(rates) <= 10
    assert next_rate([(400, True)], SETTINGS) is None  # max_rate passed: at least 400/s
    assert next_rate([(300, True)], SETTINGS) == 400.0  # never above max_rate


def test_a_first_step_that_fails_steps_down_a_few_times_then_gives_up() -> None:
    assert next_rate([(10, False)], SETTINGS) == 5.0
    assert next_rate([(10, False), (5, True)], SETTINGS) == pytest.approx(math.sqrt(50))
    down = [(10, False), (5, False), (2.5, False), (1.25, False)]
    assert next_rate(down, SETTINGS) is None


def test_each_criterion_fails_with_its_measured_value_and_limit() -> None:
    criteria = criteria_of({"p99_ms": 300, "ttft_p95_ms": 200}, {"work": 100.0})
    figures = CapacityStepFigures(
        rate=50, start_s=0, due=500, started=400, dropped=20, route_p95_ms={"work": 120.0}, p99_ms=350.0,
        ttft_p95_ms=250.0, error_rate=0.05, requests=400,
    )  # fmt: skip
    assert judge(figures, criteria) == [
        "p95 of work 120 ms > 100 ms",
        "p99 350 ms > 300 ms",
        "TTFT p95 250 ms > 200 ms",
        "error rate 5.0% > 1.0%",
        "achieved 80% of the offered 50/s < 95%",
        "20 of 500 arrivals dropped (no free user in time)",
    ]
    calm = CapacityStepFigures(rate=50, start_s=0, due=500, started=499, route_p95_ms={"work": 80.0}, requests=499)
    assert judge(calm, criteria) == []


def test_a_step_is_judged_on_its_window_from_the_intended_start() -> None:
    """The settling second is left out; a request that waited 400 ms for a free user counts 400 ms
    more than its send-to-answer time; in flight: rate x latency, as Little's law says."""
    rows = requests(100.0, 20, 1, latency_ms=900.0)  # the settling second: slow, not judged
    rows += requests(101.0, 20, 10, latency_ms=50.0)
    late = {**rows[-1], "start_s": rows[-1]["start_s"] + 0.4}  # sent 400 ms after it was due
    rows[-1] = late
    step = CapacityStep(rate=20, start_s=100.0, end_s=111.0, settle_s=1.0)
    figures = step_figures(frame(rows), step, criteria_of({}, {"work": 100.0}), counts=(220, 220, 0))
    assert figures.requests == 200
    assert figures.p50_ms == pytest.approx(50.0)
    assert figures.route_p95_ms["work"] == pytest.approx(50.0) and figures.p99_ms == pytest.approx(50.0)
    assert figures.error_rate == 0.0 and figures.passed and figures.failures == []
    assert figures.in_flight == pytest.approx(20 * 0.05, rel=0.05)
    assert figures.in_flight_little == pytest.approx(20 * 0.05, rel=0.05)
    assert figures.achieved_rate == pytest.approx(20.0)


def test_the_section_recomputes_every_step_from_run_json_and_the_samples() -> None:
    """Two steps of 10 s (the first second settling): 20/s served in 50 ms passes; 40/s served in
    400 ms fails its 100 ms target. The answer: 20/s, first failure 40/s, and why."""
    schedule = ArrivalSchedule(
        start_s=100.0, stages=(ArrivalStage(10.0, 20.0), ArrivalStage(10.0, 40.0)), shares={"work": 1.0}
    )
    steps = [
        CapacityStep(rate=20, start_s=100.0, judged_end_s=110.0, end_s=110.0, settle_s=1.0, passed=True),
        CapacityStep(rate=40, start_s=110.0, judged_end_s=120.0, end_s=120.0, settle_s=1.0, passed=False),
    ]
    counts = {"local": {"work": {"steps": {"0": [200, 0], "1": [400, 0]}}}}
    run = RunMeta(
        targets={"work": 100.0},
        arrivals={"schedule": schedule.to_dict(), "counts": counts},
        capacity=CapacityRun(settings={**SETTINGS, "settle_s": 1.0}, steps=steps, stopped="done"),
    )
    samples = frame(requests(100.0, 20, 10, latency_ms=50.0) + requests(110.0, 40, 10, latency_ms=400.0))
    section = capacity_section(samples, run)
    assert section is not None
    assert (section.capacity_rps, section.first_failure_rps) == (20, 40)
    assert section.first_failure == ["p95 of work 400 ms > 100 ms"]
    assert [s.due for s in section.steps] == [200, 400] and [s.live_passed for s in section.steps] == [True, False]
    assert section.notes == [] and not section.at_least and not section.generator_limited


def test_a_saturated_generator_is_named_beside_the_first_failure() -> None:
    steps = [CapacityStep(rate=20, start_s=100.0, judged_end_s=110.0, end_s=110.0, settle_s=1.0, generator_cpu=0.97)]
    run = RunMeta(targets={"work": 100.0}, capacity=CapacityRun(settings=SETTINGS, steps=steps))
    section = capacity_section(frame(requests(100.0, 20, 10, latency_ms=400.0)), run)
    assert section is not None and section.generator_limited
    assert "load generator was saturated (CPU 97%)" in section.notes[0]


def test_a_generator_whose_event_loop_lagged_is_named_too() -> None:
    """run.json's loop monitor: a worker whose loop woke 80 ms late during the failing step."""
    steps = [CapacityStep(rate=20, start_s=100.0, judged_end_s=110.0, end_s=110.0, settle_s=1.0, generator_cpu=0.4)]
    series = LoopSeries(t0=100.0, start_s=[0.0, 5.0, 20.0], end_s=[5.0, 10.0, 25.0], lag_max_ms=[2.0, 80.0, 500.0])
    run = RunMeta(
        targets={"work": 100.0}, capacity=CapacityRun(settings=SETTINGS, steps=steps), loop_monitor={"w1": series}
    )
    section = capacity_section(frame(requests(100.0, 20, 10, latency_ms=400.0)), run)
    assert section is not None and section.steps[0].generator_lag_ms == 80.0  # the window after the step: not its
    assert section.generator_limited and "its event loop 80 ms late" in section.notes[0]
