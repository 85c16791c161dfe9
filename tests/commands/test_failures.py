"""Bad days: a worker killed mid-run, the master interrupted or killed. Real processes throughout.

Each test runs `harness run` as a command against a demo API of its own, signals one of the Locust
processes it started (found as the harness's children by their command lines), and then checks the
run folder: what reached the master is on disk, and the report says what happened.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

from harness.samples import read_samples
from tests.helpers import (
    alive,
    finish,
    locust_process,
    only_run_dir,
    read_json,
    run_harness,
    start_run,
    wait_for_progress,
)

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)
WORKER_SILENCE_S = 10  # harness.load.plugin's (imported, it would patch this process with gevent)


def test_a_killed_worker_is_reported_and_the_run_goes_on_with_the_other(target_factory, tmp_path: Path) -> None:
    target = target_factory()
    harness = start_run(tmp_path, target.url, "--workers", "2", "--duration", "18s")
    try:
        wait_for_progress(tmp_path, lambda p: p["workers"] == 2 and p["elapsed_s"] >= 2 and p["requests"] > 0)
        worker = locust_process(harness, "--worker")
        killed_at = time.time()
        worker.send_signal(signal.SIGKILL)
    finally:
        stderr = finish(harness)
    assert harness.returncode in (0, 1), stderr[-3000:]  # judged as usual: not aborted
    assert "Traceback" not in stderr

    run_dir = only_run_dir(tmp_path)
    meta = read_json(run_dir / "run.json")
    samples = read_samples(run_dir)
    # the run ended at its planned time, not when the worker died
    assert meta["aborted"] is False
    assert 17.5 <= meta["ended_at"] - meta["started_at"] <= 28

    (lost,) = meta["lost_workers"]
    assert set(meta["samples_by_worker"]) == {lost["worker"], *meta["samples_by_worker"]}
    (survivor,) = set(meta["samples_by_worker"]) - {lost["worker"]}
    # the master gives up after WORKER_SILENCE_S missed heartbeats, one a second
    assert killed_at + WORKER_SILENCE_S - 1 < lost["lost_at"] < killed_at + WORKER_SILENCE_S + 5
    assert 0 < lost["last_report_s"] <= killed_at - meta["started_at"] + 0.5
    # no sample that reached the master is lost: disk == what the reports carried, per worker
    assert samples["worker"].value_counts().to_dict() == meta["samples_by_worker"]
    assert lost["samples"] == meta["samples_by_worker"][lost["worker"]] > 0
    assert len(samples) == meta["samples_written"] == meta["locust_totals"]["requests"]
    # the dead worker's rows stop when it died; the other one's go on to the end
    by_worker = samples.groupby("worker")["start_s"].max()
    assert by_worker[lost["worker"]] < killed_at
    assert by_worker[survivor] > meta["started_at"] + 15

    summary = read_json(run_dir / "summary.json")
    note = next(n for n in summary["notes"] if lost["worker"] in n)
    assert f"lost at {lost['at_s']:.1f} s" in note and "kept" in note
    assert [w["worker"] for w in summary["run"]["lost_workers"]] == [lost["worker"]]


def test_a_worker_that_stalls_for_seconds_is_waited_for_and_the_run_ends_as_planned(
    target_factory, tmp_path: Path
) -> None:
    """A generator host's busy moment (here: the only worker stopped for 6 s) is not a lost worker;
    with Locust's own 3 missed heartbeats its master would stop the run mid-way."""
    target = target_factory()
    harness = start_run(tmp_path, target.url, "--workers", "1", "--duration", "14s")
    try:
        wait_for_progress(tmp_path, lambda p: p["workers"] == 1 and p["elapsed_s"] >= 2 and p["requests"] > 0)
        worker = locust_process(harness, "--worker")
        worker.suspend()
        time.sleep(6)
        worker.resume()
    finally:
        stderr = finish(harness)
    assert harness.returncode in (0, 1), stderr[-3000:]
    run_dir = only_run_dir(tmp_path)
    meta = read_json(run_dir / "run.json")
    assert meta["aborted"] is False and meta["lost_workers"] == []
    assert 13.5 <= meta["ended_at"] - meta["started_at"] <= 24
    samples = read_samples(run_dir)
    assert len(samples) == meta["samples_written"] == meta["locust_totals"]["requests"]
    assert samples["start_s"].max() > meta["started_at"] + 9  # it went on after the stall


