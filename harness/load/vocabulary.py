"""The model's tokenizer vocabulary, loaded before the run or beside it, never in its way.

Loading a tiktoken vocabulary takes a few hundred ms of CPU on a quiet machine and several seconds on a
starved one (CI with the parallel suite: about 4 s). On the event loop it stops the worker's
heartbeats, and Locust's master drops a silent worker; awaited before the users start, it starts them
late: an open model's first arrivals fall past their lateness and are dropped, and a short run loses
its first seconds; in a thread beside the users, it takes the interpreter from their greenlets for up
to 5 ms at a time (the GIL's switch interval), late readings in the run's first figures.

So a worker that `harness run` started loads it before it connects to the master, when nothing runs
yet: the orchestrator names the scenario's model in its environment (VOCABULARY_MODEL_ENV). A worker
that learns the model only from the plan (`harness worker` on another host, a scenario naming another
model) loads it in a native thread as the plan arrives, and only a greenlet about to count tokens
waits for it (after its request was timed).
"""

from __future__ import annotations

import os
import time

from gevent import get_hub
from gevent.event import AsyncResult

from harness.lifeline import VOCABULARY_MODEL_ENV
from harness.protocol.tokens import counter_for_model, encoding

__all__ = ["load_before_connecting", "loaded_before_connecting", "start_loading", "wait_until_loaded"]

_loads: dict[str, AsyncResult] = {}
_before_connecting: list[str] = []  # what load_before_connecting did, for the worker's log


def load_before_connecting() -> None:
    """Load the vocabulary of the model this process's environment names, now (at import, before Locust
    creates its runner); nothing without one."""
    model = os.environ.get(VOCABULARY_MODEL_ENV, "")
    if model and model not in _loads:
        started = time.perf_counter()
        name = counter_for_model(model).encoding
        encoding(name)
        _loads[model] = AsyncResult()
        _loads[model].set(None)
        _before_connecting.append(f"{name} for {model} in {time.perf_counter() - started:.2f} s")


def loaded_before_connecting() -> str:
    """ "o200k_base for gpt-4o-mini in 0.31 s", or "" when nothing was loaded before connecting."""
    return "; ".join(_before_connecting)


def start_loading(model: str) -> None:
    """Begin loading the vocabulary that estimates `model`'s tokens in a native thread, once per process."""
    if model not in _loads:
        _loads[model] = get_hub().threadpool.spawn(lambda: encoding(counter_for_model(model).encoding))


def wait_until_loaded(model: str) -> None:
    """Block this greenlet (never the loop) until `model`'s vocabulary is loaded; at once if it was never
    started here (a single local process loads it before the run) or is loaded."""
    load = _loads.get(model)
    if load is not None:
        load.get()
