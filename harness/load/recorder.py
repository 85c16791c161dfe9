"""Turns each Locust request event into one sample row, on whichever process sends the traffic.

This runs once per request on the load generator, so it only copies a few fields into column
lists; everything else happens on the master or in the analysis.
"""

from __future__ import annotations

import math
from typing import Any

from harness.protocol.failures import describe_exception
from harness.sample_rows import COLUMNS, SampleBatch

__all__ = ["Recorder"]

# what the caller reports in the request event's `context`; the rest comes from Locust itself
CONTEXT_COLUMNS = tuple(
    n
    for n in COLUMNS
    if n not in {"start_s", "endpoint", "method", "status", "latency_ms", "error", "response_bytes", "worker"}
)
_NO_CONTEXT: dict[str, Any] = {}  # never written to


class Recorder:
    """A `request` event listener that appends to a SampleBatch."""

    def __init__(self) -> None:
        self.batch = SampleBatch()

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int | None,
        response: Any = None,
        context: dict[str, Any] | None = None,
        exception: BaseException | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        # Runs once per request on the load generator: no per-column Python loop (see SampleBatch.add).
        ctx = context or _NO_CONTEXT
        status = getattr(response, "status_code", 0) or 0
        if not isinstance(status, int):
            status = 0
        if "error" in ctx:
            error = ctx["error"]
        else:
            error = "" if exception is None else describe_exception(exception, status)
        # Locust's own fields win over the context's, and `worker` is the master's to fill: the keys
        # after **ctx are every column outside CONTEXT_COLUMNS
        self.batch.add(
            {
                **ctx,
                "start_s": start_time if start_time is not None else math.nan,
                "endpoint": name,
                "method": request_type,
                "status": status,
                "latency_ms": response_time if response_time is not None else math.nan,
                "error": error,
                "response_bytes": response_length or 0,
                "worker": "",
            }
        )
