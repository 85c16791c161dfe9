"""report.html through Jinja2 templates (harness/report/templates) with autoescaping on.

The functions here only build template contexts: plain values and strings already formatted for
people ("1,234", "612.3", "$0.0122"), never markup. Every value from a run (endpoint names, error
texts, threshold expressions, notes, the host) reaches the page through an autoescaped `{{ }}`, so
a hostile target's text cannot become markup; the templates hold all of the HTML.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jinja2
import msgspec

from harness.analysis.confidence import MIN_SAMPLES
from harness.analysis.llm import DEFINITIONS
from harness.analysis.ratelimits import technique_key
from harness.analysis.spend import usd
from harness.documents.summary import CapacitySection
from harness.report.ci import limit_text, observed_text, result_of
from harness.report.formatting import at_the_stop, capacity_text, over_target
from harness.report.formatting import duration as _duration
from harness.report.formatting import ms as _ms
from harness.report.formatting import number as _num
from harness.report.formatting import percent as _pct

__all__ = [
    "Section",
    "render",
    "render_template",
    "PLOTS",
    "LLM_PLOTS",
    "RATE_LIMIT_PLOT",
    "rate_limit_sections",
    "llm_spend_section",
    "open_model_section",
    "capacity_section",
]

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
        "Cumulative cost of admitted requests over the run: legit users vs abusers (probes not counted).",
    ),
    "cost_per_route.png": (
        "plot-cost-per-route",
        "Cost of this run per LLM route, legit vs abuse (admitted requests only).",
    ),
    "ttft_over_time.png": (
        "plot-ttft",
        "Time to first token, p50 (solid) and p95 (dashed) per time bucket, over legit successful streams.",
    ),
}

REPORT_PACKAGE = "harness.report"


@dataclass(frozen=True)
class Section:
    """An extra part of report.html from a later analysis (rate limits, spend, audit).

    The page renders it as `<section id=…><h2>title</h2>…</section>`, the inside from `template`
    (found in the templates/ folder of `package`) with `context` as the variable `section`: plain
    values, escaped by the template like everything else.
    """

    id: str
    title: str
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    package: str = REPORT_PACKAGE


@cache
def _environment(packages: tuple[str, ...]) -> jinja2.Environment:
    """One environment per set of template folders: the report's first (base page, CSS, macros)."""
    loaders = [jinja2.PackageLoader(p) for p in dict.fromkeys((REPORT_PACKAGE, *packages))]
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_template(name: str, context: Mapping[str, Any], packages: Sequence[str] = ()) -> str:
    """A page from its template; `packages` add their templates/ folders to the report's."""
    return _environment(tuple(packages)).get_template(name).render(context)


def _text(value: Any) -> str:
    """A value as an attribute or a cell shows it: None is empty (Jinja would print "None")."""
    return "" if value is None else str(value)


def _generated() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def _figure(element_id: str, caption: str, image: bytes) -> dict[str, str]:
    """An inlined PNG (the page must stay self-contained). The data URI needs no `|safe`: base64
    text and its `data:image/png;base64,` prefix hold no character that escaping changes."""
    data = base64.b64encode(image).decode("ascii")
    return {"id": element_id, "caption": caption, "src": f"data:image/png;base64,{data}"}


# --- the run's own parts -------------------------------------------------------------------


def _aborted(run: Mapping) -> str:
    if not run.get("aborted"):
        return "no"
    return f"yes: {run['abort_reason']}" if run.get("abort_reason") else "yes"


def _verdict(summary: Mapping) -> dict[str, Any]:
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
    if run.get("at_the_stop"):
        facts.append(("requests at the stop", at_the_stop(run["at_the_stop"])))
    return {
        "verdict": _text(verdict),
        "badge": verdict.upper(),
        "reasons": [_text(r) for r in summary.get("verdict_reasons") or []],
        "facts": [(name, _text(value)) for name, value in facts],
    }


