"""Run the demo API with uvicorn on a socket bound here, so port 0 is free of races: the port is
known before the server starts and the ready line reports the one actually listening."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Generator

import uvicorn

from harness.target.app import create_app
from harness.target.config import TargetConfig

__all__ = ["bind", "serve", "ready_line"]


def ready_line(url: str, profile: str) -> str:
    return f"harness target: listening on {url} (profile {profile})"


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # uvicorn re-raises SIGINT/SIGTERM after shutting down, so the process dies by the signal or
        # with a KeyboardInterrupt traceback; a stopped demo API should simply exit 0.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _exit_when_stdin_closes(server: uvicorn.Server) -> None:
    """Stop when the parent that holds our stdin goes away, even if it died without stopping us."""

    def watch() -> None:
        # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader aborts the
        # interpreter at shutdown ("could not acquire lock ... at interpreter shutdown").
        with contextlib.suppress(OSError):
            while os.read(fd, 4096):
                pass
        server.should_exit = True

    fd = sys.stdin.fileno()

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


def serve(
    config: TargetConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    on_ready: Callable[[str], None] | None = None,
    sock: socket.socket | None = None,
    watch_stdin: bool = False,
) -> None:
    """Serve until SIGINT/SIGTERM. Prints the ready line to stdout once listening, then calls `on_ready(url)`.

    Pass `sock` to serve on a socket bound earlier (the CLI does, to report bind errors itself).
    """
    sock = sock or bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    url = f"http://[{bound_host}]:{bound_port}" if ":" in bound_host else f"http://{bound_host}:{bound_port}"
    app = create_app(config)

    def started() -> None:
        print(ready_line(url, config.profile), flush=True)
        if on_ready is not None:
            on_ready(url)

    uv_config = uvicorn.Config(
        app,
        loop="auto",  # uvloop and httptools when installed (they are, via uvicorn[standard])
        http="auto",
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=config.profile != "hardened",  # a hardened API does not advertise its server
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default; a hardened API uses the socket peer.
        proxy_headers=config.profile != "hardened",
        timeout_keep_alive=30,
        backlog=2048,
    )
    server = _Server(uv_config, started)
    if watch_stdin:
        _exit_when_stdin_closes(server)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
