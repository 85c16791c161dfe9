"""Several demo API processes on one port, the way a pre-forking deployment runs.

The parent binds the port, makes what the processes must share (the token signing key, a folder
where each publishes its stats figures and, for the hardened profile, the counter store), then
forks. Each child builds its own app and event loop and accepts connections; a keep-alive
connection stays with the process that accepted it.

Where the OS has SO_REUSEPORT (Linux), the parent binds one listening socket per child on the same
port and the kernel spreads new connections over them by a hash of the client's address and port,
so sequential new connections land on the processes about evenly (as with nginx `reuseport` or
gunicorn `--reuse-port`). Elsewhere all children accept on one shared socket, where whichever
process wakes first wins, which can be very lopsided. The parent prints the one ready line
once every child is listening, then only supervises: on SIGTERM/SIGINT (or when its stdin closes,
with `watch_stdin`) it stops all children; if one dies, it stops the rest and exits 1. Children stop
by themselves when the parent disappears, through a pipe only the parent writes to.
"""

from __future__ import annotations

import os
import secrets
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import replace

from harness.demo_api.app import create_app
from harness.demo_api.config import TargetConfig
from harness.demo_api.server import bind, exit_when_closed, make_server, ready_line, url_of
from harness.demo_api.shared import ProcessContext, create_store

__all__ = ["serve", "serve_processes"]

_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
_WATCHED = _STOP_SIGNALS | {signal.SIGCHLD}
_CHILD_GRACE_S = 4.0


def _listeners(sock: socket.socket, n: int) -> list[socket.socket]:
    """A listening socket per process: `sock` plus siblings on its port, if it allows SO_REUSEPORT."""
    reuse = getattr(socket, "SO_REUSEPORT", None)
    if reuse is None or not sock.getsockopt(socket.SOL_SOCKET, reuse):
        return [sock] * n
    address = sock.getsockname()
    socks = [sock]
    try:
        for _ in range(n - 1):
            sibling = socket.socket(sock.family, socket.SOCK_STREAM)
            socks.append(sibling)
            sibling.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sibling.setsockopt(socket.SOL_SOCKET, reuse, 1)
            sibling.bind(address)
            sibling.listen(2048)
    except BaseException:
        for s in socks[1:]:
            s.close()
        raise
    return socks


def _child(
    config: TargetConfig, sock: socket.socket, context: ProcessContext, ready_fd: int, life_fd: int, workdir: str
) -> int:
    """Body of one forked server process; returns its exit code."""
    parent = os.getppid()
    try:
        app = create_app(config, context=context)

        def started() -> None:
            os.write(ready_fd, b".")
            os.close(ready_fd)

        server = make_server(app, config, started)
        exit_when_closed(life_fd, lambda: setattr(server, "should_exit", True), name="parent-watch")
        server.run(sockets=[sock])
        return 0
    except KeyboardInterrupt:  # a Ctrl-C before uvicorn installed its handlers
        return 0
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        if os.getppid() != parent:  # orphaned: the parent was killed and cannot remove the shared folder
            shutil.rmtree(workdir, ignore_errors=True)
        sys.stdout.flush()
        sys.stderr.flush()


def _reap(children: dict[int, int | None]) -> list[int]:
    """Collect children that exited; returns their pids."""
    gone = []
    for pid, code in children.items():
        if code is not None:
            continue
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done, status = pid, 0
        if done:
            children[pid] = os.waitstatus_to_exitcode(status)
            gone.append(pid)
    return gone


def _wait_ready(ready_fd: int, children: dict[int, int | None]) -> bool:
    """True once every child reported listening; False on a stop signal or a child that died."""
    expected = len(children)
    while expected > 0:
        if signal.sigtimedwait(_STOP_SIGNALS, 0) is not None or _reap(children):
            return False
        if select.select([ready_fd], [], [], 0.1)[0]:
            chunk = os.read(ready_fd, 64)
            if not chunk:
                return False
            expected -= len(chunk)
    return True


