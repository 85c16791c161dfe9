"""The report's figures, drawn with matplotlib's Agg backend (no display, no seaborn).

Each function takes already-computed figures (the per-second series of `analysis.per_second` or
the summary of `analysis.summarize`), writes one PNG and returns its path. Empty data gives an
empty chart that says "no samples", so a report of a failed run still has all its images.
"""

from __future__ import annotations

import io
import math
from collections.abc import Collection, Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import TABLEAU_COLORS, to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from harness.runfolder import write_atomic  # noqa: E402

__all__ = [
    "latency_ecdfs",
    "plot_cost_per_route",
    "plot_latency_distribution",
    "plot_latency_over_time",
    "plot_percentile_bars",
    "plot_rate_limits",
    "plot_spend_over_time",
    "plot_status_codes",
    "plot_throughput",
    "plot_ttft_over_time",
    "plot_capacity",
]

DPI = 110
SIZE = (10.0, 4.8)
DEFAULT_TARGET_MS = 500.0
COLORS = tuple(to_rgb(c) for c in TABLEAU_COLORS.values())  # the "tab10" colormap's colours, exactly
# Log scale when the slowest figure is this many times the fastest: a 3 s LLM route would
# otherwise flatten a 40 ms login into the axis.
LOG_SPAN = 30.0
TITLE_IN, GAP_IN = 0.12, 0.45  # inches from the figure's top to the title, and from the title to the axes


def _figure(title: str, rows: int = 1) -> tuple[Figure, list[Axes]]:
    height = SIZE[1] if rows == 1 else SIZE[1] * 0.75 * rows
    fig, axes = plt.subplots(rows, 1, figsize=(SIZE[0], height), sharex=True, squeeze=False)
    # title and first axes a fixed distance apart (in inches): matplotlib's default top, a share of
    # the height, left a blank band above the first of many stacked plots
    fig.suptitle(title, fontsize=13, fontweight="bold", y=1 - TITLE_IN / height)
    if rows > 1:
        fig.subplots_adjust(top=1 - (TITLE_IN + GAP_IN) / height)
    return fig, list(axes[:, 0])


