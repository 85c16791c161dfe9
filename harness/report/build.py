"""A run folder's outputs from its samples: summary.json, per_second.csv, plots/*.png, report.html.

`build_report` only reads what is on disk, so `harness report RUN_DIR` recomputes everything of a
past run, and a killed run (no run.json, no samples, a broken part) still gets every file with a
"fail" verdict that says why, rather than a traceback.
"""

from __future__ import annotations

import base64
import html
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.analysis.abuse import abuse_findings, abuse_verdict
from harness.analysis.summary import per_second, run_window, task_error_text
from harness.analysis.confidence import MIN_SAMPLES
from harness.report.formatting import duration as _duration
from harness.report.formatting import ms as _ms
from harness.report.formatting import number as _num
from harness.report.formatting import percent as _pct
from harness.analysis.llm import DEFINITIONS, ttft_series
from harness.report.ci import limit_text, observed_text, result_of, write_junit, write_summary_md
from harness.report.plots import (latency_ecdfs, plot_cost_per_route, plot_latency_distribution,
                           plot_latency_over_time, plot_percentile_bars, plot_rate_limits,
                           plot_spend_over_time, plot_status_codes, plot_throughput,
                           plot_ttft_over_time)
from harness.analysis.ratelimits import attack_series, technique_key
from harness.analysis.run import compute_summary
from harness.analysis.verdict import limit_detail
from harness.documents import Summary, to_builtins
from harness.runfolder import write_atomic
from harness.analysis.spend import spend_series, usd

__all__ = ["Section", "build_report", "render_html", "format_table", "PLOTS", "LLM_PLOTS", "RATE_LIMIT_PLOT",
           "llm_spend_section", "rate_limit_sections"]

# file name in plots/ -> (element id, caption), in the order of the page
PLOTS: dict[str, tuple[str, str]] = {
    "latency_over_time.png": (
        "plot-latency",
        "p95 (solid) and p99 (dotted) second by second; dashed: the target.",
    ),
    "latency_distribution.png": (
        "plot-distribution",
        "Share of responses at or below each latency (log scale), per endpoint without streaming; "
        "bottom: the slowest 10 %. Marks: the exact p50, p95 and p99; dashed: the target.",
    ),
    "status_codes.png": (
        "plot-status-codes",
        "Responses per second by status class, all endpoints and all traffic (attacks included), "
        "stacked; 0 means no response at all.",
    ),
    "percentiles_vs_target.png": (
        "plot-percentiles",
        "p50, p95 and p99 per endpoint against its p95 target (hatched: no target).",
    ),
    "throughput.png": (
        "plot-throughput",
        "Requests per second by endpoint; errors and blocked responses per second.",
    ),
}
# drawn only for a run with rate-limited or probed routes; shown in the "Rate limits" section
RATE_LIMIT_PLOT: tuple[str, str, str] = (
    "rate_limits.png",
    "plot-rate-limits",
    "Per attacked route: admitted, blocked and failed non-legit requests per second; dashed: the "
    "declared quota per second (q/w).",
)
# drawn only for a run with LLM routes (the spend ones only with run.json's spend block); shown
# in the "LLM cost and streaming" section
LLM_PLOTS: dict[str, tuple[str, str]] = {
    "spend_over_time.png": (
        "plot-spend",
        "Cumulative cost of admitted requests over the run: legit users vs abusers (probes not "
        "counted).",
    ),
    "cost_per_route.png": (
        "plot-cost-per-route",
        "Cost of this run per LLM route, legit vs abuse (admitted requests only).",
    ),
    "ttft_over_time.png": (
        "plot-ttft",
        "Time to first token, p50 (solid) and p95 (dashed) per time bucket, over legit successful "
        "streams.",
    ),
}


@dataclass(frozen=True)
class Section:
    """An extra part of report.html from a later analysis (rate limits, spend, audit).

    `body` is HTML that its builder has already escaped; it is inserted as is.
    """

    id: str
    title: str
    body: str


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


def _draw_llm_plots(summary: Mapping, ttft: pd.DataFrame | None, costs: pd.DataFrame | None,
                    plots_dir: Path) -> dict[str, bytes]:
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
    own = rate_limit_sections(summary, limit_image)
    llm_section = llm_spend_section(summary, _draw_llm_plots(summary, ttft, costs, plots_dir))
    if llm_section is not None:
        own.append(llm_section)
    open_section = open_model_section(summary)
    if open_section is not None:
        own.append(open_section)
    page = render_html(summary, images, [*own, *sections])
    write_atomic(run_dir / "report.html", page)
    return typed


def _p95_targets_only(summary: Mapping) -> Mapping:
    """The summary as the percentile plot reads it: its thresholds are the p95 targets only."""
    rows = [t for t in summary.get("thresholds") or [] if t.get("metric") == "p95" and t.get("op") == "<"]
    return {**summary, "thresholds": rows}


def _over(endpoint: Mapping) -> bool:
    """Judged against its target and missed it (a route never requested is not judged)."""
    target, p95 = endpoint.get("target_p95_ms"), endpoint.get("p95_ms")
    return target is not None and bool(endpoint.get("legit_requests")) and (p95 is None or p95 >= target)


# --- report.html ----------------------------------------------------------------------------

