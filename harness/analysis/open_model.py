"""Open-model figures: arrivals due, started, late and dropped, and latency measured from the
intended start (corrected for coordinated omission, as wrk2 does) beside latency from the actual send.

What was due comes from the schedule in run.json; what started, from the workers' counts; the
latencies, from the samples (`intended_s`). A request's intended start is its send time minus how
late its journey started, so a journey that waited 300 ms for a free user adds 300 ms to each of its
requests: that is the wait a real client, arriving on time, would have seen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.outcomes import classify
from harness.analysis.summary import finite_number, percentile, run_window
from harness.scenario.arrivals import LATE_AFTER_S, ArrivalSchedule

__all__ = ["SHORTFALL", "corrected_latency_ms", "open_model_summary", "open_model_notes"]

SHORTFALL = 0.95  # achieved under this share of the target rate: the generator fell behind
QUANTILES = (0.5, 0.95, 0.99)


def corrected_latency_ms(samples: pd.DataFrame) -> np.ndarray:
    """Latency from the intended start: latency + (sent − intended), in ms; NaN without a schedule."""
    start = samples["start_s"].to_numpy(dtype=np.float64)
    intended = samples["intended_s"].to_numpy(dtype=np.float64)
    latency = samples["latency_ms"].to_numpy(dtype=np.float64)
    return latency + (start - intended) * 1000.0


def _counts(raw: Any) -> dict[str, dict[str, float]]:
    """journey -> started, late, dropped (summed over workers) and the largest delay."""
    total: dict[str, dict[str, float]] = {}
    for worker in (raw or {}).values() if isinstance(raw, Mapping) else ():
        for journey, c in (worker or {}).items() if isinstance(worker, Mapping) else ():
            t = total.setdefault(str(journey), {"started": 0, "late": 0, "dropped": 0, "max_delay_s": 0.0})
            for key in ("started", "late", "dropped"):
                t[key] += int(finite_number(c.get(key)) or 0)
            t["max_delay_s"] = max(t["max_delay_s"], finite_number(c.get("max_delay_s")) or 0.0)
    return total


def _latency(samples: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per endpoint, over legit successful responses that have an intended start."""
    mask = classify(samples).latency & np.isfinite(samples["intended_s"].to_numpy(dtype=np.float64))
    rows = samples.loc[mask, ["endpoint", "latency_ms"]]
    corrected = corrected_latency_ms(samples)[mask]
    out: dict[str, dict[str, Any]] = {}
    for name, index in rows.groupby("endpoint", sort=True, observed=True).indices.items():
        sent = rows["latency_ms"].to_numpy(dtype=np.float64)[index]
        intended = corrected[index]
        entry: dict[str, Any] = {"samples": int(index.size)}
        for q in QUANTILES:
            key = f"p{round(q * 100)}"
            entry[f"{key}_from_send_ms"] = percentile(sent, q)
            entry[f"{key}_from_intended_ms"] = percentile(intended, q)
        entry["max_from_intended_ms"] = float(intended.max())
        out[str(name)] = entry
    return out


def _scheduled_rate(schedule: ArrivalSchedule, until: float) -> float:
    """The schedule's mean rate (all journeys) from its start until `until` (or its end)."""
    offset, weighted = schedule.start_s, 0.0
    end = min(until, schedule.end_s)
    for stage in schedule.stages:
        overlap = max(0.0, min(end, offset + stage.duration_s) - offset)
        weighted += stage.rate * overlap
        offset += stage.duration_s
    return weighted / (end - schedule.start_s)


def open_model_summary(samples: pd.DataFrame, run: Mapping) -> dict[str, Any] | None:
    """summary.json `open_model`, or None for a closed-model run."""
    arrivals = run.get("arrivals")
    if not isinstance(arrivals, Mapping) or not isinstance(arrivals.get("schedule"), Mapping):
        return None
    try:
        schedule = ArrivalSchedule.from_dict(arrivals["schedule"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    until = finite_number(run.get("load_stopped_at")) or run_window(samples, dict(run))[1]
    span = max(0.0, min(until, schedule.end_s) - schedule.start_s) if math.isfinite(until) else 0.0
    counts = _counts(arrivals.get("counts"))
    pool = arrivals.get("pool")
    pool = pool if isinstance(pool, Mapping) else {}
    journeys: dict[str, dict[str, Any]] = {}
    for name in schedule.shares:
        c = counts.get(name, {"started": 0, "late": 0, "dropped": 0, "max_delay_s": 0.0})
        due = schedule.due(name, until) if math.isfinite(until) else 0
        journeys[name] = {
            "users": pool.get(name),
            "due": due,
            "started": int(c["started"]),
            "late": int(c["late"]),
            # waited past max_lateness, or still waiting when the load stopped
            "dropped": max(0, due - int(c["started"])),
            "dropped_waiting": int(c["dropped"]),
            "max_delay_ms": c["max_delay_s"] * 1000.0,
        }
    due = sum(j["due"] for j in journeys.values())
    started = sum(j["started"] for j in journeys.values())
    delays = (samples["start_s"] - samples["intended_s"]).to_numpy(dtype=np.float64) * 1000.0
    delays = delays[np.isfinite(delays)]
    target = _scheduled_rate(schedule, until) if span else None
    return {
        "definition": (
            "latency from intended start = latency + (sent − intended start); an arrival is late "
            f"when its journey started more than {LATE_AFTER_S * 1000:g} ms after its time, dropped "
            f"when it waited over {schedule.max_lateness_s:g} s for a free user or never started"
        ),
        "target_rate": target,
        "achieved_rate": target * started / due if target is not None and due else None,
        "stages": [{"duration_s": s.duration_s, "rate": s.rate} for s in schedule.stages],
        "max_lateness_s": schedule.max_lateness_s,
        "workers": len(schedule.slots),
        "due": due,
        "started": started,
        "late": sum(j["late"] for j in journeys.values()),
        "dropped": sum(j["dropped"] for j in journeys.values()),
        "schedule_delay_p99_ms": percentile(delays, 0.99) if delays.size else None,
        "journeys": journeys,
        "latency": _latency(samples),
    }


def open_model_notes(figures: Mapping[str, Any]) -> list[str]:
    """Caveats for the summary's notes: a rate short of the target, late and dropped arrivals."""
    notes = []
    target, achieved = figures.get("target_rate"), figures.get("achieved_rate")
    if target and achieved is not None and achieved < SHORTFALL * target:
        users = sum(j.get("users") or 0 for j in figures["journeys"].values())
        notes.append(
            f"open model: achieved {achieved:.1f} arrivals/s of the {target:.1f}/s asked "
            f"({figures['dropped']} dropped): the pool of {users} users could not keep up; "
            "raise [load] users or add workers"
        )
    if figures.get("late"):
        notes.append(
            f"open model: {figures['late']} of {figures['started']} arrivals started late; their "
            "latency from the intended start includes the wait (coordinated omission corrected)"
        )
    if figures.get("dropped"):
        notes.append(
            f"open model: {figures['dropped']} arrivals never started; latency from the intended "
            "start leaves them out, so its percentiles are a lower bound"
        )
    return notes