def _save(fig: Figure, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    write_atomic(path, buffer.getvalue())
    return path


def _no_samples(ax: Axes) -> None:
    ax.text(0.5, 0.5, "no samples", ha="center", va="center", fontsize=16, color="0.45", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _legend_outside(ax: Axes) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=9, frameon=False)


def _maybe_log(ax: Axes, values: np.ndarray) -> None:
    """Log y axis when the values span more than LOG_SPAN, with plain labels (50, 100, 200...)."""
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size and positive.max() / positive.min() > LOG_SPAN:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        plain = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(NullFormatter())


def _color(names: list[str], name: str) -> tuple[float, float, float]:
    return COLORS[names.index(name) % len(COLORS)]


def _target_lines(ax: Axes, targets: Mapping[str, float | None], names: list[str]) -> None:
    """One dashed line per distinct target; a shared value (the usual 500 ms) is drawn once."""
    values = {n: float(t) for n, t in targets.items() if t is not None and math.isfinite(float(t))}
    if not values:
        return
    if len(set(values.values())) == 1:
        limit = next(iter(values.values()))
        ax.axhline(limit, color="crimson", linestyle="--", linewidth=1.4, label=f"target {limit:g} ms")
        return
    for name, limit in sorted(values.items()):
        color = _color(names, name) if name in names else "crimson"
        ax.axhline(limit, color=color, linestyle="--", linewidth=1.2, label=f"target {name} {limit:g} ms")


def _full_seconds(rows: pd.DataFrame, seconds: np.ndarray, column: str, fill: float) -> np.ndarray:
    """`column` on every second of the run, so gaps show as gaps (latency) or zeros (counts)."""
    return rows.set_index("second")[column].reindex(seconds, fill_value=fill).to_numpy(dtype=float)


def plot_latency_over_time(series: pd.DataFrame, targets: Mapping[str, float | None] | None, path: Path | str) -> Path:
    """p95 (solid) and p99 (dotted) of legit successful responses per endpoint, second by second,
    against the latency targets (dashed)."""
    fig, (ax,) = _figure("Latency over time (legit, non-blocked, successful responses)")
    has_data = not series.empty and series["p95_ms"].notna().any()
    if not has_data:
        _no_samples(ax)
        return _save(fig, path)
    names = sorted(series["endpoint"].unique())
    seconds = np.arange(int(series["second"].min()), int(series["second"].max()) + 1)
    for name in names:
        rows = series[series["endpoint"] == name]
        if rows["p95_ms"].isna().all():
            continue
        color = _color(names, name)
        ax.plot(
            seconds,
            _full_seconds(rows, seconds, "p95_ms", np.nan),
            color=color,
            linewidth=1.8,
            marker="." if len(seconds) < 40 else None,
            label=f"{name} p95",
        )
        ax.plot(
            seconds,
            _full_seconds(rows, seconds, "p99_ms", np.nan),
            color=color,
            linewidth=1.2,
            linestyle=":",
            label=f"{name} p99",
        )
    _target_lines(ax, targets or {}, names)
    values = series[["p95_ms", "p99_ms"]].to_numpy(dtype=float).ravel()
    _maybe_log(ax, np.concatenate([values, [t for t in (targets or {}).values() if t]]))
    if ax.get_yscale() == "linear":
        ax.set_ylim(bottom=0)
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel("latency (ms)" + (", log scale" if ax.get_yscale() == "log" else ""))
    ax.grid(True, alpha=0.3)
    _legend_outside(ax)
    return _save(fig, path)


def plot_percentile_bars(summary: Mapping, path: Path | str) -> Path:
    """p50/p95/p99 per endpoint as grouped bars; each endpoint's target as a dashed bar-wide line.

    Endpoints without a latency target (LLM routes) are drawn hatched and marked "no target".
    """
    fig, (ax,) = _figure("Latency percentiles vs target (legit, non-blocked, successful)")
    endpoints: Mapping[str, Mapping] = summary.get("endpoints") or {}
    names = [n for n, e in endpoints.items() if e.get("latency_samples")]
    if not names:
        _no_samples(ax)
        return _save(fig, path)
    limits = {t["endpoint"]: t["limit"] for t in summary.get("thresholds") or []}
    keys = [("p50_ms", "p50", 0.45), ("p95_ms", "p95", 0.75), ("p99_ms", "p99", 1.0)]
    x = np.arange(len(names))
    width = 0.26
    handles: list = []
    for j, (key, label, alpha) in enumerate(keys):
        heights = np.array([endpoints[n].get(key) or np.nan for n in names], dtype=float)
        bars = ax.bar(
            x + (j - 1) * width, heights, width, color="tab:blue", alpha=alpha, edgecolor="0.2", linewidth=0.6
        )
        handles.append(Patch(facecolor="tab:blue", alpha=alpha, edgecolor="0.2", label=label))
        for bar, name in zip(bars, names):
            if name not in limits:
                bar.set_hatch("//")
            if key == "p95_ms" and np.isfinite(bar.get_height()):
                over = name in limits and bar.get_height() >= limits[name]
                ax.annotate(
                    f"{bar.get_height():,.0f}",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    color="crimson" if over else "0.15",
                    fontweight="bold" if over else "normal",
                )
    for i, name in enumerate(names):
        if name in limits:
            ax.hlines(limits[name], i - 1.6 * width, i + 1.6 * width, colors="crimson", linestyles="--", linewidth=1.6)
    shared = set(limits[n] for n in names if n in limits)
    if shared:
        label = f"target {next(iter(shared)):g} ms" if len(shared) == 1 else "p95 target"
        handles.append(Line2D([], [], color="crimson", linestyle="--", linewidth=1.6, label=label))
    if len(limits) < len(names) or not limits:
        handles.append(Patch(facecolor="white", edgecolor="0.2", hatch="//", label="no target"))
    pad = max(0.6, (3 - len(names)) / 2 + 0.1)  # one endpoint must not make three slabs
    ax.set_xlim(-pad, len(names) - 1 + pad)
    ax.set_xticks(x, [n if n in limits else f"{n}\n(no target)" for n in names])
    values = np.array(
        [endpoints[n].get(k) or np.nan for n in names for k, _, _ in keys] + list(limits.values()), dtype=float
    )
    _maybe_log(ax, values)
    ax.set_xlabel("endpoint")
    ax.set_ylabel("latency (ms)" + (", log scale" if ax.get_yscale() == "log" else ""))
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=9, frameon=False
    )
    return _save(fig, path)


