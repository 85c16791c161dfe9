"""The verdict of a run, judged once, on every figure: each reason it fails, with its kind and route.

A run passes only when no reason is found: every threshold passed, the run is whole (samples
recorded, not aborted, an end time), no user task raised, every journey that ran reached the routes
it requires, and no security or cost finding (a rate limit leaky, bypassable or absent, an abuse
finding, a denial-of-wallet finding). The reasons keep that order; `Reason.kind` tells them apart
(harness.documents.summary lists the kinds), so no reader parses their text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.analysis.summary import finite_number, task_error_text
from harness.documents import EndpointFigures, Reason, RunMeta, ThresholdRow, Verdict
from harness.documents.run import TaskError

__all__ = [
    "THRESHOLD_FAILED",
    "FAILING_LIMITS",
    "TASK_ERROR_REASONS",
    "judge",
    "threshold_reasons",
    "run_reasons",
    "task_error_reasons",
    "journey_reasons",
    "limit_reasons",
    "abuse_reasons",
    "wallet_reasons",
    "limit_detail",
]

THRESHOLD_FAILED = "threshold failed: "
FAILING_LIMITS = ("leaky", "bypassable", "absent")
TASK_ERROR_REASONS = 5  # distinct task exceptions named one by one in the verdict; the rest in one line


def judge(
    run: RunMeta,
    requests: int,
    endpoints: Mapping[str, EndpointFigures],
    thresholds: Sequence[ThresholdRow],
    rate_limits: Mapping[str, Mapping] | None = None,
    abuse: Mapping[str, Mapping] | None = None,
    wallet: Mapping[str, Any] | None = None,
) -> Verdict:
    """The run's verdict from its judged thresholds and its figures."""
    errors = [e for e in run.task_errors or [] if e.count > 0]
    return Verdict.of(
        [
            *threshold_reasons(thresholds),
            *run_reasons(run, requests),
            *task_error_reasons(errors),
            *journey_reasons(endpoints, run, errors),
            *limit_reasons(rate_limits or {}),
            *abuse_reasons(abuse or {}),
            *wallet_reasons(wallet),
        ]
    )


def threshold_reasons(rows: Sequence[ThresholdRow]) -> list[Reason]:
    return [
        Reason(kind="threshold", route=row.endpoint, message=THRESHOLD_FAILED + row.expr)
        for row in rows
        if not row.passed
    ]


def run_reasons(run: RunMeta, requests: int) -> list[Reason]:
    """A run that is not whole fails: nothing measured, aborted, stopped early, or no end time."""
    reasons: list[Reason] = []
    if requests == 0:
        reasons.append(Reason(kind="incomplete", message="no samples recorded: nothing was measured"))
    if run.aborted:
        why = run.abort_reason
        reasons.append(
            Reason(
                kind="guardrail" if run.abort_kind == "guardrail" else "aborted",
                message=f"run aborted{': ' + str(why) if why else ''}",
            )
        )
    if run.stopped_early is not None:
        reasons.append(
            Reason(
                kind="stopped_early",
                message=f"stopped early: {run.stopped_early.reason or 'an abort-on-fail threshold failed'}",
            )
        )
    if finite_number(run.ended_at) is None:
        reasons.append(
            Reason(
                kind="incomplete",
                message="run has no end time (killed, still running, or run.json "
                "missing): figures cover only the samples on disk",
            )
        )
    return reasons


def task_error_reasons(errors: Sequence[TaskError]) -> list[Reason]:
    """A task that raises sends nothing: no sample shows it, so each kind fails the run here."""
    reasons = [
        Reason(
            kind="task_error", message=f"{e.count:,} task exception{'s' if e.count != 1 else ''}: {task_error_text(e)}"
        )
        for e in errors[:TASK_ERROR_REASONS]
    ]
    rest = errors[TASK_ERROR_REASONS:]
    if rest:
        reasons.append(
            Reason(
                kind="task_error",
                message=f"{sum(e.count for e in rest):,} more task exceptions of "
                f"{len(rest)} other kinds (see task_errors)",
            )
        )
    return reasons


def journey_reasons(
    endpoints: Mapping[str, EndpointFigures], run: RunMeta, errors: Sequence[TaskError]
) -> list[Reason]:
    """A journey whose users ran but whose legit traffic never called a route it requires (login
    aside): its figures would be missing, not bad, and no threshold would see it."""
    journeys = run.journeys or {}
    classes = {str(j.user_class) for j in journeys.values()}
    arrived = _arrivals_started(run)
    reasons = []
    for name, journey in sorted(journeys.items()):
        if not journey.users or arrived.get(name, 1) == 0:
            continue  # no users, or an open-model journey the schedule never started
        required = journey.required
        # a run from before routes had kinds logged in on the route named `login`
        login = journey.login or (None if run.kinds or "login" not in required else "login")
        missing = sorted(r for r in required if r != login and not _legit(endpoints.get(r)))
        if not missing:
            continue
        others = classes - {str(journey.user_class)}  # an exception raised in another journey is not its
        raised = any(str(e.in_ or "").split(".")[0] not in others for e in errors)
        why = _login_failure(login, endpoints.get(login)) if login else None
        if why is None and raised:
            why = "its users raised exceptions (see task_errors)"
        refused = login is not None and _every_login_refused(endpoints.get(login))
        if refused:  # the harness could not log in: what the journey measures was never seen
            why = (
                f"every login was refused (see endpoints.{login}): the accounts or the [auth] mapping do not "
                "log in; `harness check` names the likely fix"
            )
        reasons.append(
            Reason(
                kind="untested" if refused else "journey",
                route=missing[0] if len(missing) == 1 else None,
                message=f"journey {name} never called {', '.join(missing)}" + (f": {why}" if why else ""),
            )
        )
    return reasons