def _supervise(children: dict[int, int | None]) -> int:
    """Wait for a stop signal (exit 0) or a child that dies on its own (exit 1)."""
    while True:
        info = signal.sigtimedwait(_WATCHED, 1.0)
        if info is not None and info.si_signo in _STOP_SIGNALS:
            return 0
        for pid in _reap(children):
            print(f"harness target: server process {pid} exited with code {children[pid]}; stopping",
                  file=sys.stderr, flush=True)  # fmt: skip
            return 1


def _stop_all(children: dict[int, int | None]) -> None:
    _reap(children)
    for pid, code in children.items():
        if code is None:
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + _CHILD_GRACE_S
    while any(code is None for code in children.values()) and time.monotonic() < deadline:
        time.sleep(0.02)
        _reap(children)
    for pid, code in children.items():
        if code is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            children[pid] = -signal.SIGKILL


def serve_processes(config: TargetConfig, sock: socket.socket, on_ready: Callable[[], None], watch_stdin: bool) -> int:
    """Fork `config.processes` servers on `sock` and supervise them; returns the exit code."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("several server processes can only be started from the main thread")
    workdir = tempfile.mkdtemp(prefix="harness-target-shared-")
    try:
        stats_dir = os.path.join(workdir, "stats")  # each process's figures, for /__demo__/stats to merge
        os.mkdir(stats_dir)
        context = ProcessContext(token_key=secrets.token_bytes(32), processes=config.processes, stats_dir=stats_dir)
        if config.profile == "hardened":  # counters every process must see; vulnerable keeps its own (flaw 5)
            context = replace(context, store_path=create_store(workdir))
        listeners = _listeners(sock, config.processes)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    ready_r, ready_w = os.pipe()
    life_r, life_w = os.pipe()
    # Block the signals the parent waits for before any child or thread exists; children unblock them.
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _WATCHED)
    children: dict[int, int | None] = {}
    try:
        for mine in listeners:
            pid = os.fork()
            if pid == 0:
                os.close(ready_r)
                os.close(life_w)
                for other in {*listeners} - {mine}:
                    other.close()  # a dead sibling's socket must leave the port's group with it
                signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
                os._exit(_child(config, mine, context, ready_w, life_r, workdir))
            children[pid] = None
        os.close(ready_w)
        os.close(life_r)
        for listener in set(listeners):
            listener.close()  # only the children accept
        if not _wait_ready(ready_r, children):
            failed = {pid: code for pid, code in children.items() if code}
            return 1 if failed else 0
        on_ready()
        if watch_stdin:
            exit_when_closed(sys.stdin.fileno(), lambda: os.kill(os.getpid(), signal.SIGTERM))
        return _supervise(children)
    finally:
        _stop_all(children)
        for fd in (ready_r, life_w):
            os.close(fd)
        for listener in set(listeners):
            listener.close()
        shutil.rmtree(workdir, ignore_errors=True)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)


def serve(
    config: TargetConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    on_ready: Callable[[str], None] | None = None,
    sock: socket.socket | None = None,
    watch_stdin: bool = False,
) -> int:
    """Serve until SIGINT/SIGTERM, in this process or, with `processes > 1`, in supervised children.
    Prints the ready line to stdout once listening, then calls `on_ready(url)`.

    Pass `sock` to serve on a socket bound earlier (the CLI does, to report bind errors itself).
    Returns the exit code: 0 after a signal, 1 when one of several server processes died.
    """
    sock = sock or bind(host, port, reuse_port=config.processes > 1)
    url = url_of(sock)

    def started() -> None:
        print(ready_line(url, config.profile), flush=True)
        if on_ready is not None:
            on_ready(url)

    if config.processes > 1:
        return serve_processes(config, sock, started, watch_stdin)
    server = make_server(create_app(config), config, started)
    if watch_stdin:
        exit_when_closed(sys.stdin.fileno(), lambda: setattr(server, "should_exit", True))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0