def plot_throughput(series: pd.DataFrame, path: Path | str) -> Path:
    """Requests per second per endpoint (top); errors and blocked per second, all endpoints."""
    fig, (top, bottom) = _figure("Throughput", rows=2)
    if series.empty:
        _no_samples(top)
        _no_samples(bottom)
        return _save(fig, path)
    names = sorted(series["endpoint"].unique())
    seconds = np.arange(int(series["second"].min()), int(series["second"].max()) + 1)
    for name in names:
        rows = series[series["endpoint"] == name]
        top.plot(
            seconds, _full_seconds(rows, seconds, "requests", 0), color=_color(names, name), linewidth=1.6, label=name
        )
    per_second = series.groupby("second")[["errors", "blocked"]].sum()
    per_second = per_second.reindex(seconds, fill_value=0)
    bottom.plot(seconds, per_second["errors"].to_numpy(), color="crimson", linewidth=1.6, label="errors")
    bottom.plot(
        seconds, per_second["blocked"].to_numpy(), color="darkorange", linewidth=1.6, linestyle="--", label="blocked"
    )
    top.set_ylabel("requests/s")
    top.set_title("requests per second, by endpoint", fontsize=10)
    bottom.set_ylabel("responses/s")
    bottom.set_title("errors and blocked per second, all endpoints", fontsize=10)
    bottom.set_xlabel("time since start (s)")
    for ax in (top, bottom):
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        _legend_outside(ax)
    return _save(fig, path)


MAX_RATE_LIMIT_ROUTES = 6  # one panel per route; more would not fit one figure


def plot_rate_limits(series: pd.DataFrame, quota_per_s: Mapping[str, float | None], path: Path | str) -> Path:
    """Per attacked route: admitted, blocked and errors per second of non-legit traffic, with the
    declared quota per second (q/w, dashed). `series` is `ratelimits.attack_series`."""
    names = sorted(series["endpoint"].unique())[:MAX_RATE_LIMIT_ROUTES] if not series.empty else []
    fig, axes = _figure("Rate limits under attack (non-legit traffic)", rows=max(len(names), 1))
    if not names:
        _no_samples(axes[0])
        return _save(fig, path)
    seconds = np.arange(int(series["second"].min()), int(series["second"].max()) + 1)
    styles = (("admitted", "tab:green", "-"), ("blocked", "darkorange", "--"), ("errors", "crimson", ":"))
    for ax, name in zip(axes, names):
        rows = series[series["endpoint"] == name]
        for column, color, style in styles:
            ax.plot(
                seconds,
                _full_seconds(rows, seconds, column, 0),
                color=color,
                linestyle=style,
                linewidth=1.6,
                label=column,
            )
        rate = quota_per_s.get(name)
        if rate is not None and math.isfinite(float(rate)):
            ax.axhline(float(rate), color="0.2", linestyle="--", linewidth=1.2, label=f"declared {float(rate):.3g}/s")
        ax.set_title(name, fontsize=10)
        ax.set_ylabel("responses/s")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        _legend_outside(ax)
    axes[-1].set_xlabel("time since start (s)")
    return _save(fig, path)


