"""Must show (issue 15): the capacity search on servers of known capacity. N slots of a fixed service time
S serve N/S requests per second: the capacity found is within 10 % of it, the curve shows the knee,
and the search never offers more than its first failure. A server whose TTFT degrades with load:
the TTFT criterion is the one that fails. One Locust process each, short steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import only_run_dir, read_json, run_harness
from tests.load.capacity_server import SlotServer, StreamServer

pytestmark = pytest.mark.e2e  # starts the harness (processes)

SCENARIO = """
[scenario]
name = "capacity"

[target]
host = "{host}"

[accounts]
source = "inline"
inline = [{{ email = "load@example.test", password = "unused-1" }}]

[auth]
style = "none"

[endpoints.work]
method = "{method}"
path = "{path}"
auth = false
{extra}

[journeys.work]
weight = 1
think_time = [0, 0]
steps = [{{ route = "work" }}]

[search]
settle = "1s"
hold = "2s"
max_hold = "4s"
{search}
"""


def search(tmp_path: Path, host: str, *, method: str, path: str, extra: str, settings: str) -> tuple[dict, str]:
    scenario = tmp_path / "capacity.toml"
    scenario.write_text(SCENARIO.format(host=host, method=method, path=path, extra=extra, search=settings))
    out = tmp_path / "out"
    result = run_harness("run", str(scenario), "--find-capacity", "--workers", "0", "--out", str(out), timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return read_json(only_run_dir(out) / "summary.json")["capacity"], result.stderr


def test_the_capacity_of_n_slots_of_service_time_s_is_found_within_10_percent(tmp_path: Path) -> None:
    # 80 requests per second (the server keeps its slots by the clock: a busy machine does not lower it);
    # a p95 limit of 3 x S leaves room for a busy machine's noise, and a queue
    # 10 % over capacity adds more than that within a step. Steps of x1.2 from 61/s: 73.2 (92 % busy)
    # passes and 87.8 fails on any machine, and the one bisection step, 80.2, may go either way on a
    # loaded one: the answer is 73.2 or 80.2, both within 10 %. On a machine busy with the parallel suite a
    # step far below the knee can still miss its p95 by a few ms (61/s: 325 ms, once: the server's threads
    # and the generator's loop woke late), so a search that lands outside is run once more
    slots, service_s = 8, 0.1
    truth = slots / service_s
    for attempt in (1, 2):
        server = SlotServer(slots, service_s).start()
        try:
            folder = tmp_path / f"search-{attempt}"
            folder.mkdir()
            capacity, stderr = search(
                folder, server.url, method="GET", path="/work", extra="",
                settings="start_rate = 61\ngrowth = 1.2\nmax_rate = 400\nresolution = 0.1\np95_ms = 300",
            )  # fmt: skip
        finally:
            server.stop()
        if 0.9 * truth <= capacity["capacity_rps"] <= 1.1 * truth:
            break
    assert 0.9 * truth <= capacity["capacity_rps"] <= 1.1 * truth, capacity
    steps = sorted(capacity["steps"], key=lambda s: s["rate"])
    first_failure = capacity["first_failure_rps"]
    assert first_failure is not None and capacity["capacity_rps"] < first_failure <= 2.2 * truth
    assert any(f.startswith("p95 of work") for f in capacity["first_failure"])
    # the knee: every step below the capacity was served in about S, the first failure far slower
    below = [s for s in steps if s["rate"] <= capacity["capacity_rps"]]
    assert all(s["passed"] and s["p50_ms"] < 3 * service_s * 1000 for s in below)
    failed = next(s for s in steps if s["rate"] == first_failure)
    assert failed["p95_ms"] > 300 and not failed["passed"]
    # stops soon after the knee: nothing offered above the first step that failed, a bounded number of steps
    first_in_time = next(s for s in capacity["steps"] if not s["passed"])
    assert max(s["rate"] for s in steps) == first_in_time["rate"] <= 2.2 * truth and len(steps) <= 9
    # Little's law beside the measured concurrency, below the knee (N slots at most in service)
    calm = below[-1]
    assert calm["in_flight"] == pytest.approx(calm["in_flight_little"], rel=0.25)
    assert f"capacity: {capacity['capacity_rps']:.1f}" in stderr or "capacity: " in stderr


def test_a_ttft_that_degrades_with_load_fails_the_ttft_criterion(tmp_path: Path) -> None:
    server = StreamServer(first_token_s=0.02, per_stream_s=0.01)  # TTFT 20 ms + 10 ms per open stream
    server.start()
    try:
        capacity, _ = search(
            tmp_path, server.url, method="POST", path="/chat",
            extra='body = { messages = "{messages}", stream = true }\nstream = "sse-openai"\nkind = "chat"',
            settings="start_rate = 24\nmax_rate = 200\nresolution = 0.25\np95_ms = 10000\nttft_p95_ms = 150",
        )  # fmt: skip
    finally:
        server.stop()
    assert capacity["first_failure"], capacity
    assert all(f.startswith("TTFT p95") for f in capacity["first_failure"]), capacity["first_failure"]
    assert capacity["capacity_rps"] is not None and capacity["capacity_rps"] < capacity["first_failure_rps"]
    failed = next(s for s in capacity["steps"] if s["rate"] == capacity["first_failure_rps"])
    assert failed["ttft_p95_ms"] > 150 and failed["p95_ms"] < 10000
    assert capacity["spend_usd"] > 0  # the search's own LLM bill, priced as the report prices it