def test_a_run_whose_every_worker_falls_silent_says_so(target_factory, tmp_path: Path) -> None:
    target = target_factory()
    harness = start_run(tmp_path, target.url, "--workers", "1", "--duration", "60s")
    try:
        wait_for_progress(tmp_path, lambda p: p["workers"] == 1 and p["requests"] > 0)
        worker = locust_process(harness, "--worker")
        worker.suspend()
        master_log = next(tmp_path.glob("*/logs/master.log"))
        deadline = time.time() + WORKER_SILENCE_S + 20
        while "went missing" not in master_log.read_text() and time.time() < deadline:
            time.sleep(0.5)
        worker.resume()
    finally:
        stderr = finish(harness)
    assert harness.returncode == 3, stderr[-3000:]
    run_dir = only_run_dir(tmp_path)
    meta = read_json(run_dir / "run.json")
    assert meta["aborted"] is True
    assert meta["abort_reason"].startswith(f"every worker went silent (no heartbeat for {WORKER_SILENCE_S} s)")
    assert [w["worker"] for w in meta["lost_workers"]] == list(meta["samples_by_worker"])
    assert meta["ended_at"] - meta["started_at"] < 45  # Locust stopped it; the planned end was 60 s
    assert len(read_samples(run_dir)) == meta["samples_written"] > 0


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_the_master_stops_the_run_and_keeps_every_sample(
    signum: signal.Signals, target_factory, tmp_path: Path
) -> None:
    target = target_factory()
    harness = start_run(tmp_path, target.url, "--workers", "2", "--duration", "60s")
    try:
        wait_for_progress(tmp_path, lambda p: p["workers"] == 2 and p["requests"] >= 30)
        master = locust_process(harness, "--master")
        locust = [
            master,
            *master.children(),
            *(c for c in psutil.Process(harness.pid).children() if "--worker" in c.cmdline()),
        ]
        master.send_signal(signum)
    finally:
        stderr = finish(harness)
    assert harness.returncode == 3, stderr[-3000:]
    assert "Traceback" not in stderr
    assert not alive(locust)  # the workers were told to quit, or stopped by the harness

    run_dir = only_run_dir(tmp_path)
    meta = read_json(run_dir / "run.json")
    assert meta["aborted"] is True and signum.name in meta["abort_reason"]
    assert meta["ended_at"] - meta["started_at"] < 40  # stopped early, not at the planned 60 s
    # every sample received is on disk, and every request Locust counted reached the master
    samples = read_samples(run_dir)
    assert len(samples) == meta["samples_written"] == meta["locust_totals"]["requests"] >= 30
    assert samples["worker"].value_counts().to_dict() == meta["samples_by_worker"]
    summary = read_json(run_dir / "summary.json")
    assert summary["run"]["aborted"] is True and summary["verdict"] == "fail"
    assert summary["totals"]["requests"] == len(samples)
    assert (run_dir / "report.html").stat().st_size > 1000


def test_a_killed_master_leaves_readable_samples_that_harness_report_renders(target_factory, tmp_path: Path) -> None:
    target = target_factory()
    harness = start_run(tmp_path, target.url, "--workers", "2", "--duration", "60s")
    try:
        wait_for_progress(tmp_path, lambda p: p["workers"] == 2 and p["requests"] >= 30)
        master = locust_process(harness, "--master")
        workers = [c for c in psutil.Process(harness.pid).children() if "--worker" in c.cmdline()]
        master.send_signal(signal.SIGKILL)
    finally:
        stderr = finish(harness)  # it must not hang waiting for the dead master or its orphaned workers
    assert harness.returncode == 3, stderr[-3000:]
    assert "Traceback" not in stderr
    assert not alive(workers)

    run_dir = only_run_dir(tmp_path)
    meta = read_json(run_dir / "run.json")
    assert meta["aborted"] is True and "SIGKILL" in meta["abort_reason"]
    assert meta.get("ended_at") is None
    # only whole Parquet parts: each one reads on its own
    parts = sorted((run_dir / "samples").glob("part-*.parquet"))
    assert parts and sum(pq.read_table(p).num_rows for p in parts) == len(read_samples(run_dir)) > 0

    (run_dir / "summary.json").unlink()
    result = run_harness("report", str(run_dir))
    assert result.returncode == 3, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    summary = read_json(run_dir / "summary.json")
    assert any("no end time" in reason for reason in summary["verdict_reasons"])
    assert summary["totals"]["requests"] == len(read_samples(run_dir))
    assert (run_dir / "report.html").stat().st_size > 1000