def _dollars(value: float, _: object = None) -> str:
    """USD for axes and labels: cents from $1 up, else three significant digits ($0.0122), so the
    sub-cent costs of a short run stay apart."""
    if value == 0 or not math.isfinite(value):
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    digits = min(10, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:.{digits}f}".rstrip("0")
    return "$" + (text if len(text.split(".")[1]) >= 2 else f"{value:.2f}")


def plot_spend_over_time(series: pd.DataFrame, path: Path | str, duration_s: float | None = None) -> Path:
    """Cumulative USD of admitted requests, legit vs abuse, over the seconds of the run.

    `series` is `spend.spend_series`: USD per second since the start (seconds without requests
    may be missing; they add nothing). The lines run on to `duration_s`, the end of the run.
    """
    fig, (ax,) = _figure("Spend over the run (cumulative, admitted requests)")
    if series is None or series.empty:
        _no_samples(ax)
        return _save(fig, path)
    last = int(series["second"].max())
    if duration_s is not None and math.isfinite(duration_s):
        last = max(last, math.ceil(duration_s) - 1)
    seconds = np.arange(0, last + 1)
    per_second = series.set_index("second")[["legit_usd", "abuse_usd"]].reindex(seconds, fill_value=0.0)
    # the cost of second s is known at its end: cumulative totals are drawn at s + 1
    x = np.concatenate([[0], seconds + 1])
    for column, label, color, style in (
        ("legit_usd", "legit users", "tab:blue", "-"),
        ("abuse_usd", "abuse (admitted)", "crimson", "--"),
    ):
        total = np.concatenate([[0.0], per_second[column].cumsum().to_numpy(dtype=float)])
        ax.step(
            x, total, where="post", color=color, linestyle=style, linewidth=1.8, label=f"{label}: {_dollars(total[-1])}"
        )
    ax.yaxis.set_major_formatter(FuncFormatter(_dollars))
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel("cumulative cost (USD)")
    ax.grid(True, alpha=0.3)
    _legend_outside(ax)
    return _save(fig, path)


def plot_cost_per_route(per_route: Mapping[str, Mapping[str, float | None]], path: Path | str) -> Path:
    """USD of the run per route, legit and abuse side by side (summary `spend.per_route_usd`)."""
    fig, (ax,) = _figure("Cost per route this run (admitted requests)")
    names = sorted(per_route or {})
    if not names:
        _no_samples(ax)
        return _save(fig, path)
    x = np.arange(len(names))
    width = 0.38
    for j, (side, label, color) in enumerate(
        (("legit", "legit users", "tab:blue"), ("abuse", "abuse (admitted)", "crimson"))
    ):
        heights = np.array([per_route[n].get(side) or 0.0 for n in names], dtype=float)
        bars = ax.bar(
            x + (j - 0.5) * width, heights, width, color=color, alpha=0.8, edgecolor="0.2", linewidth=0.6, label=label
        )
        for bar, value in zip(bars, heights):
            ax.annotate(
                _dollars(value),
                (bar.get_x() + bar.get_width() / 2, value),
                ha="center",
                va="bottom",
                fontsize=8,
                color="0.15",
            )
    pad = max(0.6, (3 - len(names)) / 2 + 0.1)
    ax.set_xlim(-pad, len(names) - 1 + pad)
    ax.set_xticks(x, names)
    ax.yaxis.set_major_formatter(FuncFormatter(_dollars))
    ax.set_ylim(bottom=0, top=max(ax.get_ylim()[1], 1e-6) * 1.1)
    ax.set_xlabel("route")
    ax.set_ylabel("cost this run (USD)")
    ax.grid(True, axis="y", alpha=0.3)
    _legend_outside(ax)
    return _save(fig, path)