CSS = """
:root{--pass:#137333;--fail:#b3261e;--ink:#1f2328;--muted:#59636e;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
  color:var(--ink);background:#fff}
main{max-width:1200px;margin:0 auto;padding:16px}
h1{font-size:18px;margin:0 0 12px;color:var(--muted);font-weight:600;overflow-wrap:anywhere}
h2{font-size:20px;margin:28px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}
.verdict{border-radius:12px;padding:18px 20px;color:#fff}
.verdict.pass{background:var(--pass)}
.verdict.fail{background:var(--fail)}
.verdict .badge{font-size:48px;font-weight:800;letter-spacing:.05em;line-height:1}
.verdict ul{margin:10px 0 0;padding-left:20px}
.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:10px 18px;
  margin:16px 0 0}
.facts dt{font-size:12px;text-transform:uppercase;letter-spacing:.04em;opacity:.85}
.facts dd{margin:0;font-weight:650;overflow-wrap:anywhere}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;border:1px solid var(--line);
  border-radius:8px}
table{border-collapse:separate;border-spacing:0;width:100%;font-variant-numeric:tabular-nums;font-size:14px}
th,td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th{background:var(--bg);font-weight:650}
tr:last-child td{border-bottom:0}
th:first-child,td:first-child{text-align:left;position:sticky;left:0;background:#fff}
th:first-child{background:var(--bg)}
table.left th,table.left td{text-align:left}
td.text{white-space:normal;min-width:14em}
td.over{background:#fde7e9;color:var(--fail);font-weight:700}
td.few{font-style:italic;color:var(--muted)}
td.over.few{color:var(--fail)}
td.pass{color:var(--pass);font-weight:700}
td.fail{color:var(--fail);font-weight:700}
.muted{color:var(--muted)}
.notes{background:#fff8c5;border:1px solid #d4a72c;border-radius:8px;padding:8px 12px 8px 28px;
  margin:14px 0 0}
figure{margin:0 0 22px}
figure img{display:block;max-width:100%;height:auto;border:1px solid var(--line);border-radius:6px}
figcaption{color:var(--muted);font-size:13px;margin-top:4px}
code{background:var(--bg);padding:1px 4px;border-radius:4px}
footer{color:var(--muted);font-size:12px;margin:28px 0 8px}
.rl-effective,.rl-holds,.rl-clean{color:var(--pass);font-weight:700}
.rl-bypassable,.rl-absent,.rl-bypass,.rl-finding{background:#fde7e9;color:var(--fail);font-weight:700}
.rl-leaky{background:#fff1d6;color:#8a4b00;font-weight:700}
.rl-expected,.rl-untested,.rl-inconclusive,.rl-none{color:var(--muted)}
@media (max-width:520px){.verdict .badge{font-size:38px}main{padding:10px}th,td{padding:5px 8px}}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _aborted(run: Mapping) -> str:
    if not run.get("aborted"):
        return "no"
    return f"yes: {run['abort_reason']}" if run.get("abort_reason") else "yes"


def _verdict_section(summary: Mapping) -> str:
    run, totals = summary.get("run") or {}, summary.get("totals") or {}
    verdict = summary.get("verdict", "fail")
    facts = [
        ("scenario", run.get("scenario") or "unknown"),
        ("host", run.get("host") or "unknown"),
        ("started (UTC)", (run.get("started_at") or "unknown").replace("T", " ")[:19]),
        ("duration", _duration(run.get("duration_s"))),
        ("workers", run.get("workers") if run.get("workers") is not None else "unknown"),
        ("requests", _num(totals.get("requests", 0))),
        ("errors", f"{_num(totals.get('errors', 0))} ({_pct(totals.get('error_rate'))})"),
        ("blocked", _num(totals.get("blocked", 0))),
        ("aborted", _aborted(run)),
    ]
    items = "".join(
        f'<div><dt>{_e(k)}</dt><dd data-fact="{_e(k)}">{_e(v)}</dd></div>' for k, v in facts
    )
    reasons = "".join(f"<li>{_e(r)}</li>" for r in summary.get("verdict_reasons") or [])
    return (
        f'<section id="verdict" class="verdict {_e(verdict)}" data-verdict="{_e(verdict)}">'
        f'<div class="badge">{_e(verdict.upper())}</div>'
        + (f'<ul class="reasons">{reasons}</ul>' if reasons else "")
        + f'<dl class="facts">{items}</dl></section>'
    )


def _notes_block(summary: Mapping) -> str:
    notes = summary.get("notes") or []
    if not notes:
        return ""
    return '<ul id="notes" class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"


def _table(head: Sequence[str], rows: Sequence[str], table_id: str, cls: str = "") -> str:
    cells = "".join(f"<th>{_e(h)}</th>" for h in head)
    return (
        f'<div class="scroll"><table id="{_e(table_id)}" class="{cls}">'
        f"<thead><tr>{cells}</tr></thead>"
        f'<tbody>{"".join(rows)}</tbody></table></div>'
    )


def _thresholds_section(summary: Mapping) -> str:
    thresholds = summary.get("thresholds") or []
    if not thresholds:
        body = '<p class="muted">No thresholds in this run.</p>'
    else:
        rows = []
        for t in thresholds:
            result = result_of(t)
            cls = {"PASS": "pass", "FAIL": "fail"}.get(result, "muted")
            note = f'<br><span class="muted">{_e(t["note"])}</span>' if t.get("note") else ""
            observed = t.get("observed")
            rows.append(
                f'<tr data-endpoint="{_e(t.get("endpoint"))}" data-metric="{_e(t.get("metric"))}">'
                f'<td class="expr"><code>{_e(t.get("expr"))}</code>{note}</td>'
                f'<td class="observed" data-value="{_e(observed)}">{_e(observed_text(t))}</td>'
                f'<td class="limit">{_e(limit_text(t))}</td>'
                f'<td class="samples" data-value="{_e(t.get("samples"))}">{_e(_num(t.get("samples")))}</td>'
                f'<td class="abort" data-value="{_e(bool(t.get("abort")))}">{"yes" if t.get("abort") else "–"}</td>'
                f'<td class="result {cls}">{result}</td></tr>'
            )
        body = _table(["threshold", "observed", "limit", "samples", "abort on fail", "result"], rows,
                      "thresholds-table")
    return f'<section id="thresholds"><h2>Thresholds</h2>{body}</section>'


def _task_errors_section(summary: Mapping) -> str:
    """Exceptions raised inside users' tasks: such a task sent nothing, so no endpoint shows it."""
    errors = summary.get("task_errors") or []
    if not errors:
        return ""
    rows = [
        f'<tr><td class="count" data-value="{_e(e.get("count"))}">{_e(_num(e.get("count")))}</td>'
        f'<td class="text exception">{_e(e.get("exception") or "–")}</td>'
        f'<td class="text message">{_e(e.get("message") or "–")}</td>'
        f'<td class="text in">{_e(e.get("in") or "–")}</td>'
        f'<td class="text last-line"><code>{_e(e.get("last_line") or "")}</code></td>'
        f'<td class="nodes">{_e(len(e.get("nodes") or []))}</td></tr>'
        for e in errors
    ]
    table = _table(["count", "exception", "message", "in", "last traceback line", "nodes"], rows,
                   "task-errors-table", "left")
    return ('<section id="task-errors"><h2>Task exceptions</h2><p class="muted">Raised inside the users\' '
            "tasks (Locust counted them on the master): a task that raised sent no request, so no endpoint "
            f"figure shows it. Each kind fails the run.</p>{table}</section>")


