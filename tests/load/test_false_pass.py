"""A broken chatbot must not pass: real `harness run`s (a Locust master and one worker) against the
demo API and tests/hostile_server.py, with no threshold of the scenario's own.

- a wrong `auth.token_field`: every login answers 200 without a token where the scenario says;
- an invalid auth header name: every authenticated call raises inside the task, sending nothing;
- every chat stream broken: only the default error-rate threshold can see it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.samples import read_samples
from tests.helpers import client_scenario, only_run_dir, read_json, run_harness, run_with_locustfile
from tests.hostile_server import HostileServer

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)

# Long enough for what each test counts: a few logins per user (backing off 1 s, then 2 s), dozens of
# task exceptions, streams from both users.
DURATION = "4s"
NO_TOKEN = 'login: no token at auth.token_field "data.token"'


def run_scenario(tmp_path: Path, text: str, *args: str) -> tuple[object, Path]:
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(text)
    result = run_harness("run", str(scenario), "--workers", "1", "--out", str(tmp_path / "out"), *args, timeout=150)
    return result, only_run_dir(tmp_path / "out")


def test_a_wrong_token_field_fails_with_failed_logins_and_the_journey_that_never_arrived(tmp_path: Path) -> None:
    text = client_scenario("wrong-token", DURATION).replace(
        "[accounts]", '[auth]\ntoken_field = "data.token"\n[accounts]'
    )
    result, run_dir = run_scenario(tmp_path, text)
    assert result.returncode == 1, result.stderr[-3000:]
    summary = read_json(run_dir / "summary.json")
    login = summary["endpoints"]["login"]
    assert login["legit_requests"] > 0 and login["error_counts"] == {NO_TOKEN: login["legit_requests"]}
    assert summary["endpoints"]["chat"]["requests"] == summary["endpoints"]["conversations"]["requests"] == 0
    journey = "journey client never called chat, conversations: every login failed (see endpoints.login errors)"
    assert "threshold failed: error_rate(login) < 1%" in summary["verdict_reasons"]
    assert journey in summary["verdict_reasons"]
    # each user backs off (1 s, 2 s, 4 s ...) instead of logging in again before every task: with no
    # think time, a few logins per user in a 4 s run, not hundreds
    users = read_json(run_dir / "run.json")["journeys"]["client"]["users"]
    assert users == 3 and login["legit_requests"] <= users * 5
    samples = read_samples(run_dir)
    assert (samples["endpoint"] == "login").all() and (samples["status"] == 200).all()
    # the verdict is the files' own: recomputed from disk, it is the same
    again = run_harness("report", str(run_dir), timeout=120)
    assert again.returncode == 1, again.stderr[-3000:]
    assert read_json(run_dir / "summary.json")["verdict_reasons"] == summary["verdict_reasons"]
    cases = {
        c.get("name")
        for c in ET.parse(run_dir / "junit.xml").getroot().iter("testcase")
        if c.find("failure") is not None
    }
    assert journey in cases


RAISING_LOCUSTFILE = """
from harness.load.client import ApiClient
from locustfiles.journeys import *  # noqa: F401,F403  (the harness's journeys and its plugin)

_call = ApiClient.call


def _raising(self, endpoint, *args, **kwargs):  # what an invalid header name does inside geventhttpclient
    if getattr(endpoint, "name", endpoint) != "login":  # a route's name, or the route itself
        raise ValueError("invalid header field name 'X Token'")
    return _call(self, endpoint, *args, **kwargs)


ApiClient.call = _raising
"""


def test_a_task_that_raises_on_every_call_fails_the_run(tmp_path: Path) -> None:
    # every authenticated call raises ValueError inside the task (validate now refuses the header name
    # that did this for real, so a locustfile of the test's own raises it)
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(client_scenario("bad-header", DURATION))
    locustfile = tmp_path / "raising.py"
    locustfile.write_text(RAISING_LOCUSTFILE)
    result = run_with_locustfile(scenario, locustfile, tmp_path / "out", duration_s=4, workers=1)
    run_dir = only_run_dir(tmp_path / "out")
    assert result.returncode == 1, result.stderr[-3000:]
    summary = read_json(run_dir / "summary.json")
    errors = summary["task_errors"]
    assert errors and all(e["exception"] == "ValueError" and e["count"] > 0 for e in errors)
    assert {e["message"] for e in errors} == {"invalid header field name 'X Token'"}
    assert {e["in"] for e in errors} <= {"CoachingClient.chat", "CoachingClient.browse", "CoachingClient.account"}
    total = sum(e["count"] for e in errors)
    assert total > 10 and all(e["nodes"] for e in errors)  # sent by the worker, counted by the master
    top = errors[0]
    reason = f"{top['count']:,} task exceptions: ValueError: invalid header field name 'X Token' (in {top['in']})"
    assert reason in summary["verdict_reasons"]
    assert (
        "journey client never called chat, conversations: its users raised exceptions (see task_errors)"
        in summary["verdict_reasons"]
    )
    assert summary["endpoints"]["login"]["errors"] == 0  # the login (no auth header) worked
    # every output shows them
    assert f"task exceptions: {top['count']:,} × ValueError" in result.stderr
    assert 'id="task-errors"' in (run_dir / "report.html").read_text()
    assert "### Task exceptions" in (run_dir / "summary.md").read_text()
    cases = [c.get("name") for c in ET.parse(run_dir / "junit.xml").getroot().iter("testcase")]
    assert reason in cases


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    server = HostileServer().start()
    yield server
    server.stop()


BROKEN_CHAT = f"""
[scenario]
name = "broken-chat"

[accounts]
source = "inline"
inline = [{{ email = "ana@example.test", password = "pw-ana" }}]

[endpoints.login]
method = "POST"
path = "/login"
body = {{ email = "{{email}}", password = "{{password}}" }}
auth = false

[endpoints.conversations]
path = "/conversations/login"

[endpoints.chat]
method = "POST"
path = "/rotate/sse-cut+sse-no-done"
body = {{ model = "gpt-4o-mini", messages = "{{messages}}", stream = true }}
stream = "sse-openai"

[targets]
p95_ms = 5000  # two users log in twice at most: one login stalled by a busy machine is not the point here

[load]
users = 2
spawn_rate = 2
duration = "{DURATION}"

[journeys.client]
weight = 1
think_time = [0.2, 0.4]
chat_turns = [1, 1]
reset_probability = 0

[abort]
error_rate = 1
"""


def test_a_chatbot_whose_every_stream_breaks_fails_the_default_error_rate(
    hostile: HostileServer, tmp_path: Path
) -> None:
    result, run_dir = run_scenario(tmp_path, BROKEN_CHAT, "--host", hostile.url)
    assert result.returncode == 1, result.stderr[-3000:]
    summary = read_json(run_dir / "summary.json")
    chat = summary["endpoints"]["chat"]
    assert chat["legit_requests"] > 0 and chat["legit_errors"] == chat["legit_requests"]
    assert set(chat["error_counts"]) <= {"stream: cut mid-event", "stream: ended without [DONE]"}
    # the only failure: login and conversations are fine, and chat has no latency target
    assert summary["verdict_reasons"] == ["threshold failed: error_rate(chat) < 1%"]
    (row,) = [t for t in summary["thresholds"] if t["endpoint"] == "chat"]
    assert (row["origin"], row["observed"], row["samples"]) == ("default", 1.0, chat["legit_requests"])
