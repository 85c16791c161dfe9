"""A run folder's outputs from its samples: summary.json, per_second.csv, plots/*.png, report.html.

`build_report` only reads what is on disk, so `harness report RUN_DIR` recomputes everything of a
past run, and a killed run (no run.json, no samples, a broken part) still gets every file with a
"fail" verdict that says why, rather than a traceback. This module computes, draws and writes;
the page is rendered by harness.report.html from its templates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from harness.analysis.llm import ttft_series
from harness.analysis.ratelimits import attack_series
from harness.analysis.run import compute_summary
from harness.analysis.spend import spend_series
from harness.analysis.summary import per_second, run_window
from harness.documents import Summary
from harness.report import html
from harness.report.ci import write_junit, write_summary_md
from harness.report.generator import TEMPLATE as GENERATOR_TEMPLATE
from harness.report.generator import generator_context
from harness.report.html import PLOTS, RATE_LIMIT_PLOT, Section
from harness.report.plots import (
    latency_ecdfs,
    plot_capacity,
    plot_cost_per_route,
    plot_latency_distribution,
    plot_latency_over_time,
    plot_percentile_bars,
    plot_rate_limits,
    plot_spend_over_time,
    plot_status_codes,
    plot_throughput,
    plot_ttft_over_time,
)
from harness.runfolder import write_atomic

__all__ = ["build_report"]


def _quota_rates(limits: Mapping[str, Mapping]) -> dict[str, float | None]:
    """route → declared (else measured) quota per second, the slowest sustained rate allowed."""
    rates: dict[str, float | None] = {}
    for route, entry in limits.items():
        rules = entry.get("declared") or []
        if rules:
            rates[route] = min(r["quota"] / r["window_s"] for r in rules)
        elif entry.get("quota") and entry.get("window_s"):
            rates[route] = entry["quota"] / entry["window_s"]
    return rates


def _draw_llm_plots(
    summary: Mapping, ttft: pd.DataFrame | None, costs: pd.DataFrame | None, plots_dir: Path
) -> dict[str, bytes]:
    """The LLM figures this run has, drawn into plots/; file name -> PNG bytes."""
    drawn: list[Path] = []
    if costs is not None:
        duration = (summary.get("run") or {}).get("duration_s")
        drawn.append(plot_spend_over_time(costs, plots_dir / "spend_over_time.png", duration))
        per_route = (summary.get("spend") or {}).get("per_route_usd") or {}
        drawn.append(plot_cost_per_route(per_route, plots_dir / "cost_per_route.png"))
    if ttft is not None:
        drawn.append(plot_ttft_over_time(ttft, plots_dir / "ttft_over_time.png"))
    return {path.name: path.read_bytes() for path in drawn}


def build_report(run_dir: Path, sections: Sequence[Section] = ()) -> Summary:
    """Compute the summary of a run folder, write all its outputs, and return the summary."""
    run_dir = Path(run_dir)
    typed, samples, run = compute_summary(run_dir)
    summary = typed.to_dict()  # the page and the plots read summary.json's keys

    t0, _ = run_window(samples, run)
    series = per_second(samples, t0)
    attacks = attack_series(samples, t0) if summary.get("rate_limits") else None
    ttft = ttft_series(samples, run.to_dict(), t0) if summary.get("llm") else None
    costs = spend_series(samples, run.to_dict(), t0) if summary.get("spend") else None
    streamed = set(summary.get("llm") or {}) | set(run.streaming_endpoints or [])
    ecdfs = latency_ecdfs(samples, skip=streamed)  # thinned: a few thousand points per endpoint
    del samples  # the largest object; the figures below need only the summary and the series

    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    write_junit(typed, run_dir / "junit.xml")
    write_summary_md(typed, run_dir / "summary.md")
    write_atomic(run_dir / "per_second.csv", series.to_csv(index=False))

    plots_dir = run_dir / "plots"
    targets = {name: e.get("target_p95_ms") for name, e in summary["endpoints"].items()}
    plot_latency_over_time(series, targets, plots_dir / "latency_over_time.png")
    plot_latency_distribution(ecdfs, summary, plots_dir / "latency_distribution.png")
    plot_status_codes(series, plots_dir / "status_codes.png")
    plot_percentile_bars(_p95_targets_only(summary), plots_dir / "percentiles_vs_target.png")
    plot_throughput(series, plots_dir / "throughput.png")

    images = {name: (plots_dir / name).read_bytes() for name in PLOTS}
    limit_image = None
    if attacks is not None:
        limit_path = plots_dir / RATE_LIMIT_PLOT[0]
        plot_rate_limits(attacks, _quota_rates(summary["rate_limits"]), limit_path)
        limit_image = limit_path.read_bytes()
    own = html.rate_limit_sections(summary, limit_image)
    llm_section = html.llm_spend_section(summary, _draw_llm_plots(summary, ttft, costs, plots_dir))
    if llm_section is not None:
        own.append(llm_section)
    open_section = html.open_model_section(summary)
    if open_section is not None:
        own.append(open_section)
    if summary.get("capacity"):
        curve = plot_capacity(summary["capacity"], plots_dir / "capacity.png").read_bytes()
        capacity = html.capacity_section(summary, curve)
        if capacity is not None:
            own.append(capacity)
    generator = generator_context(summary)
    if generator is not None:
        own.append(Section(id="generator", title="Load generator", template=GENERATOR_TEMPLATE, context=generator))
    page = html.render(summary, images, [*own, *sections])
    write_atomic(run_dir / "report.html", page)
    return typed


def _p95_targets_only(summary: Mapping) -> Mapping:
    """The summary as the percentile plot reads it: its thresholds are the p95 targets only."""
    rows = [t for t in summary.get("thresholds") or [] if t.get("metric") == "p95" and t.get("op") == "<"]
    return {**summary, "thresholds": rows}