def _endpoints_section(summary: Mapping) -> str:
    endpoints: Mapping[str, Mapping] = summary.get("endpoints") or {}
    head = ["endpoint", "requests", "ok", "blocked", "errors", "error rate", "req/s", "p50 ms",
            "p95 ms", "p95 95 % CI ms", "p99 ms", "p99.9 ms", "max ms", "n", "p95 target"]
    rows = []
    for name, e in endpoints.items():
        d = f'data-endpoint="{_e(name)}"'
        n = e.get("latency_samples") or 0
        few = {key: " few" if 0 < n < needed else "" for key, (_, needed) in MIN_SAMPLES.items()}

        def cell(cls: str, text: str, value: Any = None, extra: str = "") -> str:
            data = f' data-value="{_e(value)}"' if value is not None else ""
            return f'<td class="{cls}{extra}" {d}{data}>{_e(text)}</td>'

        target = e.get("target_p95_ms")
        rows.append(
            f"<tr {d}><td class=\"endpoint\" {d}>{_e(name)}</td>"
            + cell("requests", _num(e.get("requests")), e.get("requests"))
            + cell("ok", _num(e.get("ok")), e.get("ok"))
            + cell("blocked", _num(e.get("blocked")), e.get("blocked"))
            + cell("errors", _num(e.get("errors")), e.get("errors"))
            + cell("error-rate", _pct(e.get("error_rate")), e.get("error_rate"))
            + cell("rps", _num(e.get("rps")), e.get("rps"))
            + cell("p50", _ms(e.get("p50_ms")), e.get("p50_ms"))
            + cell("p95", _ms(e.get("p95_ms")), e.get("p95_ms"),
                   (" over" if _over(e) else "") + few["p95"])
            + _ci_cell(e.get("p95_ci_ms"), d)
            + cell("p99", _ms(e.get("p99_ms")), e.get("p99_ms"), few["p99"])
            + cell("p999", _ms(e.get("p999_ms")), e.get("p999_ms"), few["p99.9"])
            + cell("max", _ms(e.get("max_ms")), e.get("max_ms"))
            + cell("samples", _num(e.get("latency_samples")), e.get("latency_samples"))
            + cell("target", "none" if target is None else f"< {target:g}", target)
            + "</tr>"
        )
    if not rows:
        table = '<p class="muted">No endpoint was requested.</p>'
    else:
        table = _table(head, rows, "endpoints-table")
    return (
        '<section id="endpoints"><h2>Endpoints</h2>'
        '<p class="muted">Latency over legit, non-blocked, successful responses (n of them); '
        "blocked and failed requests are counted apart. The p95 95 % CI is a distribution-free "
        "confidence interval from order statistics; <i>italic</i>: fewer samples than that "
        "percentile needs (about 200 for a p95, 1,000 for a p99, 10,000 for a p99.9).</p>"
        f"{table}{_details_table(endpoints)}</section>"
    )


def _ci_cell(ci: Any, d: str) -> str:
    """The p95's confidence interval, "–" when too few samples for one (under 72)."""
    if not isinstance(ci, (list, tuple)) or len(ci) != 2 or None in ci:
        return f'<td class="p95-ci" {d} title="too few samples for an interval">–</td>'
    low, high = ci
    return (f'<td class="p95-ci" {d} data-low="{_e(low)}" data-high="{_e(high)}">'
            f"{_e(_ms(low))} – {_e(_ms(high))}</td>")


def _details_table(endpoints: Mapping[str, Mapping]) -> str:
    """Statuses, top errors, blocked latency, first-byte/first-token times and sample-size
    warnings per endpoint."""
    rows = []
    for name, e in endpoints.items():
        if not e.get("requests"):
            continue
        statuses = ", ".join(f"{s} × {n:,}" for s, n in (e.get("status_counts") or {}).items())
        errors = "; ".join(f"{r} × {n:,}" for r, n in (e.get("error_counts") or {}).items())
        firsts = []
        for prefix, label in (("ttfb", "TTFB"), ("ttft", "TTFT")):
            if f"{prefix}_p50_ms" in e:
                firsts.append(f"{label} p50 {_ms(e[f'{prefix}_p50_ms'])} / p95 "
                              f"{_ms(e[f'{prefix}_p95_ms'])} ms")
        blocked = (f"p50 {_ms(e.get('blocked_p50_ms'))} / p95 {_ms(e.get('blocked_p95_ms'))} ms"
                   if e.get("blocked") else "–")
        warnings = "<br>".join(_e(w) for w in e.get("warnings") or []) or "–"
        rows.append(
            f'<tr data-endpoint="{_e(name)}"><td>{_e(name)}</td>'
            f'<td class="text statuses">{_e(statuses)}</td>'
            f'<td class="text error-reasons">{_e(errors or "–")}</td>'
            f'<td class="blocked-latency">{_e(blocked)}</td>'
            f'<td class="text first-byte">{_e("; ".join(firsts) or "–")}</td>'
            f'<td class="text sample-warnings">{warnings}</td></tr>'
        )
    if not rows:
        return ""
    head = ["endpoint", "statuses", "top errors", "blocked latency", "first byte / token",
            "sample-size warnings"]
    return '<h3>Responses</h3>' + _table(head, rows, "responses-table", "left")


