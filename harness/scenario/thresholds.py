"""Thresholds: one-line pass/fail rules on a run's figures, such as ``p95(login) < 500ms``.

A threshold is parsed before any traffic is sent (a bad one is a one-line error, exit 2) and judged
on the finished summary by `evaluate`, strictly as written: ``<`` means strictly below, so a p95 of
exactly 500 ms fails ``p95(login) < 500ms``.

    METRIC(TARGET) OP LIMIT[UNIT]        OP: < <= > >= == !=

Limits are kept in one unit per metric (ms, a ratio, USD): ``2s`` is 2000 ms, ``1%`` is 0.01.
TARGET is an endpoint of the scenario's API map or ``*``, which `evaluate` expands to one row per
endpoint the metric applies to; for the spend metrics it is a side (``legit``, ``abuse``, ...).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import msgspec

from harness.documents.summary import Summary, ThresholdRow
from harness.errors import UsageError

__all__ = [
    "ThresholdError",
    "Threshold",
    "METRICS",
    "RATE_LIMIT_VERDICTS",
    "parse_threshold",
    "from_record",
    "check_targets",
    "from_options",
    "DEFAULT_ERROR_RATE",
    "default_thresholds",
    "merge",
    "evaluate",
]

LATENCY = ("p50", "p95", "p99", "p999", "max", "mean")  # summary endpoints[E][f"{m}_ms"]
LLM = (
    "ttfb_p50",
    "ttft_p50",
    "ttft_p95",
    "ttft_p99",
    "ttlt_p50",
    "ttlt_p95",
    "tpot_p50",
    "tpot_p95",
    "itl_p50",
    "itl_p95",
    "itl_p99",
)  # summary llm[E][f"{m}_ms"]
INTENDED = ("p50_intended", "p95_intended", "p99_intended")  # summary open_model.latency[E][f"{p}_from_intended_ms"]
RATE_LIMIT_VERDICTS = ("effective", "leaky", "bypassable", "absent", "untested")
SPEND_PER_DAY = {  # spend_per_day(TARGET) -> summary spend.per_day_usd[key]
    "legit": "legit_at_observed_rate",
    "abuse": "abuse_admitted",
    "abuse_ceiling": "abuse_ceiling",
    "legit_at_scenario_traffic": "legit_at_scenario_traffic",
}
RUN_COST = ("legit", "abuse")  # summary spend.run_cost_usd[TARGET]

_MS = {"ms": 1.0, "s": 1000.0, "": 1.0}
_RATIO = {"%": 0.01, "": 1.0}
_USD = {"usd": 1.0, "": 1.0}


@dataclass(frozen=True)
class Metric:
    """How a metric is written (its units) and where its figure lives in the summary."""

    kind: (
        str  # latency | error_rate | llm | intended | rate_limit | spend_per_day | run_cost | worst_request | capacity
    )
    units: Mapping[str, float]  # unit as written -> factor to `unit`
    unit: str  # the unit of the limit and the observed figure: ms | ratio | usd | "" (a verdict)


METRICS: dict[str, Metric] = {
    **{m: Metric("latency", _MS, "ms") for m in LATENCY},
    "error_rate": Metric("error_rate", _RATIO, "ratio"),
    **{m: Metric("llm", _MS, "ms") for m in LLM},
    **{m: Metric("intended", _MS, "ms") for m in INTENDED},
    "rate_limit": Metric("rate_limit", {}, ""),
    "spend_per_day": Metric("spend_per_day", _USD, "usd"),
    "run_cost": Metric("run_cost", _USD, "usd"),
    "worst_request": Metric("worst_request", _USD, "usd"),
    "capacity": Metric("capacity", {"rps": 1.0, "": 1.0}, "rps"),  # summary capacity.capacity_rps
}
SIDES: dict[str, tuple[str, ...]] = {"spend_per_day": tuple(SPEND_PER_DAY), "run_cost": RUN_COST, "capacity": ("rps",)}
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
ORIGINS = ("default", "scenario", "cli")

_EXPR = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(\s*([^()\s]*)\s*\)\s*(<=|>=|==|!=|<|>)\s*(\S.*?)\s*$")
_LIMIT = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z%]*)$")
_NAME = re.compile(r"^(\*|[A-Za-z0-9_.-]+)$")
EXAMPLE = '"p95(login) < 500ms"'


class ThresholdError(UsageError):
    """A threshold that cannot be judged. `str(error)` is the one-line message for the user."""


@dataclass(frozen=True)
class Threshold:
    """One rule. `limit` is in the metric's unit (`unit`: ms, ratio or usd), or a verdict word."""

    expr: str  # normalised text: "p95(login) < 500ms"
    metric: str
    target: str  # an endpoint, "*", or a spend side
    op: str
    limit: float | str
    unit: str
    abort: bool = False  # stop the run as soon as it fails (after `grace_s`)
    grace_s: float = 10.0
    origin: str = "scenario"  # default | scenario | cli
    skip: tuple[str, ...] = ()  # endpoints a default `*` leaves to their own explicit rule

    def record(self) -> dict[str, Any]:
        """What run.json keeps, so that `harness report` judges the same rules from disk."""
        record: dict[str, Any] = {
            "expr": self.expr,
            "abort": self.abort,
            "grace_s": self.grace_s,
            "origin": self.origin,
        }
        return {**record, "skip": list(self.skip)} if self.skip else record


