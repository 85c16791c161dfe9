"""The load generator's own timing beside the figures: summary.json `generator`.

A latency is stopped by the load process that sent the request, when its event loop gets round to
reading the answer. A loop kept busy elsewhere (a greenlet computing without yielding, a full
garbage-collector pass, a core shared with other processes) reads it late, and the figure grows by
time the target never spent. Each load process measures how late its loop wakes up (run.json
`loop_monitor`, harness.load.loop_monitor): windows of about a second, and every wake-up at least
`stall_min_ms` (1 ms) late as a stall, the loop busy elsewhere from `at − ms` to `at`. This module
turns them into an error bound for every latency and TTFT percentile, from run.json and the samples
on disk alone:

  - a sample's time can only have grown by a stall it was waiting through: one in progress when it
    was sent (its start was taken, the send waited), or one in progress when it was read, or that ended
    shortly before: its answer came during the stall, or during another right after it that the
    monitor, asleep again for up to 1.5 ticks, could not see (READ_SLACK_TICKS; the stall it saw
    stands for it). A stall in the middle of a long flight delayed nothing: the answer was not there
    yet. Each sample i gets E_i, the longest part of such a stall that lies inside its flight (start_s
    to start_s + latency_ms; for the TTFT, to start_s + ttft_ms), from its own process's stalls;
  - a stall only adds time, so its true value m_i lies in [max(m_i − E_i, 0), m_i];
  - order statistics keep that order: the k-th smallest true value lies between the k-th smallest of
    max(m − E, 0) and the k-th smallest of m. A nearest-rank percentile P measured as P(m) was truly
    at least P(max(m − E, 0)), and the bound is the difference.

A percentile is flagged when its bound exceeds max(1 ms, 1 % of its value): the error a reader would
not shrug off, whichever of the two is larger ("1 % or 1 ms", as bench/accuracy.py reads its goal).
Lags under 1 ms are not kept one by one, so they never raise a bound (nor could they raise one to
a flag). The bound is as good as the monitor's sampling: a stall that falls between two wake-ups is
not seen, one that repeats (a starved loop) is. A sample whose process has no window over its flight
counts as unlagged and is counted in `unmeasured_samples`. A run without any series (older, or killed
before its end) is "not measured", never a zero. Whole-column operations; the loops run over
workers, endpoints, flagged figures and the few stalls near one sample's end.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from harness.analysis.outcomes import classify
from harness.analysis.summary import grouped_percentiles, percentile
from harness.documents import RunMeta
from harness.documents.run import LoopSeries
from harness.documents.summary import Generator, LaggedFigure, WorkerLoop

__all__ = [
    "ALLOWED_MS",
    "ALLOWED_RATIO",
    "CPU_NOTE",
    "FIGURES",
    "NOT_MEASURED",
    "READ_SLACK_TICKS",
    "allowed_ms",
    "figure_name",
    "process_name",
    "sample_lags",
    "percentile_bound",
    "generator_section",
]

ALLOWED_MS = 1.0  # a bound up to this is never flagged...
ALLOWED_RATIO = 0.01  # ...nor one up to this share of the value
CPU_NOTE = 0.9  # a load process busier than this on average gets a note: it may have held the rate back
# summary.json key -> (sample column the time ends at, quantile): latency per endpoint, TTFT where streamed
FIGURES: dict[str, tuple[str, float]] = {
    "p50_ms": ("latency_ms", 0.50),
    "p95_ms": ("latency_ms", 0.95),
    "p99_ms": ("latency_ms", 0.99),
    "ttft_p50_ms": ("ttft_ms", 0.50),
    "ttft_p95_ms": ("ttft_ms", 0.95),
    "ttft_p99_ms": ("ttft_ms", 0.99),
}
NOT_MEASURED = (
    "run.json has no loop_monitor series: the run is older than the monitor, or it ended before its "
    "last write, so the load generator's timing is not measured"
)
READ_SLACK_TICKS = 1.5  # a sample read this many ticks after a stall ended may have waited through it (or one unseen)
_MOST_NEAR_END = 8  # stalls looked at near one sample's end (wake-ups at least half a tick apart: 5 at most)


def allowed_ms(value: float) -> float:
    """The error a percentile of `value` ms may carry unflagged: 1 ms or 1 % of it, whichever is larger."""
    return max(ALLOWED_MS, ALLOWED_RATIO * abs(value))


def _floats(values: list, t0: float = 0.0) -> np.ndarray:
    return t0 + np.asarray(values, dtype=np.float64)


def sample_lags(starts: np.ndarray, ends: np.ndarray, series: LoopSeries) -> np.ndarray:
    """Per sample, the longest part (ms) of a stall of `series` that can have delayed it (module
    docstring): one in progress at its start, or at its end or ended at most READ_SLACK_TICKS before;
    0 without; NaN where the windows do not cover its flight [start, end] (epoch seconds, within one tick)
    or its times are unknown."""
    starts = np.asarray(starts, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.float64)
    out = np.full(starts.size, np.nan)
    n = min(len(series.start_s), len(series.end_s))
    if n == 0 or starts.size == 0:
        return out
    tick = float(series.tick_s or 0.0)
    w_start, w_end = _floats(series.start_s[:n], series.t0), _floats(series.end_s[:n], series.t0)
    covered = np.isfinite(starts) & np.isfinite(ends) & (starts >= w_start.min() - tick) & (ends <= w_end.max() + tick)
    s, e = starts[covered], ends[covered]
    m = min(len(series.stall_at_s), len(series.stall_ms))
    at = _floats(series.stall_at_s[:m], series.t0)
    order = np.argsort(at, kind="stable")
    at = at[order]
    began = np.maximum.accumulate(at - _floats(series.stall_ms[:m])[order] / 1000.0) if m else at
    worst = np.zeros(s.size)
    if m:

        def charge(j: np.ndarray, rows: np.ndarray) -> np.ndarray:
            """The part of stall j inside the flight of each row, in ms."""
            return (np.minimum(e[rows], at[j]) - np.maximum(s[rows], began[j])) * 1000.0

        # a stall in progress when the request was sent
        j = np.searchsorted(at, s, side="right")  # the first stall ending after the start
        rows = np.flatnonzero((j < m) & (began[np.minimum(j, m - 1)] <= s))
        worst[rows] = np.maximum(worst[rows], charge(j[rows], rows))
        # stalls that ended at most READ_SLACK_TICKS before the end (or after it), and began before it
        first = np.searchsorted(at, np.maximum(s, e - READ_SLACK_TICKS * tick), side="right")
        last = np.searchsorted(began, e, side="left") - 1
        for d in range(_MOST_NEAR_END):  # a loop over the few stalls near each end, not rows
            rows = np.flatnonzero(first + d <= last)
            if rows.size == 0:
                break
            worst[rows] = np.maximum(worst[rows], charge(first[rows] + d, rows))
    out[covered] = np.maximum(worst, 0.0)
    return out


def percentile_bound(measured: np.ndarray, lags: np.ndarray, q: float) -> float:
    """How much the nearest-rank q-percentile of `measured` (ms) may exceed the truth when each value
    may carry up to its lag (ms; NaN: none known): P(m) − P(max(m − E, 0))."""
    measured = np.asarray(measured, dtype=np.float64)
    low = np.maximum(measured - np.nan_to_num(np.asarray(lags, dtype=np.float64)), 0.0)
    return percentile(measured, q) - percentile(low, q)


def _column(samples: pd.DataFrame, name: str) -> np.ndarray:
    return samples[name].to_numpy(dtype=np.float64, na_value=np.nan)


def _codes(samples: pd.DataFrame, name: str) -> tuple[np.ndarray, list[str]]:
    """Per row the code of its value in column `name`, and the values ("" for a missing one); a
    categorical column (as the report reads it) by its own codes, never a string per row."""
    if name not in samples:
        return np.zeros(len(samples), dtype=np.int64), [""]
    column = samples[name]
    if isinstance(column.dtype, pd.CategoricalDtype):
        names = [str(c) for c in column.cat.categories]
        codes = column.cat.codes.to_numpy().astype(np.int64)
        if (codes < 0).any():
            if "" not in names:
                names.append("")
            codes[codes < 0] = names.index("")
        return codes, names
    codes, uniques = pd.factorize(column.fillna("").astype(str))
    return codes.astype(np.int64), [str(u) for u in uniques]


def _worker_loop(series: LoopSeries | None, starts: np.ndarray, ends: np.ndarray) -> WorkerLoop:
    """One process's lag and CPU over its windows from its first request sent to its last answer
    (all of its windows when it sent nothing)."""
    n = int(starts.size)
    count = 0 if series is None else min(len(series.start_s), len(series.end_s), len(series.ticks))
    count = 0 if series is None else min(count, len(series.lag_max_ms), len(series.cpu))
    if series is None or count == 0:
        return WorkerLoop(samples=n)
    w_start, w_end = _floats(series.start_s[:count], series.t0), _floats(series.end_s[:count], series.t0)
    first = float(np.nanmin(starts, initial=np.inf)) if n else math.inf
    last = float(np.nanmax(ends, initial=-np.inf)) if n else -math.inf
    keep = np.ones(count, dtype=bool)
    if math.isfinite(first) and math.isfinite(last):
        keep = (w_end >= first) & (w_start <= last)
    if not keep.any():
        return WorkerLoop(samples=n)
    spans = (w_end - w_start)[keep]
    lags = _floats(series.lag_max_ms[:count])[keep]
    cpu = _floats(series.cpu[:count])[keep]
    wakeups = int(np.asarray(series.ticks[:count], dtype=np.int64)[keep].sum())
    k = min(len(series.stall_at_s), len(series.stall_ms))
    at = _floats(series.stall_at_s[:k], series.t0)
    stalls = np.sort(_floats(series.stall_ms[:k])[(at >= w_start[keep].min()) & (at <= w_end[keep].max())])
    rank = math.ceil(round(0.99 * wakeups, 9))  # nearest rank over every wake-up; those under stall_min_ms not kept
    below = wakeups - stalls.size
    p99 = float(stalls[rank - below - 1]) if rank > below and rank - below <= stalls.size else None
    seconds = float(spans.sum())
    return WorkerLoop(
        samples=n,
        seconds=round(seconds, 3),
        wakeups=wakeups,
        stalls=int(stalls.size),
        lag_max_ms=round(float(lags.max()), 3),
        lag_p99_ms=None if p99 is None else round(p99, 3),
        cpu_mean=round(float((cpu * spans).sum() / seconds) if seconds > 0 else float(cpu.mean()), 3),
        cpu_max=round(float(cpu.max()), 3),
    )


def _pct(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio * 100:.0f} %"


def figure_name(figure: str, endpoint: str) -> str:
    """'p95 of chat', 'TTFT p95 of chat' for a summary key and its endpoint."""
    base = figure.removesuffix("_ms")
    return f"TTFT {base.removeprefix('ttft_')} of {endpoint}" if base.startswith("ttft_") else f"{base} of {endpoint}"


def process_name(worker: str) -> str:
    """'worker w1', or 'the Locust process' for a run without workers (its samples say "local")."""
    return "the Locust process" if worker == "local" else f"worker {worker}"


def _flag_note(endpoint: str, flagged: list[LaggedFigure], workers: Mapping[str, WorkerLoop]) -> str:
    """'p95 of chat (412.0 ms) may be off by up to 35.2 ms, p99 of chat (...) by up to ...: the event loop
    of worker w1 stalled up to 48.1 ms (CPU up to 99 % of a core) while these requests were in flight...'"""
    parts = []
    for i, f in enumerate(flagged):
        head = f"{figure_name(f.figure, endpoint)} ({f.value_ms:,.1f} ms)"
        by = f"by up to {f.bound_ms:,.1f} ms"
        parts.append(f"{head} may be off {by}" if i == 0 else f"{head} {by}")
    lagged: dict[str, float] = {}
    for f in flagged:
        for worker, lag in f.workers.items():
            lagged[worker] = max(lag, lagged.get(worker, 0.0))
    causes = []
    for worker in sorted(lagged, key=lambda w: -lagged[w])[:3]:
        cpu = workers[worker].cpu_max if worker in workers else None
        causes.append(
            f"the event loop of {process_name(worker)} stalled up to {lagged[worker]:,.1f} ms"
            + (f" (CPU up to {_pct(cpu)} of a core)" if cpu is not None else "")
        )
    cause = ", ".join(causes) or "the load generator's event loop stalled"
    return (
        f"{', '.join(parts)}: {cause} while these requests were in flight; time the load generator, "
        "not the target, may have added"
    )


