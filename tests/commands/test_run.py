"""`harness run` end to end: real demo API, real Locust master and worker processes, real files.

Each run is short (about 10 s of load) and bounded by --duration; the harness stops every process
it started, and these tests stop every target they started.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.samples import read_samples
from tests.helpers import REPO, client_scenario, only_run_dir, read_json, run_harness, start_run, wait_for_progress

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)

JOURNEY_ENDPOINTS = {"login", "conversations", "conversation", "chat", "webhook", "leads"}


def judged_on_latency_alone(summary: dict) -> list[dict]:
    """The failed thresholds, checked to be p95 targets that the run's own figures missed and to be the
    verdict's only reasons. A p95 target is a wall-clock figure of the machine: on two cores that the
    whole suite shares, a stalled second puts a p95 of a dozen logins over 500 ms (seen: 2.5 s), so
    whether smoke meets its targets is not what these tests can assert; that the verdict says so is."""
    failed = [t for t in summary["thresholds"] if t["passed"] is False]
    assert all(t["metric"] == "p95" and t["observed"] >= t["limit"] for t in failed), failed
    assert sorted(summary["verdict_reasons"]) == sorted(f"threshold failed: {t['expr']}" for t in failed)
    assert summary["verdict"] == ("fail" if failed else "pass")
    return failed


@pytest.fixture
def embedded_run(smoke_run: tuple) -> tuple[object, Path]:
    """The session's smoke run (tests/conftest.py), whose documents tests/documents/test_schemas.py validates."""
    return smoke_run


def test_smoke_run_with_two_workers_records_every_request(embedded_run: tuple) -> None:
    result, run_dir = embedded_run
    meta = read_json(run_dir / "run.json")
    samples = read_samples(run_dir)
    # Locust's own total request count equals the number of sample rows
    assert meta["locust_totals"]["requests"] == len(samples) > 50
    assert meta["aborted"] is False
    # both worker processes sent samples, and every sample names its worker
    assert samples["worker"].nunique() == 2
    assert sum(meta["samples_by_worker"].values()) == len(samples)
    # each worker timed its own event loop and its windows reached the master (harness.load.loop_monitor)
    assert sorted(meta["loop_monitor"]) == sorted(meta["samples_by_worker"])
    assert all(sum(series["ticks"]) >= 50 for series in meta["loop_monitor"].values())  # 10 s at ~20 a second

    summary = read_json(run_dir / "summary.json")
    exercised = {name for name, ep in summary["endpoints"].items() if ep["requests"] > 0}
    assert JOURNEY_ENDPOINTS <= exercised
    failed = judged_on_latency_alone(summary)
    assert result.returncode == (1 if failed else 0), result.stderr[-3000:]
    assert summary["run"]["workers"] == 2
    # the figures are the samples' own: recount one endpoint by hand
    chat = samples[samples["endpoint"] == "chat"]
    assert summary["endpoints"]["chat"]["requests"] == len(chat)
    assert chat["ttft_ms"].notna().all() and (chat["token_source"] == "usage").all()
    assert (chat["output_tokens"] >= 20).all()
    for name in ("report.html", "plots/latency_over_time.png", "plots/percentiles_vs_target.png", "scenario.toml"):
        assert (run_dir / name).stat().st_size > 500
    assert "verdict" in result.stderr and "p95" in result.stderr  # the one-screen table was printed


def test_run_against_a_separately_started_target_gives_the_same_endpoints(
    embedded_run: tuple, target_factory, tmp_path: Path
) -> None:
    _, embedded_dir = embedded_run
    target = target_factory({"seed": 7})
    result = run_harness(
        "run",
        "scenarios/smoke.toml",
        "--host",
        target.url,
        "--workers",
        "1",
        "--duration",
        "8s",
        "--out",
        str(tmp_path),
    )
    run_dir = only_run_dir(tmp_path)
    summary = read_json(run_dir / "summary.json")
    assert result.returncode == (1 if judged_on_latency_alone(summary) else 0), result.stderr[-3000:]
    assert summary["run"]["host"] == target.url
    embedded = read_json(embedded_dir / "summary.json")["endpoints"]
    assert set(summary["endpoints"]) == set(embedded)
    exercised = {name for name, ep in summary["endpoints"].items() if ep["requests"] > 0}
    assert JOURNEY_ENDPOINTS <= exercised


