"""The sample row: its columns and the batch a load generator fills, one row per request.

Kept apart from `harness.samples` (the Parquet files) so that a Locust worker, which only fills
batches and ships them to the master, starts without importing pyarrow and pandas (about 0.4 s of
CPU per process).
"""

from __future__ import annotations

import math
import operator
from typing import Any

__all__ = ["COLUMNS", "DEFAULTS", "SampleBatch"]

# name -> (Arrow type name, value used when a request does not have it); `harness.samples` maps the
# names to Arrow types
COLUMNS: dict[str, tuple[str, Any]] = {
    "start_s": ("float64", math.nan),  # wall clock (epoch seconds) when the request was sent
    "intended_s": ("float64", math.nan),  # when an open-model schedule wanted it sent
    "endpoint": ("string", ""),  # the API map's route name
    "method": ("string", ""),
    "status": ("int32", 0),  # 0 = no response
    "latency_ms": ("float64", math.nan),  # request sent -> last byte
    "ttfb_ms": ("float64", math.nan),  # request sent -> first body byte (streams)
    "ttft_ms": ("float64", math.nan),  # request sent -> first content token (streams)
    "ttlt_ms": ("float64", math.nan),  # request sent -> last content token (streams)
    "chunks": ("int32", 0),  # content chunks received (streams)
    "chunk_gaps_ms": ("list<float32>", None),  # gaps between consecutive content chunks (streams)
    "input_tokens": ("int32", 0),  # prompt tokens: `usage` when present, else the estimate
    "output_tokens": ("int32", 0),  # completion tokens (reasoning included): `usage`, else the estimate
    "cached_tokens": ("int32", 0),  # part of input_tokens served from the provider's prompt cache (`usage`)
    "reasoning_tokens": ("int32", 0),  # part of output_tokens the client never sees (`usage`)
    "input_tokens_estimate": ("int32", 0),  # tiktoken count of the prompt text sent
    "output_tokens_estimate": ("int32", 0),  # tiktoken count of the reply text received
    "token_source": ("string", ""),  # "usage" | "estimate" | ""
    "conversation": ("string", ""),  # opaque id of the legit conversation a chat turn belongs to
    "role": ("string", "legit"),  # "legit", an attack's name, or "probe"
    "technique": ("string", ""),  # the bypass technique of a probe request ("" otherwise)
    "identity": ("string", ""),  # hashed account or client key, never raw
    "source_ip": ("string", ""),
    "blocked": ("bool", False),  # matched the scenario's block rule
    "rejected": ("bool", False),  # matched its route's `rejected_when` rule (a refusal its status hides)
    "retry_after_s": ("float64", math.nan),
    "limit_headers": ("string", ""),  # rate-limit headers present (attack and probe responses only)
    "error": ("string", ""),  # error class and reason, "" when the request succeeded
    "response_bytes": ("int64", 0),
    "worker": ("string", ""),
}
DEFAULTS = {name: default for name, (_, default) in COLUMNS.items()}


_ROW = operator.itemgetter(*COLUMNS)  # a whole row (every column a key) -> its values in column order


class SampleBatch:
    """Rows collected as tuples; `take()` hands them over as columns and starts afresh.

    `add` runs once per request on the load generator: one dict merge, one C-level itemgetter and one
    append (about half the cost of appending to 29 column lists one by one). Turning the rows into columns
    happens once per report, in C (`zip`).

    No lock: Locust fires request events in its one gevent thread, so adds and takes never overlap.
    """

    def __init__(self) -> None:
        self._rows: list[tuple[Any, ...]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, row: dict[str, Any]) -> None:
        """One row: the columns it names (others ignored), the defaults for the rest."""
        self._rows.append(_ROW({**DEFAULTS, **row}))

    def take(self) -> dict[str, list[Any]]:
        rows, self._rows = self._rows, []
        if not rows:
            return {name: [] for name in COLUMNS}
        return {name: list(values) for name, values in zip(COLUMNS, zip(*rows))}
