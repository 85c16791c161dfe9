"""`harness run`: the embedded target (if needed), a real Locust master and its workers, a live
progress line, and the report at the end. It owns every process it starts and stops each one,
Ctrl-C included.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import msgspec

from harness.commands.worker import (
    DEFAULT_MASTER_PORT,
    LOCUSTFILES,
    check_bind,
    local_master_host,
    master_args,
    worker_args,
    workers_missing,
)
from harness.documents import RunMeta, Summary
from harness.errors import AbortedError, ExitCode, UsageError
from harness.host import HOST_AUTH_ENV, parse_host
from harness.lifeline import VOCABULARY_MODEL_ENV, child_environment
from harness.report.screenshot import MISSING_BROWSER, BrowserError, find_browser, screenshot
from harness.runfolder import new_run_dir, request_stop, write_json_atomic
from harness.scenario import Scenario, check_load_caps, load_scenario
from harness.scenario.preflight import check_scenario, scenario_warnings
from harness.scenario.thresholds import from_options

__all__ = ["RunOptions", "run", "exit_code"]

GRACE_S = 60.0  # how long past the planned end before the harness stops waiting for the master
STOP_GRACE_S = 30.0  # how long after Ctrl-C or SIGTERM before it stops waiting
WEB_HOST = "127.0.0.1"  # --web: the live view answers on loopback only


@dataclass
class RunOptions:
    scenario: Path
    host: str | None = None
    profile: str | None = None
    workers: int | None = None  # None: one per CPU; 0: a single process, no master
    users: int | None = None
    spawn_rate: float | None = None
    arrival_rate: float | None = None  # open model: journeys started per second (see harness.scenario.arrivals)
    find_capacity: bool = False  # a capacity search instead of the scenario's load (harness.load.capacity)
    duration_s: float | None = None
    out: Path = Path("reports")
    locustfiles: tuple[Path, ...] = LOCUSTFILES
    thresholds: tuple[str, ...] = ()  # --threshold EXPR, added to the scenario's
    abort_on_fail: tuple[str, ...] = ()  # --abort-on-fail EXPR: the same, stopping the run when it fails
    screenshot: bool = False  # also save report.png (headless Chromium)
    expect_workers: int | None = None  # --expect-workers N: start once N workers joined (local ones included)
    master_bind: str | None = None  # --master-bind ADDR: where the master listens for workers (127.0.0.1)
    master_port: int | None = None  # --master-port P (5557)
    expect_workers_max_wait_s: float = 60.0  # give up (exit 3) when the workers have not all come by then
    web: bool = False  # --web: Locust's web UI and the harness panel on 127.0.0.1 while the run goes
    web_port: int | None = None  # --web-port P (default: a free port)


@dataclass(frozen=True)
class _Master:
    """Where the master listens, and how many workers it waits for before the run starts."""

    bind: str
    port: int
    expect: int
    max_wait_s: float
    remote: bool  # workers are expected from other hosts (`harness worker`)


def run(options: RunOptions) -> int:
    """Everything is checked before the demo API starts and before the run folder exists: bad
    input is a UsageError (exit 2) with nothing left behind."""
    scenario = load_scenario(options.scenario)
    given = options.host or scenario.host
    host = parse_host(given, "--host" if options.host else f"{options.scenario}: target.host") if given else None
    # what `harness validate` checks, for the host this run goes to, before the demo API starts
    check_scenario(replace(scenario, host=host.url if host else None))
    from_options(options.thresholds, options.abort_on_fail, scenario.endpoints, scenario.streaming_endpoints())
    capped = check_load_caps(scenario.guardrails, options.users, options.spawn_rate, options.arrival_rate)
    if capped:
        raise UsageError(f"{capped} (in {options.scenario})")
    missing = [f for f in options.locustfiles if not f.exists()]
    if missing:
        raise UsageError(f"{missing[0]}: locustfile not found (reinstall the harness: pip install launch-harness)")
    if options.workers is not None:
        workers = options.workers
    else:  # with --expect-workers the workers come from other hosts unless --workers asks for local ones too
        workers = 0 if options.expect_workers is not None else (os.cpu_count() or 1)
    if workers < 0:
        raise UsageError("--workers: expected 0 (one process) or more")
    master = _master(options, workers)
    web_port = _web_port(options)
    if options.screenshot and find_browser() is None:  # before the run, not after it
        raise UsageError(MISSING_BROWSER)
    unusable = _unusable_out(options.out)
    if unusable:
        raise UsageError(unusable)
    warnings = scenario_warnings(scenario, options.users, options.spawn_rate, options.duration_s)
    for warning in warnings + _memory_warnings(options, scenario, workers):
        print(f"harness: warning: {warning}", file=sys.stderr)

    run_dir = new_run_dir(options.out, scenario.name).resolve()  # Locust runs with the checkout as its cwd
    with _Processes(run_dir, host.auth if host else None) as procs:
        if host is None:
            try:
                url = procs.start_target(scenario, options.profile)
            except ValueError as exc:
                shutil.rmtree(run_dir, ignore_errors=True)
                raise UsageError(f"{options.scenario}: target: {exc}") from None
        else:
            url = host.url
        print(
            f"harness: {scenario.name} against {url}, {workers or 'no'} worker process(es); run folder {run_dir}",
            file=sys.stderr,
        )
        if web_port is not None:
            live = f"http://{WEB_HOST}:{web_port}/"
            print(f"harness: live view at {live} (harness panel: {live}harness)", file=sys.stderr)
        if master is not None and master.remote:
            print(
                f"harness: master listening on {master.bind}:{master.port}, waiting up to {master.max_wait_s:g} s "
                f"for {master.expect} worker(s) (`harness worker --master HOST:{master.port}`)",
                file=sys.stderr,
            )
        master_code = procs.run_locust(
            _locust_args(options, scenario, url, run_dir, web_port),
            workers,
            options.locustfiles,
            master,
            worker_env={VOCABULARY_MODEL_ENV: scenario.spend.model},
        )
    if master is not None and master_code != 0 and _workers_did_not_come(run_dir, master):
        return ExitCode.ABORTED
    if master_code in (ExitCode.USAGE, ExitCode.ABORTED) and not (run_dir / "run.json").exists():
        if master_code == ExitCode.USAGE:  # refused before the run began: nothing was measured, nothing to keep
            shutil.rmtree(run_dir, ignore_errors=True)
        return master_code
    if master_code != ExitCode.PASS:  # a final run.json says why already; else the signal or the master's last error
        _mark_aborted(
            run_dir,
            _killed_reason(-master_code)
            if master_code < 0
            else f"the Locust master failed: {_last_error_line(procs.logs / f'{procs.children[0][0]}.log')}",
        )
    return _report(run_dir, options.screenshot)


def _report(run_dir: Path, shoot: bool) -> int:
    """The report of what is on disk. One that cannot be written is one line and exit 3: the
    samples stay, and `harness report RUN_DIR` makes it later."""
    from harness.report.build import build_report
    from harness.report.terminal import format_table

    try:
        summary = build_report(run_dir)
    except OSError as exc:
        print(
            f"harness: the report could not be written to {run_dir} ({exc.strerror or exc}); the samples on disk "
            f"are kept: make room (or make it writable) and run `harness report {run_dir}`",
            file=sys.stderr,
        )
        return ExitCode.ABORTED
    print(format_table(summary), file=sys.stderr)
    print(f"report: {run_dir / 'report.html'}", file=sys.stderr)
    if shoot:
        try:
            print(f"screenshot: {screenshot(run_dir)}", file=sys.stderr)
        except BrowserError as exc:  # the run is measured and reported: say so, keep its exit code
            print(f"harness: {exc}", file=sys.stderr)
    return exit_code(summary)


VERDICT_EXIT_CODES = {"pass": ExitCode.PASS, "fail": ExitCode.FAIL, "untested": ExitCode.UNTESTED}


def exit_code(summary: Summary) -> ExitCode:
    """3 for a run that was aborted (or never finished), else 0 when its verdict passes, 1 when it
    fails, 4 when nothing failed but a verdict could not be judged."""
    if summary.run.aborted:
        return ExitCode.ABORTED
    return VERDICT_EXIT_CODES[summary.verdict]


def _killed_reason(signum: int) -> str:
    name = signal.Signals(signum).name if signum in signal.valid_signals() else f"signal {signum}"
    return f"the Locust master was killed ({name}) before the end of the run"


def _mark_aborted(run_dir: Path, reason: str) -> None:
    """The master ended (killed by a signal, or failed) before its final run.json: say so in run.json,
    so that the report (and `harness report` later) shows an aborted run. The missing end time stays
    missing: the figures cover only the samples on disk."""
    meta = _read_meta(run_dir / "run.json")
    if meta is None or meta.ended_at is not None:
        return
    print(f"harness: {reason}; reporting the samples it had written", file=sys.stderr)
    try:
        _write_aborted(run_dir / "run.json", meta, reason)
    except OSError as exc:
        print(f"harness: run.json could not be updated ({exc.strerror or exc})", file=sys.stderr)


def _read_meta(path: Path) -> RunMeta | None:
    """run.json as the master left it, None when it cannot be read as an object."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return RunMeta.load(raw)[0] if isinstance(raw, dict) else None


