"""The cyclic garbage collector in a process that sends traffic.

A worker holding thousands of users and their requests in flight has about a million long-lived
objects, and Python's default collector keeps walking them: at 10,000 open chat streams on one core
(bench/streams.py, 2026-12-07) its passes took 40 % of the worker's CPU (2,751 young, 250 middle and 20
full passes in a minute: 23 of 58 CPU-seconds), the worker saturated its core and held 8,259 streams,
and each full pass (0.6 s) stopped every stream's clock. Two changes, measured in the same bench:

- each spawn step's users leave the collector's generations once spawned (`gc.freeze()`): they live
  as long as the run, and an object freed by its reference count is freed all the same;
- a young pass after YOUNG_THRESHOLD new container objects instead of 700: most of a request's objects
  (its headers, events, parsed JSON) die by reference count before the pass, so far fewer are looked at.

Then: 20 young passes and no other in the minute (1.3 CPU-seconds), 9,981 streams held at 88 % of the
core, bare Locust's figure on the same machine; TTFT read late by 190 ms at p99 instead of 1.7 s.
Reference cycles (an exception and its traceback) are still collected, by the young passes.
"""

from __future__ import annotations

import gc
from typing import Any

__all__ = ["YOUNG_THRESHOLD", "collect_less_often"]

YOUNG_THRESHOLD = 50_000  # new container objects between two young passes (Python's default: 700)
OLDER_THRESHOLDS = (20, 10)  # young passes per middle pass, middle passes per full pass


def collect_less_often(events: Any) -> None:
    """Set this process's collector as above; `events` is Locust's (`environment.events`)."""
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
    events.spawning_complete.add_listener(_freeze_users)


def _freeze_users(**_: Any) -> None:
    # A young pass first (over at most YOUNG_THRESHOLD objects: milliseconds), so that the garbage made since
    # the last one is not frozen with the users: Locust's worker builds an argument parser per option of each
    # spawn message, cycles that would otherwise stay for the whole run (tracemalloc at 1,000 streams: 1.3 KB
    # of live objects per stream, gone with this pass).
    gc.collect(0)
    gc.freeze()  # O(1): the users spawned so far (and everything older) leave the generations
