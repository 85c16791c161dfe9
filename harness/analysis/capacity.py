"""The capacity search's judgement: each step's figures from its samples, the criteria it passed or
failed, the next rate to offer, and the answer (the highest rate that passed every criterion).

A step offers a fixed arrival rate (open model) from `start_s`; its first `settle_s` are not judged,
so the queue a faster step left behind drains first. Its latency is measured from each request's
intended start (coordinated omission corrected, as in the open model's figures), over the legit
requests intended within the judged window. The master runs these same functions on the samples on
disk to decide the next step while the run goes (harness.load.capacity); the report runs them again
on every sample, so each figure can be checked against the files.

The search: steps of `growth` times the last rate until one fails (or `max_rate` passes), then the
geometric midpoint between the highest pass below the first failure and the lowest failure, until
they are within `resolution` of each other. It never offers more than its first failure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.confidence import quantile_ci
from harness.analysis.open_model import corrected_latency_ms
from harness.analysis.outcomes import classify
from harness.analysis.summary import percentile
from harness.documents.run import CapacityRun, CapacityStep, RunMeta
from harness.documents.summary import CapacitySection, CapacityStepFigures
from harness.scenario.arrivals import ArrivalSchedule

__all__ = [
    "CPU_SATURATED",
    "LOWEST_STEPS",
    "capacity_section",
    "criteria_of",
    "judge",
    "next_rate",
    "step_counts",
    "step_figures",
    "steady",
]

CPU_SATURATED = 0.9  # a load generator this busy may be the limit, not the target
LAG_SATURATED_MS = 20.0  # and one whose event loop woke this late (or 10 % of the p95 limit, if more)
LOWEST_STEPS = 3  # when the first step fails: at most this many steps down before giving up
TREND = 1.25  # a p95 in the window's second half this much above the first half's is still moving


def criteria_of(settings: Mapping[str, Any], targets: Mapping[str, float | None]) -> dict[str, float | None]:
    """The numbers each step is held to: the search's own, each route's latency target for p95."""
    return {
        "p95_ms": settings.get("p95_ms"),
        "p99_ms": settings.get("p99_ms"),
        "ttft_p95_ms": settings.get("ttft_p95_ms"),
        "max_error_rate": settings.get("max_error_rate", 0.01),
        "min_achieved": settings.get("min_achieved", 0.95),
        "max_dropped": settings.get("max_dropped", 0.01),
        **{f"target:{route}": target for route, target in sorted(targets.items())},
    }


def _window(samples: pd.DataFrame, start_s: float, end_s: float) -> pd.DataFrame:
    """Legit requests intended within [start_s, end_s) (the send time where there is no intended start)."""
    intended = samples["intended_s"].to_numpy(dtype=np.float64)
    sent = samples["start_s"].to_numpy(dtype=np.float64)
    when = np.where(np.isfinite(intended), intended, sent)
    legit = samples["role"].astype(str).to_numpy() == "legit"
    return samples[legit & (when >= start_s) & (when < end_s)]


def step_figures(
    samples: pd.DataFrame,
    step: CapacityStep,
    criteria: Mapping[str, float | None],
    counts: tuple[int, int, int] = (0, 0, 0),
    now: float | None = None,
) -> CapacityStepFigures:
    """One step judged from `samples`; `counts` are its arrivals (due, started, dropped)."""
    start = step.start_s + step.settle_s
    end = step.end_s if step.end_s is not None else (now if now is not None else start)
    rows = _window(samples, start, end)
    span = max(end - start, 1e-9)
    due, started, dropped = counts
    figures = CapacityStepFigures(
        rate=step.rate, start_s=step.start_s, end_s=step.end_s, due=due, started=started, dropped=dropped
    )
    figures.achieved_rate = started / max(end - step.start_s, 1e-9) if due else None
    figures.generator_cpu = step.generator_cpu
    figures.requests = len(rows)
    if len(rows):
        masks = classify(rows)
        figures.error_rate = float(masks.errors.mean())
        latency = corrected_latency_ms(rows)
        ok = masks.latency & np.isfinite(latency)
        judged = latency[ok]
        if judged.size:
            figures.p50_ms, figures.p95_ms, figures.p99_ms = (percentile(judged, q) for q in (0.5, 0.95, 0.99))
            routes = rows["endpoint"].astype(str).to_numpy()[ok]
            figures.route_p95_ms = {
                str(route): percentile(judged[routes == route], 0.95) for route in sorted(set(routes.tolist()))
            }
        ttft = rows["ttft_ms"].to_numpy(dtype=np.float64)
        shift = (rows["start_s"].to_numpy(dtype=np.float64) - rows["intended_s"].to_numpy(dtype=np.float64)) * 1000
        ttft = ttft + np.where(np.isfinite(shift), shift, 0.0)
        ttft = ttft[ok & np.isfinite(ttft)]
        if ttft.size:
            figures.ttft_p50_ms, figures.ttft_p95_ms = percentile(ttft, 0.5), percentile(ttft, 0.95)
        figures.in_flight, figures.in_flight_little = _in_flight(rows, start, end, span)
    figures.failures = judge(figures, criteria)
    figures.passed = not figures.failures if (figures.requests or due) else None
    return figures


def _in_flight(rows: pd.DataFrame, start: float, end: float, span: float) -> tuple[float, float | None]:
    """Requests in flight over [start, end): measured (time-averaged overlap of each request's send to
    its last byte) and by Little's law (requests completed per second x their mean latency)."""
    sent = rows["start_s"].to_numpy(dtype=np.float64)
    latency = np.nan_to_num(rows["latency_ms"].to_numpy(dtype=np.float64)) / 1000.0
    overlap = np.clip(np.minimum(sent + latency, end) - np.maximum(sent, start), 0.0, None)
    measured = float(overlap.sum() / span)
    done = latency > 0
    little = float(done.sum() / span * latency[done].mean()) if done.any() else None
    return measured, little