def _thresholds(summary: Mapping) -> list[dict[str, str]]:
    rows = []
    for t in summary.get("thresholds") or []:
        result = result_of(t)
        rows.append(
            {
                "endpoint": _text(t.get("endpoint")),
                "metric": _text(t.get("metric")),
                "expr": _text(t.get("expr")),
                "note": _text(t.get("note")),
                "observed": _text(t.get("observed")),
                "observed_text": observed_text(t),
                "limit": limit_text(t),
                "samples": _text(t.get("samples")),
                "samples_text": _num(t.get("samples")),
                "abort": str(bool(t.get("abort"))),
                "abort_text": "yes" if t.get("abort") else "–",
                "result": result,
                "class": {"PASS": "pass", "FAIL": "fail"}.get(result, "muted"),
            }
        )
    return rows


def _task_errors(summary: Mapping) -> list[dict[str, str]]:
    """Exceptions raised inside users' tasks: such a task sent nothing, so no endpoint shows it."""
    return [
        {
            "count": _text(e.get("count")),
            "count_text": _num(e.get("count")),
            "exception": _text(e.get("exception") or "–"),
            "message": _text(e.get("message") or "–"),
            "in": _text(e.get("in") or "–"),
            "last_line": _text(e.get("last_line") or ""),
            "nodes": str(len(e.get("nodes") or [])),
        }
        for e in summary.get("task_errors") or []
    ]


def _cell(cls: str, text: str, value: Any = None, **data: Any) -> dict[str, Any]:
    """A table cell: its class, its text, and its data-* attributes (a None value leaves one out)."""
    attrs = {"value": value, **data}
    return {
        "class": cls,
        "text": text,
        "title": None,
        "data": [(name, _text(v)) for name, v in attrs.items() if v is not None],
    }


def _ci_cell(ci: Any) -> dict[str, Any]:
    """The p95's confidence interval, "–" when too few samples for one (under 72)."""
    if not isinstance(ci, (list, tuple)) or len(ci) != 2 or None in ci:
        return {**_cell("p95-ci", "–"), "title": "too few samples for an interval"}
    low, high = ci
    return _cell("p95-ci", f"{_ms(low)} – {_ms(high)}", low=low, high=high)


def _endpoint_cells(e: Mapping) -> list[dict[str, Any]]:
    n = e.get("latency_samples") or 0
    few = {key: " few" if 0 < n < needed else "" for key, (_, needed) in MIN_SAMPLES.items()}
    target = e.get("target_p95_ms")
    return [
        _cell("requests", _num(e.get("requests")), e.get("requests")),
        _cell("ok", _num(e.get("ok")), e.get("ok")),
        _cell("blocked", _num(e.get("blocked")), e.get("blocked")),
        _cell("errors", _num(e.get("errors")), e.get("errors")),
        _cell("error-rate", _pct(e.get("error_rate")), e.get("error_rate")),
        _cell("rps", _num(e.get("rps")), e.get("rps")),
        _cell("p50", _ms(e.get("p50_ms")), e.get("p50_ms")),
        _cell("p95" + (" over" if over_target(e) else "") + few["p95"], _ms(e.get("p95_ms")), e.get("p95_ms")),
        _ci_cell(e.get("p95_ci_ms")),
        _cell("p99" + few["p99"], _ms(e.get("p99_ms")), e.get("p99_ms")),
        _cell("p999" + few["p99.9"], _ms(e.get("p999_ms")), e.get("p999_ms")),
        _cell("max", _ms(e.get("max_ms")), e.get("max_ms")),
        _cell("samples", _num(e.get("latency_samples")), e.get("latency_samples")),
        _cell("target", "none" if target is None else f"< {target:g}", target),
    ]


def _responses(endpoints: Mapping[str, Mapping]) -> list[dict[str, Any]]:
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
                firsts.append(f"{label} p50 {_ms(e[f'{prefix}_p50_ms'])} / p95 {_ms(e[f'{prefix}_p95_ms'])} ms")
        blocked = (
            f"p50 {_ms(e.get('blocked_p50_ms'))} / p95 {_ms(e.get('blocked_p95_ms'))} ms" if e.get("blocked") else "–"
        )
        rows.append(
            {
                "name": name,
                "statuses": statuses,
                "errors": errors or "–",
                "blocked": blocked,
                "firsts": "; ".join(firsts) or "–",
                "warnings": [_text(w) for w in e.get("warnings") or []] or ["–"],
            }
        )
    return rows


