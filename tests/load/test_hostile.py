"""A hostile target: every misbehaviour becomes a sample with a clear reason, and the run still ends on time.

One real `harness run` (a Locust master and one worker) against tests/hostile_server.py, whose routes
send garbage, broken JSON, HTML, 20 MB bodies, cut streams, nothing at all, resets and a slow drip.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.samples import read_samples
from tests.helpers import only_run_dir, read_json, run_harness
from tests.hostile_server import BIG_BYTES, HostileServer

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)

PLANNED_S = 12
MAX_BODY = 1024 * 1024  # [http] max_body_bytes = "1 MiB": far below the 20 MB routes

SCENARIO = f"""
thresholds = ["error_rate(*) < 1%"]

[scenario]
name = "hostile"

[accounts]
source = "inline"
inline = [{{ email = "ana@example.test", password = "pw-ana" }}, {{ email = "ben@example.test", password = "pw-ben" }}]

[endpoints.login]
method = "POST"
path = "/login"
body = {{ email = "{{email}}", password = "{{password}}" }}
auth = false

[endpoints.conversations]
path = "/rotate/bad-json+json-html+garbage"

[endpoints.chat]
method = "POST"
path = "/rotate/sse-cut+sse-no-done+sse-html+sse-big+sse-drip"
body = {{ model = "gpt-4o-mini", messages = "{{messages}}", stream = true }}
stream = "sse-openai"

[endpoints.me]
path = "/rotate/big+hang"

[endpoints.reset_request]
method = "POST"
path = "/rotate/reset-before+reset-after-status"
body = {{ email = "{{email}}" }}
auth = false

[endpoints.webhook]
method = "POST"
path = "/drip"
auth = false

[load]
users = 8
spawn_rate = 8
duration = "{PLANNED_S}s"

[journeys.client]
weight = 6
think_time = [0, 0.1]
chat_turns = [1, 1]
reset_probability = 1

[journeys.webhook]
weight = 2
think_time = [0, 0.1]

[abort]
error_rate = 1        # the circuit breaker would stop this run: every route fails on purpose

[http]
timeout = "2s"
connect_timeout = "2s"
max_body_bytes = "1 MiB"
"""

# endpoint -> the reasons its misbehaving routes must produce (each route is hit in turn)
EXPECTED = {
    "conversations": {"bad response: invalid JSON", "bad response: text/html, expected JSON", "bad response: not HTTP"},
    "chat": {
        "stream: cut mid-event",
        "stream: ended without [DONE]",
        "bad response: text/html, expected text/event-stream",
        "stream: body over 1 MiB: cut",
        "stream: timeout: response not complete within 2 s",
    },
    "me": {"body over 1 MiB: cut", "timeout: no response within 2 s"},
    "reset_request": {"connection: reset by peer"},
    "webhook": {"timeout: response not complete within 2 s"},
}


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    server = HostileServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hostile_run(hostile: HostileServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("hostile")
    scenario = tmp / "hostile.toml"
    scenario.write_text(SCENARIO)
    result = run_harness(
        "run", str(scenario), "--host", hostile.url, "--workers", "1", "--out", str(tmp / "out"), timeout=PLANNED_S + 90
    )
    return {"result": result, "run_dir": only_run_dir(tmp / "out"), "server": hostile}


def test_every_misbehaviour_is_an_error_with_its_reason(hostile_run: dict[str, Any]) -> None:
    result, run_dir = hostile_run["result"], hostile_run["run_dir"]
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    for log in (run_dir / "logs").iterdir():  # nothing blew up inside the master or the worker either
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
    summary = read_json(run_dir / "summary.json")
    assert summary["verdict"] == "fail"
    assert summary["run"]["aborted"] is False
    endpoints = summary["endpoints"]
    for name, reasons in EXPECTED.items():
        figures = endpoints[name]
        assert figures["requests"] > 0 and figures["errors"] == figures["requests"], (name, figures)
        assert set(figures["error_counts"]) == reasons, (name, figures["error_counts"])
    assert endpoints["login"]["errors"] == 0  # the one well-behaved route stays well-behaved

    samples = read_samples(run_dir)
    hostile = samples[samples["endpoint"] != "login"]
    assert (hostile["error"] != "").all()
    assert not hostile["error"].str.contains("Traceback|Error\\(|Exception", regex=True).any()
    # every request ended, one way or another, within the deadline (plus scheduling slack)
    assert samples["latency_ms"].max() < 2000 + 1500, samples.sort_values("latency_ms").tail(3)


def test_every_hostile_route_was_met(hostile_run: dict[str, Any]) -> None:
    server: HostileServer = hostile_run["server"]
    assert set(server.routes) <= {r for r, n in server.hits.items() if n > 0}, server.hits


def test_the_run_ends_on_time(hostile_run: dict[str, Any]) -> None:
    run_dir = hostile_run["run_dir"]
    meta = read_json(run_dir / "run.json")
    assert meta["ended_at"] - meta["started_at"] < PLANNED_S + 8  # users stopped mid-hang, mid-drip
    # and then the harness went on to the report at once: no process of the run waited out a hung
    # connection (a worker that must be killed takes 15 s: 5 to leave by itself, 10 after a SIGTERM).
    # Measured from the run's own end, not from the command's start: starting the processes takes a
    # busy machine several seconds more, which says nothing about the hostile target.
    reported = (run_dir / "summary.json").stat().st_mtime - meta["ended_at"]
    assert reported < 10, reported


def test_big_bodies_are_never_held_whole(hostile_run: dict[str, Any]) -> None:
    samples = read_samples(hostile_run["run_dir"])
    assert samples["response_bytes"].max() <= MAX_BODY
    big = samples[samples["error"].str.contains("body over")]
    assert len(big) >= 2
    # the harness stopped reading and closed: the server could not write the 20 MB
    server: HostileServer = hostile_run["server"]
    assert server.big_sent and all(not done and sent < BIG_BYTES for sent, done in server.big_sent), server.big_sent