LATENCY_SCENARIO = client_scenario("latency-truth", "22s")
REFERENCE_MS = 1.0


def test_exact_percentiles_match_injected_truth_where_locust_rounding_misleads(target_factory, tmp_path: Path) -> None:
    # conversations: constant 120 ms. conversation: 80 % at 100 ms, 20 % at 500.5 ms, so its true
    # p95 and p99 are 500.5 ms: just over the 500 ms target, where Locust's 10 ms buckets say 500.
    # me: 1 ms, the reference (below).
    target = target_factory(
        {
            "latency": {
                "conversations": {"dist": "constant", "ms": 120},
                "conversation": {"dist": "choice", "values_ms": [100, 500.5], "weights": [80, 20]},
                "me": {"dist": "constant", "ms": REFERENCE_MS},
            },
            "ttft": 1,
            "token_delay": 0,
            "output_tokens": [1, 2],
        }
    )
    scenario = tmp_path / "latency.toml"
    scenario.write_text(LATENCY_SCENARIO)
    # distributed, as on a load day: the worker only sends requests, the master writes the samples.
    # Six clients for 22 s rather than three for 45 s: the same 420 or so requests to each delayed route,
    # since each client mostly waits on the delays injected.
    result = run_harness(
        "run",
        str(scenario),
        "--host",
        target.url,
        "--workers",
        "1",
        "--users",
        "6",
        "--spawn-rate",
        "6",
        "--out",
        str(tmp_path / "out"),
    )
    run_dir = only_run_dir(tmp_path / "out")
    summary = read_json(run_dir / "summary.json")
    meta = read_json(run_dir / "run.json")
    endpoints = summary["endpoints"]

    # What a client can observe is the injected delay plus the round trip through loopback, the demo
    # API and the load generator, plus how late the demo API's timer wakes it (a millisecond or so, and
    # more for a few requests when several wake at once). Take that overhead from the same run, at the
    # same percentile, from a route whose delay is next to nothing (`me`, 1 ms, through the same timer:
    # a route with none missed the timer's part, and the 120 ms route's p95 came 1.5 ms over it on a
    # quiet machine). It must stay small next to the 100 ms injected, or the check below would say little.
    overhead = {key: endpoints["me"][key] - REFERENCE_MS for key in ("p50_ms", "p95_ms")}
    assert 0 < overhead["p50_ms"] < 10

    # p50 and p95 (what the 500 ms target is about) must match the truth to a few milliseconds: the
    # suite runs four tests at once on two cores, so a request waits for a core now and then, more often
    # in a 100 ms request than in the 1 ms reference; 6 ms at p50 and 8 at p95 (the reference's p95 is
    # coarser: the 7th slowest of about 140 requests, theirs the 21st of about 420), still under the
    # 10 ms of Locust's rounding, the point here. p99 of 420 requests is the fifth slowest: one stall
    # moves it by 100 ms in one route and not in the other, so it is held to the truth from below only.
    # Beyond that, what the load generator's own stalls may have added to this very figure, as the same
    # run measured it (summary `generator`: a busy neighbour shows there, not in the target).
    slack = {"p50_ms": 6.0, "p95_ms": 8.0}
    lag = summary["generator"].get("bounds_ms") or {}

    def close(measured: float, injected: float, key: str, route: str) -> bool:
        truth = injected + overhead[key]
        bound = (lag.get(route) or {}).get(key) or 0.0
        return injected <= measured <= truth + max(0.02 * truth, slack[key]) + bound

    constant = endpoints["conversations"]
    # about 420 on a quiet machine, fewer on a busy one: enough that p95 is not just a few slow requests
    assert constant["latency_samples"] > 300
    for key in ("p50_ms", "p95_ms"):
        assert close(constant[key], 120.0, key, "conversations"), (key, constant[key], overhead, lag)
    assert constant["p99_ms"] >= 120.0

    mixed = endpoints["conversation"]
    assert mixed["latency_samples"] > 300
    for key, injected in (("p50_ms", 100.0), ("p95_ms", 500.5)):
        assert close(mixed[key], injected, key, "conversation"), (key, mixed[key], overhead, lag)
    assert mixed["p99_ms"] >= 500.5

    # the harness puts p95 on the right side of the 500 ms target; Locust's rounding does not
    assert mixed["p95_ms"] > 500
    threshold = next(t for t in summary["thresholds"] if t["endpoint"] == "conversation")
    assert threshold["passed"] is False
    assert result.returncode == 1  # a latency target failed
    # Locust's own figure for the same response times (its master's stats, kept in run.json): rounded to
    # 10 ms, so 500, a pass, while the round trip keeps the exact figure under 505 ms (about 3.5 ms of
    # it, as on a quiet machine; a busier one pushes it to 510, which says nothing about the harness)
    locust_p95 = meta["locust_percentiles"]["conversation"]["p95_ms"]
    assert locust_p95 % 10 == 0 and abs(locust_p95 - mixed["p95_ms"]) <= 10, (locust_p95, mixed["p95_ms"])
    if mixed["p95_ms"] < 504:
        assert locust_p95 <= 500


