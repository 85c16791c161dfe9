"""Keep-alive connections reused past 1,024 open sockets.

geventhttpclient (the HTTP client of Locust's FastHttpUser, 2.6.1) checks an idle pooled socket with
`select()` before it reuses it, and `select()` refuses a file descriptor of 1,024 or more (ValueError),
which the check reads as a dead socket. So once a worker holds about a thousand connections (a chat
launch's open streams), every request after that closes its user's idle connection, opens a new one
and resolves the host again: the worker spends its CPU on connecting, the target sees a connection
per request instead of the keep-alive clients it will have, and the TCP connect lands in the
request's latency. The same check made with `poll()` has no such limit (bench/streams.py measured it).
"""

from __future__ import annotations

import select
from typing import Any

from gevent.monkey import get_original
from geventhttpclient.connectionpool import ConnectionPool

__all__ = ["idle_socket_is_reusable", "reuse_connections_past_1024"]

_poll = get_original("select", "poll")  # the real poll(): a check that never waits, so it never yields
_READABLE = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP


def idle_socket_is_reusable(sock: Any) -> bool:
    """An idle pooled socket can carry the next request unless it is readable: the server closed it
    (a FIN) or sent bytes nobody asked for. geventhttpclient's own rule, by poll()."""
    if sock is None:
        return False
    try:
        fd = sock.fileno()
        if fd < 0:
            return False
        poller = _poll()
        poller.register(fd, _READABLE)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


def _is_socket_alive(self: ConnectionPool, sock: Any) -> bool:
    return idle_socket_is_reusable(sock)


def reuse_connections_past_1024() -> None:
    """Make every geventhttpclient pool in this process check idle sockets by poll() (idempotent)."""
    ConnectionPool._is_socket_alive = _is_socket_alive  # type: ignore[method-assign]