def _process_lags(
    samples: pd.DataFrame, monitor: Mapping[str, LoopSeries], codes: np.ndarray, names: list[str], column: str
) -> np.ndarray:
    """Each row's E (sample_lags) for the part of its flight up to `column`, from its own process's stalls."""
    starts = _column(samples, "start_s")
    until = starts + _column(samples, column) / 1000.0
    lags = np.full(len(samples), np.nan)
    for code, name in enumerate(names):  # a loop over processes, not rows
        if name in monitor:
            mine = codes == code
            lags[mine] = sample_lags(starts[mine], until[mine], monitor[name])
    return lags


def generator_section(samples: pd.DataFrame, run: RunMeta) -> tuple[Generator, list[str]]:
    """summary.json `generator` and its notes (module docstring): never a verdict, only what to trust."""
    monitor = run.loop_monitor or {}
    if not monitor:
        return Generator(measured=False, not_measured=NOT_MEASURED), []
    codes, names = _codes(samples, "worker")
    starts = _column(samples, "start_s")
    ends = starts + _column(samples, "latency_ms") / 1000.0
    workers: dict[str, WorkerLoop] = {}
    for code, name in enumerate(names):
        if name:
            mine = codes == code
            workers[name] = _worker_loop(monitor.get(name), starts[mine], ends[mine])
    for name, series in monitor.items():
        workers.setdefault(name, _worker_loop(series, np.zeros(0), np.zeros(0)))

    timed = classify(samples).latency
    endpoint_codes, endpoints = _codes(samples, "endpoint")
    k = len(endpoints)
    bounds: dict[str, dict[str, float | None]] = {}
    flagged: dict[str, list[LaggedFigure]] = {}
    unmeasured = 0
    for column in ("latency_ms", "ttft_ms"):
        figures = [(key, q) for key, (col, q) in FIGURES.items() if col == column]
        values = _column(samples, column)
        rows = timed & np.isfinite(values)
        if not rows.any():
            continue
        lags = _process_lags(samples, monitor, codes, names, column)
        if column == "latency_ms":
            unmeasured = int((rows & np.isnan(lags)).sum())
        known = np.nan_to_num(lags)
        qs = [q for _, q in figures]
        measured = grouped_percentiles(endpoint_codes[rows], values[rows], k, qs)
        lowest = grouped_percentiles(endpoint_codes[rows], np.maximum(values - known, 0.0)[rows], k, qs)
        for g, endpoint in enumerate(endpoints):  # loops over endpoints and figures, not rows
            for i, (key, _) in enumerate(figures):
                value, low = float(measured[i, g]), float(lowest[i, g])
                if math.isnan(value):
                    continue
                bound = value - low
                bounds.setdefault(endpoint, {})[key] = round(bound, 3)
                if bound <= allowed_ms(value):
                    continue
                # the samples that can cross this percentile: their [m − E, m] meets [P(m − E), P(m)]
                near = rows & (endpoint_codes == g) & (values >= low) & (values - known <= value) & (known > 0)
                blamed = {names[c]: float(known[near & (codes == c)].max()) for c in np.unique(codes[near])}
                flagged.setdefault(endpoint, []).append(
                    LaggedFigure(
                        endpoint=endpoint,
                        figure=key,
                        value_ms=round(value, 3),
                        bound_ms=round(bound, 3),
                        allowed_ms=round(allowed_ms(value), 3),
                        workers={w: round(lag, 3) for w, lag in sorted(blamed.items(), key=lambda kv: -kv[1]) if w},
                    )
                )

    notes = [_flag_note(endpoint, figures, workers) for endpoint, figures in sorted(flagged.items())]
    if unmeasured:
        missing = sorted(name for name, w in workers.items() if w.seconds is None and w.samples)
        notes.append(
            f"{unmeasured:,} timed samples were in flight while their load process's event loop was not measured"
            + (f" (nothing from {', '.join(map(process_name, missing))})" if missing else "")
            + ": their timing is not checked for lag"
        )
    for name, w in sorted(workers.items()):
        if w.cpu_mean is not None and w.cpu_mean >= CPU_NOTE:
            notes.append(
                f"{process_name(name)} used {_pct(w.cpu_mean)} of a core on average while its requests were in "
                "flight: the load generator may have held the request rate back (give it more workers or cores)"
            )
    ticks = [float(s.tick_s) for s in monitor.values() if s.tick_s]
    stall_min = [float(s.stall_min_ms) for s in monitor.values() if s.stall_min_ms]
    section = Generator(
        measured=True,
        tick_s=max(ticks) if ticks else None,
        stall_min_ms=max(stall_min) if stall_min else None,
        workers=dict(sorted(workers.items())),
        bounds_ms={name: bounds[name] for name in sorted(bounds)},
        flagged=[f for endpoint in sorted(flagged) for f in flagged[endpoint]],
        unmeasured_samples=unmeasured,
    )
    return section, notes
