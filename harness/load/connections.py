"""Keep-alive connections reused past 1,024 open sockets.

geventhttpclient (the HTTP client of Locust's FastHttpUser, 2.6.1) checks an idle pooled socket with
`select()` before it reuses it, and `select()` refuses a file descriptor of 1,024 or more (ValueError),
which the check reads as a dead socket. So once a worker holds about a thousand connections (a chat
launch's open streams), every request after that closes its user's idle connection, opens a new one
and resolves the host again: the worker spends its CPU on connecting, the target sees a connection
per request instead of the keep-alive clients it will have, and the TCP connect lands in the
request's latency. The same check made with `poll()` has no such limit (bench/streams.py measured it).

And an address literal is resolved in place. geventhttpclient resolves the host of every new connection
through gevent's resolver, which hands even "127.0.0.1" to a native thread and waits for it: a thread
round trip inside the connect time the sample measures, and the deepest call of a user's life. A
greenlet keeps every page its Python frames ever touched (CPython 3.11's per-greenlet data stack), so
that one call costs each open stream a page of memory for as long as it lives (bench/streams.py).

And a pool keeps its idle sockets in a plain list. geventhttpclient gives every pool a gevent `LifoQueue`,
about 2 KB for a pool that holds one socket, and a FastHttpUser has its own pool: at 10,000 open streams,
about 20 MB for queues that are never waited on (the pool's semaphore is what makes a caller wait).
"""

from __future__ import annotations

import select
import socket
from typing import Any

from gevent.monkey import get_original
from gevent.queue import Empty
from geventhttpclient.connectionpool import ConnectionPool

__all__ = [
    "IdleSockets",
    "idle_socket_is_reusable",
    "keep_idle_sockets_in_a_list",
    "resolve_address_literals_in_place",
    "reuse_connections_past_1024",
]

_poll = get_original("select", "poll")  # the real poll(): a check that never waits, so it never yields
_getaddrinfo = get_original("socket", "getaddrinfo")  # with AI_NUMERICHOST it never looks anything up
_resolve_by_name = ConnectionPool._resolve  # gevent's resolver, in a native thread
_init_pool = ConnectionPool.__init__
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


def _resolve(self: ConnectionPool) -> list[Any]:
    """An address literal (127.0.0.1, ::1) in place; a name through gevent's resolver, as before."""
    family = socket.AF_INET if self.disable_ipv6 else 0
    try:
        return list(
            _getaddrinfo(
                self._connection_host,
                self._connection_port,
                family,
                socket.SOCK_STREAM,
                socket.SOL_TCP,
                socket.AI_NUMERICHOST,
            )
        )
    except socket.gaierror:  # a name: it is not a literal
        return _resolve_by_name(self)


def resolve_address_literals_in_place() -> None:
    """Make every geventhttpclient pool in this process resolve an address literal without a thread (idempotent)."""
    ConnectionPool._resolve = _resolve  # type: ignore[method-assign]


class IdleSockets:
    """A pool's idle sockets, the last returned first: what geventhttpclient's pool asks of its LifoQueue.

    The pool takes one only after its semaphore has let it in, and never waits here: an empty stack raises
    gevent's `Empty` at once, as `LifoQueue.get(block=False)` does, whatever `block` says."""

    __slots__ = ("_sockets",)

    def __init__(self) -> None:
        self._sockets: list[Any] = []

    def empty(self) -> bool:
        return not self._sockets

    def put(self, sock: Any) -> None:
        self._sockets.append(sock)

    def get(self, block: bool = False, timeout: float | None = None) -> Any:
        if not self._sockets:
            raise Empty
        return self._sockets.pop()


def _init_with_idle_sockets(self: ConnectionPool, *args: Any, **kwargs: Any) -> None:
    _init_pool(self, *args, **kwargs)
    self._socket_queue = IdleSockets()


def keep_idle_sockets_in_a_list() -> None:
    """Make every geventhttpclient pool built from now on in this process keep its idle sockets in a list
    (idempotent)."""
    ConnectionPool.__init__ = _init_with_idle_sockets  # type: ignore[method-assign]