def _figure(element_id: str, caption: str, image: bytes) -> str:
    """An inlined PNG with its caption (the page must stay self-contained)."""
    data = base64.b64encode(image).decode("ascii")
    return (f'<figure id="{_e(element_id)}"><img alt="{_e(caption)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{_e(caption)}</figcaption></figure>')


def _plots_section(images: Mapping[str, bytes]) -> str:
    figures = []
    for name, (element_id, caption) in PLOTS.items():
        if name not in images:
            continue
        data = base64.b64encode(images[name]).decode("ascii")
        figures.append(
            f'<figure id="{_e(element_id)}"><img alt="{_e(caption)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{_e(caption)}</figcaption></figure>'
        )
    return '<section id="plots"><h2>Figures</h2>' + "".join(figures) + "</section>"


def _term(key: str) -> str:
    """A definition's name as printed: TTFT, ITL…, or words for the longer ones."""
    return key.upper() if len(key) <= 4 else key.replace("_", " ")


METHOD = """
<section id="method"><h2>How these figures were computed</h2><ul>
<li><b>Percentiles are exact</b>, by nearest rank: p95 is the ⌈0.95·n⌉-th smallest of the n
latencies (as HdrHistogram and wrk report), never interpolated and never Locust's rounded
buckets, which can flip a “p95 &lt; 500 ms” verdict near the limit.</li>
<li><b>Which responses</b>: latency figures cover legit traffic (not attack traffic) that was
neither blocked nor failed. A request is <i>blocked</i> when its response matched the scenario's
block rule (e.g. 429); an <i>error</i> when it was not blocked and failed (error recorded, or no
response at all); <i>ok</i> otherwise. Blocked latency is shown apart so fast 429s cannot flatter
the p95.</li>
<li><b>Latency</b> runs from the request being sent to its last byte; req/s is requests over the
measured duration of the run.</li>
<li><b>A threshold</b> <code>p95(x) &lt; L ms</code> passes only if the exact p95 is strictly below
L. The verdict is PASS only if every threshold passes and the run is whole (samples recorded,
not aborted, an end time recorded).</li>
<li><b>LLM streaming figures</b> cover legit streams that were neither blocked nor failed; a broken
stream (ended early, malformed) is counted apart with its reason. Every figure is an exact
nearest-rank percentile. """ + "".join(
    f"<b>{html.escape(_term(key))}</b>: {html.escape(text)} " for key, text in DEFINITIONS.items()
) + """</li>
<li><b>Spend</b>: tokens from the provider's <code>usage</code> where the response had it, else
counted with tiktoken; the scenario's hidden prompt (system prompt, context) is added to each
request counted by estimate only, since <code>usage</code> already includes it. Cached prompt tokens
are billed once, at the cached price. Only admitted requests cost money; a blocked one never
reached the model. Harness probes are costed on neither side. Per day = run cost ÷ run duration ×
86,400 s; the ceiling prices every attempted abuse request as if the limits were absent.</li>
</ul></section>
"""


def render_html(
    summary: Mapping, images: Mapping[str, bytes], sections: Sequence[Section] = ()
) -> str:
    """The self-contained report page: inline CSS, images as data URIs, no scripts, no fetches."""
    run = summary.get("run") or {}
    verdict = str(summary.get("verdict", "fail")).upper()
    title = f"{verdict} · {run.get('scenario') or 'run'} · launch-harness"
    extra = "".join(
        f'<section id="{_e(s.id)}"><h2>{_e(s.title)}</h2>{s.body}</section>' for s in sections
    )
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
        f'<h1 id="run-id">launch-harness report · {_e(run.get("id") or "")}</h1>'
        + _verdict_section(summary)
        + _notes_block(summary)
        + _thresholds_section(summary)
        + _task_errors_section(summary)
        + _endpoints_section(summary)
        + _plots_section(images)
        + extra
        + METHOD
        + f'<footer>launch-harness {_e(run.get("harness_version") or "")} · Locust '
        f'{_e(run.get("locust_version") or "")} · generated {_e(generated)}</footer>'
        "</main></body></html>\n"
    )


# --- rate limits and abuse -----------------------------------------------------------------

def _amp(value: Any) -> str:
    return "–" if value is None else f"×{value:.1f}"


def _declared_text(entry: Mapping) -> str:
    rules = entry.get("declared") or []
    if not rules:
        measured = entry.get("quota")
        return f"none (measured {measured})" if measured is not None else "none"
    return "; ".join(f"{r['quota']}/{r['window_s']:g}s per {r['key']}" for r in rules)


