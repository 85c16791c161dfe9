"""Several hosts: `harness worker` joins a master elsewhere, and the addresses both sides agree on.

A worker started here is the same Locust worker `harness run` starts locally (same locustfiles, so the
same recording plugin). The master sends the scenario and the credentials with its spawn message
(`harness.load.plan`), so a worker host needs this checkout and nothing else: no scenario file, no secrets.

This module does not import Locust: it only builds command lines and runs them as child processes.
"""

from __future__ import annotations

import ipaddress
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.errors import ExitCode
from harness.lifeline import child_environment

__all__ = [
    "DEFAULT_MASTER_PORT",
    "LOCUSTFILES",
    "check_bind",
    "local_master_host",
    "master_args",
    "parse_master",
    "run_worker",
    "worker_args",
    "workers_missing",
]

ENTRY_POINTS = Path(__file__).resolve().parents[1] / "locustfiles"  # package data: what `locust -f` is given
LOCUSTFILES = (ENTRY_POINTS / "journeys.py", ENTRY_POINTS / "abuse.py")
DEFAULT_MASTER_PORT = 5557  # Locust's own default
ANY_ADDRESS = ("0.0.0.0", "::", "*")


def parse_master(text: str) -> tuple[str, int]:
    """`HOST[:PORT]` (`[V6]:PORT` for IPv6) → (host, port); `ValueError` with a one-line message."""
    host, port = text.strip(), DEFAULT_MASTER_PORT
    if host.startswith("["):
        inner, _, rest = host[1:].partition("]")
        host = inner
        if rest:
            port = _port(rest.removeprefix(":"), text)
    elif host.count(":") == 1:
        host, _, number = host.partition(":")
        port = _port(number, text)
    if not host:
        raise ValueError(f"--master: expected HOST[:PORT], got {text!r}")
    return host, port


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"--master: expected HOST[:PORT] with a port 1-65535, got {whole!r}")
    return int(text)


def check_bind(address: str) -> str:
    """The master's bind address must be an IP address of this host (0.0.0.0: every interface)."""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        raise ValueError(
            f"--master-bind: expected an IP address (0.0.0.0 for every interface), got {address!r}"
        ) from None


def local_master_host(bind: str) -> str:
    """Where workers on this host reach a master bound to `bind`."""
    return "127.0.0.1" if bind in ANY_ADDRESS else bind


def master_args(bind: str, port: int, expect: int, max_wait_s: float) -> list[str]:
    """Locust's own options: bind there, start once `expect` workers are ready, give up after `max_wait_s`."""
    return [
        "--master",
        "--master-bind-host",
        bind,
        "--master-bind-port",
        str(port),
        "--expect-workers",
        str(expect),
        "--expect-workers-max-wait",
        str(max(1, round(max_wait_s))),
    ]


def worker_args(host: str, port: int, locustfiles: tuple[Path, ...] = LOCUSTFILES) -> list[str]:
    """One Locust worker joining host:port, with the harness's locustfiles (and so its recording plugin)."""
    return ["-f", ",".join(str(f) for f in locustfiles), "--worker", "--master-host", host, "--master-port", str(port)]


def workers_missing(master_log: str, expect: int, max_wait_s: float, where: str) -> str | None:
    """The one-line error when Locust's master gave up waiting for its workers, else None."""
    if "Gave up waiting for workers" not in master_log:
        return None
    counts = re.findall(r"(\d+) of \d+ connected", master_log)
    came = f"only {counts[-1]} of {expect}" if counts else f"fewer than {expect}"
    return f"{came} workers connected to {where} within {max_wait_s:g} s"


def run_worker(master: str, processes: int = 1, locustfiles: tuple[Path, ...] = LOCUSTFILES) -> int:
    """`harness worker`: run `processes` Locust workers in the foreground until the master ends the run.

    Exit codes: 0 the master ended the run, 2 bad usage, 3 interrupted or a worker process failed."""
    try:
        host, port = parse_master(master)
    except ValueError as exc:
        return _usage_error(str(exc))
    if processes < 1:
        return _usage_error(f"--processes: expected 1 or more, got {processes}")
    missing = [f for f in locustfiles if not f.exists()]
    if missing:
        return _usage_error(f"{missing[0]}: locustfile not found (reinstall the harness: pip install launch-harness)")

    print(
        f"harness worker: {processes} Locust worker process(es) joining the master at {host}:{port}",
        file=sys.stderr,
        flush=True,
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "locust", *worker_args(host, port, locustfiles)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=child_environment(),
        )  # they end with this process, even a killed one
        for _ in range(processes)
    ]
    signals = _Forwarder(children)
    try:
        codes = [child.wait() for child in children]
    finally:
        signals.restore()
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    if signals.received:
        return ExitCode.ABORTED
    failed = [(i + 1, code) for i, code in enumerate(codes) if code != 0]
    if failed:
        print(f"harness worker: worker process {failed[0][0]} exited with code {failed[0][1]}", file=sys.stderr)
        return ExitCode.ABORTED
    return ExitCode.PASS


class _Forwarder:
    """Ctrl-C or SIGTERM: ask every worker to leave (Locust tells the master); a second one kills them."""

    def __init__(self, children: list[subprocess.Popen]) -> None:
        self.children = children
        self.received = 0
        self.previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.received += 1
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM if self.received == 1 else signal.SIGKILL)

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def _usage_error(message: str) -> int:
    print(f"harness worker: {message}", file=sys.stderr)
    return ExitCode.USAGE
