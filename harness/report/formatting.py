"""Numbers for people, shared by report.html, the terminal table and summary.md. None reads "–"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ms", "number", "percent", "duration", "over_target"]


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