def judge(figures: CapacityStepFigures, criteria: Mapping[str, float | None]) -> list[str]:
    """Each criterion the step failed, as one line with the measured value and the limit."""
    failures: list[str] = []
    for route, p95 in figures.route_p95_ms.items():
        limit = criteria.get("p95_ms") or criteria.get(f"target:{route}")
        if limit is not None and p95 is not None and p95 > limit:
            failures.append(f"p95 of {route} {p95:.0f} ms > {limit:g} ms")
    checks = (
        ("p99_ms", figures.p99_ms, "p99"),
        ("ttft_p95_ms", figures.ttft_p95_ms, "TTFT p95"),
    )
    for key, value, label in checks:
        limit = criteria.get(key)
        if limit is not None and value is not None and value > limit:
            failures.append(f"{label} {value:.0f} ms > {limit:g} ms")
    limit = criteria.get("max_error_rate")
    if limit is not None and figures.error_rate is not None and figures.error_rate > limit:
        failures.append(f"error rate {figures.error_rate:.1%} > {limit:.1%}")
    if figures.due:
        achieved = figures.started / figures.due
        least = criteria.get("min_achieved")
        if least is not None and achieved < least:
            failures.append(f"achieved {achieved:.0%} of the offered {figures.rate:g}/s < {least:.0%}")
        most = criteria.get("max_dropped")
        if most is not None and figures.dropped / figures.due > most:
            failures.append(f"{figures.dropped} of {figures.due} arrivals dropped (no free user in time)")
    if figures.requests == 0 and figures.due:
        failures.append("no request of the step was answered")
    return failures


def steady(samples: pd.DataFrame, step: CapacityStep, criteria: Mapping[str, float | None], now: float) -> bool:
    """Whether the step's verdict is clear: every route's p95 confidence interval lies on one side of
    its limit (or is within 20 % of its value), and its p95 is not still climbing."""
    rows = _window(samples, step.start_s + step.settle_s, now)
    masks = classify(rows)
    latency = corrected_latency_ms(rows)
    ok = masks.latency & np.isfinite(latency)
    if ok.sum() < 20:
        return False
    routes = rows["endpoint"].astype(str).to_numpy()[ok]
    judged, intended = latency[ok], rows["intended_s"].to_numpy(dtype=np.float64)[ok]
    middle = (step.start_s + step.settle_s + now) / 2
    for route in set(routes.tolist()):
        values = judged[routes == route]
        limit = criteria.get("p95_ms") or criteria.get(f"target:{route}")
        ci = quantile_ci(values, 0.95)
        if ci is None:
            return False
        low, high = ci
        p95 = percentile(values, 0.95)
        if limit is not None and low > limit:
            continue  # clearly failing: no need to wait
        if not (high - low <= 0.2 * p95 or (limit is not None and high < limit)):
            return False
        first = values[intended[routes == route] < middle]
        second = values[intended[routes == route] >= middle]
        if first.size >= 10 and second.size >= 10 and percentile(second, 0.95) > TREND * percentile(first, 0.95):
            return False
    return True


def next_rate(steps: Sequence[tuple[float, bool]], settings: Mapping[str, Any]) -> float | None:
    """The next rate to offer after `steps` (rate, passed), or None when the search is over."""
    growth, resolution = float(settings.get("growth", 2.0)), float(settings.get("resolution", 0.05))
    max_rate, start = float(settings.get("max_rate", math.inf)), float(settings.get("start_rate", 1.0))
    failed = [rate for rate, ok in steps if not ok]
    if not steps:
        return start
    if not failed:
        last = steps[-1][0]
        return None if last >= max_rate else min(last * growth, max_rate)
    lowest_failure = min(failed)
    below = [rate for rate, ok in steps if ok and rate < lowest_failure]
    if not below:  # even the first step failed: step down, a few times at most
        if len(steps) > LOWEST_STEPS:
            return None
        return lowest_failure / growth
    highest_pass = max(below)
    if lowest_failure <= highest_pass * (1 + resolution):
        return None
    return math.sqrt(highest_pass * lowest_failure)


