"""Idle keep-alive sockets are reused past 1,024 open files (harness.load.connections). Real sockets,
no process: a socket pair whose descriptor is 1,024 or more, as a worker holding a thousand streams has."""

from __future__ import annotations

import fcntl
import resource
import socket
from collections.abc import Iterator

import pytest
from geventhttpclient.connectionpool import ConnectionPool

from harness.load.connections import idle_socket_is_reusable, reuse_connections_past_1024


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
