"""Where abuse traffic may go: loopback, or a host the scenario lists in `[guardrails] allowed_hosts`
(its owner vouching for it). Attacks, the bypass matrix, the denial-of-wallet probe and the audit's
forged requests to anywhere else are refused before a single request. The caps a running master
enforces are in harness.load.gate.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from harness.host import is_loopback
from harness.scenario.model import Scenario

__all__ = ["abuse_refusal"]


def abuse_refusal(scenario: Scenario, host: str, audit: bool = False) -> str | None:
    """Why this scenario may not send its abuse traffic (or, with `audit`, the audit's) to `host`, or
    None when it may."""
    abusive = [
        what
        for what, on in (
            ("attacks", bool(scenario.attacks)),
            ("bypass probes", bool(scenario.probes.routes)),
            ("the denial-of-wallet probe", scenario.wallet is not None),
            ("the audit's forged and hostile requests", audit),
        )
        if on
    ]
    if not abusive or is_loopback(host):
        return None
    name = (urlsplit(host).hostname or host).lower()
    if name in scenario.guardrails.allowed_hosts:
        return None
    where = f"{scenario.path}: " if scenario.path else ""
    return (
        f"{where}guardrails.allowed_hosts: {' and '.join(abusive)} only go to loopback or to hosts listed there; "
        f'{name} is not (add "{name}" to [guardrails] allowed_hosts only if you own it)'
    )
