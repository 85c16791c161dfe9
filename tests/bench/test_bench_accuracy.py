"""The pure parts of bench/accuracy.py: the truth it builds and how it judges figures against it.

The bench itself (a real run of a few minutes) is not run here; these take well under a second.
"""

from __future__ import annotations

import asyncio
import random

import httpx
import numpy as np
import pytest

from harness.demo_api.app import create_app
from harness.demo_api.config import TargetConfig
from harness.demo_api.distributions import Distribution
from tests.helpers import load_bench, samples_frame

bench = load_bench("accuracy")
timed = load_bench("timed_target")


def test_nearest_rank_is_the_ceil_q_n_th_smallest() -> None:
    values = list(range(100, 0, -1))  # 1..100, unsorted
    assert [bench.nearest_rank(values, q) for q in (0.5, 0.95, 0.99, 1.0)] == [50, 95, 99, 100]
    assert bench.nearest_rank([7.0], 0.99) == 7.0
    assert bench.nearest_rank(list(range(1, 21)), 0.95) == 19  # 0.95 × 20 = 19 exactly, not 20
    assert np.isnan(bench.nearest_rank([], 0.5))


@pytest.mark.parametrize(
    ("value", "truth", "passed"),
    [
        (201.9, 200.0, True),  # 1 % of 200 is 2 ms
        (197.9, 200.0, False),
        (50.9, 50.0, True),  # 1 % of 50 is 0.5 ms: the 1 ms floor applies
        (51.2, 50.0, False),
        (100.0, 100.0, True),
    ],
)
def test_judge_allows_one_percent_or_one_ms_whichever_is_larger(value: float, truth: float, passed: bool) -> None:
    judged = bench.judge(value, truth)
    assert judged.passed is passed
    assert judged.error_ms == pytest.approx(value - truth)
    assert judged.error_pct == pytest.approx(100 * (value - truth) / truth)


def test_judge_without_a_figure_is_not_judged() -> None:
    assert bench.judge(None, 120.0) == bench.Judged(None, None, None, None)
    assert bench.judge(float("nan"), 120.0).passed is None


def test_locust_figures_come_from_run_json() -> None:
    meta = {
        "locust_percentiles": {
            "me": {"p50_ms": 1, "p95_ms": 3, "p99_ms": 4.0},
            "conversation": {"p50_ms": 250, "p95_ms": None},
        }
    }
    assert bench.locust_figures(meta, "me") == {0.5: 1.0, 0.95: 3.0, 0.99: 4.0}
    assert bench.locust_figures(meta, "conversation") == {0.5: 250.0, 0.95: None, 0.99: None}
    assert bench.locust_figures({}, "me") == {0.5: None, 0.95: None, 0.99: None}


def test_truth_adds_the_round_trip_to_the_drawn_delays() -> None:
    drawn = np.arange(1.0, 1001.0)
    assert bench.truth_quantiles(drawn, np.zeros(50)) == {0.5: 500.0, 0.95: 950.0, 0.99: 990.0}
    shifted = bench.truth_quantiles(drawn, np.full(5000, 1.5))  # more than the grid: thinned, same result
    assert shifted == {0.5: 501.5, 0.95: 951.5, 0.99: 991.5}


def test_served_latencies_are_legit_successful_unblocked() -> None:
    frame = samples_frame(
        [
            {"endpoint": "me", "status": 200, "latency_ms": 1.0},
            {"endpoint": "me", "status": 429, "latency_ms": 2.0, "blocked": True},
            {"endpoint": "me", "status": 500, "latency_ms": 3.0, "error": "http 500"},
            {"endpoint": "me", "status": 200, "latency_ms": 4.0, "role": "chat_flood"},
            {"endpoint": "chat", "status": 200, "latency_ms": 5.0},
        ]
    )
    assert bench.served_latencies(frame, "me").tolist() == [1.0]


def test_alignment_leaves_out_the_draws_of_requests_never_recorded() -> None:
    rng = np.random.default_rng(3)
    draws = rng.uniform(50, 450, 400)
    missing = {391, 393, 394, 397, 399}  # in flight at the stop: the last arrivals, not all of them
    order = [i for i in range(400) if i not in missing]
    order[100], order[101] = order[101], order[100]  # two requests that swapped places on the way
    latencies = draws[order] + rng.uniform(0.5, 2.0, len(order))
    latencies[7] = np.nan  # a request without a latency matches anything
    taken = bench.align_draws(latencies, draws, shift=1.2)
    assert set(range(400)) - set(taken.tolist()) == missing
    assert sorted(taken.tolist()) == taken.tolist() and len(set(taken.tolist())) == len(order)
    with pytest.raises(ValueError):
        bench.align_draws(np.ones(3), np.ones(2), shift=0)


def test_wait_log_is_read_by_draw_index() -> None:
    text = "conversation 1 200.5 0.25\nconversation 0 100.0 -0.5\nme 0 1.0 0.1\nconversation 3 300 2\nconversation 4 7"
    waits = bench.read_wait_log(text)
    drawn, late = waits["conversation"]
    assert drawn[:2].tolist() == [100.0, 200.5] and late[:2].tolist() == [-0.5, 0.25]
    assert np.isnan(drawn[2]) and np.isnan(late[2])  # a wait with no line
    assert drawn.size == 4 and drawn[3] == 300.0  # the cut last line is left out
    assert waits["me"][0].tolist() == [1.0]


def test_timed_target_logs_every_injected_wait_in_draw_order(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    import harness.demo_api.app as app

    log = io.StringIO()
    monkeypatch.setattr(timed, "_log", log)
    monkeypatch.setattr(app, "sleep_until", timed._timed_sleep_until)  # as its main() does, undone after
    dist = Distribution("choice", {"values_ms": [0.0, 0.1, 0.2, 0.3], "weights": [1, 2, 3, 4]})
    config = TargetConfig(seed=5, latency={"health": dist})

    async def exercise() -> None:
        transport = httpx.ASGITransport(app=timed._timed_create_app(config))
        async with httpx.AsyncClient(transport=transport, base_url="http://target") as client:
            for _ in range(30):
                assert (await client.get("/health")).status_code == 200
            assert (await client.get("/api/me")).status_code == 401  # no injected wait: no line

    asyncio.run(exercise())
    drawn, late = bench.read_wait_log(log.getvalue())["health"]
    assert drawn.tolist() == pytest.approx(bench.drawn_delays(dist, 5, "health", 30).tolist(), abs=1e-6)
    assert not np.isnan(late).any() and (late > -5).all()


def test_drawn_delays_replay_what_the_demo_api_drew() -> None:
    drawn: list[float] = []

    class Recording(Distribution):
        def sample(self, rng: random.Random) -> float:
            value = super().sample(rng)
            drawn.append(value)
            return value

    dist = Recording("choice", {"values_ms": [0.0, 0.1, 0.2, 0.3], "weights": [1, 2, 3, 4]})
    config = TargetConfig(seed=11, latency={"health": dist})

    async def exercise() -> None:
        transport = httpx.ASGITransport(app=create_app(config))
        async with httpx.AsyncClient(transport=transport, base_url="http://target") as client:
            for _ in range(40):
                assert (await client.get("/health")).status_code == 200

    asyncio.run(exercise())
    plain = Distribution("choice", dist.params)
    assert bench.drawn_delays(plain, 11, "health", 40).tolist() == drawn
    assert len(set(drawn)) > 1