def step_counts(
    schedule: ArrivalSchedule | None, counts: Mapping[str, Any], index: int, step: CapacityStep
) -> tuple[int, int, int]:
    """(due, started, dropped) of judged step `index`: due from the schedule, the rest from the workers'
    arrival counts (worker -> journey -> {"steps": {index: [started, dropped]}})."""
    due = 0
    if schedule is not None and step.judged_end_s is not None:
        due = sum(schedule.due(j, step.judged_end_s) - schedule.due(j, step.start_s) for j in schedule.shares)
    started = dropped = 0
    for worker in counts.values() if isinstance(counts, Mapping) else ():
        for journey in worker.values() if isinstance(worker, Mapping) else ():
            got = (journey.get("steps") or {}).get(str(index)) if isinstance(journey, Mapping) else None
            if isinstance(got, list) and len(got) == 2:
                started, dropped = started + int(got[0]), dropped + int(got[1])
    return due, started, dropped


def capacity_section(samples: pd.DataFrame, run: RunMeta) -> CapacitySection | None:
    """summary.json `capacity`, judged again from every sample; None when no search ran."""
    search: CapacityRun | None = run.capacity
    if search is None:
        return None
    criteria = criteria_of(search.settings, {k: v for k, v in run.targets.items() if v is not None})
    section = CapacitySection(stopped=search.stopped, criteria=criteria)
    arrivals = run.arrivals or {}
    raw = arrivals.get("schedule")
    schedule = ArrivalSchedule.from_dict(raw) if isinstance(raw, Mapping) else None
    for i, step in enumerate(search.steps):
        if step.end_s is None:
            continue  # cut by the end of the run: never judged
        window = CapacityStep(
            rate=step.rate, start_s=step.start_s, end_s=step.judged_end_s, settle_s=step.settle_s,
            generator_cpu=step.generator_cpu,
        )  # fmt: skip
        counts = step_counts(schedule, arrivals.get("counts") or {}, i, step)
        figures = step_figures(samples, window, criteria, counts)
        figures.end_s, figures.live_passed = step.end_s, step.passed
        figures.generator_lag_ms = _worst_lag(run, step.start_s, step.judged_end_s or step.start_s)
        section.steps.append(figures)
        if step.passed is not None and figures.passed is not None and step.passed != figures.passed:
            section.notes.append(
                f"the step at {step.rate:g}/s was judged {'pass' if step.passed else 'fail'} during the run and "
                f"{'pass' if figures.passed else 'fail'} on every sample (late answers arrived after the decision)"
            )
    judged = [s for s in section.steps if s.passed is not None]
    failures = [s for s in judged if not s.passed]
    first = min(failures, key=lambda s: s.rate) if failures else None
    passes = [s.rate for s in judged if s.passed and (first is None or s.rate < first.rate)]
    section.capacity_rps = max(passes) if passes else None
    if first is not None:
        section.first_failure_rps, section.first_failure = first.rate, list(first.failures)
        cpu, lag = first.generator_cpu, first.generator_lag_ms
        limits = [v for k, v in criteria.items() if (k == "p95_ms" or k.startswith("target:")) and v]
        lag_limit = max(LAG_SATURATED_MS, 0.1 * min(limits)) if limits else LAG_SATURATED_MS
        busy = [f"CPU {cpu:.0%}"] if cpu is not None and cpu >= CPU_SATURATED else []
        busy += [f"its event loop {lag:.0f} ms late"] if lag is not None and lag >= lag_limit else []
        if busy:
            section.generator_limited = True
            section.notes.append(
                f"at {first.rate:g}/s the load generator was saturated ({', '.join(busy)}): the limit found may "
                "be the generator's, not the target's; add workers (--workers, or hosts) and search again"
            )
    max_rate = search.settings.get("max_rate")
    section.at_least = first is None and bool(passes) and max_rate is not None and max(passes) >= max_rate
    return section


def _worst_lag(run: RunMeta, start_s: float, end_s: float) -> float | None:
    """The latest any load process's event loop woke during [start_s, end_s) (run.json loop_monitor);
    None when no monitor covered it."""
    worst: float | None = None
    for series in (run.loop_monitor or {}).values():
        for begin, end, lag in zip(series.start_s, series.end_s, series.lag_max_ms):
            if series.t0 + end > start_s and series.t0 + begin < end_s:
                worst = max(worst or 0.0, float(lag))
    return worst
