"""`harness run --web`: while the run goes, a browser finds the harness panel with live figures and
Locust's own web UI with its Harness tab; then the run ends by itself as a headless one does.
(The panel's figures from a summary, and its escaping: tests/report/test_live.py.)"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.report.screenshot import chromium_args, find_browser
from harness.samples import read_samples
from tests.commands.test_run import judged_on_latency_alone
from tests.helpers import REPO, finish, only_run_dir, read_json

pytestmark = [
    pytest.mark.e2e,  # starts the harness, its Locust processes and Chromium (see tests/conftest.py)
    pytest.mark.skipif(find_browser() is None, reason="chromium not found (apt-get install chromium)"),
]

LIVE_LINE = re.compile(r"harness: live view at (http://127\.0\.0\.1:\d+/) \(harness panel: (\S+)\)")


def _live_url(stderr: Path, harness: subprocess.Popen[str], timeout: float = 60) -> str:
    """The live view's address, from the line `harness run --web` prints at its start."""
    deadline = time.time() + timeout
    while time.time() < deadline and harness.poll() is None:
        found = LIVE_LINE.search(stderr.read_text(errors="replace"))
        if found:
            assert found.group(2) == found.group(1) + "harness"
            return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no live view line: {stderr.read_text(errors='replace')[-2000:]}")


def _live_figures(
    url: str, harness: subprocess.Popen[str], timeout: float = 60, route: str | None = None
) -> dict[str, Any]:
    """/harness/live.json once it has figures of requests answered (of `route`, if named): a few
    seconds into the run, more on a loaded machine, where the first chat turns come late."""
    deadline = time.time() + timeout
    while time.time() < deadline and harness.poll() is None:
        try:
            live = httpx.get(url + "harness/live.json", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            live = {}
        if any(r["requests"] and r["p95_ms"] and route in (None, r["route"]) for r in live.get("routes", ())):
            return live
        time.sleep(0.5)
    raise AssertionError("the panel never showed figures while the run went")


def _dom(url: str, *extra: str) -> str:
    """The page's DOM after headless Chromium loaded it (and ran its scripts)."""
    with tempfile.TemporaryDirectory(prefix="harness-chromium-") as profile:
        args = chromium_args(Path(profile), "--window-size=1280,900", *extra, "--dump-dom", url)
        done = subprocess.run(args, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and done.stdout.strip(), done.stderr[-1500:]
    return done.stdout


def _start(out: Path, stderr: Path, *args: str) -> subprocess.Popen[str]:
    """`harness run smoke --web ARGS` against the embedded demo API, its stderr to a file read as it goes."""
    with stderr.open("w") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "harness", "run", "smoke", "--web", *args, "--out", str(out)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
            stdin=subprocess.DEVNULL,
        )


def test_the_panel_shows_live_figures_while_the_run_goes_and_the_run_ends_as_headless(tmp_path: Path) -> None:
    out, stderr = tmp_path / "out", tmp_path / "stderr.txt"
    harness = _start(out, stderr, "--workers", "1", "--duration", "20s")
    try:
        url = _live_url(stderr, harness)
        live = _live_figures(url, harness, route="chat")
        assert live["state"] in ("spawning", "running") and live["requests"] > 0

        # the panel, as a browser shows it while the run goes: every route with its exact p95
        panel = _dom(url + "harness")
        rows = {
            unescape(name): (int(requests), float(p95) if p95 else None)
            for name, requests, p95 in re.findall(
                r'<tr data-route="([^"]+)" data-requests="(\d+)" data-p95-ms="([^"]*)">', panel
            )
        }
        assert {"login", "chat", "conversations"} <= set(rows), panel[-3000:]
        assert rows["chat"][0] > 0 and rows["chat"][1] is not None and rows["chat"][1] > 0
        assert sum(requests for requests, _ in rows.values()) > 0
        assert re.search(r'<dd data-fact="state">(spawning|running)</dd>', panel)
        assert re.search(r'<dd data-fact="spend so far">\$[0-9.]+</dd>', panel)  # chat turns cost money
        assert 'id="no-capacity"' in panel  # smoke has no capacity search
        ttft = re.search(r'<tr data-route="chat".*?<td class="ttft">([^<]+)</td>', panel)
        assert ttft and re.fullmatch(r"[0-9,.]+ / [0-9,.]+", ttft.group(1)), panel[-3000:]

        # Locust's own web UI answers, with the Harness tab among its own and the same routes in it
        stats = httpx.get(url + "stats/requests", timeout=5).json()
        tab = next(e for e in stats["extended_stats"] if e["key"] == "harness")
        assert {"login", "chat"} <= {row["route"] for row in tab["data"]}
        locust = _dom(url + "?tab=harness", "--virtual-time-budget=4000")
        assert ">Harness<" in locust and re.search(r"<td[^>]*>chat</td>", locust), locust[-3000:]
    finally:
        finish(harness, timeout=120)
    stderr_text = stderr.read_text(errors="replace")

    # the run ended by itself at its planned time, as a headless run does: same folder, report, exit code
    assert "Traceback" not in stderr_text
    run_dir = only_run_dir(out)
    meta, summary = read_json(run_dir / "run.json"), read_json(run_dir / "summary.json")
    assert meta["aborted"] is False and meta["abort_reason"] is None
    assert meta["planned_duration_s"] == 20 and meta["ended_at"] > meta["started_at"]
    samples = read_samples(run_dir)
    assert meta["locust_totals"]["requests"] == len(samples) == summary["totals"]["requests"] > 0
    assert (run_dir / "report.html").exists() and f"report: {run_dir / 'report.html'}" in stderr_text
    failed = judged_on_latency_alone(summary)
    assert harness.returncode == (1 if failed else 0), stderr_text[-3000:]


def test_stop_in_locusts_ui_ends_the_run_as_ctrl_c_does(tmp_path: Path) -> None:
    """Locust's Stop button: every sample collected, the report written, exit 3 (a run cut short); its
    Reset stats is refused, since run.json keeps Locust's counts beside the samples. One process (no workers)."""
    out, stderr = tmp_path / "out", tmp_path / "stderr.txt"
    harness = _start(out, stderr, "--workers", "0", "--duration", "60s")
    try:
        url = _live_url(stderr, harness)
        _live_figures(url, harness)
        reset = httpx.post(url + "stats/reset", timeout=5)
        assert reset.status_code == 409 and "reset is off" in reset.text
        stop = httpx.post(url + "stop", timeout=5).json()
        assert stop["success"] is True
    finally:
        finish(harness, timeout=120)
    stderr_text = stderr.read_text(errors="replace")
    assert harness.returncode == 3, stderr_text[-3000:]
    run_dir = only_run_dir(out)
    meta = read_json(run_dir / "run.json")
    assert meta["aborted"] is True and meta["abort_reason"] == "stopped from Locust's web UI"
    assert meta["locust_totals"]["requests"] == len(read_samples(run_dir)) > 0  # nothing reset, nothing lost
    assert (run_dir / "report.html").exists() and "Traceback" not in stderr_text
