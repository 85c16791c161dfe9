"""Latency from the intended start (coordinated omission corrected) and the open-model figures,
on synthetic schedules whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from harness.analysis.open_model import corrected_latency_ms, open_model_notes, open_model_summary
from harness.analysis.summary import percentile
from harness.samples import DEFAULTS, SCHEMA
from harness.scenario.arrivals import ArrivalSchedule, ArrivalStage

T0 = 1_800_000_000.0


def frame(rows: list[dict]):
    columns = {name: [r.get(name, DEFAULTS[name]) for r in rows] for name in SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=SCHEMA).to_pandas()


def stalled_single_user(rate: float = 20.0, seconds: int = 100, service_s: float = 0.001) -> list[dict]:
    """One user serving arrivals every 1/rate s against a server that stalls 1 s every 10 s: a request
    that reaches it inside [10k, 10k + 1) is answered at 10k + 1. The user sends each arrival when
    due or, if busy, as soon as it is free (wrk2's situation, and a closed-model user's)."""
    rows, free_at = [], T0
    for k in range(int(rate * seconds)):
        intended = T0 + k / rate
        sent = max(intended, free_at)
        phase = (sent - T0) % 10.0
        begins = sent + (1.0 - phase if phase < 1.0 else 0.0)
        free_at = begins + service_s
        rows.append(
            {
                "start_s": sent,
                "intended_s": intended,
                "endpoint": "me",
                "status": 200,
                "latency_ms": (free_at - sent) * 1000.0,
            }
        )
    return rows


def test_corrected_latency_sees_the_stall_that_the_send_time_hides():
    samples = frame(stalled_single_user())
    sent = samples["latency_ms"].to_numpy()
    corrected = corrected_latency_ms(samples)
    # 2,000 arrivals; per stall one request waits the whole second and 19 more queue behind it: the
    # i-th of a stall (due at 0.05·i s) ends at 1.001 + 0.001·i s, so 1.001 − 0.049·i s after its time
    assert (sent > 900).sum() == 10 and (corrected > 900).sum() == 30
    assert percentile(sent, 0.99) == pytest.approx(1.0, abs=0.01)  # 0.5 % slow: the p99 looks fine
    assert percentile(corrected, 0.99) == pytest.approx(903.0, abs=0.5)  # the 21st slowest of 2,000
    assert percentile(corrected, 0.95) == pytest.approx(1001.0 - 49.0 * 10, abs=0.5)  # the 101st slowest: i = 10
    assert percentile(corrected, 0.5) == pytest.approx(1.0, abs=0.01)
    assert corrected.max() == pytest.approx(1001.0, abs=0.01)


def test_without_a_schedule_there_is_nothing_to_correct():
    samples = frame([{"start_s": T0, "endpoint": "me", "status": 200, "latency_ms": 5.0}])
    assert np.isnan(corrected_latency_ms(samples)).all()
    assert open_model_summary(samples, {"started_at": T0}) is None


def run_json(counts: dict, stopped: float, pool: dict | None = None) -> dict:
    schedule = ArrivalSchedule(
        start_s=T0,
        stages=(ArrivalStage(10.0, 20.0), ArrivalStage(10.0, 40.0)),
        max_lateness_s=2.0,
        shares={"client": 0.75, "visitor": 0.25},
        slots=("w1", "w2"),
    )
    return {
        "started_at": T0 - 1,
        "load_stopped_at": stopped,
        "ended_at": stopped + 3,
        "arrivals": {"schedule": schedule.to_dict(), "pool": pool or {"client": 4, "visitor": 2}, "counts": counts},
    }


def test_summary_counts_due_started_late_and_dropped():
    counts = {
        "w1": {
            "client": {"started": 200, "late": 3, "dropped": 10, "max_delay_s": 0.4},
            "visitor": {"started": 75, "late": 0, "dropped": 0, "max_delay_s": 0.002},
        },
        "w2": {
            "client": {"started": 190, "late": 5, "dropped": 20, "max_delay_s": 0.9},
            "visitor": {"started": 74, "late": 1, "dropped": 0, "max_delay_s": 0.02},
        },
    }
    samples = frame(stalled_single_user(rate=5.0, seconds=20))
    figures = open_model_summary(samples, run_json(counts, stopped=T0 + 20.0))
    # due: 10 s at 20/s + 10 s at 40/s = 600, of which 450 client and 150 visitor
    client, visitor = figures["journeys"]["client"], figures["journeys"]["visitor"]
    assert (client["due"], client["started"], client["late"], client["dropped"]) == (450, 390, 8, 60)
    assert client["dropped_waiting"] == 30 and client["max_delay_ms"] == pytest.approx(900.0)
    assert (visitor["due"], visitor["started"], visitor["dropped"]) == (150, 149, 1)
    assert (figures["due"], figures["started"], figures["late"], figures["dropped"]) == (600, 539, 9, 61)
    assert figures["target_rate"] == pytest.approx(30.0)  # half the time at 20/s, half at 40/s
    assert figures["achieved_rate"] == pytest.approx(30.0 * 539 / 600)
    me = figures["latency"]["me"]
    assert me["samples"] == 100 and me["p95_from_send_ms"] == pytest.approx(1.0, abs=0.01)
    assert me["p95_from_intended_ms"] == pytest.approx(603.0, abs=0.5)  # per stall 1.001, 0.802, 0.603 s ...
    notes = open_model_notes(figures)
    assert any("achieved 26.9 arrivals/s of the 30.0/s" in n and "pool of 6 users" in n for n in notes)
    assert any("9 of 539 arrivals started late" in n for n in notes)
    assert any("61 arrivals never started" in n and "lower bound" in n for n in notes)


def test_a_run_stopped_early_is_due_only_what_came_before_the_stop():
    counts = {
        "w1": {"client": {"started": 75, "late": 0, "dropped": 0}},
        "w2": {"client": {"started": 75, "late": 0, "dropped": 0}, "visitor": {"started": 50, "late": 0, "dropped": 0}},
    }
    figures = open_model_summary(frame([]), run_json(counts, stopped=T0 + 10.0))
    assert figures["due"] == 200 and figures["dropped"] == 0 and figures["target_rate"] == pytest.approx(20.0)
    assert open_model_notes(figures) == []


OPEN_SCENARIO = """
[scenario]
name = "open-model"
[accounts]
source = "demo"
[endpoints.leads]
method = "POST"
path = "/api/leads"
body = { tenant = "{tenant}", name = "{name}", email = "{lead_email}", message = "{message}" }
auth = false
[endpoints.webhook]
method = "POST"
path = "/api/webhooks/stripe"
auth = false
[load]
arrival_rate = 20
users = 4
max_lateness = 1
duration = "10s"
[journeys.visitor]
weight = 3
[journeys.webhook]
weight = 1
"""


@pytest.mark.e2e
def test_a_real_open_model_run_counts_what_its_pool_could_not_serve(target_factory, tmp_path):
    """20 journeys/s for 10 s: 15/s are leads that take 400 ms, with 3 users for them, so they can
    start 7.5/s; about half wait past the 1 s allowed and are dropped, the rest start late. The
    fast webhooks (5/s, one user of their own) keep to the schedule."""
    from tests.helpers import only_run_dir, read_json, run_harness

    target = target_factory(
        {"latency": {"leads": {"dist": "constant", "ms": 400}}, "limits": {"leads": [], "webhook": []}}
    )
    scenario = tmp_path / "open.toml"
    scenario.write_text(OPEN_SCENARIO)
    result = run_harness(
        "run", str(scenario), "--host", target.url, "--workers", "1", "--out", str(tmp_path / "out"), timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = only_run_dir(tmp_path / "out")
    summary, run = read_json(run_dir / "summary.json"), read_json(run_dir / "run.json")
    figures = summary["open_model"]
    assert run["load_model"] == "open" and run["arrivals"]["pool"] == {"visitor": 3, "webhook": 1}
    leads, webhooks = figures["journeys"]["visitor"], figures["journeys"]["webhook"]
    assert 145 <= leads["due"] <= 150 and 48 <= webhooks["due"] <= 50  # less what fell after the stop
    for journey in (leads, webhooks):
        assert journey["started"] + journey["dropped"] == journey["due"]
    assert webhooks["dropped"] == 0 and webhooks["late"] <= 0.2 * webhooks["started"]
    assert 65 <= leads["started"] <= 85  # three users, 400 ms each: 7.5/s at most
    assert leads["dropped_waiting"] >= 55 and leads["late"] >= leads["started"] - 5
    assert figures["achieved_rate"] < 0.8 * figures["target_rate"]
    assert any("could not keep up" in note for note in summary["notes"])

    samples = pd.read_parquet(run_dir / "samples")
    rows = samples[samples["endpoint"] == "leads"]
    assert rows["intended_s"].notna().all()  # every request of an open-model journey knows its intended start
    # the counts and the samples agree: each lead started is one request (the ones in flight at the stop aside)
    assert len(rows) <= leads["started"] <= len(rows) + 3
    latency = figures["latency"]["leads"]
    assert 395 <= latency["p50_from_send_ms"] < 480  # what the server took
    assert latency["p50_from_intended_ms"] > 800  # what a client arriving on time saw: the queue too
    # reproducible from the samples on disk
    ok = rows[(rows["status"] == 201) | (rows["status"] == 200)]
    assert percentile(corrected_latency_ms(ok), 0.5) == pytest.approx(latency["p50_from_intended_ms"], abs=0.01)
    html = (run_dir / "report.html").read_text()
    assert 'id="open-model-latency"' in html and 'data-journey="visitor"' in html
    assert "open model: " in result.stderr  # the terminal table's line
