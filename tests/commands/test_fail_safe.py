"""Fail safe: a broken run never ends with a wrong result, never leaks a credential, never outlives
the harness. Real processes, real disks: a tmpfs that fills, a folder made immutable, a SIGKILL.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest

from harness.samples import read_samples
from tests.helpers import (
    REPO,
    CappedRun,
    alive,
    finish,
    only_run_dir,
    read_json,
    run_cli,
    run_harness,
    run_with_locustfile,
    start_run,
    wait_for_progress,
)

ROOT = os.geteuid() == 0


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness", *args]


@pytest.fixture
def target(target_factory):
    return target_factory()


# --- a disk that fails under the run ---------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs, unmounted after the test."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if (
        not ROOT
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("needs root to mount a tmpfs")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.mark.e2e
def test_a_disk_that_fills_mid_run_aborts_the_run_with_exit_3_and_no_half_written_file(
    target, small_disk: Path
) -> None:
    harness = start_run(small_disk, target.url, "--duration", "40s", "--workers", "1")
    wait_for_progress(small_disk, lambda p: p["samples"] > 20)
    with open(small_disk / "filler", "wb") as filler:  # the rest of the disk, to the last byte
        try:
            while True:
                filler.write(b"\0" * 65536)
        except OSError:
            pass
    stderr = finish(harness)
    assert harness.returncode == 3, stderr[-2000:]
    assert "Traceback" not in stderr
    run_dir = only_run_dir(small_disk)
    assert "the report could not be written" in stderr and f"harness report {run_dir}" in stderr
    # the run stopped at once, not at its planned end: the master's log says why
    master_log = (run_dir / "logs" / "master.log").read_text()
    assert "samples could not be written" in master_log and "stopping the run" in master_log
    for path in run_dir.rglob("*"):  # whole files or none: never a 0-byte summary a CI job would read
        assert not path.is_file() or path.stat().st_size > 0 or path.parent.name == "logs", path
    (small_disk / "filler").unlink()
    report = run_harness("report", str(run_dir))
    assert report.returncode == 3, report.stderr  # a run without an end is an aborted run
    summary = read_json(run_dir / "summary.json")
    assert summary["run"]["aborted"] is True
    assert summary["totals"]["requests"] == len(read_samples(run_dir)) > 20


@pytest.fixture
def freezable(tmp_path: Path) -> Iterator[Path]:
    """A folder on a file system where `chattr +i` works (ext4), thawed after the test."""
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"harness-frozen-{os.getpid()}-{time.time_ns()}"
    out.mkdir()
    probe = out / "probe"
    probe.mkdir()
    if not ROOT or subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode != 0:
        shutil.rmtree(out)
        pytest.skip("needs root and a file system with immutable folders (chattr +i)")
    subprocess.run(["chattr", "-i", str(probe)], check=True)
    probe.rmdir()
    yield out
    subprocess.run(["chattr", "-R", "-i", str(out)], capture_output=True)
    shutil.rmtree(out, ignore_errors=True)


@pytest.mark.e2e
def test_a_run_folder_made_read_only_mid_run_aborts_with_exit_3_and_the_samples_so_far(target, freezable: Path) -> None:
    harness = start_run(freezable, target.url, "--duration", "40s", "--workers", "1")
    wait_for_progress(freezable, lambda p: p["samples"] > 20)
    run_dir = only_run_dir(freezable)
    written = len(list((run_dir / "samples").glob("part-*.parquet")))
    subprocess.run(["chattr", "+i", str(run_dir), str(run_dir / "samples")], check=True)
    stderr = finish(harness)
    subprocess.run(["chattr", "-i", str(run_dir), str(run_dir / "samples")], check=True)
    assert harness.returncode == 3, stderr[-2000:]
    assert "Traceback" not in stderr
    assert "samples could not be written" in (run_dir / "logs" / "master.log").read_text()
    assert len(list((run_dir / "samples").glob("part-*.parquet"))) >= written
    assert not list(run_dir.glob(".*.tmp")) and not list((run_dir / "samples").glob("*.tmp"))
    report = run_harness("report", str(run_dir))
    assert report.returncode == 3
    assert read_json(run_dir / "summary.json")["totals"]["requests"] > 20


@pytest.mark.e2e
def test_a_failing_progress_write_does_not_silence_the_caps(capped_run: CappedRun) -> None:
    """progress.json turned into a folder before the master first writes it: every progress write fails,
    and the guardrail still stops the run (the session's capped run, tests/conftest.py, whose spend cap
    tests/load/test_guardrails.py checks)."""
    run_dir = capped_run.run_dir
    meta = read_json(run_dir / "run.json")
    assert capped_run.returncode == 3, capped_run.stderr[-2000:]
    # the cap's reason alone: the last progress write at the end failed too, and was no internal failure
    assert meta["abort_reason"].startswith("guardrail: ") and ";" not in meta["abort_reason"], meta["abort_reason"]
    log = (run_dir / "logs" / "master.log").read_text()
    # the writes failed before the cap stopped the run, not only after it
    assert -1 < log.find("progress.json failed") < log.find(f"{meta['abort_reason']}: stopping the run")
    assert meta["ended_at"] - meta["started_at"] < 30  # stopped by the cap, long before the planned 40 s
    assert read_json(run_dir / "summary.json")["run"]["aborted"] is True and (run_dir / "report.html").exists()


# --- ending on time --------------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_ramp_longer_than_its_stage_ends_at_the_planned_time(target, tmp_path: Path) -> None:
    """200 users at 1/s take 200 s to start: the run still ends at its 8 s, with the users it had."""
    result = run_harness(
        "run",
        "scenarios/smoke.toml",
        "--host",
        target.url,
        "--out",
        str(tmp_path),
        "--users",
        "200",
        "--spawn-rate",
        "1",
        "--duration",
        "8s",
        "--workers",
        "1",
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    meta = read_json(only_run_dir(tmp_path) / "run.json")
    assert meta["aborted"] is False
    assert meta["ended_at"] - meta["started_at"] < 8 + 10  # Locust's own ramp held the run for 200 s


@pytest.mark.e2e
def test_a_sigterm_mid_ramp_finishes_the_run_and_names_the_signal(target, tmp_path: Path) -> None:
    """(Ctrl-C mid-ramp: tests/commands/test_run.py, with two workers.)"""
    harness = start_run(
        tmp_path, target.url, "--users", "200", "--spawn-rate", "1", "--duration", "300s", "--workers", "1"
    )
    progress = wait_for_progress(tmp_path, lambda p: p["samples"] > 5)
    signalled_at = time.time()
    harness.send_signal(signal.SIGTERM)
    stderr = finish(harness)
    assert harness.returncode == 3, stderr[-2000:]
    run_dir = only_run_dir(tmp_path)
    meta = read_json(run_dir / "run.json")
    assert meta["abort_reason"] == "interrupted by SIGTERM"
    assert progress["users"] < 200 and meta["load_stopped_at"] - signalled_at < 30  # mid-ramp, stopped when asked
    assert read_json(run_dir / "summary.json")["totals"]["requests"] == len(read_samples(run_dir))


@pytest.mark.e2e
def test_a_killed_harness_takes_every_process_it_started_with_it(tmp_path: Path) -> None:
    """kill -9 of `harness run`: the master, the workers and the embedded demo API end within 5 s."""
    harness = subprocess.Popen(
        _command("run", "scenarios/smoke.toml", "--out", str(tmp_path), "--duration", "90s", "--workers", "2"),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for_progress(tmp_path, lambda p: p["samples"] > 20 and p["workers"] == 2)
        children = psutil.Process(harness.pid).children(recursive=True)
        assert len(children) >= 4  # demo API, master, two workers
        master = next(p for p in children if "--master" in p.cmdline())
        harness.kill()
        harness.wait()
        # The kernel's parent-death signal comes once per thread of the harness as each exits: a second
        # SIGTERM, which must not be taken for "again to kill" before the run is recorded (under a busy
        # machine the threads exit far enough apart that it came after the first had started the stop).
        try:
            time.sleep(0.2)
            master.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
        deadline = time.time() + 5
        while alive(children) and time.time() < deadline:
            time.sleep(0.1)
        assert not alive(children), [p.cmdline()[:4] for p in alive(children)]
    finally:
        for p in alive(psutil.Process().children(recursive=True)):
            p.kill()
    meta = read_json(only_run_dir(tmp_path) / "run.json")
    assert meta["aborted"] is True
    assert meta["abort_reason"] == "the harness process that started this run died"


# --- credentials in --host -------------------------------------------------------------------------


class _BasicAuthSite(ThreadingHTTPServer):
    """Accepts a lead only with the right basic auth; remembers every Authorization header it got."""

    daemon_threads = True

    def __init__(self, auth: str) -> None:
        self.expected = "Basic " + base64.b64encode(auth.encode()).decode()
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), _BasicAuthHandler)


class _BasicAuthHandler(BaseHTTPRequestHandler):
    server: _BasicAuthSite

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        got = self.headers.get("Authorization") or ""
        self.server.seen.append(got)
        ok = got == self.server.expected
        body = b'{"ok": true}' if ok else b'{"error": "auth"}'
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.e2e
def test_credentials_in_the_host_are_sent_as_basic_auth_and_stored_nowhere(tmp_path: Path) -> None:
    password = "pa" + "ss-" + "9f3k2"  # not a literal secret anywhere in the repo
    site = _BasicAuthSite(f"stage:{password}")
    threading.Thread(target=site.serve_forever, daemon=True).start()
    scenario = tmp_path / "leads.toml"
    scenario.write_text(
        textwrap.dedent("""
        [scenario]
        name = "leads"
        [accounts]
        source = "inline"
        inline = [{ email = "a@example.test", password = "unused-1" }]
        [endpoints.leads]
        method = "POST"
        path = "/leads"
        body = { name = "{name}", email = "{lead_email}" }
        auth = false
        [journeys.visitor]
        weight = 1
        think_time = [0.1, 0.2]
        [load]
        users = 3
        spawn_rate = 3
    """)
    )
    host = f"http://stage:{password}@127.0.0.1:{site.server_address[1]}"
    out = tmp_path / "out"
    harness = subprocess.Popen(
        _command("run", str(scenario), "--host", host, "--out", str(out), "--duration", "4s", "--workers", "1"),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    command_lines: list[str] = []
    while harness.poll() is None:
        for child in psutil.Process(harness.pid).children(recursive=True):
            try:
                command_lines.append(" ".join(child.cmdline()))
            except psutil.Error:
                pass
        time.sleep(0.2)
    stdout, stderr = harness.communicate()
    site.shutdown()
    assert harness.returncode == 0, stderr[-2000:]
    assert len(site.seen) > 5 and set(site.seen) == {site.expected}  # every request, with the credentials
    assert any("--master" in line for line in command_lines)
    assert not [line for line in command_lines if password in line]
    assert password not in stdout + stderr
    run_dir = only_run_dir(out)
    assert read_json(run_dir / "run.json")["host"] == f"http://127.0.0.1:{site.server_address[1]}"
    encoded = base64.b64encode(f"stage:{password}".encode())
    for path in run_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert password.encode() not in data and encoded not in data, path


# --- bad input: one line, exit 2, nothing left behind ---------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--host", "not-a-url"], "--host: expected an http:// or https:// URL"),
        (["--host", "ftp://x"], "--host: expected an http:// or https:// URL"),
        (["--host", "http://127.0.0.1:port"], "--host: expected a URL like"),
        (["--users", "0"], "--users: expected a whole number >= 1"),
        (["--spawn-rate", "0"], "--spawn-rate: expected a number > 0"),
        (["--out", "scenarios/smoke.toml"], "is a file; pass a folder"),
        (
            ["--arrival-rate", "100000"],
            "--arrival-rate: 100,000 arrivals per second is over the guardrail max_arrival_rate",
        ),
        (["--users", "1000000000"], "--users: 1,000,000,000 users is over the guardrail max_users"),
    ],
)
def test_bad_run_options_are_one_line_with_exit_2_and_no_run_folder(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out_args = [] if "--out" in args else ["--out", str(tmp_path / "out")]
    result = run_cli("run", "scenarios/smoke.toml", *args, *out_args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness: ") and message in lines[0], result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.e2e
def test_an_unwritable_out_folder_is_exit_2(freezable: Path) -> None:
    subprocess.run(["chattr", "+i", str(freezable)], check=True)
    result = run_cli("run", "scenarios/smoke.toml", "--out", str(freezable / "runs"))
    subprocess.run(["chattr", "-i", str(freezable)], check=True)
    assert result.returncode == 2
    assert "--out" in result.stderr and "cannot write there" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- the master's own failure ----------------------------------------------------------------------

BROKEN_LOCUSTFILE = """
from locust import events
from locustfiles.journeys import *  # noqa: F401,F403  (the harness's journeys and its plugin)

