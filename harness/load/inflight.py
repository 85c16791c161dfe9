"""Requests in flight when the load stops: awaited a few seconds, then counted as cut off.

Locust stops users by killing their greenlets (`stop_timeout` 0: `User.stop(force=True)`), and a request
killed mid-flight fires no request event: it used to vanish. Every request the harness's client sends
goes through `IN_FLIGHT.request`. When the load stops (Locust's `test_stopping`, before it kills the
users), no new request is sent and those in flight are awaited up to STOP_GRACE_S, so they become
samples; one whose greenlet is killed before its answer is counted as cut off, per route (a ramp-down
cuts requests the same way, and they count too). Each load process counts its own; the master adds
them up into run.json `at_the_stop`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import gevent

__all__ = ["IN_FLIGHT", "InFlight", "STOP_GRACE_S"]

# How long the stop waits for requests in flight: long enough for an ordinary answer, short enough
# not to hold the run's end for a stream's whole timeout.
STOP_GRACE_S = 5.0


class InFlight:
    """This process's requests in flight, and what became of them at the stop."""

    def __init__(self) -> None:
        self.count = 0
        self.reset()

    def reset(self) -> None:
        """A test starts in this process (the web UI may run several in one)."""
        self.stopping = False
        self.settled = False  # the users are gone: the counts below are final
        self.in_flight_at_stop = 0
        self.awaited = 0
        self.waited_s = 0.0
        self.cut_off: dict[str, int] = {}

    @contextmanager
    def request(self, route: str) -> Iterator[None]:
        """Around one request, from its send to its sample. Once the load is stopping, nothing new is
        sent: the caller waits here until Locust kills its user."""
        while self.stopping:
            gevent.sleep(1.0)
        self.count += 1
        try:
            yield
        except gevent.GreenletExit:
            self.cut_off[route] = self.cut_off.get(route, 0) + 1
            raise
        finally:
            self.count -= 1

    def drain(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop sending and wait (bounded) until no request is in flight."""
        if self.stopping:
            return
        self.stopping = True
        self.in_flight_at_stop = self.count
        started = time.monotonic()
        while self.count and time.monotonic() - started < grace_s:
            gevent.sleep(0.05)
        self.waited_s = time.monotonic() - started
        self.awaited = self.in_flight_at_stop - self.count

    def facts(self) -> dict[str, object]:
        """This process's part of run.json `at_the_stop` (harness.documents.run.AtTheStop)."""
        cut = sum(self.cut_off.values())
        return {
            "grace_s": STOP_GRACE_S,
            "in_flight": self.in_flight_at_stop,
            "awaited": self.awaited,
            "cut_off": cut,
            "cut_off_by_route": dict(self.cut_off),
            "waited_s": round(self.waited_s, 2),
        }


IN_FLIGHT = InFlight()