def _term(key: str) -> str:
    """A definition's name as printed: TTFT, ITL…, or words for the longer ones."""
    return key.upper() if len(key) <= 4 else key.replace("_", " ")


def render(summary: Mapping, images: Mapping[str, bytes], sections: Sequence[Section] = ()) -> str:
    """The self-contained report page: inline CSS, images as data URIs, no scripts, no fetches."""
    run = summary.get("run") or {}
    endpoints: Mapping[str, Mapping] = summary.get("endpoints") or {}
    context = {
        "title": f"{str(summary.get('verdict', 'fail')).upper()} · {run.get('scenario') or 'run'} · launch-harness",
        "run_id": _text(run.get("id") or ""),
        "verdict": _verdict(summary),
        "notes": [_text(n) for n in summary.get("notes") or []],
        "thresholds": _thresholds(summary),
        "task_errors": _task_errors(summary),
        "endpoints": [{"name": name, "cells": _endpoint_cells(e)} for name, e in endpoints.items()],
        "responses": _responses(endpoints),
        "figures": [
            _figure(element_id, caption, images[name])
            for name, (element_id, caption) in PLOTS.items()
            if name in images
        ],
        "sections": list(sections),
        "definitions": [(_term(key), text) for key, text in DEFINITIONS.items()],
        "harness_version": _text(run.get("harness_version") or ""),
        "locust_version": _text(run.get("locust_version") or ""),
        "generated": _generated(),
    }
    packages = tuple(dict.fromkeys(s.package for s in sections if s.package != REPORT_PACKAGE))
    return render_template("report.html.j2", context, packages)


# --- rate limits and abuse -----------------------------------------------------------------


def _amp(value: Any) -> str:
    return "–" if value is None else f"×{value:.1f}"


def _declared_text(entry: Mapping) -> str:
    rules = entry.get("declared") or []
    if not rules:
        measured = entry.get("quota")
        return f"none (measured {measured})" if measured is not None else "none"
    return "; ".join(f"{r['quota']}/{r['window_s']:g}s per {r['key']}" for r in rules)


def _limit_rows(limits: Mapping[str, Mapping]) -> list[dict[str, Any]]:
    rows = []
    for route, e in limits.items():
        worst = e.get("worst_technique")
        b = (e.get("bypasses") or {}).get(worst) or {}
        over = e.get("over_allowance_ratio")
        rows.append(
            {
                "route": route,
                "verdict": str(e.get("verdict")),
                "cells": [
                    ("declared", _declared_text(e)),
                    ("first-block", _num(e.get("requests_to_first_block"))),
                    ("over-allowance", "–" if over is None else f"{over:.2f}"),
                    ("worst", worst or "–"),
                    ("amplification", _amp(b.get("amplification") or b.get("over_allowance_ratio"))),
                    ("legit-blocked", _pct(e.get("legit_blocked_ratio"))),
                    ("p95-before", _ms(e.get("legit_p95_before_attack_ms"))),
                    ("p95-during", _ms(e.get("legit_p95_during_attack_ms"))),
                ],
                "fix": [_text(f) for f in e.get("fix") or []] or ["–"],
            }
        )
    return rows


def _matrix_cell(entry: Mapping, technique: str) -> dict[str, Any]:
    """admitted/attempts and amplification of one technique on one route, coloured by verdict."""
    if technique == "baseline":
        base = entry.get("baseline")
        text = f"{base['admitted']}/{base['attempts']}" if base else "–"
        return _cell(f"rl-cell rl-{'holds' if base else 'none'}", text, technique=technique)
    b = (entry.get("bypasses") or {}).get(technique)
    if not b:
        return _cell("rl-cell rl-none", "–", technique=technique)
    factor = b.get("over_allowance_ratio") if technique.startswith("window-edge") else b.get("amplification")
    verdict = _text(b.get("verdict"))
    return {
        **_cell(
            f"rl-cell rl-{verdict}", f"{b['admitted']}/{b['attempts']} {_amp(factor)} {verdict}", technique=technique
        ),
        "title": _text(b.get("note")),
    }


