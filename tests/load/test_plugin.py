"""The plugin under plain Locust: `locust -f locustfiles/journeys.py` records a run folder by itself."""

from __future__ import annotations

import pytest

import subprocess
import sys
from pathlib import Path

import httpx

from harness.samples import read_samples
from tests.helpers import REPO, only_run_dir, read_json

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)


def test_plain_locust_against_a_running_target_writes_a_run_folder(target_factory, tmp_path: Path) -> None:
    target = target_factory()
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(REPO / "locustfiles" / "journeys.py"), "--headless",
         "--host", target.url, "-u", "6", "-r", "6", "-t", "6s"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
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
        [sys.executable, "-m", "locust", "-f", str(REPO / "locustfiles" / "journeys.py"), "--headless",
         "-u", "1", "-t", "2s"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "target.host: no host to test; pass --host URL" in result.stderr
    assert "Traceback" not in result.stderr
