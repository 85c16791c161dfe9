"""The harness's journeys with two worker fixes bench/streams.py found, for its `harness-fixed` variant: what
they would buy, measured beside the harness as it is. Neither is in the harness yet.

1. Connection reuse past 1,024 open sockets. geventhttpclient's pool checks an idle socket with
   `select.select()` before reusing it (`ConnectionPool._is_socket_alive`); select() refuses a file
   descriptor of 1,024 or more (ValueError), which the check reads as a dead socket. So once a worker holds
   about 1,000 connections, every new request opens a new TCP connection and resolves the host in gevent's
   thread pool. The same check with poll() has no such limit.
2. The cyclic garbage collector. Every user's objects (its Locust user, HTTP session, journey, greenlet)
   are long-lived, and at 10,000 users the collector's full passes walk about a million of them every few
   seconds. `gc.freeze()` once each spawn step is done moves them out of its way, as the harness already
   does at start for the imported modules. (The objects of the streams in flight, as many again, stay in
   the collector's way: see docs/benchmarks.md.)

    locust -f bench/locust_harness_fixed.py,harness/locustfiles/abuse.py ...   (as `harness run` would)
"""

from __future__ import annotations

import gc
import select
import sys
from pathlib import Path
from typing import Any

from gevent.monkey import get_original
from geventhttpclient.connectionpool import ConnectionPool
from locust import events

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.load.journeys import CoachingClient, PaymentProvider, StepsJourney, Visitor  # noqa: E402
from harness.load.shape import ScenarioShape  # noqa: E402

__all__ = ["CoachingClient", "PaymentProvider", "Visitor", "StepsJourney", "ScenarioShape"]

_poll = get_original("select", "poll")  # the real poll(): a check that never waits
_READABLE = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP


def _is_socket_alive(self: ConnectionPool, sock: Any) -> bool:
    """An idle pooled socket is reusable unless it is readable (a FIN, or bytes nobody asked for): the
    pool's own check, with poll() instead of select()."""
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


ConnectionPool._is_socket_alive = _is_socket_alive  # type: ignore[method-assign]


@events.spawning_complete.add_listener
def _freeze_users(**_: Any) -> None:
    gc.freeze()  # O(1): the users spawned so far leave the collector's generations