def parse_threshold(
    text: object, where: str, *, abort: bool = False, grace_s: float = 10.0, origin: str = "scenario"
) -> Threshold:
    """A `Threshold` from one line of text; `where` names it in the error (file and field, or option)."""
    if not isinstance(text, str) or not (match := _EXPR.match(text)):
        raise ThresholdError(f"{where}: expected METRIC(ENDPOINT) OP LIMIT, e.g. {EXAMPLE}, got {text!r}")
    name, target, op, limit_text = match.groups()
    metric = METRICS.get(name)
    if metric is None:
        raise ThresholdError(f"{where}: unknown metric {name!r} in {text!r} (expected one of: {', '.join(METRICS)})")
    if not _NAME.match(target):
        raise ThresholdError(f"{where}: {text!r}: expected an endpoint name or * inside {name}(...), got {target!r}")
    sides = SIDES.get(name)
    if sides is not None and target not in sides:
        raise ThresholdError(f"{where}: {text!r}: {name} takes one of: {', '.join(sides)}; got {target!r}")
    if metric.kind == "rate_limit":
        if op not in ("==", "!="):
            raise ThresholdError(f"{where}: {text!r}: rate_limit compares with == or !=, got {op!r}")
        limit_text = limit_text.lower()
        if limit_text not in RATE_LIMIT_VERDICTS:
            raise ThresholdError(
                f"{where}: {text!r}: expected one of: {', '.join(RATE_LIMIT_VERDICTS)}; got {limit_text!r}"
            )
        return Threshold(
            f"{name}({target}) {op} {limit_text}", name, target, op, limit_text, "", abort, grace_s, origin
        )
    number = _LIMIT.match(limit_text)
    if number is None:
        raise ThresholdError(
            f"{where}: {text!r}: expected a number with a unit after {op}, e.g. {_example(metric)}, got {limit_text!r}"
        )
    value, unit = number.group(1), number.group(2).lower()
    if unit not in metric.units:
        units = " or ".join(u for u in metric.units if u)
        raise ThresholdError(
            f"{where}: {text!r}: {name} is measured in {units}, not {unit!r} (e.g. {_example(metric)})"
        )
    # 7% is 7 / 100, the float nearest 0.07 (7 * 0.01 is not)
    limit = float(value) / 100 if unit == "%" else float(value) * metric.units[unit]
    return Threshold(
        f"{name}({target}) {op} {value}{unit}", name, target, op, limit, metric.unit, abort, grace_s, origin
    )


def _example(metric: Metric) -> str:
    return {"ms": "500ms or 2s", "ratio": "1% or 0.01", "usd": "50usd", "rps": "50rps or 50"}[metric.unit]


def from_record(record: Any, where: str) -> Threshold:
    """A threshold from its run.json record ({expr, abort, grace_s, origin})."""
    if not isinstance(record, Mapping):
        raise ThresholdError(f"{where}: expected a table with expr, got {record!r}")
    grace = record.get("grace_s", 10.0)
    origin = record.get("origin", "scenario")
    skip = record.get("skip") or []
    threshold = parse_threshold(
        record.get("expr"),
        where,
        abort=bool(record.get("abort", False)),
        grace_s=float(grace) if isinstance(grace, (int, float)) else 10.0,
        origin=origin if origin in ORIGINS else "scenario",
    )
    if not isinstance(skip, list) or not all(isinstance(name, str) for name in skip):
        raise ThresholdError(f"{where}: skip: expected a list of endpoint names, got {skip!r}")
    return replace(threshold, skip=tuple(skip)) if skip else threshold


def check_targets(
    thresholds: Iterable[Threshold],
    endpoint_names: Collection[str],
    *,
    streaming: Collection[str] | None = None,
    where: str = "thresholds",
) -> None:
    """Every endpoint a threshold names is in the API map (and streamed, for an LLM metric).

    `streaming` (the LLM endpoints) is checked only when given.
    """
    for t in thresholds:
        if t.target == "*" or t.metric in SIDES:
            continue
        if t.target not in endpoint_names:
            raise ThresholdError(
                f"{where}: {t.expr}: unknown endpoint {t.target!r} "
                f"(expected one of: {', '.join(sorted(endpoint_names))}, or *)"
            )
        if streaming is not None and METRICS[t.metric].kind == "llm" and t.target not in streaming:
            llm = ", ".join(sorted(streaming)) or "none in this scenario"
            raise ThresholdError(
                f"{where}: {t.expr}: {t.metric} needs a streamed (LLM) endpoint, "
                f"{t.target!r} is not one (LLM endpoints: {llm})"
            )


