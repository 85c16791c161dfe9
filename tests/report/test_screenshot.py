"""report.html in a real headless Chromium: the DOM holds the figures, the page loads without a
single console error or failed resource, and `--screenshot` writes a sane report.png."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.report.build import build_report
from harness.report.screenshot import MISSING_BROWSER, dump_dom, find_browser, page_problems, screenshot
from harness.samples import PartWriter
from tests.helpers import run_cli, run_harness

pytestmark = pytest.mark.e2e  # every test here starts Chromium or the harness (see tests/conftest.py)

T0 = 1_796_000_000.0
needs_chromium = pytest.mark.skipif(find_browser() is None, reason="chromium not found (apt-get install chromium)")


def small_run(tmp_path: Path) -> Path:
    """400 samples over 20 s: login (p95 over its 500 ms target), me (fast), a few 429s and errors."""
    run_dir = tmp_path / "20261130-190000-smoke"
    rng = np.random.default_rng(4)
    n = 400
    endpoint = np.array(["login", "me"])[np.arange(n) % 2]
    status = np.where(np.arange(n) % 40 == 3, 429, np.where(np.arange(n) % 67 == 5, 503, 200))
    PartWriter(run_dir / "samples").write(
        {
            "start_s": (T0 + np.linspace(0, 19.9, n)).tolist(),
            "endpoint": endpoint.tolist(),
            "method": ["POST"] * n,
            "status": status.tolist(),
            "latency_ms": np.where(endpoint == "login", rng.uniform(300, 700, n), rng.uniform(20, 80, n)).tolist(),
            "blocked": (status == 429).tolist(),
            "error": np.where(status == 503, "HTTPStatusError: 503", "").tolist(),
        }
    )
    (run_dir / "run.json").write_text(
        json.dumps(
            {
                "id": run_dir.name,
                "scenario": "smoke",
                "host": "http://127.0.0.1:8123",
                "started_at": T0,
                "ended_at": T0 + 20,
                "workers": 2,
                "aborted": False,
                "targets": {"login": 500, "me": 500},
                "locust_version": "2.47.0",
                "harness_version": "0.1.0",
            }
        )
    )
    return run_dir


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The small run with its report built once, for the tests that only open report.html in Chromium."""
    run_dir = small_run(tmp_path_factory.mktemp("reported"))
    return run_dir, build_report(run_dir).to_dict()


@pytest.mark.e2e
@needs_chromium
def test_dom_holds_the_verdict_the_p95_and_the_thresholds_without_console_errors(reported):
    run_dir, summary = reported
    dom, log = dump_dom(run_dir)
    assert summary["verdict"] == "fail"
    assert 'id="verdict" class="verdict fail" data-verdict="fail"' in dom
    assert '<div class="badge">FAIL</div>' in dom
    p95 = summary["endpoints"]["login"]["p95_ms"]
    # over its target, and in italics: fewer than the 200 samples a steady p95 needs
    assert f'<td class="p95 over few" data-endpoint="login" data-value="{p95}">{p95:,.1f}</td>' in dom
    assert 'id="thresholds-table"' in dom and "p95(login) &lt; 500ms" in dom
    assert 'class="p95-ci" data-endpoint="login"' in dom
    for element in ("plot-latency", "plot-distribution", "plot-status-codes"):
        assert f'id="{element}"' in dom
    # Chromium's own log of the page: console messages, uncaught errors, failed resources
    page_lines = [
        line
        for line in log.splitlines()
        if ":CONSOLE" in line or "Uncaught" in line or "Failed to load resource" in line
    ]
    assert page_lines == []


@pytest.mark.e2e
@needs_chromium
def test_page_loads_clean_and_the_check_catches_a_broken_page(reported, tmp_path):
    run_dir, _ = reported
    assert page_problems(run_dir) == []
    # the same check on a page that is broken in three ways finds all three
    broken = tmp_path / "broken.html"
    broken.write_text(
        '<!doctype html><html><body><img src="missing.png">'
        '<img src="data:image/png;base64,AAAA"><script>console.error("boom"); nope();</script>'
        "</body></html>"
    )
    problems = page_problems(broken)
    assert "2 image(s) did not load or decode" in problems
    assert "console error: boom" in problems
    assert any(p.startswith("uncaught exception: ReferenceError: nope is not defined") for p in problems)
    assert any(p.startswith("failed to load: net::ERR_FILE_NOT_FOUND") for p in problems)


@pytest.mark.e2e
@needs_chromium
def test_screenshot_writes_a_whole_page_png(reported):
    run_dir, _ = reported
    path = screenshot(run_dir)
    assert path == run_dir / "report.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert width == 1280
        assert 2_000 < height < 16_000  # the whole page, the blank rest of the window cropped
        pixels = np.asarray(image.convert("RGB"))
    # the FAIL banner (#b3261e) is near the top, and the page is not blank
    top = pixels[:300].reshape(-1, 3).astype(int)
    assert (np.abs(top - [0xB3, 0x26, 0x1E]).sum(axis=1) < 30).mean() > 0.1
    assert (pixels < 240).any(axis=-1).mean() > 0.05


@pytest.mark.e2e
@needs_chromium
def test_harness_report_screenshot_command(tmp_path):
    run_dir = small_run(tmp_path)
    done = run_harness("report", str(run_dir), "--screenshot")
    assert done.returncode == 1, done.stderr  # the run's own verdict: login missed its target
    assert f"screenshot: {run_dir / 'report.png'}" in done.stdout
    assert (run_dir / "report.png").stat().st_size > 50_000


def test_missing_chromium_is_one_line_and_exit_2(tmp_path, monkeypatch):
    run_dir = small_run(tmp_path)
    monkeypatch.setenv("HARNESS_CHROMIUM", str(tmp_path / "no-such-browser"))
    done = run_cli("report", str(run_dir), "--screenshot")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"harness: {MISSING_BROWSER}"]
    assert not (run_dir / "report.html").exists()  # checked before any work
