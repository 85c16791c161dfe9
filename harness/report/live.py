"""The harness panel of `harness run --web`: the figures of a run while it goes, for people watching.

`live_panel` builds them from a summary of the samples on disk so far (harness.analysis.run
computes it exactly as the report does) and the master's progress.json; `panel_page` renders the
page through an autoescaped template (live.html.j2), and `locust_rows` fills the "Harness" tab
of Locust's own web UI. Nothing here loads Locust: harness.load.web serves these from the master.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from msgspec import UnsetType

from harness.analysis.spend import usd
from harness.documents.summary import EndpointFigures, Summary
from harness.report.formatting import ms, number, over_target
from harness.report.html import render_template

__all__ = [
    "TOP_ERRORS",
    "LiveRoute",
    "LivePanel",
    "live_panel",
    "panel_page",
    "panel_json",
    "locust_rows",
    "LOCUST_COLUMNS",
]

TOP_ERRORS = 3  # error reasons shown per route


@dataclass(frozen=True)
class LiveRoute:
    """One route's figures so far. p95 and TTFT are exact over what the report counts (legit,
    non-blocked, successful responses); `over_target` is None when the route has no p95 target
    or no legit request yet."""

    route: str
    requests: int
    errors: int
    blocked: int
    rejected: int  # legit requests the target refused (401, 403, 400, the route's rejected_when)
    p95_ms: float | None
    target_p95_ms: float | None
    over_target: bool | None
    latency_samples: int
    streaming: bool
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    spend_usd: float | None  # legit and abuse, admitted requests only; None: not an LLM route
    top_errors: tuple[tuple[str, int], ...] = ()  # (reason, count), the most frequent first


@dataclass(frozen=True)
class LivePanel:
    """What the panel shows: the run's progress, every route, the spend and the capacity search."""

    scenario: str | None
    host: str | None
    state: str
    elapsed_s: float | None
    planned_s: float | None
    requests: int  # Locust's count, a second old at most
    rps: float | None
    users: int | None
    workers: int | None
    figures_age_s: float | None  # how old the route figures are; None: none computed yet
    sampled_requests: int  # requests in the figures (the samples on disk when they were computed)
    routes: tuple[LiveRoute, ...]
    spend_usd: float | None  # None: no priced LLM route answered yet
    spend_legit_usd: float | None
    spend_abuse_usd: float | None
    capacity: tuple[tuple[str, str], ...] | None  # None: this run has no capacity search


def live_panel(summary: Summary | None, progress: Mapping[str, Any] | None, figures_age_s: float | None) -> LivePanel:
    """The panel from the latest summary (None before the first one) and progress.json (None when
    it could not be read)."""
    progress = progress or {}
    spend = summary.section("spend") if summary is not None else None
    per_route = (spend or {}).get("per_route_usd") or {}
    costs = (spend or {}).get("run_cost_usd") or {}
    legit, abuse = _number(costs.get("legit")), _number(costs.get("abuse"))
    routes = tuple(
        _route(name, figures, per_route.get(name)) for name, figures in (summary.endpoints if summary else {}).items()
    )
    return LivePanel(
        scenario=summary.run.scenario if summary else None,
        host=summary.run.host if summary else None,
        state=str(progress.get("state") or "starting"),
        elapsed_s=_number(progress.get("elapsed_s")),
        planned_s=_number(progress.get("planned_s")),
        requests=int(_number(progress.get("requests")) or 0),
        rps=_number(progress.get("rps")),
        users=_integer(progress.get("users")),
        workers=_integer(progress.get("workers")),
        figures_age_s=None if summary is None else figures_age_s,
        sampled_requests=summary.totals.requests if summary else 0,
        routes=routes,
        spend_usd=None if spend is None else _legit_and_abuse(costs),
        spend_legit_usd=legit,
        spend_abuse_usd=abuse,
        capacity=_capacity(progress.get("capacity")),
    )


def _route(name: str, e: EndpointFigures, spend: Mapping[str, Any] | None) -> LiveRoute:
    judged = e.target_p95_ms is not None and e.legit_requests > 0
    return LiveRoute(
        route=name,
        requests=e.requests,
        errors=e.errors,
        blocked=e.blocked,
        rejected=e.legit_rejected,
        p95_ms=e.p95_ms,
        target_p95_ms=None if e.target_p95_ms is None else float(e.target_p95_ms),
        over_target=over_target(
            {"target_p95_ms": e.target_p95_ms, "p95_ms": e.p95_ms, "legit_requests": e.legit_requests}
        )
        if judged
        else None,
        latency_samples=e.latency_samples,
        streaming=not isinstance(e.ttft_p95_ms, UnsetType),  # the summary has TTFT for streamed routes only
        ttft_p50_ms=None if isinstance(e.ttft_p50_ms, UnsetType) else e.ttft_p50_ms,
        ttft_p95_ms=None if isinstance(e.ttft_p95_ms, UnsetType) else e.ttft_p95_ms,
        spend_usd=None if spend is None else _legit_and_abuse(spend),
        top_errors=tuple((str(reason), int(count)) for reason, count in list(e.error_counts.items())[:TOP_ERRORS]),
    )