def _limits_table(limits: Mapping[str, Mapping]) -> str:
    head = ["route", "verdict", "declared", "requests to first block", "over-allowance",
            "worst technique", "amplification", "legit blocked", "legit p95 before ms",
            "legit p95 during ms", "fix"]
    rows = []
    for route, e in limits.items():
        d = f'data-route="{_e(route)}"'
        worst = e.get("worst_technique")
        b = (e.get("bypasses") or {}).get(worst) or {}
        factor = b.get("amplification") or b.get("over_allowance_ratio")
        verdict = str(e.get("verdict"))
        over = e.get("over_allowance_ratio")
        rows.append(
            f'<tr {d}><td class="route" {d}>{_e(route)}</td>'
            f'<td class="rl-verdict" {d}><span class="rl-{_e(verdict)}">{_e(verdict)}</span></td>'
            f'<td class="declared" {d}>{_e(_declared_text(e))}</td>'
            f'<td class="first-block" {d}>{_e(_num(e.get("requests_to_first_block")))}</td>'
            f'<td class="over-allowance" {d}>{_e("–" if over is None else f"{over:.2f}")}</td>'
            f'<td class="worst" {d}>{_e(worst or "–")}</td>'
            f'<td class="amplification" {d}>{_e(_amp(factor))}</td>'
            f'<td class="legit-blocked" {d}>{_e(_pct(e.get("legit_blocked_ratio")))}</td>'
            f'<td class="p95-before" {d}>{_e(_ms(e.get("legit_p95_before_attack_ms")))}</td>'
            f'<td class="p95-during" {d}>{_e(_ms(e.get("legit_p95_during_attack_ms")))}</td>'
            f'<td class="text fix" {d}>{"<br>".join(_e(f) for f in e.get("fix") or []) or "–"}'
            "</td></tr>"
        )
    return _table(head, rows, "rate-limits-table", "left")


def _matrix_table(limits: Mapping[str, Mapping]) -> str:
    """Routes × techniques: admitted/attempts and amplification, coloured by verdict."""
    techniques = sorted({t for e in limits.values() for t in (e.get("bypasses") or {})}
                        | {"baseline"}, key=technique_key)
    rows = []
    for route, e in limits.items():
        cells = [f'<td>{_e(route)}</td>']
        for t in techniques:
            data = f'data-route="{_e(route)}" data-technique="{_e(t)}"'
            if t == "baseline":
                base = e.get("baseline")
                text = f'{base["admitted"]}/{base["attempts"]}' if base else "–"
                cells.append(f'<td class="rl-cell rl-{"holds" if base else "none"}" {data}>'
                             f"{_e(text)}</td>")
                continue
            b = (e.get("bypasses") or {}).get(t)
            if not b:
                cells.append(f'<td class="rl-cell rl-none" {data}>–</td>')
                continue
            factor = b.get("over_allowance_ratio") if t.startswith("window-edge") else b.get(
                "amplification")
            text = f'{b["admitted"]}/{b["attempts"]} {_amp(factor)}'
            cells.append(f'<td class="rl-cell rl-{_e(b.get("verdict"))}" {data} '
                         f'title="{_e(b.get("note"))}">{_e(text)} {_e(b.get("verdict"))}</td>')
        rows.append(f'<tr data-route="{_e(route)}">{"".join(cells)}</tr>')
    return _table(["route", *techniques], rows, "bypass-matrix")


def _notes_of(limits: Mapping[str, Mapping]) -> str:
    notes = [f"{route} · {t}: {b['note']}" for route, e in limits.items()
             for t, b in (e.get("bypasses") or {}).items() if b.get("note")]
    return ("<ul class=\"rl-notes\">" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"
            if notes else "")


def _abuse_body(abuse: Mapping) -> str:
    head = ["attack", "route", "requests", "admitted", "blocked", "errors", "first block", "req/s",
            "findings"]
    rows = []
    for name, a in abuse.items():
        d = f'data-attack="{_e(name)}"'
        findings = a.get("findings") or []
        text = "; ".join(findings) or "; ".join(a.get("notes") or []) or "none"
        rows.append(
            f'<tr {d}><td>{_e(name)}</td><td>{_e(a.get("endpoint"))}</td>'
            f'<td>{_e(_num(a.get("requests")))}</td>'
            f'<td>{_e(_num(a.get("admitted")))}</td><td>{_e(_num(a.get("blocked")))}</td>'
            f'<td>{_e(_num(a.get("errors")))}</td><td>{_e(_num(a.get("first_block_index")))}</td>'
            f'<td>{_e(_num(a.get("rps")))}</td>'
            f'<td class="text abuse-findings rl-{"finding" if findings else _e(a.get("verdict") or "clean")}" {d}>'
            f"{_e(text)}</td></tr>"
        )
    return _table(head, rows, "abuse-table", "left")


def rate_limit_sections(summary: Mapping, image: bytes | None = None) -> list[Section]:
    """The "Rate limits" and "Abuse findings" sections, for the runs that have them."""
    out: list[Section] = []
    limits: Mapping[str, Mapping] = summary.get("rate_limits") or {}
    if limits:
        figure = _figure(RATE_LIMIT_PLOT[1], RATE_LIMIT_PLOT[2], image) if image else ""
        body = (
            '<p class="muted">A request is <i>admitted</i> when it reached the handler and was not '
            "rate limited (not blocked, status not 0/3xx/404/405, below 500). Over-allowance: most "
            "admitted within one window over the quota (ideal 1.0). Amplification: admitted with a "
            "technique ÷ admitted at baseline over as many attempts.</p>"
            + _limits_table(limits) + "<h3>Bypass matrix</h3>" + _matrix_table(limits)
            + _notes_of(limits) + figure
        )
        out.append(Section(id="rate-limits", title="Rate limits", body=body))
    abuse: Mapping = summary.get("abuse") or {}
    if abuse:
        out.append(Section(id="abuse", title="Abuse findings", body=_abuse_body(abuse)))
    return out


# --- LLM cost and streaming ----------------------------------------------------------------

def _signed_pct(value: Any) -> str:
    return "–" if value is None else f"{value * 100:+.1f} %"


