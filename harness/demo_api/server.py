"""Run the demo API with uvicorn on a socket bound here, so port 0 is free of races: the port is
known before the server starts and the ready line reports the one actually listening.

With `processes > 1` the socket is handed to forked server processes (see `supervisor`)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Callable, Generator

import uvicorn
from starlette.types import ASGIApp

from harness.demo_api.config import TargetConfig

__all__ = ["bind", "ready_line", "make_server", "exit_when_closed", "url_of"]


def ready_line(url: str, profile: str) -> str:
    return f"harness target: listening on {url} (profile {profile})"


def bind(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket on host:port (port 0 picks a free one).

    `reuse_port` lets sibling sockets join the same port (SO_REUSEPORT, where the OS has it), so
    several server processes each get a fair share of new connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port and hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
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


def exit_when_closed(fd: int, stop: Callable[[], None], name: str = "stdin-watch") -> None:
    """Call `stop` when the writer of pipe `fd` goes away (our parent holds it), even if it died
    without stopping us."""

    def watch() -> None:
        # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader aborts the
        # interpreter at shutdown ("could not acquire lock ... at interpreter shutdown").
        with contextlib.suppress(OSError):
            while os.read(fd, 4096):
                pass
        stop()

    threading.Thread(target=watch, name=name, daemon=True).start()


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def make_server(app: ASGIApp, config: TargetConfig, on_started: Callable[[], None]) -> uvicorn.Server:
    """A uvicorn server for the demo app that calls `on_started` once it accepts connections."""
    uv_config = uvicorn.Config(
        app,
        loop="auto",  # uvloop and httptools when installed (they are, via uvicorn[standard])
        http="auto",
        # With several processes the app starts and stops its stats publisher in the lifespan.
        lifespan="on" if config.processes > 1 else "off",
        access_log=False,
        log_level="warning",
        server_header=config.profile != "hardened",  # a hardened API does not advertise its server
        # Always the socket peer here: uvicorn would trust X-Forwarded-For from 127.0.0.1 by default.
        # The vulnerable profile adds that trust inside the app, after recording the real peer.
        proxy_headers=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=3,
        backlog=2048,
    )
    return _Server(uv_config, on_started)
