"""Start the demo API in a child process and stop exactly that process.

The child learns its configuration from a JSON file, binds the port itself (port 0 works) and
announces its URL on one stdout line, which is how the parent knows it is ready. Its stdin is a pipe
that the parent never writes: when the parent dies, the pipe closes and the child shuts down, so an
interrupted test run does not leave demo APIs behind.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

from harness.demo_api.config import TargetConfig
from harness.errors import AbortedError

__all__ = ["RunningTarget", "TargetStartError", "start_target"]

_READY = re.compile(r"^harness target: listening on (\S+) \(profile (\w+)\)$")
_REPO_ROOT = str(Path(__file__).resolve().parents[2])


class TargetStartError(AbortedError):
    """The demo API did not come up; the message ends with the tail of its stderr."""


class RunningTarget:
    """A demo API in a child process. Use as a context manager, or call `stop()`."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, config: TargetConfig, workdir: str) -> None:
        self.process = process
        self.url = url
        self.config = config
        self._workdir = workdir
        self._drain: threading.Thread | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = 5.0) -> int:
        """SIGTERM, wait up to `timeout_s`, then SIGKILL. Returns the exit code (0 after a clean stop)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self._drain is not None:
            self._drain.join(1.0)  # the child is gone, so its stdout reaches EOF at once
        if self.process.stdout is not None and (self._drain is None or not self._drain.is_alive()):
            self.process.stdout.close()  # only once no thread can still be reading the descriptor
        shutil.rmtree(self._workdir, ignore_errors=True)
        return self.process.returncode

    def stderr_tail(self, limit: int = 4000) -> str:
        return _tail(Path(self._workdir) / "stderr.log", limit)

    def __enter__(self) -> RunningTarget:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RunningTarget {self.url} pid={self.pid} profile={self.config.profile}>"


def _tail(path: Path, limit: int) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", "replace").strip()


def _read_ready_line(process: subprocess.Popen[bytes], deadline: float) -> str | None:
    """The URL from the child's ready line, or None if it exited or the deadline passed first."""
    assert process.stdout is not None
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(remaining):
                continue
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                return None
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                match = _READY.match(line.decode("utf-8", "replace").strip())
                if match:
                    return match.group(1)
    return None


def _drain(fd: int) -> None:
    """Keep reading the child's stdout so a stray print can never block it on a full pipe.

    Raw `os.read`, not the file object: a daemon thread blocked in a buffered reader can abort
    the interpreter at exit."""
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass


def start_target(config: TargetConfig, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 20) -> RunningTarget:
    """Start the demo API in a child process and return once it accepts connections."""
    workdir = tempfile.mkdtemp(prefix="harness-target-")
    config_path = Path(workdir) / "target.json"
    config_path.write_text(json.dumps(config.to_dict()))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_REPO_ROOT, env.get("PYTHONPATH")) if p)
    command = [
        sys.executable, "-m", "harness.demo_api",
        "--config", str(config_path), "--host", host, "--port", str(port), "--exit-on-stdin-eof",
    ]  # fmt: skip
    with open(Path(workdir) / "stderr.log", "wb") as stderr:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env)
    target = RunningTarget(process, "", config, workdir)
    try:
        url = _read_ready_line(process, time.monotonic() + timeout_s)
    except BaseException:
        target.stop()
        raise
    if url is None:
        exited = process.poll() is not None
        tail = target.stderr_tail()
        target.stop()
        what = f"exited with code {process.returncode}" if exited else f"was not ready within {timeout_s:g}s"
        raise TargetStartError(f"demo API {what}" + (f"; stderr:\n{tail}" if tail else " (no stderr)"))
    target.url = url
    assert process.stdout is not None
    target._drain = threading.Thread(
        target=_drain, args=(process.stdout.fileno(),), name=f"target-{process.pid}-stdout", daemon=True
    )
    target._drain.start()
    return target