def _legit_and_abuse(usd_by_side: Mapping[str, Any]) -> float:
    return (_number(usd_by_side.get("legit")) or 0.0) + (_number(usd_by_side.get("abuse")) or 0.0)


def _capacity(value: Any) -> tuple[tuple[str, str], ...] | None:
    """progress.json `capacity`, whatever its keys: each value as text (objects as compact JSON)."""
    if not isinstance(value, Mapping):
        return None
    return tuple((str(key), _text(item)) for key, item in value.items())


def _text(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value else None


def _integer(value: Any) -> int | None:
    number_ = _number(value)
    return None if number_ is None else int(number_)


def panel_json(panel: LivePanel) -> dict[str, Any]:
    """/harness/live.json: the panel's figures as they are (ms, USD), for scripts."""
    return asdict(panel)


# The "Harness" tab in Locust's web UI: (key, title) of each column; its rows are `locust_rows`.
LOCUST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("route", "Route"),
    ("requests", "Requests"),
    ("p95_ms", "p95 ms (exact)"),
    ("target", "p95 target"),
    ("vs_target", "vs target"),
    ("ttft", "TTFT p50 / p95 ms"),
    ("blocked", "Blocked"),
    ("rejected", "Rejected"),
    ("errors", "Errors"),
    ("spend", "Spend"),
)


def locust_rows(panel: LivePanel) -> list[dict[str, str]]:
    """The tab's rows, already text (Locust's table shows values as they are), and one for all routes."""
    rows = [dict(zip((key for key, _ in LOCUST_COLUMNS), _cells(r), strict=True)) for r in panel.routes]
    if panel.routes:
        rows.append(
            {
                "route": "all routes",
                "requests": f"{panel.sampled_requests:,}",
                "p95_ms": "",
                "target": "",
                "vs_target": f"{sum(1 for r in panel.routes if r.over_target)} over",
                "ttft": "",
                "blocked": f"{sum(r.blocked for r in panel.routes):,}",
                "rejected": f"{sum(r.rejected for r in panel.routes):,}",
                "errors": f"{sum(r.errors for r in panel.routes):,}",
                "spend": usd(panel.spend_usd) if panel.spend_usd is not None else "–",
            }
        )
    return rows


def _cells(r: LiveRoute) -> tuple[str, ...]:
    return (
        r.route,
        f"{r.requests:,}",
        ms(r.p95_ms),
        "–" if r.target_p95_ms is None else f"< {r.target_p95_ms:g}",
        _vs_target(r),
        f"{ms(r.ttft_p50_ms)} / {ms(r.ttft_p95_ms)}" if r.streaming else "–",
        f"{r.blocked:,}",
        f"{r.rejected:,}",
        f"{r.errors:,}",
        "–" if r.spend_usd is None else usd(r.spend_usd),
    )


def _vs_target(r: LiveRoute) -> str:
    if r.over_target is None:
        return "–"
    return "over" if r.over_target else "under"


def panel_page(panel: LivePanel, refresh_s: float) -> str:
    """The /harness page: reloads itself every `refresh_s` seconds; every value escaped."""
    vs_target = {"over": "vs_target fail", "under": "vs_target pass"}
    routes = [
        {
            "name": r.route,
            "cells": [
                {"class": vs_target.get(text, key) if key == "vs_target" else key, "text": text}
                for (key, _), text in zip(LOCUST_COLUMNS[1:], _cells(r)[1:], strict=True)
            ],
            "p95": "" if r.p95_ms is None else f"{r.p95_ms:.3f}",
            "requests": r.requests,
        }
        for r in panel.routes
    ]
    elapsed = "–" if panel.elapsed_s is None else f"{panel.elapsed_s:,.0f} s"
    planned = f" of {panel.planned_s:,.0f} s" if panel.planned_s else ""
    facts = [
        ("state", panel.state),
        ("elapsed", elapsed + planned),
        ("requests", f"{panel.requests:,}"),
        ("req/s", number(panel.rps)),
        ("users", number(panel.users)),
        ("workers", number(panel.workers)),
        ("spend so far", "–" if panel.spend_usd is None else usd(panel.spend_usd)),
    ]
    spend = None
    if panel.spend_usd is not None:
        spend = f"{usd(panel.spend_usd)} ({usd(panel.spend_legit_usd)} legit, {usd(panel.spend_abuse_usd)} abuse)"
    context = {
        "title": f"live · {panel.scenario or 'harness run'}",
        "refresh_s": max(1, round(refresh_s)),
        "scenario": panel.scenario or "",
        "host": panel.host or "",
        "facts": facts,
        "routes": routes,
        "figures_age": None if panel.figures_age_s is None else f"{panel.figures_age_s:.0f}",
        "sampled_requests": f"{panel.sampled_requests:,}",
        "spend": spend,
        "errors": [(r.route, reason, f"{count:,}") for r in panel.routes for reason, count in r.top_errors],
        "capacity": panel.capacity,
    }
    return render_template("live.html.j2", context)
