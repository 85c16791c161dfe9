"""The plugin under plain Locust: `locust -f locustfiles/journeys.py` records a run folder by itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from harness.samples import read_samples
from tests.helpers import REPO, only_run_dir, read_json

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)


def test_plain_locust_against_a_running_target_writes_a_run_folder(target_factory, tmp_path: Path) -> None:
    target = target_factory()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(REPO / "locustfiles" / "journeys.py"),
            "--headless",
            "--host",
            target.url,
            "-u",
            "6",
            "-r",
            "6",
            "-t",
            "6s",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "reports")
    assert run_dir.name.endswith("-smoke")  # the default scenario
    meta = read_json(run_dir / "run.json")
    samples = read_samples(run_dir)
    assert meta["locust_totals"]["requests"] == len(samples) > 10
    assert meta["aborted"] is False
    summary = read_json(run_dir / "summary.json")
    assert summary["totals"]["requests"] == len(samples)
    assert {"login", "chat"} <= {n for n, ep in summary["endpoints"].items() if ep["requests"]}
    # the one process timed its own event loop, its series named as its samples are
    assert list(meta["loop_monitor"]) == ["local"] and summary["generator"]["measured"] is True
    assert summary["generator"]["workers"]["local"]["samples"] == len(samples)
    assert (run_dir / "report.html").read_text().count("data:image/png;base64,") >= 2
    assert "verdict" in result.stderr  # the summary table
    # no password or webhook secret the harness was handed appears in any file of the run folder
    demo = httpx.get(target.url + "/__demo__/accounts").json()
    secrets = [a["password"] for a in demo["accounts"]] + [demo["webhook_secret"]]
    for path in run_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [s for s in secrets if s.encode() in data], path


def test_plain_locust_without_a_host_is_a_one_line_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(REPO / "locustfiles" / "journeys.py"),
            "--headless",
            "-u",
            "1",
            "-t",
            "2s",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "target.host: no host to test; pass --host URL" in result.stderr
    assert "Traceback" not in result.stderr


OPEN_MODEL = """
[scenario]
name = "open-plain"
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
arrival_rate = 6
duration = "5s"
[journeys.visitor]
weight = 2
[journeys.webhook]
weight = 1
"""


def test_plain_locust_serves_an_open_model_schedule(target_factory, tmp_path: Path) -> None:
    """Plain Locust runs a LocalRunner, which has no workers: its one process takes the whole arrival
    schedule (the load shape used to ask it for the master's worker list and crash, and a slot named
    "local" matched no process, so no arrival started)."""
    target = target_factory()
    scenario = tmp_path / "open.toml"
    scenario.write_text(OPEN_MODEL)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(REPO / "locustfiles" / "journeys.py"),
            "--headless",
            "--host",
            target.url,
            "--scenario",
            str(scenario),
            "-t",
            "8s",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    run_dir = only_run_dir(tmp_path / "reports")
    figures = read_json(run_dir / "summary.json")["open_model"]
    assert figures["workers"] == 1 and figures["due"] >= 20  # 6/s for 5 s, less what fell after the stop
    assert figures["started"] + figures["dropped"] == figures["due"]
    assert figures["started"] >= 0.9 * figures["due"]  # a light load: the pool keeps up
    samples = read_samples(run_dir)
    served = samples[samples["endpoint"].isin(["leads", "webhook"])]
    assert len(served) >= figures["started"] - 3  # each journey sends one request (a few in flight at the stop)
