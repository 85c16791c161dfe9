"""Requests in flight at the stop: awaited (bounded) and recorded, or counted as cut off; none vanish."""

from __future__ import annotations

from pathlib import Path

import gevent
import pytest

from harness.documents.run import AtTheStop
from harness.load.inflight import InFlight
from harness.samples import read_samples
from tests.helpers import only_run_dir, read_json, run_harness


def _request(flight: InFlight, route: str, seconds: float, done: list[str]) -> None:
    with flight.request(route):
        gevent.sleep(seconds)
        done.append(route)


def test_the_stop_awaits_what_answers_within_the_grace_and_counts_the_rest_as_cut_off() -> None:
    flight, done = InFlight(), []
    users = [gevent.spawn(_request, flight, "fast", 0.05, done) for _ in range(3)]
    users += [gevent.spawn(_request, flight, "slow", 30, done) for _ in range(2)]
    gevent.sleep(0.01)  # all five sent
    flight.drain(grace_s=0.5)
    late = gevent.spawn(_request, flight, "fast", 0.0, done)  # after the stop: never sent
    gevent.sleep(0.01)
    gevent.killall([*users, late])  # what Locust does to its users next
    facts = flight.facts()
    assert done == ["fast"] * 3
    assert facts["in_flight"] == 5 and facts["awaited"] == 3
    assert facts["cut_off"] == 2 and facts["cut_off_by_route"] == {"slow": 2}
    assert 0.5 <= float(str(facts["waited_s"])) < 5  # bounded by the grace, not the slow requests
    assert flight.count == 0


def test_the_workers_counts_add_up_and_a_silent_worker_is_named() -> None:
    one = {"grace_s": 5.0, "in_flight": 4, "awaited": 3, "cut_off": 1, "cut_off_by_route": {"chat": 1}, "waited_s": 5}
    two = {"grace_s": 5.0, "in_flight": 2, "awaited": 0, "cut_off": 2, "cut_off_by_route": {"chat": 1, "me": 1}}
    merged = AtTheStop.merged([one, two], ["w3"])
    assert (merged.in_flight, merged.awaited, merged.cut_off) == (6, 3, 3)
    assert merged.cut_off_by_route == {"chat": 2, "me": 1}
    assert merged.unreported == ["w3"]


SCENARIO = """
[scenario]
name = "stop"

[target]
host = ""
profile = "vulnerable"
seed = 3

[target.latency]
health = { dist = "constant", ms = 1500 }   # in flight at the stop, answers within the grace
leads = { dist = "constant", ms = 12000 }   # in flight at the stop, answers long after the grace

[accounts]
source = "demo"

[endpoints.health]
method = "GET"
path = "/health"
auth = false

[endpoints.leads]
method = "POST"
path = "/api/leads"
body = { tenant = "acme", name = "n", email = "a@b.example", message = "m" }
auth = false

[load]
users = 8
spawn_rate = 8
duration = "4s"

[journeys.pinger]
weight = 1
think_time = [0, 0]
steps = [{ route = "health" }]

[journeys.slow]
weight = 1
think_time = [0, 0]
steps = [{ route = "leads" }]
"""


@pytest.mark.e2e
def test_every_request_the_target_saw_is_a_sample_or_counted_as_cut_off(tmp_path: Path) -> None:
    """A real run, its users mid-request at the stop: the demo API's own count of each
    route equals the samples plus the cut-offs; the fast route's requests in flight are awaited.
    On a worker: its counts reach the master, and its journeys (the scenario's own, made when the
    plan arrives) exist before the master's first spawn message looks them up by name."""
    scenario = tmp_path / "stop.toml"
    scenario.write_text(SCENARIO)
    result = run_harness("run", str(scenario), "--workers", "1", "--out", str(tmp_path / "out"), timeout=120)
    run_dir = only_run_dir(tmp_path / "out")
    assert result.returncode == 1, result.stderr[-3000:]  # the p95 targets fail; the run itself is whole
    stop = read_json(run_dir / "run.json")["at_the_stop"]
    seen = read_json(run_dir / "target_stats.json")["requests"]
    samples = read_samples(run_dir)["endpoint"].value_counts().to_dict()
    for route in ("health", "leads"):
        assert seen[route] == samples.get(route, 0) + stop["cut_off_by_route"].get(route, 0), (route, seen, stop)
    assert seen["health"] >= 8 and stop["cut_off_by_route"].get("health", 0) == 0  # 4 users, 1.5 s each
    assert stop["cut_off_by_route"]["leads"] == seen["leads"] == 4  # each slow user's one request
    assert stop["in_flight"] == stop["awaited"] + stop["cut_off"] and stop["awaited"] >= 1  # health's, recorded
    assert stop["unreported"] == []
    # its worker loaded the model's vocabulary before it connected, so no user started late for it
    worker_log = (run_dir / "logs" / "worker-1.log").read_text()
    assert "tokenizer vocabulary loaded before connecting: o200k_base for gpt-4o-mini in " in worker_log
    summary = read_json(run_dir / "summary.json")
    assert summary["run"]["at_the_stop"]["cut_off"] == 4
    assert any(n.startswith("4 requests were cut off when the load stopped (leads 4)") for n in summary["notes"])
    line = f"{stop['in_flight']} in flight: {stop['awaited']} awaited, 4 cut off (leads 4)"
    assert f"requests at the stop: {line}" in result.stderr
    assert line in (run_dir / "report.html").read_text()