@events.test_start.add_listener
def _broken(environment, **kwargs):
    {action}
"""


@pytest.mark.e2e
@pytest.mark.parametrize(
    "action, reason",
    [
        ("raise RuntimeError('the disk controller is on fire')", "internal failure"),
        ("import os; os._exit(1)", "the Locust master failed"),
    ],
)
def test_an_internal_failure_of_the_master_is_exit_3_with_its_reason(
    target, tmp_path: Path, action: str, reason: str
) -> None:
    locustfile = tmp_path / "broken.py"
    locustfile.write_text(BROKEN_LOCUSTFILE.format(action=action))
    result = run_with_locustfile(
        REPO / "scenarios" / "smoke.toml", locustfile, tmp_path / "out", host=target.url, workers=1, duration_s=4
    )
    assert result.returncode == 3, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    meta = read_json(only_run_dir(tmp_path / "out") / "run.json")
    assert meta["aborted"] is True and reason in meta["abort_reason"], meta["abort_reason"]
    summary = json.loads((only_run_dir(tmp_path / "out") / "summary.json").read_text())
    assert summary["run"]["aborted"] is True


# --- memory: the body cap's bound is stated --------------------------------------------------------


def test_the_worst_case_body_memory_is_stated_when_it_could_exhaust_the_machine(tmp_path: Path) -> None:
    from harness.commands.run import RunOptions, _memory_warnings, _physical_memory
    from harness.scenario import load_scenario

    scenario = load_scenario(REPO / "scenarios" / "smoke.toml")  # 16 MiB body cap
    fits = _memory_warnings(RunOptions(scenario=scenario.path, users=10), scenario, workers=2)
    users = int(_physical_memory() / scenario.http.max_body_bytes) + 1  # their bodies fill the memory
    too_many = _memory_warnings(RunOptions(scenario=scenario.path, users=users), scenario, workers=2)
    assert fits == []
    assert len(too_many) == 1 and f"{users:,} users" in too_many[0] and "max_body_bytes (16 MiB)" in too_many[0]
