"""Guardrails: where abuse traffic may go, and the hard caps the master enforces on every run.

Attacks, the bypass matrix and the denial-of-wallet probe only ever target loopback or a host the
scenario lists in `[guardrails] allowed_hosts` (its owner vouching for it); anything else is refused
before a single request. The caps (duration, total requests, requests per second, estimated LLM
spend) stop a run that got out of hand, as an aborted run (exit 3) with the report written.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.host import is_loopback
from harness.scenario import Guardrails, Scenario

__all__ = ["abuse_refusal", "cap_reason", "RunCounters"]


def abuse_refusal(scenario: Scenario, host: str, audit: bool = False) -> str | None:
    """Why this scenario may not send its abuse traffic (or, with `audit`, the audit's) to `host`, or
    None when it may."""
    abusive = [what for what, on in (("attacks", bool(scenario.attacks)), ("bypass probes", bool(scenario.probes.routes)),
                                     ("the denial-of-wallet probe", scenario.wallet is not None),
                                     ("the audit's forged and hostile requests", audit)) if on]
    if not abusive or is_loopback(host):
        return None
    name = (urlsplit(host).hostname or host).lower()
    if name in scenario.guardrails.allowed_hosts:
        return None
    where = f"{scenario.path}: " if scenario.path else ""
    return (f"{where}guardrails.allowed_hosts: {' and '.join(abusive)} only go to loopback or to hosts listed there; "
            f"{name} is not (add \"{name}\" to [guardrails] allowed_hosts only if you own it)")


@dataclass
class RunCounters:
    """What the master has seen so far, for the caps."""

    elapsed_s: float = 0.0
    requests: int = 0
    rps: float = 0.0  # over the last few seconds
    spend_usd: float = 0.0


def cap_reason(caps: Guardrails, seen: RunCounters) -> str | None:
    """The first hard cap this run has passed, in words, or None."""
    if caps.max_duration_s is not None and seen.elapsed_s > caps.max_duration_s:
        return f"guardrail: run time over max_duration ({caps.max_duration_s:g} s)"
    if caps.max_requests is not None and seen.requests > caps.max_requests:
        return f"guardrail: {seen.requests:,} requests, over max_requests ({caps.max_requests:,})"
    if caps.max_rps is not None and seen.rps > caps.max_rps:
        return f"guardrail: {seen.rps:,.1f} requests/s, over max_rps ({caps.max_rps:g})"
    if caps.max_spend_usd is not None and seen.spend_usd > caps.max_spend_usd:
        return f"guardrail: estimated LLM spend ${seen.spend_usd:,.4f}, over max_spend_usd (${caps.max_spend_usd:g})"
    return None