def _write_aborted(path: Path, meta: RunMeta, reason: str) -> None:
    write_json_atomic(
        path, msgspec.structs.replace(meta, aborted=True, abort_reason=reason, abort_kind="aborted").to_dict()
    )


def _last_error_line(log: Path) -> str:
    """The line of a Locust log that says what went wrong: its own `harness:` line, else why the
    plugin stopped the run, else its last error, else the last exception line of a traceback."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    for pattern in (
        r"^harness: (.*)",
        r"/(?:ERROR|WARNING)/harness: (?:harness: )?(.*): stopping the run$",
        r"/(?:ERROR|CRITICAL)/[\w.]+: (?:harness: )?(.*)",
        r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b.*)",
    ):
        found = [m.group(1) for line in lines if (m := re.search(pattern, line))]
        if found:
            return found[-1]
    return lines[-1] if lines else "no output"


def _unusable_out(out: Path) -> str | None:
    """Why run folders cannot be made under `--out`, or None (it is created when missing)."""
    if out.exists() and not out.is_dir():
        return f"--out {out}: is a file; pass a folder for the run folders (default reports/)"
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        return f"--out {out}: cannot write there ({exc.strerror or exc}); pass a folder you can write to"
    return None


def _memory_warnings(options: RunOptions, scenario: Scenario, workers: int) -> list[str]:
    """Each user reads at most `[http] max_body_bytes` of a body at a time, so this machine's
    worst case is its users times that cap: say so when it is more than half its memory."""
    load = scenario.load
    users = options.users or max([load.users, *(s.users for s in load.stages)])
    users += sum(a.users for a in scenario.attacks.values())
    if options.expect_workers and workers < options.expect_workers:  # the others run elsewhere
        users = -(-users * max(workers, 0) // options.expect_workers)
    worst = users * scenario.http.max_body_bytes
    memory = _physical_memory()
    if not memory or worst <= memory / 2:
        return []
    return [
        f"worst case, {users:,} users here each reading a body up to [http] max_body_bytes "
        f"({scenario.http.max_body_bytes / 2**20:g} MiB) hold {worst / 2**30:.1f} GiB at once, more than half "
        f"of this machine's {memory / 2**30:.1f} GiB; lower max_body_bytes if the target may send big bodies"
    ]


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _locust_args(
    options: RunOptions, scenario: Scenario, host: str, run_dir: Path, web_port: int | None = None
) -> list[str]:
    """Headless; with a web port, Locust's web UI there, the run started at once (--autostart) and
    Locust gone as soon as the run ends (--autoquit 0), as a headless run is."""
    load = scenario.load
    duration = options.duration_s or load.planned_duration_s
    if web_port is None:
        mode = ["--headless"]
    else:
        mode = ["--autostart", "--autoquit", "0", "--web-host", WEB_HOST, "--web-port", str(web_port)]
    args = [
        "--scenario",
        str((scenario.path or options.scenario).resolve()),
        "--host",
        host,
        "--run-dir",
        str(run_dir),
        "--harness-managed",
        *mode,
        "--only-summary",
        "-u",
        str(options.users or load.users),
        "-r",
        str(options.spawn_rate or load.spawn_rate),
        "-t",
        f"{int(round(duration))}s",
    ]
    if options.users or options.spawn_rate:
        args.append("--flat-load")
    if options.arrival_rate:
        args.append(f"--arrival-rate={options.arrival_rate:g}")
    if options.find_capacity:
        args.append("--find-capacity")
    args += [f"--threshold={expr}" for expr in options.thresholds]
    args += [f"--abort-on-fail={expr}" for expr in options.abort_on_fail]
    return args


def _web_port(options: RunOptions) -> int | None:
    """`--web`: the port of the live view on loopback, free now (a free one unless --web-port says which)."""
    if not options.web:
        if options.web_port is not None:
            raise UsageError("--web-port goes with --web")
        return None
    if options.web_port is None:
        return _free_port()
    if not 1 <= options.web_port <= 65535:
        raise UsageError(f"--web-port: expected 1-65535, got {options.web_port}")
    with socket.socket() as s:  # a clear error now rather than a trace in the master's log
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((WEB_HOST, options.web_port))
        except OSError as exc:
            raise AbortedError(
                f"--web-port: cannot listen on {WEB_HOST}:{options.web_port}: {exc.strerror or exc}; "
                "pass another port, or leave --web-port out for a free one"
            ) from None
    return options.web_port


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _master(options: RunOptions, workers: int) -> _Master | None:
    """Local workers only: loopback, a free port. `--expect-workers`: the address and count asked for.

    UsageError for bad usage; AbortedError when the master could not listen there."""
    if options.expect_workers is None:
        if options.master_bind is not None or options.master_port is not None:
            raise UsageError("--master-bind and --master-port go with --expect-workers N")
        return (
            _Master("127.0.0.1", _free_port(), workers, options.expect_workers_max_wait_s, False) if workers else None
        )
    expect = options.expect_workers
    if expect < 1:
        raise UsageError(f"--expect-workers: expected 1 or more, got {expect}")
    if workers > expect:
        raise UsageError(f"--workers {workers} is more than --expect-workers {expect} (local workers count toward it)")
    port = DEFAULT_MASTER_PORT if options.master_port is None else options.master_port
    if not 1 <= port <= 65535:
        raise UsageError(f"--master-port: expected 1-65535, got {port}")
    try:
        bind = check_bind(options.master_bind or "127.0.0.1")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family) as s:  # a clear error now rather than a ZeroMQ trace from the master
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as ZeroMQ does
        try:
            s.bind((bind, port))
        except OSError as exc:
            raise AbortedError(f"--master-bind: cannot listen on {bind}:{port}: {exc.strerror or exc}") from None
    return _Master(bind, port, expect, options.expect_workers_max_wait_s, remote=expect > workers)


def _workers_did_not_come(run_dir: Path, master: _Master) -> bool:
    """Locust's master gave up waiting for its workers: say so in one line, and mark the run aborted."""
    log = run_dir / "logs" / "master.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    reason = workers_missing(text, master.expect, master.max_wait_s, f"{master.bind}:{master.port}")
    if reason is None:
        return False
    meta = _read_meta(run_dir / "run.json")
    if meta is not None:
        _write_aborted(run_dir / "run.json", meta, reason)
    hint = f"; start them with `harness worker --master HOST:{master.port}`" if master.remote else ""
    print(f"harness: {reason}{hint}; no load was sent (run folder {run_dir})", file=sys.stderr)
    return True


