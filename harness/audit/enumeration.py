"""Row `auth`, check "account enumeration": do the login and password-reset answers tell an existing
account from an unknown one? An attacker who can tell them apart learns who has an account, then
stuffs only real ones.

For each route of kind `login` and `reset`, TRIES requests for an existing account of the scenario (at
login with a wrong password, the same one on both sides) and TRIES for an unknown address on the same
domain, interleaved, so that drift in the target's speed touches both sides alike. Compared:

- the status: one on each side, and not the same;
- the body, normalised (the address sent, ids, hex strings, timestamps and numbers removed): one on
  each side, and not the same;
- the time: the medians differ by more than max(50 ms, 3 x the larger spread (max - min) of a side).
  A single slow answer widens its side's spread, so it never makes a finding on its own.

A 429 is waited out (Retry-After, within a budget) and sent again, never compared; answers still
blocked, a 5xx or no answer leave the route untested (gate: the target refused what the check needs).
TRIES is small on purpose: a few wrong passwords stay under common lockout thresholds, and each
reset request for the existing account mails it (the scenario's own account).
"""

from __future__ import annotations

import re
import secrets
import statistics
import time
from dataclasses import dataclass, field

import httpx

from harness.audit.context import AuditContext, Destructive
from harness.audit.model import FAIL, NOT_APPLICABLE, PASS, UNTESTED, CheckResult
from harness.audit.values import placeholders, unfilled
from harness.scenario import Endpoint
from harness.scenario.accounts import Account

__all__ = ["run", "normalised", "timing_leak"]

TRIES = 3  # per side
MIN_GAP_S = 0.050
SPREADS = 3.0
WAIT_BUDGET_S = 25.0  # waiting out 429s, per route
MAX_WAIT_S = 12.0  # one Retry-After longer than this is not waited out
IDENTITIES = ("email", "username")  # the placeholders that name the account

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")
_HEX = re.compile(r"\b[0-9a-f]{8,}\b", re.IGNORECASE)
_TOKEN = re.compile(r"\b(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}\b")  # request ids, nonces
_NUMBER = re.compile(r"\d+")


def normalised(body: str, sent: str) -> str:
    """`body` with what differs between any two answers removed: the address or name sent, ids, hex
    strings, timestamps and numbers (so a request id or a clock never reads as a leak)."""
    if sent:
        body = re.sub(re.escape(sent), "<account>", body, flags=re.IGNORECASE)
    for pattern, mark in ((_UUID, "<id>"), (_TIME, "<time>"), (_HEX, "<hex>"), (_TOKEN, "<token>")):
        body = pattern.sub(mark, body)
    return _NUMBER.sub("#", body).strip()


def timing_leak(existing: list[float], unknown: list[float]) -> tuple[bool, float, float]:
    """(leaks, difference of the medians, threshold) in seconds: a difference over max(50 ms, 3 x the
    larger spread of a side)."""
    gap = abs(statistics.median(existing) - statistics.median(unknown))
    spread = max(max(existing) - min(existing), max(unknown) - min(unknown))
    threshold = max(MIN_GAP_S, SPREADS * spread)
    return gap > threshold, gap, threshold


@dataclass
class _Side:
    """One side's answers: statuses, normalised bodies, seconds each took."""

    who: str  # "existing" | "unknown"
    sent: str  # the address or name it sent
    statuses: list[int] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


class _Blocked(Exception):
    """Still rate-limited after the wait budget, or a Retry-After too long to wait for."""


def run(ctx: AuditContext) -> list[CheckResult]:
    results = []
    for kind, what in (("login", "login"), ("reset", "password reset")):
        routes = ctx.scenario.routes(kind)
        if not routes:
            results.append(
                CheckResult(
                    "auth",
                    f"account enumeration ({what})",
                    NOT_APPLICABLE,
                    note=f"the API map has no route of kind {kind}",
                )
            )
        results += [_compare(ctx, route) for route in routes]
    return results


def _account(ctx: AuditContext, endpoint: Endpoint) -> tuple[Account, str] | None:
    """The scenario's last account with a value for the placeholder that names it on `endpoint` (the last:
    the others' logins are what the other checks use), and that placeholder."""
    names = placeholders(endpoint.path) + placeholders(endpoint.body)
    identity = next((n for n in IDENTITIES if n in names), None)
    if identity is None:
        return None
    for account in reversed(ctx.credentials.accounts):
        if account.values().get(identity):
            return account, identity
    return None


def _unknown(value: str) -> str:
    """An address on the same domain (or a name) that no account has."""
    local, at, domain = value.rpartition("@")
    return f"audit-{secrets.token_hex(6)}@{domain}" if at and local else f"audit-{secrets.token_hex(6)}"


