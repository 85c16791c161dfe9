"""The harness's journeys in a load process whose event loop is starved on purpose: a greenlet computes
for STARVE_BUSY_S without yielding, sleeps STARVE_IDLE_S, and again, from the test's start to the
process's end (tests/load/test_loop_monitor.py). A response that arrives while it computes is read
late, so the figures grow by time the target never spent.

    locust -f tests/load/starved_journeys.py --headless --host URL --scenario FILE ...
"""

from __future__ import annotations

import time
from typing import Any

import gevent
from locust import events
from locust.runners import MasterRunner

from harness.load.journeys import CoachingClient, PaymentProvider, StepsJourney, Visitor
from harness.load.shape import ScenarioShape

__all__ = ["CoachingClient", "PaymentProvider", "Visitor", "StepsJourney", "ScenarioShape"]

STARVE_BUSY_S = 0.1
STARVE_IDLE_S = 0.1


def _starve() -> None:
    while True:  # bounded by the process: Locust's quit ends it
        until = time.perf_counter() + STARVE_BUSY_S
        while time.perf_counter() < until:  # no yield: the loop serves nothing else meanwhile
            pass
        gevent.sleep(STARVE_IDLE_S)


@events.test_start.add_listener
def _start_starving(environment: Any, **_: Any) -> None:
    if not isinstance(environment.runner, MasterRunner):  # the processes that send traffic
        gevent.spawn(_starve)