def _legit(endpoint: EndpointFigures | None) -> int:
    return endpoint.legit_requests if endpoint is not None else 0


def _arrivals_started(run: RunMeta) -> dict[str, int]:
    """Open model: journey -> arrivals started, over every worker (run.json `arrivals.counts`)."""
    counts = (run.arrivals or {}).get("counts")
    started: dict[str, int] = {}
    for worker in counts.values() if isinstance(counts, dict) else ():
        for journey, c in worker.items() if isinstance(worker, dict) else ():
            started[journey] = started.get(journey, 0) + int(finite_number((c or {}).get("started")) or 0)
    return started


def _every_login_refused(login: EndpointFigures | None) -> bool:
    """Every legit login refused (401, 403, 400, rejected_when), none failed otherwise: the
    credentials, not the target, stood in the way; a 5xx or a timeout is the target's failure."""
    return login is not None and 0 < login.legit_requests == login.legit_rejected


def _login_failure(route: str, login: EndpointFigures | None) -> str | None:
    """Why no legit login got through on `route`, when none did."""
    sent = login.legit_requests if login is not None else 0
    if not sent or login is None:
        return "no login was sent"
    blocked, failed = login.legit_blocked, login.legit_errors
    if blocked + failed < sent:
        return None
    if not blocked:
        return f"every login failed (see endpoints.{route} errors)"
    return (
        f"every login was blocked (see endpoints.{route})"
        if not failed
        else f"every login failed or was blocked (see endpoints.{route})"
    )


def limit_reasons(limits: Mapping[str, Mapping]) -> list[Reason]:
    """A finding for each limit that failed; "untested" for each the probes could not judge."""
    reasons = []
    for route, entry in limits.items():
        verdict = entry.get("verdict")
        if verdict in FAILING_LIMITS:
            message = f"rate limit on {route} is {verdict}{limit_detail(entry)}"
            reasons.append(Reason(kind="finding", route=route, message=message))
        elif verdict == "untested" and entry.get("planned", True):
            why = entry.get("note") or "no probe answer to judge it on"
            reasons.append(Reason(kind="untested", route=route, message=f"rate limit on {route} is untested: {why}"))
    return reasons


def limit_detail(entry: Mapping) -> str:
    """ " (new-connection ×2.0)": the worst technique and its factor, or why the limit failed."""
    worst = entry.get("worst_technique")
    if entry.get("verdict") == "absent":
        return " (no block in the baseline burst)"
    if worst:
        b = (entry.get("bypasses") or {}).get(worst) or {}
        factor = b.get("amplification") or b.get("over_allowance_ratio")
        return f" ({worst}" + (f" ×{factor:.1f})" if factor else ")")
    if entry.get("over_allowance_ratio") is not None:
        return f" (over-allowance {entry['over_allowance_ratio']:.2f})"
    return ""


def abuse_reasons(abuse: Mapping[str, Mapping]) -> list[Reason]:
    """One per finding, attacks in name order (as `abuse.abuse_findings` lists them); then one
    "untested" per attack that could not be judged, with its note that says why."""
    findings = [
        Reason(kind="finding", route=a.get("endpoint"), message=f"abuse finding: {name}: {f}")
        for name, a in abuse.items()
        for f in a.get("findings") or []
    ]
    untested = [
        Reason(kind="untested", route=a.get("endpoint"), message=f"attack {name} is untested: {_untested_note(a)}")
        for name, a in abuse.items()
        if a.get("verdict") == "untested"
    ]
    return findings + untested


def _untested_note(attack: Mapping) -> str:
    notes = [str(n) for n in attack.get("notes") or []]
    why = next((n for n in notes if n.startswith("untested: ")), notes[-1] if notes else "it reached nothing")
    return why.removeprefix("untested: ")


def wallet_reasons(wallet: Mapping[str, Any] | None) -> list[Reason]:
    """One per denial-of-wallet finding; "untested" when the probe could not log in."""
    if not wallet:
        return []
    reasons = [
        Reason(kind="finding", route=wallet.get("route"), message=f"denial of wallet: {finding}")
        for finding in wallet.get("findings") or []
    ]
    if wallet.get("untested"):
        message = f"denial of wallet is untested: {wallet['untested']}"
        reasons.append(Reason(kind="untested", route=wallet.get("route"), message=message))
    return reasons