def _token_text(spend: Mapping) -> str:
    """How the tokens were counted, in words: source, encoding, and the estimate's error."""
    source, encoding = spend.get("token_source"), spend.get("encoding") or "tiktoken"
    text = {"usage": "from the provider's usage",
            "estimate": f"estimated with {encoding} (no usage in the responses)",
            "mixed": f"from usage where given, else estimated with {encoding}"}.get(
        source, "no tokens counted")
    if spend.get("encoding_note"):
        text += f" ({spend['encoding_note']})"
    error = spend.get("estimate_error") or {}
    if error.get("input") is not None or error.get("output") is not None:
        text += (f"; estimate vs usage: input {_signed_pct(error.get('input'))}, "
                 f"output {_signed_pct(error.get('output'))}")
    return text


def _worst_text(dow: Mapping) -> str:
    """The denial-of-wallet probe in one line: worst request, largest prompt, output verdict."""
    worst = dow.get("worst_request") or {}
    prompt, output = dow.get("prompt") or {}, dow.get("output") or {}
    parts = [usd(dow.get("worst_request_usd"))]
    if worst:
        parts[0] += (f" ({_num(worst.get('input_tokens'))} input + "
                     f"{_num(worst.get('output_tokens'))} output tokens)")
    if prompt:
        parts.append(f"largest accepted prompt {_num(prompt.get('accepted_max_tokens'))} tokens "
                     f"(prompt size {prompt.get('verdict') or 'untested'})")
    if output:
        factor = output.get("factor")
        parts.append(f"output {output.get('verdict') or 'untested'}"
                     + (f" (×{factor:.1f} the typical reply)" if isinstance(factor, (int, float))
                        else ""))
    return "; ".join(parts)


def _spend_table(spend: Mapping) -> str:
    """What a founder asks: what users cost, what abusers cost, what the limits saved."""
    day, run_cost = spend.get("per_day_usd") or {}, spend.get("run_cost_usd") or {}
    per_day = spend.get("conversations_per_day")
    scenario = f" ({per_day:,g} conversations a day)" if per_day is not None else ""
    money = [
        ("legit-per-day", "What real users cost per day, at the rate seen in this run",
         day.get("legit_at_observed_rate")),
        ("legit-per-1k", "Per 1,000 conversations", spend.get("per_1k_conversations_usd")),
        ("legit-scenario-day", f"Per day at the scenario's expected traffic{scenario}",
         day.get("legit_at_scenario_traffic")),
        ("abuse-admitted-day", "What abusers made it cost per day (requests let through)",
         day.get("abuse_admitted")),
        ("abuse-ceiling-day", "What abusers would cost per day if the limits were absent",
         day.get("abuse_ceiling")),
        ("saved-day", "Saved by rate limiting, per day", spend.get("saved_by_rate_limiting_usd_per_day")),
        ("run-legit", "This run: real users", run_cost.get("legit")),
        ("run-abuse", "This run: abusers (admitted)", run_cost.get("abuse")),
    ]
    rows = [f'<tr data-spend="{key}"><td>{_e(label)}</td>'
            f'<td class="usd" data-spend="{key}" data-value="{_e(value)}">{_e(usd(value))}</td></tr>'
            for key, label, value in money]
    price = spend.get("price") or {}
    model = (f"{spend.get('model')}: ${price.get('input', 0):g} input, ${price.get('cached_input', 0):g} "
             f"cached input, ${price.get('output', 0):g} output per million tokens; price table of "
             f"{spend.get('price_table_date') or 'unknown date'}"
             + (" (overridden by the scenario)" if spend.get("price_overridden") else ""))
    text = [("model", "Model and prices", model), ("tokens", "Token counts", _token_text(spend))]
    dow = spend.get("denial_of_wallet")
    if isinstance(dow, Mapping):
        text.insert(0, ("worst-request", "Worst single request (denial-of-wallet probe)",
                        _worst_text(dow)))
    rows += [f'<tr data-spend="{key}"><td>{_e(label)}</td>'
             f'<td class="text" data-spend="{key}">{_e(value)}</td></tr>' for key, label, value in text]
    notes = "".join(f"<li>{_e(n)}</li>" for n in spend.get("notes") or [])
    return (_table(["", "USD"], rows, "spend-table", "left")
            + (f'<ul class="spend-notes muted">{notes}</ul>' if notes else ""))


STREAM_COLUMNS = [  # (class, head, summary key, formatter)
    ("requests", "legit requests", "requests", _num),
    ("broken", "broken streams", "broken_streams", _num),
    ("ttfb-p50", "TTFB p50 ms", "ttfb_p50_ms", _ms),
    ("ttft-p50", "TTFT p50 ms", "ttft_p50_ms", _ms),
    ("ttft-p95", "TTFT p95 ms", "ttft_p95_ms", _ms),
    ("ttft-p99", "TTFT p99 ms", "ttft_p99_ms", _ms),
    ("tpot-p50", "TPOT p50 ms", "tpot_p50_ms", _ms),
    ("tpot-p95", "TPOT p95 ms", "tpot_p95_ms", _ms),
    ("itl-p50", "ITL p50 ms", "itl_p50_ms", _ms),
    ("itl-p95", "ITL p95 ms", "itl_p95_ms", _ms),
    ("itl-p99", "ITL p99 ms", "itl_p99_ms", _ms),
    ("tokens-per-s", "tokens/s per reply", "output_tokens_per_s", _num),
    ("tokens-per-s-total", "tokens/s total", "output_tokens_per_s_total", _num),
    ("input-tokens", "input tokens", "input_tokens", _num),
    ("output-tokens", "output tokens", "output_tokens", _num),
    ("token-source", "token source", "token_source", lambda v: v or "–"),
]