def plot_ttft_over_time(series: pd.DataFrame, path: Path | str) -> Path:
    """TTFT p50 (solid) and p95 (dashed) per time bucket for each LLM route.

    `series` is `llm.ttft_series`: one row per (bucket, route), `second` the bucket's start.
    """
    bucket = int(series["bucket_s"].iloc[0]) if series is not None and not series.empty else None
    title = "Time to first token over time (legit, successful streams"
    fig, (ax,) = _figure(title + (f", {bucket} s buckets)" if bucket else ")"))
    if bucket is None or series["p50_ms"].isna().all():
        _no_samples(ax)
        return _save(fig, path)
    names = sorted(series["endpoint"].unique())
    starts = np.arange(0, int(series["second"].max()) + bucket, bucket)
    for name in names:
        rows = series[series["endpoint"] == name].set_index("second")
        color = _color(names, name)
        marker = "." if len(starts) < 40 else None
        for column, style, label in (("p50_ms", "-", "p50"), ("p95_ms", "--", "p95")):
            values = rows[column].reindex(starts).to_numpy(dtype=float)
            ax.plot(
                starts + bucket / 2,
                values,
                color=color,
                linestyle=style,
                linewidth=1.6,
                marker=marker,
                label=f"{name} {label}",
            )
    _maybe_log(ax, series[["p50_ms", "p95_ms"]].to_numpy(dtype=float).ravel())
    if ax.get_yscale() == "linear":
        ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.set_xlabel("time since start (s), bucket middle")
    ax.set_ylabel("time to first token (ms)" + (", log scale" if ax.get_yscale() == "log" else ""))
    ax.grid(True, alpha=0.3)
    _legend_outside(ax)
    return _save(fig, path)


# --- latency distribution and status codes -----------------------------------------------------

ECDF_POINTS = 4000  # points drawn per curve: enough for a smooth step at any sample count
DISTRIBUTION_MARKS = (("p50_ms", 0.50, "o", "p50"), ("p95_ms", 0.95, "D", "p95"), ("p99_ms", 0.99, "^", "p99"))


def latency_ecdfs(
    samples: pd.DataFrame, skip: Collection[str] = (), max_points: int = ECDF_POINTS
) -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """Per endpoint not in `skip`: (latencies, share at or below each, n) over legit successful
    responses, thinned to `max_points` evenly spaced ranks (the slowest always kept), so that a
    ten-million-sample run draws as fast as a small one."""
    from harness.analysis.outcomes import classify  # plots stay importable without the analysis

    if samples.empty:
        return {}
    timed = classify(samples).latency
    codes, names = pd.factorize(samples["endpoint"].fillna("")[timed])  # integers, not ten million strings
    latency = samples["latency_ms"].to_numpy(dtype=np.float64)[timed]
    index = {str(name): i for i, name in enumerate(names)}
    out: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
    for name in sorted(set(index) - set(skip)):  # a loop over endpoints, not rows
        values = np.sort(latency[codes == index[name]])
        n = values.size
        ranks = np.unique(np.linspace(1, n, min(n, max_points)).round().astype(np.int64))
        out[str(name)] = (values[ranks - 1], ranks / n, n)
    return out


def _target_vlines(axes: list[Axes], targets: Mapping[str, float | None], names: list[str]) -> list:
    """Vertical dashed target lines (one when every endpoint shares it); their legend handles."""
    values = {n: float(t) for n, t in targets.items() if n in names and t is not None and math.isfinite(float(t))}
    if not values:
        return []
    shared = len(set(values.values())) == 1
    lines = {"": next(iter(values.values()))} if shared else dict(sorted(values.items()))
    handles = []
    for name, limit in lines.items():
        color = "crimson" if shared else _color(names, name)
        for ax in axes:
            ax.axvline(limit, color=color, linestyle="--", linewidth=1.4)
        label = f"target {limit:g} ms" if shared else f"target {name} {limit:g} ms"
        handles.append(Line2D([], [], color=color, linestyle="--", linewidth=1.4, label=label))
    return handles