class _Processes:
    """Every process this run started, stopped in reverse order on the way out."""

    def __init__(self, run_dir: Path, host_auth: str | None = None) -> None:
        self.run_dir = run_dir
        self.logs = run_dir / "logs"
        self.children: list[tuple[str, subprocess.Popen, IO[bytes]]] = []
        self.target: Any = None
        self.interrupted = 0
        self.stop_requested_at: float | None = None
        # each child dies with this process; the host's basic auth reaches the master in its
        # environment, never on its command line, where `ps` would show it
        self.env = child_environment()
        if host_auth:
            self.env[HOST_AUTH_ENV] = host_auth

    def __enter__(self) -> _Processes:
        self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        self._previous_term = signal.signal(signal.SIGTERM, self._on_sigint)
        return self

    def __exit__(self, *exc: Any) -> None:
        for _name, proc, log in reversed(self.children):
            _stop(proc, natural_s=5.0)  # workers leave on their own once the master quits
            log.close()
        if self.target is not None:
            self.target.stop()
        signal.signal(signal.SIGINT, self._previous)
        signal.signal(signal.SIGTERM, self._previous_term)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        """The first Ctrl-C or SIGTERM finishes the run as its planned end would (every sample kept,
        the report written, exit 3); the second kills."""
        self.interrupted += 1
        if self.interrupted > 1:
            return
        self.stop_requested_at = time.time()
        reason = (
            "interrupted by the user (Ctrl-C)"
            if signum == signal.SIGINT
            else f"interrupted by {signal.Signals(signum).name}"
        )
        try:
            request_stop(self.run_dir, reason)
        except OSError:  # a read-only or full run folder: the master's own signal handler does the same
            if self.children:
                self.children[0][1].send_signal(signal.SIGTERM)
        print(f"\nharness: {reason}: finishing the run and writing the report (again to kill)", file=sys.stderr)

    def start_target(self, scenario: Scenario, profile: str | None) -> str:
        from harness.demo_api.config import TargetConfig
        from harness.demo_api.process import start_target

        settings = dict(scenario.target)
        if profile:
            settings["profile"] = profile
        self.target = start_target(TargetConfig.from_dict(settings))
        return self.target.url

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "locust", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**self.env, **(env or {})},
            start_new_session=True,  # Ctrl-C reaches the harness only; it stops them in order
        )
        self.children.append((name, proc, log))
        return proc

    def run_locust(
        self,
        args: list[str],
        workers: int,
        locustfiles: tuple[Path, ...],
        master_at: _Master | None = None,
        worker_env: dict[str, str] | None = None,
    ) -> int:
        base = ["-f", ",".join(str(f) for f in locustfiles)]
        if master_at is None:
            master = self.spawn("locust", [*base, *args])
        else:
            master = self.spawn(
                "master",
                [*base, *args, *master_args(master_at.bind, master_at.port, master_at.expect, master_at.max_wait_s)],
            )
            for i in range(workers):
                self.spawn(
                    f"worker-{i + 1}",
                    worker_args(local_master_host(master_at.bind), master_at.port, locustfiles),
                    env=worker_env,
                )
        code = self._follow(master)
        self._report_master_errors(code)
        return code

    def _follow(self, master: subprocess.Popen) -> int:
        """Wait for the master, printing progress; give up GRACE_S after the planned end, or
        STOP_GRACE_S after a stop was asked for."""
        progress = _Progress(self.run_dir / "progress.json")
        deadline: float | None = None
        while master.poll() is None:
            time.sleep(0.5)
            planned = progress.show()
            if planned and deadline is None:
                deadline = time.time() + planned + GRACE_S
            late = [d for d in (deadline, self.stop_requested_at and self.stop_requested_at + STOP_GRACE_S) if d]
            if self.interrupted > 1 or (late and time.time() > min(late)):
                if self.interrupted < 2:
                    print("\nharness: the master did not finish in time; stopping it", file=sys.stderr)
                _stop(master, grace_s=10.0 if self.interrupted < 2 else 1.0)
        progress.done()
        return master.returncode

    def _report_master_errors(self, code: int) -> None:
        if code in (ExitCode.USAGE, ExitCode.ABORTED):
            name, _, log = self.children[0]
            log.flush()
            lines = (self.logs / f"{name}.log").read_text(errors="replace").splitlines()
            for line in [line for line in lines if line.startswith("harness:")]:
                print(line, file=sys.stderr)


class _Progress:
    """The one-line live view: elapsed and planned time, requests/s, current p95, errors."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tty = sys.stderr.isatty()
        self.last_line = 0.0

    def show(self) -> float | None:
        try:
            p = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        p95 = "-" if p.get("p95_ms") is None else f"{p['p95_ms']:.0f} ms"
        planned = p.get("planned_s") or 0
        line = (
            f"[{p['elapsed_s']:6.1f}s / {planned:.0f}s] {p['rps']:7.1f} req/s  p95 {p95:>8}  "
            f"requests {p['requests']}  errors {p['failures']}  users {p['users']}  workers {p['workers']}"
        )
        if self.tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)
        elif time.time() - self.last_line >= 5:
            print(line, file=sys.stderr, flush=True)
            self.last_line = time.time()
        return planned

    def done(self) -> None:
        if self.tty:
            print(file=sys.stderr)


def _stop(proc: subprocess.Popen, grace_s: float = 10.0, natural_s: float = 0.0) -> None:
    """Wait `natural_s` for it to end by itself, then SIGTERM, then SIGKILL: only this process."""
    try:
        proc.wait(timeout=natural_s)
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        proc.terminate()
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