def _matrix(limits: Mapping[str, Mapping]) -> dict[str, Any]:
    """Routes × techniques, baseline first."""
    techniques = sorted(
        {t for e in limits.values() for t in (e.get("bypasses") or {})} | {"baseline"}, key=technique_key
    )
    return {
        "techniques": techniques,
        "rows": [{"route": route, "cells": [_matrix_cell(e, t) for t in techniques]} for route, e in limits.items()],
    }


def _abuse_rows(abuse: Mapping) -> list[dict[str, Any]]:
    rows = []
    for name, a in abuse.items():
        findings = a.get("findings") or []
        rows.append(
            {
                "name": name,
                "cells": [
                    _text(a.get("endpoint")),
                    *(
                        _num(a.get(key))
                        for key in ("requests", "admitted", "rejected", "blocked", "failed", "first_block_index", "rps")
                    ),
                ],
                "class": "finding" if findings else _text(a.get("verdict") or "clean"),
                "findings": "; ".join(findings) or "; ".join(a.get("notes") or []) or "none",
            }
        )
    return rows


def rate_limit_sections(summary: Mapping, image: bytes | None = None) -> list[Section]:
    """The "Rate limits" and "Abuse findings" sections, for the runs that have them."""
    out: list[Section] = []
    limits: Mapping[str, Mapping] = summary.get("rate_limits") or {}
    if limits:
        notes = [
            f"{route} · {t}: {b['note']}"
            for route, e in limits.items()
            for t, b in (e.get("bypasses") or {}).items()
            if b.get("note")
        ]
        figure = _figure(*RATE_LIMIT_PLOT[1:], image) if image else None
        out.append(
            Section(
                id="rate-limits",
                title="Rate limits",
                template="rate_limits.html.j2",
                context={"rows": _limit_rows(limits), "matrix": _matrix(limits), "notes": notes, "figure": figure},
            )
        )
    abuse: Mapping = summary.get("abuse") or {}
    if abuse:
        out.append(
            Section(id="abuse", title="Abuse findings", template="abuse.html.j2", context={"rows": _abuse_rows(abuse)})
        )
    return out


# --- LLM cost and streaming ----------------------------------------------------------------


def _signed_pct(value: Any) -> str:
    return "–" if value is None else f"{value * 100:+.1f} %"


def _token_text(spend: Mapping) -> str:
    """How the tokens were counted, in words: source, encoding, and the estimate's error."""
    source, encoding = spend.get("token_source"), spend.get("encoding") or "tiktoken"
    text = {
        "usage": "from the provider's usage",
        "estimate": f"estimated with {encoding} (no usage in the responses)",
        "mixed": f"from usage where given, else estimated with {encoding}",
    }.get(str(source), "no tokens counted")
    if spend.get("encoding_note"):
        text += f" ({spend['encoding_note']})"
    error = spend.get("estimate_error") or {}
    if error.get("input") is not None or error.get("output") is not None:
        text += (
            f"; estimate vs usage: input {_signed_pct(error.get('input'))}, output {_signed_pct(error.get('output'))}"
        )
    return text


def _worst_text(dow: Mapping) -> str:
    """The denial-of-wallet probe in one line: worst request, largest prompt, output verdict."""
    worst = dow.get("worst_request") or {}
    prompt, output = dow.get("prompt") or {}, dow.get("output") or {}
    parts = [usd(dow.get("worst_request_usd"))]
    if worst:
        parts[0] += f" ({_num(worst.get('input_tokens'))} input + {_num(worst.get('output_tokens'))} output tokens)"
    if prompt:
        parts.append(
            f"largest accepted prompt {_num(prompt.get('accepted_max_tokens'))} tokens "
            f"(prompt size {prompt.get('verdict') or 'untested'})"
        )
    if output:
        factor = output.get("factor")
        parts.append(
            f"output {output.get('verdict') or 'untested'}"
            + (f" (×{factor:.1f} the typical reply)" if isinstance(factor, (int, float)) else "")
        )
    if dow.get("untested"):
        parts.append(f"untested: {dow['untested']}")
    return "; ".join(parts)


