"""Helpers shared by the tests: the harness as a real command, run folders, and bench scripts as modules."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
# What the wheel is built from, and all the Dockerfile copies (tests/commands/test_wheel.py, test_compose.py).
WHEEL_SOURCES = ("pyproject.toml", "README.md", "harness")


def run_harness(
    *args: str, cwd: Path | None = None, timeout: float = 180, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m harness ARGS`, bounded in time, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`harness ARGS` in this process, from the checkout as `run_harness` runs it, output captured: for
    commands that answer before they start anything (usage errors, validate, cost, compare). Should one
    start a process after all, the fast tier's guard (tests/conftest.py) fails the test."""
    from harness.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(REPO), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --help, and usage errors
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return subprocess.CompletedProcess(["harness", *args], code, out.getvalue(), err.getvalue())


def run_with_locustfile(
    scenario: Path, locustfile: Path, out: Path, timeout: float = 180, **options: Any
) -> subprocess.CompletedProcess[str]:
    """`harness run` with a locustfile of the test's own in place of the harness's (RunOptions.locustfiles:
    the command line has no such option), in a process of its own, output captured."""
    settings = ", ".join(f"{k}={v!r}" for k, v in options.items())
    code = (
        f"import sys; from pathlib import Path; from harness.commands.run import RunOptions, run; "
        f"sys.exit(run(RunOptions(scenario=Path({str(scenario)!r}), out=Path({str(out)!r}), "
        f"locustfiles=(Path({str(locustfile)!r}),), {settings})))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


@dataclass(frozen=True)
class CappedRun:
    """The session's capped run (tests/conftest.py `capped_run`)."""

    returncode: int
    stderr: str
    run_dir: Path


def load_bench(name: str) -> Any:
    """bench/NAME.py as a module (`bench_NAME`), without running it as a script."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def only_run_dir(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, f"expected one run folder in {out}, found {runs}"
    return runs[0]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def samples_frame(rows: list[dict[str, Any]]) -> Any:
    """Samples as `read_samples` returns them, from row dicts; a column a row leaves out takes its default."""
    import pyarrow as pa

    from harness.samples import DEFAULTS, SCHEMA

    columns = {name: [row.get(name, DEFAULTS[name]) for row in rows] for name in SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=SCHEMA).to_pandas()


CLIENT_ENDPOINTS = """
[accounts]
source = "demo"
[endpoints.login]
method = "POST"
path = "/api/auth/login"
body = { email = "{email}", password = "{password}" }
auth = false
[endpoints.conversations]
method = "GET"
path = "/api/conversations"
[endpoints.me]
method = "GET"
path = "/api/me"
[endpoints.conversation]
method = "GET"
path = "/api/conversations/{conversation_id}"
[endpoints.chat]
method = "POST"
path = "/api/chat"
body = { messages = "{messages}", stream = true }
stream = "sse-openai"
"""


def client_scenario(name: str, duration: str) -> str:
    """A scenario of coaching clients alone (login, conversations, me, streamed chat) with no think time."""
    return (
        f'[scenario]\nname = "{name}"\n'
        + CLIENT_ENDPOINTS
        + f'[load]\nusers = 3\nspawn_rate = 3\nduration = "{duration}"\n'
        + "[journeys.client]\nweight = 1\nthink_time = [0, 0]\nchat_turns = [1, 1]\nreset_probability = 0\n"
    )


# --- a `harness run` in the background, for tests that signal or watch it ---------------------------


def start_run(
    out: Path, host: str | None, *args: str, scenario: Path = REPO / "scenarios" / "smoke.toml"
) -> subprocess.Popen[str]:
    """`harness run` against `host`, or its embedded demo API when None."""
    target = ["--host", host] if host is not None else []
    return subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(scenario), *target, "--out", str(out), *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def wait_for_progress(out: Path, ready: Callable[[dict[str, Any]], bool], timeout: float = 180) -> dict[str, Any]:
    """The run's progress.json once `ready` holds for it. The timeout is generous: on a machine busy with
    the parallel suite a run's processes start slowly, and a test that signals a run mid-ramp plans one
    long enough to outlast it."""
    deadline = time.time() + timeout
    progress: dict[str, Any] | None = None
    while time.time() < deadline:
        time.sleep(0.5)
        for path in out.glob("*/progress.json"):
            try:
                progress = json.loads(path.read_text())
            except ValueError:
                continue
            if ready(progress):
                return progress
    raise AssertionError(f"the run never got going within {timeout:g} s; its last progress.json: {progress}")


def locust_process(harness: subprocess.Popen[str], role: str) -> psutil.Process:
    """The first of the harness's Locust processes whose command line has `role` (--master, --worker)."""
    for child in psutil.Process(harness.pid).children(recursive=True):
        try:
            if role in child.cmdline():
                return child
        except psutil.NoSuchProcess:
            continue
    raise AssertionError(f"no {role} process under the harness")


def finish(harness: subprocess.Popen[str], timeout: float = 120) -> str:
    """Wait for `harness run` to end by itself and return its stderr; kill it if it hangs."""
    try:
        _, stderr = harness.communicate(timeout=timeout)
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.communicate()
    return stderr


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    def running(p: psutil.Process) -> bool:
        try:
            return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    return [p for p in processes if running(p)]