def test_report_on_a_copied_run_folder_reproduces_the_summary(embedded_run: tuple, tmp_path: Path) -> None:
    _, run_dir = embedded_run
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    (copy / "summary.json").unlink()
    result = run_harness("report", str(copy))
    assert result.returncode == embedded_run[0].returncode, result.stderr
    assert read_json(copy / "summary.json") == read_json(run_dir / "summary.json")


def test_bad_scenario_is_a_one_line_error_with_exit_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text((REPO / "scenarios" / "smoke.toml").read_text().replace("users = 12", 'users = "many"'))
    result = run_harness("run", str(bad), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert f"{bad}: load.users: expected" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # nothing started, nothing written


def test_unreachable_host_aborts_with_exit_code_3(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a loopback port that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_harness(
        "run",
        "scenarios/smoke.toml",
        "--host",
        f"http://127.0.0.1:{port}",
        "--workers",
        "0",
        "--duration",
        "5s",
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 3, result.stderr
    assert "did not answer" in result.stderr
    assert "Traceback" not in result.stderr
    meta = read_json(only_run_dir(tmp_path) / "run.json")
    assert meta["aborted"] is True


def test_ctrl_c_mid_ramp_stops_every_process_and_still_writes_the_report(tmp_path: Path) -> None:
    """Ctrl-C while Locust is still starting users (200 at 1 a second, planned for 300 s so that a slow
    start on a busy machine still finds it ramping): every process ends at once, the run is judged on
    what it sent. (SIGTERM mid-ramp: tests/commands/test_fail_safe.py.)"""
    import signal
    import time

    import psutil

    proc = start_run(tmp_path, None, "--workers", "2", "--duration", "300s", "--users", "200", "--spawn-rate", "1")
    try:
        progress = wait_for_progress(tmp_path, lambda p: p["requests"] >= 20)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 4  # demo API, master, two workers
        interrupted_at = time.time()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, stderr[-3000:]
    assert "Traceback" not in stderr
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    run_dir = only_run_dir(tmp_path)
    meta = read_json(run_dir / "run.json")
    assert meta["aborted"] is True and meta["abort_reason"] == "interrupted by the user (Ctrl-C)"
    assert progress["users"] < 200 and meta["load_stopped_at"] - interrupted_at < 30  # mid-ramp, stopped when asked
    samples = read_samples(run_dir)
    assert meta["locust_totals"]["requests"] == len(samples) >= 20
    summary = read_json(run_dir / "summary.json")
    assert summary["verdict"] == "fail" and summary["run"]["aborted"] is True
    assert summary["totals"]["requests"] == len(samples)
    assert (run_dir / "report.html").exists()
