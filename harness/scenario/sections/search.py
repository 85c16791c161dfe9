"""`[search]`: the capacity search's steps and the criteria each step is judged by."""

from __future__ import annotations

from typing import Any

from harness.scenario.model import Guardrails, Search
from harness.scenario.sections.reader import Reader

__all__ = ["parse_search", "SEARCH_KEYS"]

SEARCH_KEYS = {
    "start_rate",
    "max_rate",
    "growth",
    "resolution",
    "hold",
    "max_hold",
    "settle",
    "p95_ms",
    "p99_ms",
    "ttft_p95_ms",
    "error_rate",
    "min_achieved",
    "max_dropped",
}


def parse_search(r: Reader, data: dict[str, Any], guardrails: Guardrails) -> Search | None:
    """The table when the scenario has one (None: no search unless `--find-capacity` asks for one)."""
    if "search" not in data:
        return None
    return search_from(r, r.table(data, "search", "search"), guardrails)


def search_from(r: Reader, t: dict[str, Any], guardrails: Guardrails) -> Search:
    """A Search from `[search]`'s fields, the defaults for the rest (an empty table: all defaults)."""
    r.unknown(t, SEARCH_KEYS, "search")
    default = Search()
    start = r.number(t, "start_rate", "search.start_rate", default.start_rate, minimum=0.001)
    top = min(default.max_rate, guardrails.max_arrival_rate)
    max_rate = r.number(t, "max_rate", "search.max_rate", top, minimum=start)
    if max_rate > guardrails.max_arrival_rate:
        raise r.fail(
            "search.max_rate",
            f"{max_rate:g} arrivals/s is over guardrails.max_arrival_rate ({guardrails.max_arrival_rate:g}): "
            "lower it, or raise the guardrail",
        )
    hold = r.duration(t.get("hold", default.hold_s), "search.hold")
    max_hold = r.duration(t.get("max_hold", max(default.max_hold_s, hold)), "search.max_hold")
    if max_hold < hold:
        raise r.fail("search.max_hold", f"expected at least search.hold ({hold:g} s), got {max_hold:g} s")
    return Search(
        start_rate=start,
        max_rate=max_rate,
        growth=r.number(t, "growth", "search.growth", default.growth, minimum=1.1, maximum=10),
        resolution=r.number(t, "resolution", "search.resolution", default.resolution, minimum=0.01, maximum=0.5),
        hold_s=hold,
        max_hold_s=max_hold,
        settle_s=r.duration(t.get("settle", default.settle_s), "search.settle"),
        p95_ms=_ms(r, t, "p95_ms"),
        p99_ms=_ms(r, t, "p99_ms"),
        ttft_p95_ms=_ms(r, t, "ttft_p95_ms"),
        max_error_rate=r.number(t, "error_rate", "search.error_rate", default.max_error_rate, maximum=1),
        min_achieved=r.number(t, "min_achieved", "search.min_achieved", default.min_achieved, maximum=1),
        max_dropped=r.number(t, "max_dropped", "search.max_dropped", default.max_dropped, maximum=1),
    )


def _ms(r: Reader, t: dict[str, Any], key: str) -> float | None:
    return r.number(t, key, f"search.{key}", 0.0, minimum=1.0) if key in t else None