def _streaming_table(llm: Mapping[str, Mapping]) -> str:
    rows = []
    for name, e in llm.items():
        d = f'data-endpoint="{_e(name)}"'
        cells = "".join(f'<td class="{cls}" {d} data-value="{_e(e.get(key))}">{_e(fmt(e.get(key)))}</td>'
                        for cls, _, key, fmt in STREAM_COLUMNS)
        rows.append(f'<tr {d}><td class="endpoint" {d}>{_e(name)}</td>{cells}</tr>')
    table = _table(["route", *(head for _, head, _, _ in STREAM_COLUMNS)], rows, "streaming-table")
    broken = [f"{name}: " + "; ".join(f"{r} × {n:,}" for r, n in e["broken_reasons"].items())
              for name, e in llm.items() if e.get("broken_reasons")]
    reasons = ('<p class="muted broken-reasons">Broken streams: ' + _e(" · ".join(broken)) + "</p>"
               if broken else "")
    terms = "".join(f'<dt>{_e(_term(key))}</dt><dd data-definition="{_e(key)}">{_e(text)}</dd>'
                    for key, text in DEFINITIONS.items())
    return table + reasons + f'<dl class="llm-definitions muted">{terms}</dl>'


def _wallet_body(dow: Mapping) -> str:
    """The denial-of-wallet probe: each prompt size tried, the reply-length test, findings and fixes."""
    prompt, output = dow.get("prompt") or {}, dow.get("output") or {}
    rows = [f'<tr data-tokens="{_e(step["tokens"])}"><td>{_e(_num(step["tokens"]))}</td>'
            f'<td>{_e(step["status"] or "no answer")}</td><td>{_e(_ms(step["ms"]))}</td>'
            f'<td class="rl-{"holds" if step["outcome"] == "refused" else "none"}">{_e(step["outcome"])}</td></tr>'
            for step in prompt.get("steps") or []]
    verdict = prompt.get("verdict") or "untested"
    refused = (f"smallest refused {_num(prompt['refused_min_tokens'])} (HTTP {prompt.get('refused_status')})"
               if prompt.get("refused_min_tokens") is not None else "none refused")
    head = (f'<p id="wallet-prompt" data-verdict="{_e(verdict)}">Prompt size on <code>{_e(dow.get("route"))}'
            f"</code>: <b>{_e(verdict)}</b>, largest accepted {_e(_num(prompt.get('accepted_max_tokens')))} "
            f"tokens, {_e(refused)}; sizes double from the first, then bisect, up to the cap of "
            f"{_e(_num(prompt.get('cap_tokens')))} tokens. Refusing with 400/413 before any model call is "
            "the pass.</p>")
    factor = output.get("factor")
    reply = (f'<p id="wallet-output" data-verdict="{_e(output.get("verdict"))}">Reply length: '
             f"<b>{_e(output.get('verdict'))}</b>: asked for {_e(_num(output.get('asked_tokens')))} tokens, got "
             f"{_e(_num(output.get('output_tokens')))}"
             + (f" (×{factor:.1f} the median legit reply)" if isinstance(factor, (int, float)) else "")
             + f"; the longest legit reply had {_e(_num(output.get('longest_legit_output_tokens')))}.</p>")
    findings = "".join(f'<li class="rl-finding">{_e(f)}</li>' for f in dow.get("findings") or [])
    fixes = "".join(f"<li>{_e(f)}</li>" for f in dow.get("fix") or [])
    return ("<h3>Denial of wallet</h3>" + head
            + _table(["prompt tokens", "status", "ms", "outcome"], rows, "wallet-steps", "left") + reply
            + (f'<ul id="wallet-findings">{findings}</ul>' if findings else "")
            + (f'<p>Fix:</p><ul id="wallet-fix">{fixes}</ul>' if fixes else ""))


def llm_spend_section(summary: Mapping, images: Mapping[str, bytes] | None = None) -> Section | None:
    """The "LLM cost and streaming" section: the money first, then the streaming times, then the
    figures; None for a run without LLM routes or spend."""
    llm: Mapping[str, Mapping] = summary.get("llm") or {}
    spend: Mapping | None = summary.get("spend")
    if not llm and not spend:
        return None
    if spend and "run_cost_usd" in spend:
        body = _spend_table(spend)
    else:
        body = ('<p class="muted" id="no-spend">No cost figures: run.json has no usable spend '
                "block (an older or killed run).</p>")
    if spend and isinstance(spend.get("denial_of_wallet"), Mapping):
        body += _wallet_body(spend["denial_of_wallet"])
    if llm:
        body += ("<h3>Streaming</h3><p class=\"muted\">Over legit streams that were neither "
                 "blocked nor failed; exact nearest-rank percentiles.</p>" + _streaming_table(llm))
    images = images or {}
    body += "".join(_figure(element_id, caption, images[name])
                    for name, (element_id, caption) in LLM_PLOTS.items() if name in images)
    return Section(id="llm-spend", title="LLM cost and streaming", body=body)