def _spend(spend: Mapping) -> dict[str, Any]:
    """What a founder asks: what users cost, what abusers cost, what the limits saved."""
    day, run_cost = spend.get("per_day_usd") or {}, spend.get("run_cost_usd") or {}
    per_day = spend.get("conversations_per_day")
    scenario = f" ({per_day:,g} conversations a day)" if per_day is not None else ""
    money = [
        (
            "legit-per-day",
            "What real users cost per day, at the rate seen in this run",
            day.get("legit_at_observed_rate"),
        ),
        ("legit-per-1k", "Per 1,000 conversations", spend.get("per_1k_conversations_usd")),
        (
            "legit-scenario-day",
            f"Per day at the scenario's expected traffic{scenario}",
            day.get("legit_at_scenario_traffic"),
        ),
        ("abuse-admitted-day", "What abusers made it cost per day (requests let through)", day.get("abuse_admitted")),
        ("abuse-ceiling-day", "What abusers would cost per day if the limits were absent", day.get("abuse_ceiling")),
        ("saved-day", "Saved by rate limiting, per day", spend.get("saved_by_rate_limiting_usd_per_day")),
        ("run-legit", "This run: real users", run_cost.get("legit")),
        ("run-abuse", "This run: abusers (admitted)", run_cost.get("abuse")),
    ]
    price = spend.get("price") or {}
    model = (
        f"{spend.get('model')}: ${price.get('input', 0):g} input, ${price.get('cached_input', 0):g} "
        f"cached input, ${price.get('output', 0):g} output per million tokens; price table of "
        f"{spend.get('price_table_date') or 'unknown date'}"
        + (" (overridden by the scenario)" if spend.get("price_overridden") else "")
    )
    text = [("model", "Model and prices", model), ("tokens", "Token counts", _token_text(spend))]
    dow = spend.get("denial_of_wallet")
    if isinstance(dow, Mapping):
        text.insert(0, ("worst-request", "Worst single request (denial-of-wallet probe)", _worst_text(dow)))
    return {
        "money": [(key, label, _text(value), usd(value)) for key, label, value in money],
        "text": text,
        "notes": [_text(n) for n in spend.get("notes") or []],
    }


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


def _streaming(llm: Mapping[str, Mapping]) -> dict[str, Any]:
    broken = [
        f"{name}: " + "; ".join(f"{r} × {n:,}" for r, n in e["broken_reasons"].items())
        for name, e in llm.items()
        if e.get("broken_reasons")
    ]
    return {
        "head": [head for _, head, _, _ in STREAM_COLUMNS],
        "rows": [
            {
                "name": name,
                "cells": [(cls, _text(e.get(key)), _text(fmt(e.get(key)))) for cls, _, key, fmt in STREAM_COLUMNS],
            }
            for name, e in llm.items()
        ],
        "broken": " · ".join(broken),
        "definitions": [(_term(key), key, text) for key, text in DEFINITIONS.items()],
    }


def _wallet(dow: Mapping) -> dict[str, Any]:
    """The denial-of-wallet probe: each prompt size tried, the reply-length test, findings and fixes."""
    prompt, output = dow.get("prompt") or {}, dow.get("output") or {}
    factor = output.get("factor")
    refused = (
        f"smallest refused {_num(prompt['refused_min_tokens'])} (HTTP {prompt.get('refused_status')})"
        if prompt.get("refused_min_tokens") is not None
        else "none refused"
    )
    return {
        "route": _text(dow.get("route")),
        "verdict": prompt.get("verdict") or "untested",
        "accepted": _num(prompt.get("accepted_max_tokens")),
        "refused": refused,
        "cap": _num(prompt.get("cap_tokens")),
        "steps": [
            {
                "tokens": _text(step["tokens"]),
                "tokens_text": _num(step["tokens"]),
                "status": _text(step["status"] or "no answer"),
                "ms": _ms(step["ms"]),
                "class": "holds" if step["outcome"] == "refused" else "none",
                "outcome": _text(step["outcome"]),
            }
            for step in prompt.get("steps") or []
        ],
        "output_verdict": _text(output.get("verdict")),
        "asked": _num(output.get("asked_tokens")),
        "got": _num(output.get("output_tokens")),
        "factor": f" (×{factor:.1f} the median legit reply)" if isinstance(factor, (int, float)) else "",
        "longest": _num(output.get("longest_legit_output_tokens")),
        "findings": [_text(f) for f in dow.get("findings") or []],
        "fix": [_text(f) for f in dow.get("fix") or []],
        "untested": _text(dow.get("untested") or ""),
    }


