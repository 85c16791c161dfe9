"""The {placeholders} of the API map and of the scenario's own journeys, checked across sections: each
must be one that whoever calls the route fills, or the run would send it empty and measure the wrong request.
"""

from __future__ import annotations

from harness.scenario.callers import (
    attack_routes,
    client_routes,
    id_placeholders,
    id_source,
    journey_routes,
    session_route,
)
from harness.scenario.model import (
    AUDIT_PLACEHOLDERS,
    JOURNEYS,
    OBJECT_ID,
    PLACEHOLDERS,
    Attack,
    Auth,
    Endpoint,
    Journey,
    Probes,
    Step,
    Wallet,
)
from harness.scenario.sections.reader import Reader
from harness.scenario.templates import placeholders

__all__ = ["route_callers", "check_placeholders", "check_steps"]


CLIENT = "the client journey"  # the one caller that fills object ids (from a list route)


def route_callers(
    endpoints: dict[str, Endpoint],
    auth: Auth,
    journeys: dict[str, float],
    attacks: dict[str, Attack],
    probes: Probes,
    wallet: Wallet | None,
) -> dict[str, list[str]]:
    """Route -> who of the harness's own traffic sends to it in this scenario (the preset journeys, the
    attacks, the probes), by kind: each fills PLACEHOLDERS and the calling account's columns, nothing
    else, except the client journey's object ids (harness.scenario.callers.id_source)."""
    callers: dict[str, list[str]] = {}
    login = session_route(endpoints, auth)
    for journey in (j for j in JOURNEYS if j in journeys):
        for ep in journey_routes(endpoints, journey, auth):
            callers.setdefault(ep.name, []).append(CLIENT if journey == "client" else f"the {journey} journey")
    for name in attacks:
        for route in [*(ep.name for ep in attack_routes(endpoints, name)), *([login.name] if login else [])]:
            callers.setdefault(route, []).append(f"attack {name}")
    for route in probes.routes:
        callers.setdefault(route, []).append("the bypass probes")
    if wallet is not None:
        callers.setdefault(wallet.route, []).append("the denial-of-wallet probe")
    return callers


def check_placeholders(
    r: Reader,
    endpoints: dict[str, Endpoint],
    callers: dict[str, list[str]],
    stepped: set[str],
    client: bool,
    columns: set[str] | None,
) -> tuple[tuple[str, str], ...]:
    """Every placeholder must be one the harness fills, or it is sent empty and the run measures the
    wrong request. Routes load traffic calls get PLACEHOLDERS and the accounts' `columns` (and, from the
    client journey, an object id from a list route); routes only `harness audit` calls may also take
    AUDIT_PLACEHOLDERS and object ids ({id}, {NAME_id}); routes only the scenario's own journeys call are
    checked step by step.

    With `columns` None (an accounts file whose header row names them), the placeholders nothing else fills
    are returned as (column, what uses it): the accounts file must have them (harness.scenario.accounts
    checks)."""
    routes = client_routes(endpoints)
    paired = {read.name for read, _ in routes.id_reads} if client else set()
    client_ids = paired | {ep.name for ep in routes.chats if client and id_source(endpoints, ep)}
    deferred: list[tuple[str, str]] = []
    for name, ep in endpoints.items():
        if client and ep.kind == "read" and id_placeholders(ep) and name not in paired:
            part = "path" if any(OBJECT_ID.fullmatch(n) for n in placeholders(ep.path)) else "body"
            raise r.fail(f"endpoints.{name}.{part}", _unpaired(ep))
        who = callers.get(name, [])
        if not who and name in stepped:
            continue  # see check_steps
        if not who and ep.kind == "register":
            continue  # the audit fills it with a new account's values (checked in sections.endpoints)
        for part, template in (("path", ep.path), ("body", ep.body)):
            for found in placeholders(template):
                problem = _placeholder_problem(ep, part, found, who, name in client_ids, columns or set())
                if problem and columns is None and found not in PLACEHOLDERS:
                    deferred.append((found, f"endpoints.{name}.{part} uses {{{found}}}"))
                elif problem:
                    raise r.fail(f"endpoints.{name}.{part}", problem)
    return tuple(deferred)


