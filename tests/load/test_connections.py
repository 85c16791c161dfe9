"""Idle keep-alive sockets are reused past 1,024 open files, an address literal is resolved without a
thread, and a pool keeps its idle sockets in a list (harness.load.connections). Real sockets, no process:
a socket pair whose descriptor is 1,024 or more, as a worker holding a thousand streams has; a listening
socket on loopback."""

from __future__ import annotations

import fcntl
import resource
import socket
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gevent.queue import Empty
from geventhttpclient.connectionpool import ConnectionPool, SSLConnectionPool

from harness.load import connections
from harness.load.connections import (
    IdleSockets,
    idle_socket_is_reusable,
    keep_idle_sockets_in_a_list,
    resolve_address_literals_in_place,
    reuse_connections_past_1024,
)


@pytest.fixture
def high_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected socket pair, the client's end on a descriptor of 1,024 or more."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip(f"the open-file limit ({hard}) is under 1,100")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1100), hard))
    low, server = socket.socketpair()
    client = socket.socket(fileno=fcntl.fcntl(low.fileno(), fcntl.F_DUPFD, 1024))  # the lowest free from 1,024
    low.close()
    try:
        yield client, server
    finally:
        client.close()
        server.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_an_idle_socket_past_1024_is_reusable_where_geventhttpclients_check_calls_it_dead(high_pair) -> None:
    client, server = high_pair
    assert client.fileno() >= 1024
    assert ConnectionPool._is_socket_alive(None, client) is False  # the library's: select() refuses it
    assert idle_socket_is_reusable(client) is True

    server.sendall(b"HTTP/1.1 200 OK\r\n")  # bytes nobody asked for: not reusable
    assert idle_socket_is_reusable(client) is False


def test_a_socket_the_server_closed_is_not_reused(high_pair) -> None:
    client, server = high_pair
    server.close()  # a FIN: readable at once
    assert idle_socket_is_reusable(client) is False
    client.close()
    assert idle_socket_is_reusable(client) is False and idle_socket_is_reusable(None) is False


def test_installed_every_pool_of_the_process_checks_by_poll(high_pair, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ConnectionPool, "_is_socket_alive", ConnectionPool.__dict__["_is_socket_alive"])
    reuse_connections_past_1024()
    client, _ = high_pair
    pool = ConnectionPool.__new__(ConnectionPool)  # the check reads nothing of the pool's own
    assert pool._is_socket_alive(client) is True


@pytest.fixture
def resolving_in_place(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The patch installed over a stand-in for the library's resolving (both undone after the test),
    which notes each host handed to it: a literal that reaches it, in place or unpatched, is noted."""
    by_name: list[str] = []

    def library(pool: ConnectionPool) -> list:
        by_name.append(pool._connection_host)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", pool._connection_port))]

    monkeypatch.setattr(ConnectionPool, "_resolve", library)
    monkeypatch.setattr(connections, "_resolve_by_name", library)
    resolve_address_literals_in_place()
    return by_name


@pytest.mark.parametrize("host", ["127.0.0.1", "127.16.0.2", "::1"])
def test_an_address_literal_never_reaches_the_resolver(resolving_in_place: list[str], host: str) -> None:
    pool = ConnectionPool(host, 8080, host, 8080)
    found = pool._resolve()
    assert found == socket.getaddrinfo(host, 8080, 0, socket.SOCK_STREAM, socket.SOL_TCP)
    assert resolving_in_place == []


def test_a_name_still_goes_to_the_resolver(resolving_in_place: list[str]) -> None:
    assert ConnectionPool("localhost", 8080, "localhost", 8080)._resolve()[0][4] == ("127.0.0.1", 8080)
    pool = ConnectionPool("127.0.0.1", 8080, "127.0.0.1", 8080, disable_ipv6=True)
    assert [info[0] for info in pool._resolve()] == [socket.AF_INET]
    assert resolving_in_place == ["localhost"]


def test_a_pool_connects_to_an_address_literal_in_place(resolving_in_place: list[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        pool = ConnectionPool("127.0.0.1", port, "127.0.0.1", port, connection_timeout=2.0)
        sock = pool.get_socket()
        try:
            accepted, peer = server.accept()
            accepted.close()
            assert peer == sock.getsockname() and resolving_in_place == []
        finally:
            sock.close()


@pytest.fixture
def idle_sockets_in_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """The patch installed for this test only."""
    monkeypatch.setattr(ConnectionPool, "__init__", ConnectionPool.__init__)
    keep_idle_sockets_in_a_list()


def test_idle_sockets_come_back_the_last_returned_first_and_an_empty_stack_never_waits() -> None:
    idle = IdleSockets()
    assert idle.empty()
    with pytest.raises(Empty):
        idle.get()  # the pool's semaphore is what waits: a get here must not block the greenlet
    idle.put("a")
    idle.put("b")
    assert (idle.get(block=False), idle.get(), idle.empty()) == ("b", "a", True)


def test_a_pool_reuses_its_idle_socket_from_the_list(idle_sockets_in_a_list) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        pool = ConnectionPool("127.0.0.1", port, "127.0.0.1", port, size=1, connection_timeout=2.0)
        assert isinstance(pool._socket_queue, IdleSockets)
        sock = pool.get_socket()
        accepted, _ = server.accept()
        try:
            pool.return_socket(sock)
            assert pool.get_socket() is sock  # kept alive, so reused: no second connection
            server.settimeout(0.2)
            with pytest.raises(TimeoutError):
                server.accept()
            pool.release_socket(sock)
            pool.close()
        finally:
            accepted.close()


def test_a_tls_pool_keeps_its_idle_sockets_in_a_list_too(idle_sockets_in_a_list) -> None:
    pool = SSLConnectionPool("127.0.0.1", 443, "127.0.0.1", 443)  # its __init__ calls the pool's: patched
    assert isinstance(pool._socket_queue, IdleSockets)


def test_a_pool_with_its_idle_sockets_in_a_list_keeps_under_a_third_of_the_memory(idle_sockets_in_a_list) -> None:
    """What a FastHttpUser's pool keeps for as long as the user lives (tracemalloc: allocations, not time;
    here about 0.5 against 2.2 KB)."""

    def kept_per_pool(build: Callable[[], Any]) -> float:
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            pools = [build() for _ in range(500)]
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        assert len(pools) == 500
        return sum(stat.size_diff for stat in after.compare_to(before, "filename")) / 500

    patched = kept_per_pool(lambda: ConnectionPool("127.0.0.1", 80, "127.0.0.1", 80))
    library = kept_per_pool(lambda: _library_pool("127.0.0.1", 80, "127.0.0.1", 80))
    assert library - patched > 1000 and patched < library / 3, (patched, library)


def _library_pool(*args: Any) -> ConnectionPool:
    pool = ConnectionPool.__new__(ConnectionPool)
    connections._init_pool(pool, *args)
    return pool