def from_options(
    thresholds: Iterable[str],
    abort_on_fail: Iterable[str],
    endpoint_names: Collection[str],
    streaming: Collection[str] | None = None,
) -> list[Threshold]:
    """The rules of `--threshold EXPR` and `--abort-on-fail EXPR`, checked against the API map."""
    parsed = [parse_threshold(text, "--threshold", origin="cli") for text in thresholds]
    parsed += [parse_threshold(text, "--abort-on-fail", abort=True, origin="cli") for text in abort_on_fail]
    for t in parsed:
        check_targets([t], endpoint_names, streaming=streaming, where="--abort-on-fail" if t.abort else "--threshold")
    return parsed


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


DEFAULT_ERROR_RATE = 0.01  # [targets] error_rate: legit requests that may fail per endpoint


def default_thresholds(
    targets: Mapping[str, float | None], error_rate: float | None = DEFAULT_ERROR_RATE
) -> list[Threshold]:
    """The launch checklist: p95(E) < target for every endpoint with a p95 target (run.json `targets`),
    and `error_rate(*) < 1%` over every endpoint legit traffic called, streamed ones included, so that
    a chatbot whose every reply fails cannot pass. `error_rate` None or 1 (100 %) leaves it out."""
    defaults = [
        Threshold(f"p95({name}) < {_number_text(limit)}ms", "p95", name, "<", float(limit), "ms", origin="default")
        for name, limit in sorted(targets.items())
        if limit is not None
    ]
    if error_rate is not None and error_rate < 1.0:
        percent = _number_text(round(error_rate * 100, 9))
        defaults.append(parse_threshold(f"error_rate(*) < {percent}%", "targets.error_rate", origin="default"))
    return defaults


def merge(base: Iterable[Threshold], explicit: Iterable[Threshold], streaming: Collection[str] = ()) -> list[Threshold]:
    """`base` then `explicit`; an explicit p95 on E (or p95(*)) replaces E's default p95, and an
    explicit error_rate on E takes E out of the default `error_rate(*)` (an explicit
    `error_rate(*)` replaces it).

    `p95(*)` covers the non-streamed endpoints only, as when it is judged, so a streamed route's own
    `latency_target_ms` stays. A rule already present (same text, abort and grace) is not repeated.
    """
    explicit = list(explicit)
    covered = {t.target for t in explicit if t.metric == "p95"}
    errors_covered = {t.target for t in explicit if t.metric == "error_rate"}

    def replaced(t: Threshold) -> bool:
        if t.origin != "default":
            return False
        if t.metric == "error_rate":
            return "*" in errors_covered
        return t.metric == "p95" and (t.target in covered or ("*" in covered and t.target not in streaming))

    def narrowed(t: Threshold) -> Threshold:
        if t.origin != "default" or t.metric != "error_rate" or not errors_covered:
            return t
        return replace(t, skip=tuple(sorted(set(t.skip) | errors_covered)))

    merged = [narrowed(t) for t in base if not replaced(t)]
    seen = {(t.expr, t.abort, t.grace_s) for t in merged}
    for t in explicit:
        if (t.expr, t.abort, t.grace_s) not in seen:
            seen.add((t.expr, t.abort, t.grace_s))
            merged.append(t)
    return merged


# --- judging ----------------------------------------------------------------------------------


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _plain(value: float | str) -> float | int | str:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _llm_routes(summary: Summary) -> list[str]:
    return sorted(set(summary.section("llm") or {}) | set(summary.run.section("streaming_endpoints") or {}))


def _expand(t: Threshold, summary: Summary) -> list[str]:
    """What `*` stands for in this run: latency, the non-LLM endpoints legit traffic called;
    error_rate, every endpoint legit traffic called (less those in `skip`); LLM metrics, the LLM
    routes; rate_limit, every route with rate-limit figures; worst_request, the route the
    denial-of-wallet probe ran on."""
    endpoints = summary.endpoints
    kind = METRICS[t.metric].kind
    if kind == "latency":
        llm = set(_llm_routes(summary))
        return [n for n, e in endpoints.items() if e.legit_requests and n not in llm]
    if kind == "error_rate":
        return [n for n, e in endpoints.items() if e.legit_requests and n not in t.skip]
    if kind == "llm":
        return _llm_routes(summary)
    if kind == "rate_limit":
        return list(summary.section("rate_limits") or {})
    if kind == "intended":
        return list((summary.section("open_model") or {}).get("latency") or {})
    dow = (summary.section("spend") or {}).get("denial_of_wallet") or {}
    return [dow["route"]] if dow.get("route") else []


