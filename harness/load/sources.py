"""Distinct clients, honestly: each simulated client gets its own source address in 127.0.0.0/8.

A header such as X-Forwarded-For only fools a server that trusts it; a real source address is what
the server's TCP stack sees. On Linux any 127.x.y.z is a valid source for loopback traffic, so when
the target is on loopback every user binds its own. Against other hosts the worker's own address is
used (several hosts give several addresses).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from geventhttpclient.client import HTTPClient, HTTPClientPool
from geventhttpclient.connectionpool import ConnectionPool

from harness.host import is_loopback
from harness.load.plan import RunPlan

if TYPE_CHECKING:  # importing locust gevent-patches the process: not for the unit tests of this module
    from locust import FastHttpUser

__all__ = [
    "is_loopback",
    "SourceAddresses",
    "source_addresses",
    "bind_user",
    "SourceBoundPool",
    "use_http_settings",
    "user_host",
]

SPACES = {
    "legit": 0,
    "attack": 60,
    "probe": 120,
    "wallet": 180,
}  # second octet bands, so purposes never share an address


class SourceAddresses:
    """Hands out distinct 127.x.y.z addresses; `space` keeps workers (and purposes) apart."""

    def __init__(self, space: int) -> None:
        self.space = 16 + space % 200  # 127.16.0.0 upwards: clear of 127.0.0.1, where the target listens
        self._counter = itertools.count()

    def next(self) -> str:
        n = next(self._counter) % (250 * 250)
        return f"127.{self.space}.{n // 250}.{n % 250 + 2}"


_registries: dict[str, SourceAddresses] = {}


def source_addresses(environment: Any, purpose: str) -> SourceAddresses:
    """This process's addresses for one purpose ("legit", "attack", "probe"), apart from other workers'."""
    if purpose not in _registries:
        worker = getattr(environment.runner, "worker_index", 0) or 0
        _registries[purpose] = SourceAddresses(SPACES[purpose] + worker)
    return _registries[purpose]


class SourceBoundPool(HTTPClientPool):
    """geventhttpclient's client pool, with every new socket bound to one source address first."""

    def __init__(self, source: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source

    def get_client(self, url: Any) -> HTTPClient:
        client = super().get_client(url)
        pool: ConnectionPool = client._connection_pool
        if "_create_tcp_socket" not in vars(pool):  # not bound yet: the factory below is the instance's own
            create = pool._create_tcp_socket  # the documented hook: "tcp socket factory"
            source = self.source

            def bound(family: int, socktype: int, protocol: int) -> Any:
                sock = create(family, socktype, protocol)
                sock.bind((source, 0))
                return sock

            # the pool is built inside HTTPClient, so no subclass can be put in: its instance gets the factory
            pool._create_tcp_socket = bound  # type: ignore[method-assign]
        return client


def bind_user(user: Any, source: str) -> None:
    """Make a FastHttpUser's connections come from `source` (call before its first request)."""
    agent = user.client.client
    agent.clientpool = SourceBoundPool(source, **agent.clientpool.client_args)


def use_http_settings(user: Any, environment: Any) -> None:
    """Give a FastHttpUser the scenario's `[http]` timeouts: call before its __init__, which builds the client.

    The socket timeouts bound the connect and each read; the request's whole deadline is kept by
    harness.load.client, which a slow drip cannot reset.
    """
    plan = RunPlan.from_environment(environment)
    if plan is not None:
        user.network_timeout = plan.scenario.http.timeout_s
        user.connection_timeout = plan.scenario.http.connect_timeout_s


def user_host(user: FastHttpUser) -> str:
    """The URL a FastHttpUser sends to: always set, as FastHttpUser.__init__ stops the test without one."""
    assert user.host is not None, "FastHttpUser.__init__ stops the test without a host"
    return user.host
