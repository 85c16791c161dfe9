"""Turns each Locust request event into one sample row, on whichever process sends the traffic.

This runs once per request on the load generator, so it only copies a few fields into column
lists; everything else happens on the master or in the analysis.
"""

from __future__ import annotations

import math
from typing import Any

from harness.samples import SampleBatch

__all__ = ["Recorder", "describe_exception"]


def describe_exception(exception: BaseException | None, status: int) -> str:
    """A short reason for a failed request, never the URL or headers (they may hold tokens)."""
    if exception is None:
        return ""
    if status:
        return f"http {status}"
    return f"connection: {type(exception).__name__}"


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
        ctx = context or {}
        status = getattr(response, "status_code", 0) or 0
        if not isinstance(status, int):
            status = 0
        error = ctx["error"] if "error" in ctx else describe_exception(exception, status)
        self.batch.add(
            {
                "start_s": start_time if start_time is not None else math.nan,
                "intended_s": ctx.get("intended_s", math.nan),
                "endpoint": name,
                "method": request_type,
                "status": status,
                "latency_ms": response_time if response_time is not None else math.nan,
                "ttfb_ms": ctx.get("ttfb_ms", math.nan),
                "ttft_ms": ctx.get("ttft_ms", math.nan),
                "input_tokens": ctx.get("input_tokens", 0),
                "output_tokens": ctx.get("output_tokens", 0),
                "token_source": ctx.get("token_source", ""),
                "role": ctx.get("role", "legit"),
                "technique": ctx.get("technique", ""),
                "identity": ctx.get("identity", ""),
                "source_ip": ctx.get("source_ip", ""),
                "blocked": ctx.get("blocked", False),
                "retry_after_s": ctx.get("retry_after_s", math.nan),
                "limit_headers": ctx.get("limit_headers", ""),
                "error": error,
                "response_bytes": response_length or 0,
            }
        )
