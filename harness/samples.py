"""The sample: one row per request, stored as Parquet parts in a run folder's `samples/`.

Workers collect rows into column lists (cheap to append, cheap to ship through Locust's msgpack
messages); the master writes each arriving batch as its own Parquet part, so a crash or a SIGKILL
never leaves a half-written file that hides the rows before it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["COLUMNS", "SCHEMA", "SampleBatch", "PartWriter", "read_samples", "empty_samples"]

# name -> (arrow type, value used when a request does not have it)
COLUMNS: dict[str, tuple[pa.DataType, Any]] = {
    "start_s": (pa.float64(), math.nan),  # wall clock (epoch seconds) when the request was sent
    "intended_s": (pa.float64(), math.nan),  # when an open-model schedule wanted it sent
    "endpoint": (pa.string(), ""),  # the API map's route name
    "method": (pa.string(), ""),
    "status": (pa.int32(), 0),  # 0 = no response
    "latency_ms": (pa.float64(), math.nan),  # request sent -> last byte
    "ttfb_ms": (pa.float64(), math.nan),  # request sent -> first body byte (streams)
    "ttft_ms": (pa.float64(), math.nan),  # request sent -> first content token (streams)
    "ttlt_ms": (pa.float64(), math.nan),  # request sent -> last content token (streams)
    "chunks": (pa.int32(), 0),  # content chunks received (streams)
    "chunk_gaps_ms": (pa.list_(pa.float32()), None),  # gaps between consecutive content chunks (streams)
    "input_tokens": (pa.int32(), 0),  # prompt tokens: `usage` when present, else the estimate
    "output_tokens": (pa.int32(), 0),  # completion tokens (reasoning included): `usage`, else the estimate
    "cached_tokens": (pa.int32(), 0),  # part of input_tokens served from the provider's prompt cache (`usage`)
    "reasoning_tokens": (pa.int32(), 0),  # part of output_tokens the client never sees (`usage`)
    "input_tokens_estimate": (pa.int32(), 0),  # tiktoken count of the prompt text sent
    "output_tokens_estimate": (pa.int32(), 0),  # tiktoken count of the reply text received
    "token_source": (pa.string(), ""),  # "usage" | "estimate" | ""
    "conversation": (pa.string(), ""),  # opaque id of the legit conversation a chat turn belongs to
    "role": (pa.string(), "legit"),  # "legit", an attack's name, or "probe"
    "technique": (pa.string(), ""),  # the bypass technique of a probe request ("" otherwise)
    "identity": (pa.string(), ""),  # hashed account or client key, never raw
    "source_ip": (pa.string(), ""),
    "blocked": (pa.bool_(), False),  # matched the scenario's block rule
    "retry_after_s": (pa.float64(), math.nan),
    "limit_headers": (pa.string(), ""),  # rate-limit headers present (attack and probe responses only)
    "error": (pa.string(), ""),  # error class and reason, "" when the request succeeded
    "response_bytes": (pa.int64(), 0),
    "worker": (pa.string(), ""),
}
SCHEMA = pa.schema([(name, typ) for name, (typ, _) in COLUMNS.items()])
DEFAULTS = {name: default for name, (_, default) in COLUMNS.items()}


class SampleBatch:
    """Rows collected column by column; `take()` hands the columns over and starts afresh.

    No lock: Locust fires request events in its one gevent thread, so adds and takes never overlap.
    """

    def __init__(self) -> None:
        self._columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}

    def __len__(self) -> int:
        return len(self._columns["start_s"])

    def add(self, row: dict[str, Any]) -> None:
        for name, column in self._columns.items():
            column.append(row.get(name, DEFAULTS[name]))

    def take(self) -> dict[str, list[Any]]:
        columns, self._columns = self._columns, {name: [] for name in COLUMNS}
        return columns


def _table(columns: dict[str, list[Any]]) -> pa.Table:
    n = len(columns.get("start_s", []))
    arrays = []
    for name, (typ, default) in COLUMNS.items():
        values = columns.get(name)
        if values is None or len(values) != n:
            values = [default] * n
        arrays.append(pa.array(values, type=typ, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


class PartWriter:
    """Writes each batch to `samples/part-<seq>.parquet`, atomically (temp file, then rename).

    Not thread-safe: one writer thread at a time (the collector sees to it).
    """

    def __init__(self, samples_dir: Path) -> None:
        self.dir = Path(samples_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        # continue after the highest part already there, so that no write ever replaces a part
        self._seq = max((int(p.stem.split("-")[1]) for p in self.dir.glob("part-*.parquet")), default=0)
        self.rows_written = 0

    def write(self, columns: dict[str, list[Any]]) -> int:
        table = _table(columns)
        if table.num_rows == 0:
            return 0
        self._seq += 1
        final = self.dir / f"part-{self._seq:06d}.parquet"
        tmp = final.with_suffix(".tmp")
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, final)
        self.rows_written += table.num_rows
        return table.num_rows


def empty_samples() -> pd.DataFrame:
    return SCHEMA.empty_table().to_pandas()


def read_samples(
    run_dir: Path, columns: list[str] | None = None, *, sort: bool = True, skipped: list[str] | None = None
) -> pd.DataFrame:
    """The samples of a run (only `columns`, if given), in send order unless `sort` is False.

    A part that cannot be read is skipped and its name added to `skipped`, so that one damaged file
    never hides the others.
    """
    schema = pa.schema([SCHEMA.field(c) for c in columns]) if columns else SCHEMA
    tables = []
    for part in sorted((Path(run_dir) / "samples").glob("part-*.parquet")):
        try:
            tables.append(pq.read_table(part, columns=columns, schema=SCHEMA).select(schema.names))
        except Exception as exc:  # pyarrow raises several types for a truncated or foreign file
            if skipped is not None:
                skipped.append(f"{part.name} ({type(exc).__name__})")
    if not tables:
        return schema.empty_table().to_pandas()
    frame = pa.concat_tables(tables).to_pandas()
    if sort and "start_s" in frame:
        frame = frame.sort_values("start_s", kind="stable").reset_index(drop=True)
    return frame