def llm_spend_section(summary: Mapping, images: Mapping[str, bytes] | None = None) -> Section | None:
    """The "LLM cost and streaming" section: the money first, then the streaming times, then the
    figures; None for a run without LLM routes or spend."""
    llm: Mapping[str, Mapping] = summary.get("llm") or {}
    spend: Mapping | None = summary.get("spend")
    if not llm and not spend:
        return None
    dow = (spend or {}).get("denial_of_wallet")
    images = images or {}
    context = {
        "spend": _spend(spend) if spend and "run_cost_usd" in spend else None,
        "wallet": _wallet(dow) if isinstance(dow, Mapping) else None,
        "streaming": _streaming(llm) if llm else None,
        "figures": [
            _figure(element_id, caption, images[name])
            for name, (element_id, caption) in LLM_PLOTS.items()
            if name in images
        ],
    }
    return Section(id="llm-spend", title="LLM cost and streaming", template="llm_spend.html.j2", context=context)


def open_model_section(summary: Mapping) -> Section | None:
    """Arrivals against the schedule, then per endpoint latency from the send and from the intended start."""
    om: Mapping | None = summary.get("open_model")
    if not om:
        return None
    journeys = [
        {
            "name": name,
            "cells": [_num(j.get(key)) for key in ("users", "due", "started", "late", "dropped")]
            + [_ms(j.get("max_delay_ms"))],
        }
        for name, j in (om.get("journeys") or {}).items()
    ]
    latency = [
        {
            "name": name,
            "cells": [_num(e.get("samples"))]
            + [_ms(e.get(f"{p}_from_{start}_ms")) for p in ("p50", "p95", "p99") for start in ("send", "intended")],
        }
        for name, e in (om.get("latency") or {}).items()
    ]
    context = {
        "target_rate": _num(om.get("target_rate")),
        "achieved_rate": _num(om.get("achieved_rate")),
        "started": _num(om.get("started")),
        "due": _num(om.get("due")),
        "late": _num(om.get("late")),
        "dropped": _num(om.get("dropped")),
        "definition": _text(om.get("definition", "")),
        "journeys": journeys,
        "latency": latency,
    }
    return Section(
        id="open-model",
        title="Open model: arrivals and coordinated omission",
        template="open_model.html.j2",
        context=context,
    )


def capacity_section(summary: Mapping, image: bytes | None) -> Section | None:
    """The capacity search: its answer, latency against offered rate, and each step's figures."""
    capacity: Mapping | None = summary.get("capacity")
    if not capacity:
        return None
    steps = []
    for s in sorted(capacity.get("steps") or [], key=lambda s: s.get("rate") or 0):
        verdict = (
            "pass"
            if s.get("passed")
            else ("fail: " + "; ".join(s.get("failures") or []) if s.get("passed") is False else "not judged")
        )
        steps.append(
            {
                "rate": _num(s.get("rate")),
                "failed": s.get("passed") is False,
                "cells": [
                    _num(s.get("rate")),
                    _num(s.get("achieved_rate")),
                    _num(s.get("due")),
                    _num(s.get("dropped")),
                    _num(s.get("requests")),
                    _ms(s.get("p50_ms")),
                    _ms(s.get("p95_ms")),
                    _ms(s.get("p99_ms")),
                    _ms(s.get("ttft_p95_ms")),
                    _pct(s.get("error_rate")),
                    _num(s.get("in_flight")),
                    _num(s.get("in_flight_little")),
                    _pct(s.get("generator_cpu")),
                    _ms(s.get("generator_lag_ms")),
                    verdict,
                ],
            }
        )
    context = {
        "answer": capacity_text(msgspec.convert(capacity, CapacitySection)),
        "notes": list(capacity.get("notes") or []),
        "figure": _figure("capacity-curve", "Latency against offered rate", image) if image else None,
        "steps": steps,
    }
    return Section(id="capacity", title="Capacity", template="capacity.html.j2", context=context)