def _observe(t: Threshold, target: str, summary: Summary) -> tuple[Any, int | None, str | None]:
    """(observed, samples, why not judged): `why` is set when there is nothing to judge."""
    kind = METRICS[t.metric].kind
    if kind in ("latency", "error_rate"):
        figures = summary.endpoints.get(target)
        if figures is None or not figures.legit_requests:
            return None, 0, "not called by legit traffic: not judged"
        if kind == "error_rate":  # legit requests that failed; a blocked one did not fail
            return figures.legit_error_rate, figures.legit_requests, None
        return getattr(figures, f"{t.metric}_ms"), figures.latency_samples, None
    if kind == "llm":
        e = (summary.section("llm") or {}).get(target) or {}
        if not e.get("requests"):
            return None, 0, "no legit replies on this LLM route: not judged"
        return e.get(f"{t.metric}_ms"), int(e.get("streams_ok") or 0), None
    if kind == "intended":
        om = summary.section("open_model")
        if not om:
            return None, None, "not an open-model run (no intended start times): not judged"
        e = (om.get("latency") or {}).get(target)
        if not e:
            return None, 0, "no legit successful responses with an intended start: not judged"
        return e.get(f"{t.metric.removesuffix('_intended')}_from_intended_ms"), int(e.get("samples") or 0), None
    if kind == "capacity":
        capacity = summary.section("capacity")
        if capacity is None:
            return None, None, "no capacity search in this run (harness run --find-capacity): not judged"
        return capacity.capacity_rps, len(capacity.steps), None
    if kind == "rate_limit":
        e = (summary.section("rate_limits") or {}).get(target)
        if not e:
            return None, None, "no rate-limit figures for this route (no declared limit, not probed): not judged"
        return e.get("verdict"), None, None
    spend = summary.section("spend")
    if not spend:
        return None, None, "no spend figures in this run: not judged"
    if kind == "spend_per_day":
        value = (spend.get("per_day_usd") or {}).get(SPEND_PER_DAY[target])
    elif kind == "run_cost":
        value = (spend.get("run_cost_usd") or {}).get(target)
    else:
        dow = spend.get("denial_of_wallet") or {}
        if not dow:
            return None, None, "the denial-of-wallet probe did not run: not judged"
        if dow.get("route") != target:
            return None, None, f"the denial-of-wallet probe ran on {dow.get('route')}, not {target}: not judged"
        value = dow.get("worst_request_usd")
    if _finite(value) is None:
        return None, None, "not computable for this run: not judged"
    return value, None, None


def _row(t: Threshold, target: str, summary: Summary) -> ThresholdRow:
    observed, samples, why = _observe(t, target, summary)
    expr = t.expr if t.target == target else t.expr.replace(f"({t.target})", f"({target})", 1)
    note = why
    if why is not None:
        passed, judged = True, False
    elif isinstance(t.limit, str):
        passed, judged = observed is not None and OPS[t.op](observed, t.limit), True
    else:
        observed = _finite(observed)
        passed, judged = observed is not None and OPS[t.op](observed, t.limit), True
        if observed is None:
            note = (
                "no legit successful responses on this endpoint: nothing to measure"
                if METRICS[t.metric].kind == "latency"
                else "nothing to measure"
            )
    return ThresholdRow(
        expr=expr,
        metric=t.metric,
        endpoint=None if t.metric in SIDES else target,
        target=target,
        op=t.op,
        limit=_plain(t.limit),
        unit=t.unit,
        observed=observed,
        passed=bool(passed),
        judged=judged,
        abort=t.abort,
        origin=t.origin,
        samples=samples,
        note=note,
    )


def evaluate(thresholds: Sequence[Threshold], summary: Summary) -> list[ThresholdRow]:
    """Rows for summary.json `thresholds`, one per threshold and endpoint (a `*` expands).

    A rule with nothing to judge (its endpoint was never called, the probe did not run) passes with
    `judged` false and a note, as a route no legit request called always has; a route that was called
    but has no figure (every response blocked or failed) fails.
    """
    rows: list[ThresholdRow] = []
    for t in thresholds:
        targets = _expand(t, summary) if t.target == "*" else [t.target]
        if not targets:
            rows.append(
                msgspec.structs.replace(
                    _row(t, t.target, Summary()), note="no endpoint in this run to apply it to: not judged"
                )
            )
            continue
        rows.extend(_row(t, target, summary) for target in targets)
    return rows
