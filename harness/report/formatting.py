"""Numbers for people, shared by report.html, the terminal table and summary.md. None reads "–"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ms", "number", "percent", "duration", "over_target", "at_the_stop", "capacity_text"]


def ms(value: Any) -> str:
    """Milliseconds with one decimal below 10 s, so 499.6 never reads as a passing "500"."""
    if value is None:
        return "–"
    return f"{value:,.1f}" if abs(value) < 10_000 else f"{value:,.0f}"


def number(value: Any, digits: int = 1) -> str:
    """Whole numbers with thousands separators, others with `digits` decimals."""
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def percent(value: Any) -> str:
    """A ratio as a percentage with two decimals."""
    return "–" if value is None else f"{value * 100:.2f} %"


def duration(seconds: Any) -> str:
    if seconds is None:
        return "unknown"
    minutes, secs = divmod(float(seconds), 60)
    return f"{int(minutes)} min {secs:.1f} s" if minutes else f"{secs:.1f} s"


def over_target(endpoint: Mapping[str, Any]) -> bool:
    """Judged against its p95 target and missed it (a route never requested is not judged)."""
    target, p95 = endpoint.get("target_p95_ms"), endpoint.get("p95_ms")
    return target is not None and bool(endpoint.get("legit_requests")) and (p95 is None or p95 >= target)


def at_the_stop(stop: Mapping[str, Any] | None) -> str:
    """summary.json run.at_the_stop in words: '12 in flight: 10 awaited, 2 cut off (chat 2)'; '' without one."""
    if not stop:
        return ""
    by_route = ", ".join(f"{route} {n}" for route, n in (stop.get("cut_off_by_route") or {}).items())
    text = f"{stop.get('in_flight', 0)} in flight: {stop.get('awaited', 0)} awaited, {stop.get('cut_off', 0)} cut off"
    text += f" ({by_route})" if by_route else ""
    if stop.get("unreported"):
        text += f"; not reported by {', '.join(stop['unreported'])}"
    return text


def capacity_text(section: Any) -> str:
    """The capacity search's answer in one line (a `CapacitySection`): terminal, summary.md, report."""
    steps = len(section.steps)
    if section.capacity_rps is None:
        head = "capacity: no step passed every criterion"
    else:
        head = f"capacity: {'at least ' if section.at_least else ''}{number(section.capacity_rps)} arrivals/s passed every criterion"
    if section.first_failure_rps is not None:
        head += f"; first failure at {number(section.first_failure_rps)}/s: " + "; ".join(section.first_failure)
    if section.spend_usd is not None:
        head += f"; LLM spend ${section.spend_usd:,.4f}"
    head += f" ({steps} step{'s' if steps != 1 else ''}"
    head += f"; {section.stopped})" if section.stopped else ")"
    if section.generator_limited:
        head += "; the load generator was saturated: the limit may be the generator's"
    return head
