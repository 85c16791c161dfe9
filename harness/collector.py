"""The master's side of the sample pipeline: append each arriving batch to disk, keep live figures.

Locust's master is single-threaded; per-request Python work here would stall it. A batch is
written as one Parquet part and folded into a short rolling window for the live p95, nothing more.
"""

from __future__ import annotations

import collections
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness.samples import PartWriter

__all__ = ["Collector", "write_json_atomic"]


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False, default=str))
    os.replace(tmp, path)


class Collector:
    WINDOW_S = 10.0  # the live p95 covers the samples that started in the last 10 seconds

    def __init__(self, samples_dir: Path) -> None:
        self.writer = PartWriter(samples_dir)
        self.rows = 0
        self.rows_by_worker: dict[str, int] = collections.Counter()
        self.errors = 0
        self._recent: collections.deque[tuple[np.ndarray, np.ndarray]] = collections.deque()

    def add(self, columns: dict[str, list[Any]], worker: str) -> int:
        n = len(columns.get("start_s", ()))
        if n == 0:
            return 0
        columns["worker"] = [worker] * n
        self.writer.write(columns)
        self.rows += n
        self.rows_by_worker[worker] += n
        self.errors += sum(1 for e in columns["error"] if e)
        ok = np.array([not e and not b and r == "legit" for e, b, r in
                       zip(columns["error"], columns["blocked"], columns["role"])], dtype=bool)
        starts = np.asarray(columns["start_s"], dtype=float)[ok]
        latencies = np.asarray(columns["latency_ms"], dtype=float)[ok]
        keep = np.isfinite(starts)
        starts, latencies = starts[keep], latencies[keep]
        self._recent.append((starts, latencies))
        return n

    def live_p95_ms(self, now: float | None = None) -> float:
        now = time.time() if now is None else now
        horizon = now - self.WINDOW_S
        while self._recent and (len(self._recent[0][0]) == 0 or self._recent[0][0].max() < horizon):
            self._recent.popleft()
        if not self._recent:
            return math.nan
        starts = np.concatenate([s for s, _ in self._recent])
        latencies = np.concatenate([lat for _, lat in self._recent])
        recent = latencies[starts >= horizon]
        if recent.size == 0:
            return math.nan
        return float(np.percentile(recent, 95, method="inverted_cdf"))
