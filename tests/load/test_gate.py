"""Checks made while a run goes: an abort-on-fail threshold ends it early (exit 1), the circuit breaker
ends it when the target fails (exit 3). Real `harness run`s against demo APIs on free loopback ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.load.gate import breaker_reason
from harness.scenario import Breaker
from tests.helpers import client_scenario, only_run_dir, read_json, run_harness


@pytest.mark.e2e
def test_an_abort_on_fail_threshold_stops_the_run_early_with_exit_1(target_factory, tmp_path: Path) -> None:
    target = target_factory(
        {
            "latency": {"conversations": {"dist": "constant", "ms": 120}},
            "ttft": 1,
            "token_delay": 0,
            "output_tokens": [1, 2],
        }
    )
    scenario = tmp_path / "abort.toml"
    scenario.write_text(
        'thresholds = [{ expr = "p95(conversations) < 50ms", abort = true, grace = "3s" }]\n'
        + client_scenario("abort", "60s")
    )
    result = run_harness("run", str(scenario), "--host", target.url, "--workers", "1", "--out", str(tmp_path / "out"))
    assert result.returncode == 1, result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "out")
    summary = read_json(run_dir / "summary.json")
    assert summary["run"]["duration_s"] < 30  # planned 60 s: stopped at the first check after the grace
    stopped = read_json(run_dir / "run.json")["stopped_early"]
    assert "p95(conversations) < 50ms" in stopped["reason"] and stopped["at_s"] >= 3
    assert any(r.startswith("stopped early") for r in summary["verdict_reasons"])
    row = next(t for t in summary["thresholds"] if t["expr"] == "p95(conversations) < 50ms")
    assert row["passed"] is False and row["observed"] >= 120 and row["abort"] is True
    assert (run_dir / "report.html").exists() and (run_dir / "junit.xml").exists()
    assert summary["run"]["aborted"] is False  # a failed gate, not a broken run: exit 1, not 3


@pytest.mark.e2e
def test_the_circuit_breaker_stops_a_failing_target_with_exit_3(target_factory, tmp_path: Path) -> None:
    target = target_factory()
    scenario = tmp_path / "breaker.toml"
    text = client_scenario("breaker", "60s").replace(
        'path = "/api/conversations"\n', 'path = "/api/no-such-route"\n'
    )  # every browse is a 404
    scenario.write_text(text + '[abort]\nerror_rate = 0.2\nwindow = "5s"\nmin_requests = 20\n')
    result = run_harness("run", str(scenario), "--host", target.url, "--workers", "1", "--out", str(tmp_path / "out"))
    assert result.returncode == 3, result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "out")
    meta = read_json(run_dir / "run.json")
    assert meta["aborted"] is True and meta["abort_reason"].startswith("circuit breaker")
    summary = read_json(run_dir / "summary.json")
    assert summary["run"]["duration_s"] < 30 and summary["endpoints"]["conversations"]["errors"] > 0
    assert (run_dir / "report.html").exists()


def test_breaker_reason() -> None:
    breaker = Breaker(error_rate=0.5, window_s=10.0, min_requests=50)
    assert breaker_reason(breaker, failed=49, total=49) is None  # too few requests to judge
    assert breaker_reason(breaker, failed=25, total=50) is None  # at the limit is not past it
    reason = breaker_reason(breaker, failed=26, total=50)
    assert reason == "circuit breaker: 52 % of the 50 requests in the last 10 s failed (limit 50 %)"
    assert breaker_reason(Breaker(error_rate=1.0), failed=100, total=100) is None  # 1 = off