def plot_latency_distribution(
    ecdfs: Mapping[str, tuple[np.ndarray, np.ndarray, int]], summary: Mapping, path: Path | str
) -> Path:
    """Share of responses at or below each latency per endpoint (an ECDF, log x), the whole range
    (top) and the slowest 10 % (bottom), against the target; the exact p50/p95/p99 are marked.

    `ecdfs` is `latency_ecdfs` (LLM routes left out: their seconds-long streams have their own
    figures); the marks come from the summary, so they are the table's exact figures.
    """
    fig, axes = _figure("Latency distribution (legit, non-blocked, successful responses)", rows=2)
    names = [n for n in sorted(ecdfs) if ecdfs[n][2]]
    if not names:
        _no_samples(axes[0])
        _no_samples(axes[1])
        return _save(fig, path)
    endpoints: Mapping[str, Mapping] = summary.get("endpoints") or {}
    for name in names:
        x, y, n = ecdfs[name]
        color = _color(names, name)
        figures = endpoints.get(name) or {}
        p95 = figures.get("p95_ms")
        shown = "" if p95 is None else f", p95 {p95:,.1f} ms" if p95 < 100 else f", p95 {p95:,.0f} ms"
        label = f"{name} (n = {n:,}{shown})"
        x, y = np.concatenate(([x[0]], x)), np.concatenate(([0.0], y))  # rise from 0 at the fastest
        for ax in axes:
            ax.step(x, y, where="post", color=color, linewidth=1.7, label=label if ax is axes[0] else None)
            for key, q, marker, _ in DISTRIBUTION_MARKS:
                value = figures.get(key)
                if value is not None and value > 0:
                    ax.plot(
                        [value], [q], marker=marker, color=color, markersize=7, markeredgecolor="0.1", linestyle="none"
                    )
    handles = _target_vlines(axes, {n: (endpoints.get(n) or {}).get("target_p95_ms") for n in names}, names)
    targets = [float(t) for n in names if (t := (endpoints.get(n) or {}).get("target_p95_ms")) is not None]
    low = min([float(ecdfs[n][0][0]) for n in names] + targets)
    high = max([float(ecdfs[n][0][-1]) for n in names] + targets)
    plain = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")
    for ax, (bottom, top), title in (
        (axes[0], (0.0, 1.01), "all responses"),
        (axes[1], (0.90, 1.001), "the slowest 10 %"),
    ):
        for q in (0.5, 0.95, 0.99):
            if bottom <= q <= top:
                ax.axhline(q, color="0.6", linewidth=0.8, linestyle=":")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(bottom, top)
        ax.set_ylabel("share ≤ latency")
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
    axes[0].set_xlim(max(low * 0.8, 1e-3), max(high, 1e-3) * 1.25)
    axes[1].set_xlabel("latency (ms), log scale")
    marks = [
        Line2D([], [], marker=m, color="0.5", markeredgecolor="0.1", linestyle="none", label=label)
        for _, _, m, label in DISTRIBUTION_MARKS
    ]
    endpoint_handles, _ = axes[0].get_legend_handles_labels()
    axes[0].legend(
        handles=[*endpoint_handles, *handles, *marks],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        fontsize=9,
        frameon=False,
    )
    return _save(fig, path)


# per_second column -> (label, colour), stacked bottom to top; "s4xx_other" is s4xx minus s429
STATUS_CLASSES: tuple[tuple[str, str, str], ...] = (
    ("s2xx", "2xx", "tab:green"),
    ("s3xx", "3xx", "tab:blue"),
    ("s4xx_other", "4xx (not 429)", "tab:purple"),
    ("s429", "429 rate limited", "darkorange"),
    ("s5xx", "5xx", "crimson"),
    ("s0", "no response (0)", "0.2"),
)


