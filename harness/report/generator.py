"""The load generator's own timing (summary.json `generator`, harness.analysis.generator) for people:
one line for the terminal, a table for summary.md, and the context of report.html's "Load generator"
section (templates/generator.html.j2, rendered by harness.report.html). Never a verdict: it says which figures the generator itself may have moved, and by how much.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from harness.analysis.generator import FIGURES, figure_name
from harness.documents.summary import Generator, LaggedFigure, Summary
from harness.report.formatting import ms, number

__all__ = ["generator_line", "generator_markdown", "generator_context", "flagged_text", "TEMPLATE"]

TEMPLATE = "generator.html.j2"

MOST_LISTED = 4  # flagged figures named in one line; the rest are counted
METHOD = (
    "Each load process wakes up about every {tick} and notes how late it woke: while its event loop is "
    "busy elsewhere (a greenlet computing, a garbage-collector pass, a core shared with other processes), "
    "answers that arrive wait too, and their latency grows by time the target never spent. A wake-up at "
    "least {stall} late is a stall. Each sample is charged with the part of a stall inside its flight that "
    "it can have waited through (one in progress when it was sent, or when it was read); a percentile may "
    "then be off by up to its value minus the same percentile of the samples with their charges taken off. "
    "It is flagged when that exceeds 1 ms or 1 % of its value, whichever is larger. A stall that falls "
    "between two wake-ups is not seen, so the bound can be low, never made up."
)


def _pct(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio * 100:.0f} %"


def _lag_p99(value: float | None, stall_min: float | None) -> str:
    """A p99 under the stall threshold is not kept exactly: '< 1 ms'."""
    if value is None:
        return f"< {stall_min:g}" if stall_min else "–"
    return ms(value)


def flagged_text(f: LaggedFigure) -> str:
    """'p95 of chat (412.0 ms) by up to 35.2 ms'."""
    return f"{figure_name(f.figure, f.endpoint)} ({ms(f.value_ms)} ms) by up to {ms(f.bound_ms)} ms"


def _of(summary: Summary | Mapping[str, Any]) -> Generator | None:
    """The typed section of a summary (typed or as summary.json holds it); None when it has none."""
    if isinstance(summary, Summary):
        return summary.section("generator")
    raw = summary.get("generator")
    try:
        return msgspec.convert(raw, Generator) if isinstance(raw, Mapping) else None
    except msgspec.ValidationError:  # a hand-edited summary: the section is left out, not the report
        return None


def _overall(generator: Generator) -> str:
    """'2 processes, event-loop lag up to 12.3 ms (p99 < 1 ms), CPU mean up to 35 %, max 80 % of a core'."""
    workers = [w for w in generator.workers.values() if w.lag_max_ms is not None]
    if not workers:
        return "no process's event loop measured while it sent requests"
    lag = max(w.lag_max_ms or 0.0 for w in workers)
    p99s = [w.lag_p99_ms for w in workers if w.lag_p99_ms is not None]
    p99 = _lag_p99(max(p99s) if p99s else None, generator.stall_min_ms)
    mean = max((w.cpu_mean for w in workers if w.cpu_mean is not None), default=None)
    top = max((w.cpu_max for w in workers if w.cpu_max is not None), default=None)
    count = f"{len(workers)} process{'es' if len(workers) != 1 else ''}"
    return f"{count}, event-loop lag up to {ms(lag)} ms (p99 {p99} ms), CPU mean up to {_pct(mean)}, max {_pct(top)} of a core"


def generator_line(summary: Summary | Mapping[str, Any]) -> str | None:
    """One line: how the load generator fared, and the figures it may have moved (None: no section)."""
    generator = _of(summary)
    if generator is None:
        return None
    if not generator.measured:
        return "load generator: event-loop lag not measured (a run from before the loop monitor, or killed)"
    flagged = generator.flagged
    if not flagged:
        return f"load generator: {_overall(generator)}; no percentile moved by more than 1 ms or 1 %"
    listed = ", ".join(flagged_text(f) for f in flagged[:MOST_LISTED])
    more = f" and {len(flagged) - MOST_LISTED} more" if len(flagged) > MOST_LISTED else ""
    return f"load generator: {_overall(generator)}; may be off: {listed}{more}"


def generator_markdown(summary: Summary, text: Callable[[Any], str] = str) -> list[str]:
    """summary.md's "Load generator" lines: each process's lag and CPU, then the flagged figures;
    `text` makes a name or a sentence safe for a Markdown table cell or line."""
    generator = summary.section("generator")
    if generator is None:
        return []
    lines = ["", "### Load generator", ""]
    if not generator.measured:
        return [*lines, text(f"Not measured: {generator.not_measured or 'no series in run.json'}.")]
    lines += [
        "| process | samples | lag max ms | lag p99 ms | CPU mean | CPU max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, w in generator.workers.items():
        lines.append(
            f"| {text(name)} | {number(w.samples)} | {ms(w.lag_max_ms)} | {_lag_p99(w.lag_p99_ms, generator.stall_min_ms)}"
            f" | {_pct(w.cpu_mean)} | {_pct(w.cpu_max)} |"
        )
    lines.append("")
    if generator.flagged:
        lines.append("May be off by more than 1 ms or 1 % (the load generator's event loop stalled):")
        lines += [f"- {text(flagged_text(f))}" for f in generator.flagged]
    else:
        lines.append("No percentile moved by more than 1 ms or 1 % of its value by the load generator's lag.")
    return lines


def generator_context(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """What report.html's "Load generator" section shows (TEMPLATE); None for a summary without it."""
    generator = _of(summary)
    if generator is None:
        return None
    tick = f"{generator.tick_s * 1000:g} ms" if generator.tick_s else "50 ms"
    stall = f"{generator.stall_min_ms:g} ms" if generator.stall_min_ms else "1 ms"
    line = generator_line(summary) or ""
    context = {
        "measured": str(generator.measured).lower(),
        "text": line.removeprefix("load generator: ") if generator.measured else generator.not_measured or line,
        "method": METHOD.format(tick=tick, stall=stall),
        "workers": [
            {
                "name": name,
                "cells": [
                    number(w.samples),
                    number(w.seconds),
                    number(w.wakeups),
                    number(w.stalls),
                    ms(w.lag_max_ms),
                    _lag_p99(w.lag_p99_ms, generator.stall_min_ms),
                    _pct(w.cpu_mean),
                    _pct(w.cpu_max),
                ],
            }
            for name, w in generator.workers.items()
        ],
        "flagged": [
            {
                "endpoint": f.endpoint,
                "figure": f.figure,
                "name": figure_name(f.figure, f.endpoint),
                "value": ms(f.value_ms),
                "bound": ms(f.bound_ms),
                "allowed": ms(f.allowed_ms),
                "workers": "; ".join(f"{w} stalled up to {ms(lag)} ms" for w, lag in f.workers.items()) or "–",
            }
            for f in generator.flagged
        ],
        "columns": [key.removesuffix("_ms").replace("ttft_", "TTFT ") for key in FIGURES],
        "bounds": [
            {"endpoint": name, "cells": [ms(bounds.get(key)) if key in bounds else "–" for key in FIGURES]}
            for name, bounds in generator.bounds_ms.items()
        ],
    }
    return context