def open_model_section(summary: Mapping) -> Section | None:
    """Arrivals against the schedule, then per endpoint latency from the send and from the intended start."""
    om: Mapping | None = summary.get("open_model")
    if not om:
        return None
    journeys = [
        f'<tr data-journey="{_e(name)}"><td>{_e(name)}</td><td>{_num(j.get("users"))}</td><td>{_num(j.get("due"))}</td>'
        f'<td>{_num(j.get("started"))}</td><td>{_num(j.get("late"))}</td><td>{_num(j.get("dropped"))}</td>'
        f'<td>{_ms(j.get("max_delay_ms"))}</td></tr>'
        for name, j in (om.get("journeys") or {}).items()]
    latency = [
        f'<tr data-endpoint="{_e(name)}"><td>{_e(name)}</td><td>{_num(e.get("samples"))}</td>'
        + "".join(f'<td>{_ms(e.get(f"{p}_from_send_ms"))}</td><td>{_ms(e.get(f"{p}_from_intended_ms"))}</td>'
                  for p in ("p50", "p95", "p99")) + "</tr>"
        for name, e in (om.get("latency") or {}).items()]
    rate = (f'<p id="open-model-rate">Target {_num(om.get("target_rate"))} arrivals/s, achieved '
            f'{_num(om.get("achieved_rate"))}/s: {_num(om.get("started"))} of {_num(om.get("due"))} due started, '
            f'{_num(om.get("late"))} late, {_num(om.get("dropped"))} dropped.</p>')
    body = (rate + f'<p class="muted">{_e(om.get("definition", ""))}</p>'
            + _table(["journey", "users", "due", "started", "late", "dropped", "max delay ms"], journeys, "open-model-arrivals")
            + "<h3>Latency from the send and from the intended start</h3>"
            + _table(["endpoint", "samples", "p50 send", "p50 intended", "p95 send", "p95 intended",
                      "p99 send", "p99 intended"], latency, "open-model-latency"))
    return Section(id="open-model", title="Open model: arrivals and coordinated omission", body=body)


def _open_model_line(om: Mapping | None) -> list[str]:
    if not om:
        return []
    worst = max((om.get("latency") or {}).items(), key=lambda kv: kv[1].get("p99_from_intended_ms") or 0, default=None)
    tail = (f"; p99 from intended start: {worst[0]} {_ms(worst[1].get('p99_from_intended_ms'))} ms "
            f"(from send {_ms(worst[1].get('p99_from_send_ms'))} ms)") if worst else ""
    return [f"open model: {_num(om.get('achieved_rate'))} of {_num(om.get('target_rate'))} arrivals/s, "
            f"{_num(om.get('due'))} due, {_num(om.get('late'))} late, {_num(om.get('dropped'))} dropped" + tail]


def _llm_lines(llm: Mapping[str, Mapping], spend: Mapping | None, most: int = 3) -> list[str]:
    """One line per LLM route (at most `most`) and one for the money."""
    lines = []
    served = [(name, e) for name, e in llm.items() if e.get("requests")]
    for name, e in served[:most]:
        broken = e.get("broken_streams") or 0
        lines.append(f"llm {name}: TTFT p95 {_ms(e.get('ttft_p95_ms'))} ms, TPOT p50 "
                     f"{_ms(e.get('tpot_p50_ms'))} ms, {_num(e.get('output_tokens_per_s'))} tokens/s"
                     + (f", {broken:,} broken streams" if broken else ""))
    if spend:
        cost, day = spend.get("run_cost_usd") or {}, spend.get("per_day_usd") or {}
        lines.append(f"spend: {usd(cost.get('legit'))} legit, {usd(cost.get('abuse'))} abuse this run; "
                     f"{usd(day.get('legit_at_observed_rate'))}/day legit at observed rate")
    return lines


# --- terminal table -------------------------------------------------------------------------

def _limit_lines(limits: Mapping[str, Mapping], most: int = 6) -> list[str]:
    """A short block: route, verdict, worst technique with its factor (at most `most` routes)."""
    if not limits:
        return []
    width = max(len(r) for r in limits)
    lines = ["rate limits:"]
    for route, e in list(limits.items())[:most]:
        detail = limit_detail(e).strip(" ()")
        lines.append(f"  {route.ljust(width)}  {str(e.get('verdict')).ljust(10)}  {detail}".rstrip())
    if len(limits) > most:
        lines.append(f"  … and {len(limits) - most} more routes (see report.html)")
    return lines


def format_table(summary: Summary) -> str:
    """A one-screen plain-text table of the endpoints, then the verdict line and its reasons."""
    head = ["endpoint", "requests", "errors", "blocked", "req/s", "p50", "p95", "p99", "max",
            "target", ""]
    rows = []
    for name, e in summary.endpoints.items():
        target = e.target_p95_ms
        mark = "–" if target is None or not e.legit_requests else ("✗" if _over(to_builtins(e)) else "✓")
        rows.append([
            name, _num(e.requests), _num(e.errors), _num(e.blocked), _num(e.rps), _ms(e.p50_ms), _ms(e.p95_ms),
            _ms(e.p99_ms), _ms(e.max_ms), "–" if target is None else f"<{target:g}", mark,
        ])
    totals = summary.totals
    rows.append(["total", _num(totals.requests), _num(totals.errors), _num(totals.blocked), _num(totals.rps),
                 "", "", "", "", "", ""])
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        first = str(cells[0]).ljust(widths[0])
        rest = [str(c).rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "  ".join([first, *rest]).rstrip()

    rule = "-" * len(line(head))
    body = [line(r) for r in rows[:-1]] or ["(no requests)"]
    lines = [line(head), rule, *body, rule, line(rows[-1])]
    context = f"{summary.run.scenario or 'run'}, {_duration(summary.run.duration_s)}"
    lines += _limit_lines(summary.section("rate_limits") or {})
    lines += _llm_lines(summary.section("llm") or {}, summary.section("spend"))
    lines += _open_model_line(summary.section("open_model"))
    lines += [f"task exceptions: {e.count:,} × {task_error_text(e)}" for e in summary.section("task_errors") or []]
    abuse = summary.section("abuse") or {}
    if abuse:
        lines.append(f"abuse: {abuse_verdict(abuse)}, {len(abuse_findings(abuse))} finding(s)")
    lines.append("latency in ms, exact, over legit non-blocked successful responses")
    reasons = [r.message for r in summary.reasons]
    lines.append(f"verdict: {summary.verdict.upper()} ({context})" + (": " + "; ".join(reasons) if reasons else ""))
    return "\n".join(lines)