def plot_status_codes(series: pd.DataFrame, path: Path | str) -> Path:
    """Responses per second by status class, stacked, all endpoints and roles together: a wall of
    429s or 5xx, or a gap with no response at all, shows when it happened."""
    fig, (ax,) = _figure("Status codes over time (all endpoints, all traffic)")
    if series.empty:
        _no_samples(ax)
        return _save(fig, path)
    columns = ["s2xx", "s3xx", "s4xx", "s5xx", "s0", "s429"]
    present = series.reindex(columns=columns, fill_value=0)  # per_second.csv of an older run
    seconds = np.arange(int(series["second"].min()), int(series["second"].max()) + 1)
    totals = present.assign(second=series["second"]).groupby("second")[columns].sum()
    totals = totals.reindex(seconds, fill_value=0)
    totals["s4xx_other"] = totals["s4xx"] - totals["s429"]
    edges = np.append(seconds, seconds[-1] + 1)
    bottom = np.zeros(len(seconds) + 1)
    handles = []  # every class in the legend, a zero included: "5xx: 0" is a finding too
    for column, label, color in STATUS_CLASSES:
        counts = totals[column].to_numpy(dtype=float)
        handles.append(
            Patch(facecolor=color, alpha=0.85 if counts.any() else 0.25, label=f"{label}: {int(counts.sum()):,}")
        )
        if not counts.any():
            continue
        top = bottom + np.append(counts, counts[-1])
        ax.fill_between(edges, bottom, top, step="post", color=color, alpha=0.85, linewidth=0)
        bottom = top
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel("responses/s")
    ax.grid(True, alpha=0.3)
    ax.legend(
        handles=handles[::-1],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        fontsize=9,
        frameon=False,
    )  # top of the legend = top of the stack
    return _save(fig, path)


def plot_capacity(section: Mapping, path: Path | str) -> Path:
    """Latency (p50/p95/p99 from the intended start) and TTFT p95 against the offered rate, one point
    per step in rate order, failing steps marked; the p95 limit drawn, the capacity found as a line."""
    fig, (ax,) = _figure("Latency against offered rate (capacity search)")
    steps = sorted((s for s in section.get("steps") or [] if s.get("p95_ms") is not None), key=lambda s: s["rate"])
    if not steps:
        _no_samples(ax)
        return _save(fig, path)
    rates = np.array([s["rate"] for s in steps])
    for i, (key, label) in enumerate(
        (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"), ("ttft_p95_ms", "TTFT p95"))
    ):
        values = np.array([s.get(key) if s.get(key) is not None else np.nan for s in steps], dtype=float)
        if np.isfinite(values).any():
            ax.plot(
                rates,
                values,
                marker="o",
                color=COLORS[i],
                label=label,
                linestyle="--" if key.startswith("ttft") else "-",
            )
    failed = np.array([s.get("passed") is False for s in steps])
    p95 = np.array([s["p95_ms"] for s in steps], dtype=float)
    if failed.any():
        ax.scatter(rates[failed], p95[failed], marker="x", s=80, color="red", zorder=5, label="step failed")
    criteria = section.get("criteria") or {}
    limits = [v for k, v in criteria.items() if (k == "p95_ms" or k.startswith("target:")) and v]
    limit = criteria.get("p95_ms") or (min(limits) if limits else None)
    if limit:
        ax.axhline(limit, color="black", linestyle=":", linewidth=1.2, label=f"p95 limit {limit:g} ms")
    if criteria.get("ttft_p95_ms"):
        ax.axhline(
            criteria["ttft_p95_ms"],
            color="grey",
            linestyle="-.",
            linewidth=1.0,
            label=f"TTFT p95 limit {criteria['ttft_p95_ms']:g} ms",
        )
    if section.get("capacity_rps") is not None:
        ax.axvline(
            section["capacity_rps"], color="green", linewidth=1.2, label=f"capacity {section['capacity_rps']:.3g}/s"
        )
    ax.set_xlabel("offered arrivals per second")
    ax.set_ylabel("ms (from the intended start)")
    _maybe_log(ax, np.concatenate([p95, [limit] if limit else []]))
    ax.grid(True, alpha=0.3)
    _legend_outside(ax)
    return _save(fig, path)
