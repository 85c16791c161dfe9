"""The model's tokenizer vocabulary, loaded beside the run rather than in its way.

Loading a tiktoken vocabulary takes a few hundred ms of CPU on a quiet machine and several seconds on a
starved one (CI with the parallel suite: about 4 s). On the event loop it stops the worker's
heartbeats, and Locust's master drops a silent worker; awaited before the users start, it starts them
late: an open model's first arrivals fall past their lateness and are dropped, and a short run loses
its first seconds. So a worker starts loading as soon as it knows the model, in a native thread, and
only a greenlet about to count tokens waits for it (after its request was timed).
"""

from __future__ import annotations

from gevent import get_hub
from gevent.event import AsyncResult

from harness.protocol.tokens import counter_for_model, encoding

__all__ = ["start_loading", "wait_until_loaded"]

_loads: dict[str, AsyncResult] = {}


def start_loading(model: str) -> None:
    """Begin loading the vocabulary that estimates `model`'s tokens, once per process."""
    if model not in _loads:
        _loads[model] = get_hub().threadpool.spawn(lambda: encoding(counter_for_model(model).encoding))


def wait_until_loaded(model: str) -> None:
    """Block this greenlet (never the loop) until `model`'s vocabulary is loaded; at once if it was never
    started here (a single local process loads it before the run) or is loaded."""
    load = _loads.get(model)
    if load is not None:
        load.get()
