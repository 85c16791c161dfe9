"""Checks made while a run goes, on the master: abort-on-fail thresholds, the circuit breaker, the caps.

An abort-on-fail threshold is judged on everything recorded so far, exactly as the final report
judges it, once its grace period has passed; a breach ends the run early and the run fails (exit 1).
The circuit breaker protects the target: when more than `error_rate` of the requests of the last
`window_s` failed (with at least `min_requests` of them), the run is aborted (exit 3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness.documents import Summary, ThresholdRow
from harness.scenario import Breaker, Guardrails
from harness.scenario.thresholds import Threshold, evaluate

__all__ = ["RunCounters", "breaker_reason", "cap_reason", "threshold_breach"]


def breaker_reason(breaker: Breaker, failed: int, total: int) -> str | None:
    """Why the breaker trips for these recent counts, or None."""
    if breaker.error_rate >= 1.0 or total < breaker.min_requests or failed <= breaker.error_rate * total:
        return None
    return (
        f"circuit breaker: {100 * failed / total:.0f} % of the {total} requests in the last "
        f"{breaker.window_s:g} s failed (limit {100 * breaker.error_rate:.0f} %)"
    )


def threshold_breach(
    thresholds: Sequence[Threshold], elapsed_s: float, current_summary: Callable[[], Summary]
) -> str | None:
    """The first abort-on-fail threshold past its grace period that fails now, in words, or None.

    `current_summary` computes the summary of what is on disk; it is only called when a threshold is due.
    """
    due = [t for t in thresholds if t.abort and elapsed_s >= t.grace_s]
    if not due:
        return None
    for row in evaluate(due, current_summary()):
        if not row.passed:
            observed = row.observed
            shown = f"{observed:g}" if isinstance(observed, (int, float)) else str(observed)
            return f"threshold {row.expr} failed at {elapsed_s:.0f} s (observed {shown}{_unit(row)})"
    return None


def _unit(row: ThresholdRow) -> str:
    return f" {row.unit}" if row.unit else ""


@dataclass
class RunCounters:
    """What the master has seen so far, for the caps."""

    elapsed_s: float = 0.0
    requests: int = 0
    rps: float = 0.0  # over the last few seconds
    spend_usd: float = 0.0


def cap_reason(caps: Guardrails, seen: RunCounters) -> str | None:
    """The first hard cap of `[guardrails]` this run has passed, in words, or None: past one the run
    stops as aborted (exit 3) with its report written."""
    if caps.max_duration_s is not None and seen.elapsed_s > caps.max_duration_s:
        return f"guardrail: run time over max_duration ({caps.max_duration_s:g} s)"
    if caps.max_requests is not None and seen.requests > caps.max_requests:
        return f"guardrail: {seen.requests:,} requests, over max_requests ({caps.max_requests:,})"
    if caps.max_rps is not None and seen.rps > caps.max_rps:
        return f"guardrail: {seen.rps:,.1f} requests/s, over max_rps ({caps.max_rps:g})"
    if caps.max_spend_usd is not None and seen.spend_usd > caps.max_spend_usd:
        return f"guardrail: estimated LLM spend ${seen.spend_usd:,.4f}, over max_spend_usd (${caps.max_spend_usd:g})"
    return None
