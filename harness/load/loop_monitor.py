"""The load generator's own timing: how late its event loop wakes up, and how much CPU it uses.

Every Locust process that sends traffic runs one greenlet that sleeps about TICK_S at a time and notes
how much later than asked it woke up: the event-loop lag. The greenlet that reads a response waits in
the same loop, so a response that arrived while the loop was busy elsewhere (a greenlet computing
without yielding, a garbage-collector pass, the OS giving the core to another process) has its latency
stopped late by about as much.

What it keeps:
  - per window of about WINDOW_S (it ends at the first wake-up past that, so a stall the monitor sees
    lies inside the window it is counted in): the wake-ups, the worst lag, the 90th percentile of lag
    (a window has some twenty wake-ups: its 99th percentile would be its worst) and the CPU the process
    used (CPU time over wall time);
  - every wake-up at least STALL_MIN_MS late on its own, as a stall: when it ended and how long it was.
    The analysis (harness.analysis.generator) charges a stall to the samples it can have delayed, and no
    others; shorter lags cannot move a figure by the 1 ms a flag needs.

Each sleep is drawn between half and one and a half ticks, so the wake-ups cannot lock onto a periodic
stall and keep missing it. A stall that falls between two wake-ups is not seen; one that repeats (a
starved loop) is. Workers ship what they kept with each report (harness.load.plugin, LOOP_KEY), the
master keeps it per worker (`LoopRecord`) for run.json `loop_monitor`.

Cost (bench/loop_monitor.py): about 20 wake-ups a second; in a process otherwise asleep, some 0.3 % of
a core, nearly all of it the kernel waking the process; the monitor's own work is under a microsecond
a wake-up (docs/figures.md has the figures).
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

import gevent

from harness.documents.run import LoopSeries

__all__ = ["LOOP", "LOOP_KEY", "LoopMonitor", "LoopRecord", "TICK_S", "WINDOW_S", "STALL_MIN_MS"]

TICK_S = 0.05  # how often the monitor wakes up, on average
WINDOW_S = 1.0  # how much of the run one window covers (it ends at the first wake-up past this)
STALL_MIN_MS = 1.0  # a wake-up at least this late is kept on its own
LOOP_KEY = "harness_loop"  # key of the windows and stalls inside a worker's stats report
WINDOW_COLUMNS = ("start", "end", "ticks", "lag_max_ms", "lag_p90_ms", "cpu")
STALL_COLUMNS = ("stall_at", "stall_ms")


class LoopMonitor:
    """The monitor of this process: `start()` once, `take()` what it kept since the last take."""

    def __init__(self, tick_s: float = TICK_S, window_s: float = WINDOW_S, stall_min_ms: float = STALL_MIN_MS) -> None:
        self.tick_s = tick_s
        self.window_s = window_s
        self.stall_min_ms = stall_min_ms
        self.running = False
        self._greenlet: gevent.Greenlet | None = None
        self._random = random.Random()
        self._windows: list[tuple[float, float, int, float, float, float]] = []
        self._stalls: list[tuple[float, float]] = []
        self._lags: list[float] = []
        self._opened_at = (0.0, 0.0, 0.0)  # the open window's start: epoch, perf_counter, process_time

    def start(self) -> None:
        """Start measuring (again after a stop); a second call while it runs does nothing."""
        if self.running:
            return
        self.running = True
        self._open(time.time(), time.perf_counter(), time.process_time())
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        self.running = False
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _run(self) -> None:
        while self.running:  # bounded by the process: stopped when Locust quits
            sleep = self.tick_s * self._random.uniform(0.5, 1.5)
            asked = time.perf_counter() + sleep
            gevent.sleep(sleep)
            self.note(asked, time.perf_counter())

    def note(self, asked: float, now: float) -> None:
        """One wake-up at `now`, asked for `asked` (perf_counter seconds): all a wake-up costs besides
        the sleep itself (bench/loop_monitor.py times it)."""
        lag = max(0.0, now - asked) * 1000.0
        self._lags.append(lag)
        if lag >= self.stall_min_ms:
            self._stalls.append((time.time(), lag))
        if now - self._opened_at[1] >= self.window_s:
            self._close(now)

    def _open(self, wall: float, mono: float, cpu: float) -> None:
        self._opened_at = (wall, mono, cpu)
        self._lags = []

    def _close(self, mono: float) -> None:
        """The open window ends now, at a wake-up; the next one starts at the same instant."""
        wall, cpu = time.time(), time.process_time()
        start_wall, start_mono, start_cpu = self._opened_at
        span = mono - start_mono
        lags = sorted(self._lags)
        if lags:
            p90 = lags[max(0, math.ceil(0.9 * len(lags)) - 1)]  # nearest rank
            used = (cpu - start_cpu) / span if span > 0 else 0.0
            self._windows.append((start_wall, wall, len(lags), lags[-1], p90, used))
        self._open(wall, mono, cpu)

    def take(self, final: bool = False) -> dict[str, list[Any]]:
        """The windows closed and the stalls seen since the last take, as columns; `final` closes the
        open window first (the process's last report: its users are gone)."""
        if final and self._lags:
            self._close(time.perf_counter())
        windows, self._windows = self._windows, []
        stalls, self._stalls = self._stalls, []
        if not windows and not stalls:
            return {}
        return {
            **{name: list(values) for name, values in zip(WINDOW_COLUMNS, zip(*windows))},
            **{name: list(values) for name, values in zip(STALL_COLUMNS, zip(*stalls))},
        }


LOOP = LoopMonitor()  # the one monitor of this process (harness.load.plugin starts it)


def _rows(columns: dict[str, Any], names: tuple[str, ...]) -> list[tuple[float, ...]]:
    """The rows of `names` in `columns` (none when absent), every value a finite float."""
    if not all(name in columns for name in names):
        return []
    rows = [tuple(float(v) for v in row) for row in zip(*(columns[name] for name in names), strict=True)]
    return [row for row in rows if all(map(math.isfinite, row))]


class LoopRecord:
    """The master's side: every load process's windows and stalls as its reports bring them."""

    def __init__(self, tick_s: float = TICK_S, stall_min_ms: float = STALL_MIN_MS) -> None:
        self.tick_s = tick_s
        self.stall_min_ms = stall_min_ms
        self.windows: dict[str, list[tuple[float, ...]]] = {}
        self.stalls: dict[str, list[tuple[float, ...]]] = {}

    def add(self, worker: str, columns: Any) -> None:
        """One report's share (`LoopMonitor.take`); anything malformed is left out, never a crash."""
        if not isinstance(columns, dict) or not columns:
            return
        try:
            windows, stalls = _rows(columns, WINDOW_COLUMNS), _rows(columns, STALL_COLUMNS)
        except (TypeError, ValueError):
            return
        self.windows.setdefault(worker, []).extend(w for w in windows if w[1] >= w[0])
        self.stalls.setdefault(worker, []).extend(stalls)

    def series(self) -> dict[str, LoopSeries]:
        """run.json `loop_monitor`: per process with windows, in time order, times from a whole second."""
        out = {}
        for worker, windows in sorted(self.windows.items()):
            if not windows:
                continue
            windows = sorted(windows)
            stalls = sorted(self.stalls.get(worker, []))
            t0 = float(math.floor(windows[0][0]))
            out[worker] = LoopSeries(
                tick_s=self.tick_s,
                stall_min_ms=self.stall_min_ms,
                t0=t0,
                start_s=[round(w[0] - t0, 3) for w in windows],
                end_s=[round(w[1] - t0, 3) for w in windows],
                ticks=[int(w[2]) for w in windows],
                lag_max_ms=[round(w[3], 2) for w in windows],
                lag_p90_ms=[round(w[4], 2) for w in windows],
                cpu=[round(w[5], 3) for w in windows],
                stall_at_s=[round(at - t0, 4) for at, _ in stalls],
                stall_ms=[round(ms, 2) for _, ms in stalls],
            )
        return out
