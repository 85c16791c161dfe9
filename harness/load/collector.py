"""The master's side of the sample pipeline: append each arriving batch to disk, keep live figures.

Locust's master is single-threaded; per-request Python work here would stall it. A batch is
written as one Parquet part and folded into a short rolling window for the live p95 and the
circuit breaker's error rate, nothing more.
"""

from __future__ import annotations

import collections
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness.analysis.outcomes import OK, is_error, outcome
from harness.samples import PartWriter

__all__ = ["Collector"]


class Collector:
    WINDOW_S = 10.0  # the live p95 covers the samples that started in the last 10 seconds

    def __init__(self, samples_dir: Path, keep_s: float = WINDOW_S) -> None:
        self.writer = PartWriter(samples_dir)
        self.rows = 0
        self.rows_by_worker: dict[str, int] = collections.Counter()
        self.errors = 0
        self.keep_s = max(keep_s, self.WINDOW_S)  # the longest window anybody asks about
        self._recent: collections.deque[tuple[np.ndarray, np.ndarray, np.ndarray]] = collections.deque()

    def add(self, columns: dict[str, list[Any]], worker: str) -> int:
        n = len(columns.get("start_s", ()))
        if n == 0:
            return 0
        columns["worker"] = [worker] * n
        self.writer.write(columns)
        self.rows += n
        self.rows_by_worker[worker] += n
        rows = list(zip(columns["status"], columns["error"], columns["blocked"]))
        errors = np.array([is_error(s, e, b) for s, e, b in rows], dtype=bool)
        self.errors += int(errors.sum())
        ok = np.array(
            [outcome(s, e, b) == OK and r == "legit" for (s, e, b), r in zip(rows, columns["role"])], dtype=bool
        )
        starts = np.asarray(columns["start_s"], dtype=float)
        latencies = np.where(ok, np.asarray(columns["latency_ms"], dtype=float), np.nan)
        keep = np.isfinite(starts)
        self._recent.append((starts[keep], latencies[keep], errors[keep]))
        return n

    def _window(self, now: float | None, span_s: float) -> tuple[np.ndarray, np.ndarray] | None:
        """(latencies of legit successes, error flags of all rows) that started in the last `span_s`."""
        now = time.time() if now is None else now
        oldest = now - self.keep_s
        while self._recent and (len(self._recent[0][0]) == 0 or self._recent[0][0].max() < oldest):
            self._recent.popleft()
        horizon = now - span_s
        if not self._recent:
            return None
        starts = np.concatenate([s for s, _, _ in self._recent])
        recent = starts >= horizon
        latencies = np.concatenate([lat for _, lat, _ in self._recent])[recent]
        errors = np.concatenate([err for _, _, err in self._recent])[recent]
        return latencies[np.isfinite(latencies)], errors

    def live_p95_ms(self, now: float | None = None) -> float:
        window = self._window(now, self.WINDOW_S)
        if window is None or window[0].size == 0:
            return math.nan
        return float(np.percentile(window[0], 95, method="inverted_cdf"))

    def recent_errors(self, window_s: float, now: float | None = None) -> tuple[int, int]:
        """(failed, all) requests that started in the last `window_s`: the circuit breaker's view."""
        window = self._window(now, window_s)
        return (0, 0) if window is None else (int(window[1].sum()), int(window[1].size))