def _compare(ctx: AuditContext, endpoint: Endpoint) -> CheckResult:
    check = f"account enumeration ({endpoint.name})"
    found = _account(ctx, endpoint)
    if found is None:
        return CheckResult(
            "auth",
            check,
            UNTESTED,
            note=f"{endpoint.name}: no account with an e-mail or a username the route takes",
            fix="give the accounts an email (or username) column the route's {email}/{username} uses",
        )
    account, identity = found
    wrong_password = "Wrong-" + secrets.token_hex(8)
    values = {**account.values(), "password": wrong_password, "new_password": wrong_password}
    sides = [_Side("existing", values[identity]), _Side("unknown", _unknown(values[identity]))]
    missing = unfilled(endpoint, {**values, identity: sides[1].sent})
    if missing:
        return CheckResult(
            "auth",
            check,
            UNTESTED,
            note=f"{endpoint.name}: not called: no value for " + ", ".join(f"{{{n}}}" for n in missing),
            fix="give the accounts the columns the route's placeholders name",
        )
    try:
        with ctx.client() as client:
            for _ in range(TRIES):
                for side in sides:
                    _send(ctx, client, endpoint, {**values, identity: side.sent}, side)
    except _Blocked as exc:
        return _untested(ctx, check, sides, f"{endpoint.name}: {exc}", "run the audit when the route's limit has room")
    except (httpx.HTTPError, Destructive) as exc:
        return _untested(ctx, check, sides, f"{endpoint.name}: no answer ({type(exc).__name__})", "make it answer")
    failed = [s for side in sides for s in side.statuses if s >= 500]
    if failed:
        return _untested(
            ctx, check, sides, f"{endpoint.name}: answered {failed[0]}", "make the route answer without a server error"
        )
    return _judge(ctx, check, endpoint.name, *sides)


def _send(ctx: AuditContext, client: httpx.Client, endpoint: Endpoint, values: dict[str, str], side: _Side) -> None:
    waited = 0.0
    while True:
        started = time.perf_counter()
        response = ctx.call(client, endpoint.name, values)
        took = time.perf_counter() - started
        if not ctx.scenario.block.matches(response.status_code, response.headers, response.content):
            side.statuses.append(response.status_code)
            side.bodies.append(normalised(response.text, side.sent))
            side.seconds.append(took)
            return
        wait = _retry_after(response.headers.get("retry-after"))
        if wait > MAX_WAIT_S or waited + wait > WAIT_BUDGET_S:
            raise _Blocked(f"blocked by a rate limit ({response.status_code}, Retry-After {wait:g} s)")
        time.sleep(wait)
        waited += wait


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) + 0.2 if value is not None else 1.0
    except ValueError:
        return 1.0


def _evidence(ctx: AuditContext, sides: list[_Side]) -> list[str]:
    return [
        ctx.redact(
            f"{s.who} account: statuses {' '.join(map(str, s.statuses))}"
            + (
                f", median {statistics.median(s.seconds) * 1000:.1f} ms "
                f"(spread {(max(s.seconds) - min(s.seconds)) * 1000:.1f} ms)"
                if s.seconds
                else ""
            )
        )
        for s in sides
    ]


def _untested(ctx: AuditContext, check: str, sides: list[_Side], why: str, fix: str) -> CheckResult:
    return CheckResult("auth", check, UNTESTED, evidence=_evidence(ctx, sides), note=why, fix=fix, gate=True)


def _judge(ctx: AuditContext, check: str, route: str, existing: _Side, unknown: _Side) -> CheckResult:
    findings, notes = [], []
    one_status = len(set(existing.statuses)) == 1 and len(set(unknown.statuses)) == 1
    if one_status and existing.statuses[0] != unknown.statuses[0]:
        findings.append(
            f"{route}: the status tells accounts apart: {existing.statuses[0]} for an existing account, "
            f"{unknown.statuses[0]} for an unknown one; answer both alike"
        )
    elif not one_status:
        notes.append(f"{route}: the statuses vary within a side; not compared")
    one_body = len(set(existing.bodies)) == 1 and len(set(unknown.bodies)) == 1
    if one_body and existing.bodies[0] != unknown.bodies[0]:
        findings.append(
            ctx.redact(
                f"{route}: the body tells accounts apart: {existing.bodies[0][:80]!r} for an existing account, "
                f"{unknown.bodies[0][:80]!r} for an unknown one; answer both alike"
            )
        )
    elif not one_body:
        notes.append(f"{route}: the bodies vary within a side; not compared")
    leaks, gap, threshold = timing_leak(existing.seconds, unknown.seconds)
    if leaks:
        slower = (
            "an existing" if statistics.median(existing.seconds) > statistics.median(unknown.seconds) else "an unknown"
        )
        findings.append(
            f"{route}: timing tells accounts apart: {slower} account answers {gap * 1000:.0f} ms slower "
            f"(over the {threshold * 1000:.0f} ms a difference must exceed); do the same work for both"
        )
    evidence = _evidence(ctx, [existing, unknown]) + [
        f"{TRIES} tries each, interleaved; time difference {gap * 1000:.1f} ms, threshold {threshold * 1000:.1f} ms"
    ]
    return CheckResult("auth", check, FAIL if findings else PASS, findings, evidence, "; ".join(notes))
