"""The error bound from the load generator's event-loop lag (harness.analysis.generator), on synthetic
series and samples: which stall each sample is charged with, the percentile bound, the flag, the
per-process figures, and a run without series ("not measured", never a zero)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.analysis.generator import (
    NOT_MEASURED,
    READ_SLACK_TICKS,
    allowed_ms,
    generator_section,
    percentile_bound,
    sample_lags,
)
from harness.analysis.summary import percentile
from harness.documents import RunMeta
from harness.documents.run import LoopSeries
from tests.helpers import samples_frame

T0 = 1_800_000_000.0
TICK = 0.05


def series(stalls: list[tuple[float, float]], seconds: int = 10, cpu: float = 0.3) -> LoopSeries:
    """One-second windows over [T0, T0 + seconds], 20 wake-ups each, and stalls (ended at s, ms long)."""
    lags_by_window = [max([ms for at, ms in stalls if w <= at < w + 1] or [0.4]) for w in range(seconds)]
    return LoopSeries(
        tick_s=TICK,
        stall_min_ms=1.0,
        t0=T0,
        start_s=[float(w) for w in range(seconds)],
        end_s=[float(w + 1) for w in range(seconds)],
        ticks=[20] * seconds,
        lag_max_ms=lags_by_window,
        lag_p90_ms=[0.3] * seconds,
        cpu=[cpu] * seconds,
        stall_at_s=[at for at, _ in stalls],
        stall_ms=[ms for _, ms in stalls],
    )


def lags_of(flights: list[tuple[float, float]], loop: LoopSeries) -> list[float]:
    starts = np.array([T0 + s for s, _ in flights])
    ends = np.array([T0 + e for _, e in flights])
    return [round(float(v), 3) for v in sample_lags(starts, ends, loop)]


def test_a_sample_is_charged_with_the_stall_it_can_have_waited_through_and_no_other() -> None:
    loop = series([(2.0, 50.0), (5.0, 200.0)])  # stalled 1.95-2.0 s and 4.8-5.0 s
    slack = READ_SLACK_TICKS * TICK
    flights = [
        (1.90, 2.001),  # read right after the stall ended: all of it
        (1.96, 2.005),  # sent during it: the part after its start
        (1.00, 3.00),  # the stall in the middle of a long flight: its answer was not there yet
        (1.90, 2.0 + slack - 0.005),  # read within 1.5 ticks after it: it may have waited (or behind one unseen)
        (1.90, 2.0 + slack + 0.02),  # read later than that: not charged
        (4.90, 4.95),  # sent and read inside the long stall: its own flight at most
        (3.00, 3.10),  # no stall near it
        (11.0, 11.5),  # after the last window: not measured
        (math.nan, 1.0),  # no start time: not measured
    ]
    got = lags_of(flights, loop)
    assert got[:7] == pytest.approx([50.0, 40.0, 0.0, 50.0, 0.0, 50.0, 0.0], abs=1e-6)
    assert math.isnan(got[7]) and math.isnan(got[8])


def test_of_two_stalls_near_one_read_the_longer_part_counts() -> None:
    loop = series([(2.00, 30.0), (2.06, 5.0)])  # 1.97-2.00, then 2.055-2.06
    assert lags_of([(1.0, 2.062)], loop) == pytest.approx([30.0])
    assert lags_of([(1.99, 2.062)], loop) == pytest.approx([10.0])  # sent inside the first: 10 ms of it


def test_the_bound_is_the_percentile_minus_the_same_percentile_with_the_charges_taken_off() -> None:
    measured = np.arange(1.0, 101.0)  # 1..100 ms
    lags = np.where(measured >= 90, 30.0, 0.0)  # the slowest eleven were each charged 30 ms
    # p95 measured: the 95th smallest, 95; charged: 1..89 and 60..70, whose 95th smallest is 84
    assert percentile_bound(measured, lags, 0.95) == pytest.approx(95 - 84)
    assert percentile_bound(measured, lags, 0.50) == pytest.approx(0.0)  # the median's neighbours uncharged
    assert percentile_bound(measured, np.zeros(100), 0.99) == 0.0
    assert percentile_bound(measured, np.full(100, np.nan), 0.99) == 0.0  # unmeasured: no charge
    assert percentile_bound(measured, np.full(100, 500.0), 0.5) == pytest.approx(50.0)  # never below 0 ms


def test_the_true_percentile_lies_within_the_bound_whenever_each_delay_is_within_its_charge() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(5, 400))
        truth = rng.lognormal(4, 0.6, n)
        charge = np.where(rng.random(n) < rng.random(), rng.uniform(0, 80, n), 0.0)
        measured = truth + charge * rng.random(n)  # each stall added at most its charge
        for q in (0.5, 0.95, 0.99):
            bound = percentile_bound(measured, charge, q)
            assert 0.0 <= bound <= charge.max() + 1e-9
            assert percentile(measured, q) - bound - 1e-9 <= percentile(truth, q) <= percentile(measured, q) + 1e-9


def test_one_percent_or_one_ms_whichever_is_larger() -> None:
    assert allowed_ms(12.0) == 1.0 and allowed_ms(100.0) == 1.0 and allowed_ms(412.0) == pytest.approx(4.12)


def chat_rows(worker: str, n: int, every_s: float, latency_ms: float, first_s: float = 0.5) -> list[dict]:
    return [
        {
            "start_s": T0 + first_s + i * every_s,
            "endpoint": "chat",
            "status": 200,
            "latency_ms": latency_ms + (i % 7),
            "ttft_ms": latency_ms / 2,
            "worker": worker,
        }
        for i in range(n)
    ]


def test_a_starved_worker_has_its_figures_flagged_and_the_other_clean() -> None:
    # w1 stalled 40 ms every 100 ms, each stall ending 10 ms before one of its requests is read
    rows = chat_rows("w1", 80, 0.1, 200.0) + chat_rows("w2", 80, 0.1, 200.0, first_s=0.55)
    rows = [{**r, "endpoint": "me"} if r["worker"] == "w2" else r for r in rows]
    stalls = [(0.5 + i * 0.1 + 0.2 - 0.01, 40.0) for i in range(80)]
    run = RunMeta(loop_monitor={"w1": series(stalls, cpu=0.95), "w2": series([])})
    section, notes = generator_section(samples_frame(rows), run)
    assert section.measured and section.tick_s == TICK and section.unmeasured_samples == 0
    w1, w2 = section.workers["w1"], section.workers["w2"]
    assert w1.samples == 80 and w1.lag_max_ms == 40.0 and w1.stalls == 80 and w1.cpu_max == 0.95
    assert w1.lag_p99_ms == 40.0  # 80 of ~180 wake-ups stalled: the p99 is one of them
    assert w2.stalls == 0 and w2.lag_p99_ms is None and w2.lag_max_ms == 0.4  # under 1 ms: kept as a count only
    flagged = {(f.endpoint, f.figure): f for f in section.flagged}
    # (the TTFT's p99 is the one request no stall came before: not flagged)
    assert {("chat", k) for k in ("p50_ms", "p95_ms", "p99_ms", "ttft_p50_ms", "ttft_p95_ms")} <= set(flagged)
    assert not [k for k in flagged if k[0] == "me"]
    p95 = flagged[("chat", "p95_ms")]
    assert 30.0 <= p95.bound_ms <= 40.0 and p95.allowed_ms == pytest.approx(p95.value_ms / 100)
    assert p95.workers == {"w1": 40.0}
    assert set(section.bounds_ms["me"].values()) == {0.0} and len(section.bounds_ms["me"]) == 6
    assert notes[0].startswith(f"p50 of chat ({flagged[('chat', 'p50_ms')].value_ms:,.1f} ms) may be off by up to ")
    assert "the event loop of worker w1 stalled up to 40.0 ms (CPU up to 95 % of a core)" in notes[0]
    assert any(n.startswith("worker w1 used 95 % of a core on average") for n in notes)  # Locust's CPU warning, kept
    assert not any("w2" in n for n in notes)


def test_a_run_without_series_is_not_measured_never_zero() -> None:
    rows = chat_rows("w1", 20, 0.1, 200.0)
    section, notes = generator_section(samples_frame(rows), RunMeta())
    assert section.measured is False and section.not_measured == NOT_MEASURED
    assert section.workers == {} and section.bounds_ms == {} and section.flagged == [] and notes == []


def test_samples_of_a_worker_whose_windows_never_came_are_counted_as_unmeasured() -> None:
    rows = chat_rows("w1", 20, 0.1, 200.0) + chat_rows("lost", 5, 0.1, 200.0)
    section, notes = generator_section(samples_frame(rows), RunMeta(loop_monitor={"w1": series([])}))
    assert section.unmeasured_samples == 5
    assert section.workers["lost"].samples == 5 and section.workers["lost"].lag_max_ms is None
    assert notes == [
        "5 timed samples were in flight while their load process's event loop was not measured "
        "(nothing from worker lost): their timing is not checked for lag"
    ]