def _placeholder_problem(
    ep: Endpoint, part: str, found: str, who: list[str], client_id: bool, columns: set[str]
) -> str:
    """Why `found` cannot be filled on this route by the traffic that calls it ("" when it can);
    `client_id`: the client journey fills the route's id placeholder from a list route; `columns`: the
    accounts' columns, which every caller fills from its account."""
    extra = sorted(columns - set(PLACEHOLDERS))
    also = f"; account columns: {', '.join(extra)}" if extra else ""
    if not who:
        if found in PLACEHOLDERS or found in AUDIT_PLACEHOLDERS or OBJECT_ID.fullmatch(found) or found in columns:
            return ""
        known = [*sorted(PLACEHOLDERS), *sorted(AUDIT_PLACEHOLDERS), "NAME_id"]
        return f"unknown placeholder {{{found}}} (known: {', '.join(known)}{also})"
    for caller in who:
        if caller == CLIENT and client_id and found in id_placeholders(ep):
            continue
        if found not in PLACEHOLDERS and found not in columns:
            return (
                f"unknown placeholder {{{found}}} (known: {', '.join(sorted(PLACEHOLDERS))}{also}); {ep.name} is "
                f"called by {caller}, which fills no other (the audit's {{id}} and {{NAME_id}} go on routes only "
                "the audit calls, or on routes of a journey of your own that extracts them)"
            )
        if part == "path" and found == "conversation_id":
            return (
                f"{{conversation_id}} in a path would be sent empty by {caller} (only the client journey reads "
                "conversation ids, from a list route): leave the route out of it, or move the id to the body"
            )
    return ""


def _unpaired(ep: Endpoint) -> str:
    """The error for a read route whose id the client journey cannot fill."""
    ids = id_placeholders(ep)
    if len(ids) > 1:
        why = f"takes one id from a list route, and {ep.name} has {len(ids)} ({', '.join(ids)})"
    else:
        why = (
            f"takes {{{ids[0]}}} from a route of kind list whose path starts as {ep.name}'s or that is named "
            f"after it, and the API map has none"
        )
    return (
        f"unknown placeholder {{{ids[0]}}} for the client journey, which reads every route of kind read and {why}: "
        f'add that list route, or set kind = "other" on {ep.name} to leave it to the audit and to journeys of '
        "your own (steps with extract)"
    )


def check_steps(
    r: Reader, endpoints: dict[str, Endpoint], journeys: dict[str, Journey], columns: set[str] | None
) -> tuple[tuple[str, str], ...]:
    """Each step of the scenario's own journeys sends only placeholders it has a value for: the harness's
    (PLACEHOLDERS), the account's `columns` and what earlier steps extract. A value a weighted step extracts
    counts after its group only when every step of the group extracts it; {conversation_id} is "" unless
    extracted. With `columns` None (an accounts file with a header row), the others are returned as
    (column, what uses it), as by check_placeholders."""
    deferred: list[tuple[str, str]] = []
    for journey in journeys.values():
        extracted: set[str] = set()
        index = 0
        for group in journey.groups():
            for step in group:
                where = f"journeys.{journey.name}.steps[{index}]"
                deferred += _check_step(r, endpoints[step.route], step, where, extracted, columns)
                index += 1
            extracted |= set.intersection(*({e.name for e in step.extract} for step in group))
    return tuple(deferred)


def _check_step(
    r: Reader, ep: Endpoint, step: Step, where: str, extracted: set[str], columns: set[str] | None
) -> list[tuple[str, str]]:
    deferred: list[tuple[str, str]] = []
    for part, template in (("path", ep.path), ("body", ep.body), *((f"headers.{k}", v) for k, v in step.headers)):
        for found in placeholders(template):
            empty = {"conversation_id"} if part != "body" else set()  # "" is no path segment, no header
            fills = (set(PLACEHOLDERS) - empty) | extracted | (columns or set())
            if found in fills:
                continue
            on = part if part.startswith("headers.") else f"route {ep.name}'s {part}"
            if columns is None and found not in PLACEHOLDERS:
                deferred.append((found, f"{where} uses {{{found}}} in {on}"))
                continue
            raise r.fail(
                where,
                f"unknown placeholder {{{found}}} in {on}: no earlier step extracts it (extract = {{ {found} = "
                f'"json:..." }} on a step before it); known: {", ".join(sorted(fills))}',
            )
    return deferred
