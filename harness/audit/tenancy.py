"""The `tenant_isolation` row: another tenant's object IDs replayed as a tenant's own users, judged
by content, never by status alone.

Tenant A's owner (a client) reads its first objects (their JSON kept) and, where it may, writes a
canary (a unique marker) into one of them. Then tenant B's client and coach call every route of
`[audit] id_routes` (default: routes with an object id placeholder, harness.scenario.model.OBJECT_ID,
in the path or the body) with A's ID, in the path or body, in the query string, and in the JSON body
of a route that takes its ID in the path next to an ID of B's own (parameter pollution):

- a read is a finding when A's canary is in the answer, or the answer is A's object as A reads it (a
  2xx alone is not: an API may ignore the id and answer with B's own);
- a write is a finding only when A, reading its object back, finds B's canary in it (a 204 from an
  API that ignored the id is not one).

Safe by default (AuditContext.guard): a write goes only to an object the audit created; the owner's
and the intruders' own objects from before the audit are not written to, nor anything deleted, unless
`--allow-destructive` is given, and the writes check then says it is untested and why.

Its own accounts, where the API allows sign-up (a route of kind register, harness.audit.signup): A and
B are then two accounts the audit signed up, each in a tenant of its own (B a client only: a sign-up
makes no coach), and each first creates an object of its own through the map's create route (a POST
of kind write at the path of the route that lists them, harness.audit.routes.create_route). The canary
and B's writes go into A's new object, which the audit created, so the writes are measured without
the opt-in. When the sign-up is refused, or the new accounts own no object to replay, the scenario's
accounts are used as without a register route, and the notes say so.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from harness.audit.context import AuditContext, json_of
from harness.audit.model import FAIL, PASS, UNTESTED, CheckResult
from harness.audit.routes import (
    PROBE_TEXT,
    Attempt,
    ObjectIds,
    Sender,
    create_route,
    dig,
    id_placeholders,
    probe_values,
    read_route,
)
from harness.audit.signup import own_accounts
from harness.audit.values import unfilled, unfilled_note, unfilled_reason
from harness.scenario.accounts import Account
from harness.scenario.templates import render

__all__ = ["run", "id_routes"]

MAX_EVIDENCE = 40


def id_routes(ctx: AuditContext) -> list[str]:
    """`[audit] id_routes`, or every route of the map whose path or body takes an object ID; reads first."""
    endpoints = ctx.scenario.endpoints
    routes = list(ctx.settings.id_routes) or [r for r, ep in endpoints.items() if id_placeholders(ep)]
    return sorted(routes, key=lambda r: endpoints[r].method != "GET")


@dataclass
class _Tenant:
    """An account, its token and the IDs it lists (placeholder -> IDs of its own objects)."""

    account: Account
    token: str | None
    listed: ObjectIds = field(default_factory=ObjectIds)

    @property
    def ids(self) -> dict[str, list[str]]:
        return self.listed.ids

    @property
    def label(self) -> str:
        return f"{self.account.role} of tenant {self.account.tenant or '?'}"

    def values(self, text: str = PROBE_TEXT, **ids: str) -> dict[str, Any]:
        """Values for a request as this account: its own first IDs, then `ids` over them."""
        return probe_values(self.account, text, **{**self.listed.first(), **ids})


@dataclass
class _Write:
    route: str
    technique: str
    canary: str
    label: str


class _Check:
    def __init__(self, ctx: AuditContext, sender: Sender, routes: list[str]) -> None:
        self.ctx = ctx
        self.sender = sender
        self.routes = routes
        self.findings: list[str] = []  # reads
        self.write_findings: list[str] = []
        self.evidence: list[str] = []
        self.notes: list[str] = []
        self.write_notes: list[str] = []
        self.decided = 0  # reads answered
        self.writes: list[_Write] = []  # writes sent (not refused by the safe default)
        self.write_checked = False  # the owner read its object back after the writes
        self.owner_copy: dict[str, Any] = {}  # id -> the owner's own read of that object (parsed JSON)
        self.base = "audit-canary-" + secrets.token_hex(6)

    def tenant(self, account: Account, create: bool = False) -> _Tenant:
        """`account` logged in, with the IDs of its own objects for every ID placeholder of the routes;
        `create` (an account of the audit's own): first a new object of its own, where a route makes them."""
        token = self.ctx.token(account)
        found = _Tenant(account, token)
        if token is None:
            return found
        for route in self.routes:
            found.listed.find(self.sender, route, account, token)
        if create:
            self.create(found)
        return found

    def create(self, who: _Tenant) -> None:
        """A new object of `who`'s own for each ID placeholder whose objects a route creates, first
        among its IDs: the one the canary and the writes go to (the audit created it)."""
        endpoints = self.ctx.scenario.endpoints
        names = {n: r for r in self.routes for n in id_placeholders(endpoints[r])}
        for name, route in names.items():
            maker = create_route(self.ctx.scenario, route, name, self.ctx.settings.id_lists)
            if maker is None:
                listed = who.listed.why.get(name, "")
                missing = f"no route creates them (a POST of kind write at the path of the route that lists {{{name}}})"
                who.listed.why[name] = f"{listed}; {missing}" if listed else missing
                continue
            attempt = self.sender.call(maker, who.values(), token=who.token)
            new = dig(json_of(attempt.response), endpoints[maker].id_field) if attempt.ok else None
            if isinstance(new, (str, int)) and not isinstance(new, bool) and str(new):
                who.listed.ids[name] = [str(new), *(i for i in who.ids.get(name, []) if i != str(new))]
                who.listed.why.pop(name, None)
            else:
                outcome = attempt.error or (
                    f"answered {attempt.status}" + (f" with no {endpoints[maker].id_field}" if attempt.ok else "")
                )
                who.listed.why[name] = f"{maker} made no new {name} for the {who.label} ({outcome})"

    def callable(self, route: str, values: dict[str, Any], who: _Tenant, **kwargs: Any) -> bool:
        """Can `route` be called with `values` (the path and body in `kwargs` replace the templates)?
        If not, the note says which placeholder it lacked."""
        missing = unfilled(
            self.ctx.scenario.endpoints[route], values, path="path" not in kwargs, body="json_body" not in kwargs
        )
        if missing:
            self.notes.append(f"{unfilled_note(route, missing, who.listed.why)} (as the {who.label})")
        return not missing

    # -- the owner's canary -------------------------------------------------------------------

    def plant(self, owner: _Tenant) -> str | None:
        """Write a canary into the owner's first object through a write route; the canary if it reads back."""
        canary = f"{self.base}-owner"
        endpoints = self.ctx.scenario.endpoints
        chats = [ep.name for ep in self.ctx.chat_routes()]
        for route in sorted(endpoints, key=lambda r: r not in chats):  # any write route of the map; chats first
            ep = endpoints[route]
            names = [n for n in id_placeholders(ep) if owner.ids.get(n)]
            if ep.method not in ("POST", "PUT", "PATCH") or not names:  # never DELETE the owner's object
                continue
            name = names[0]
            values = owner.values(f"Remember this note: {canary}", **{name: owner.ids[name][0]})
            if not self.callable(route, values, owner):
                continue
            attempt = self.sender.call(route, values, token=owner.token)
            if attempt.ok and canary in self.read_back(owner, name):
                return canary
            self.notes.append(
                f"the canary written through {route} did not read back ({attempt.status or attempt.error})"
            )
        return None

    def remember(self, owner: _Tenant) -> None:
        """The owner's own read of each of its first objects: an intruder given the same is a leak."""
        for name in {n for r in self.routes for n in id_placeholders(self.ctx.scenario.endpoints[r])}:
            route = read_route(self.ctx.scenario, name)
            if route is None or not owner.ids.get(name):
                continue
            object_id = owner.ids[name][0]
            attempt = self.sender.call(route, owner.values(**{name: object_id}), token=owner.token)
            data = json_of(attempt.response) if attempt.ok else None
            if data:
                self.owner_copy[object_id] = data

    def read_back(self, owner: _Tenant, name: str) -> str:
        route = read_route(self.ctx.scenario, name)
        if route is None or not owner.ids.get(name):
            return ""
        attempt = self.sender.call(route, owner.values(**{name: owner.ids[name][0]}), token=owner.token)
        return attempt.text if attempt.ok else ""

    # -- the replays --------------------------------------------------------------------------

    def replay(self, route: str, owner: _Tenant, intruder: _Tenant, canary: str | None) -> None:
        ep = self.ctx.scenario.endpoints[route]
        for name in id_placeholders(ep):
            theirs = owner.ids.get(name)
            if not theirs:
                why = unfilled_reason(name, owner.listed.why)
                self.notes.append(f"{route}: no {name} of tenant {owner.account.tenant}'s to replay: {why}")
                continue
            victim_id, own_id = theirs[0], (intruder.ids.get(name) or [""])[0]
            in_path = "{" + name + "}" in ep.path
            where = "the path" if in_path else "the JSON body"
            self.send(route, owner, intruder, canary, f"{name} in {where}", {name: victim_id}, strict=True)
            if in_path and not own_id:
                continue  # pollution needs an ID of the intruder's own in the path
            if not self.callable(route, intruder.values(**{name: own_id}), intruder):
                continue
            path = render(ep.path, intruder.values(**{name: own_id}), in_path=True)
            path += ("&" if "?" in path else "?") + f"{name}={victim_id}"
            own = " (its own in the path)" if in_path else " (its own in the body)" if own_id else ""
            self.send(route, owner, intruder, canary, f"{name} in the query string{own}", {name: own_id}, path=path)
            if in_path:
                body = render(ep.body, intruder.values(**{name: own_id})) if ep.body is not None else {}
                if isinstance(body, dict):
                    self.send(
                        route,
                        owner,
                        intruder,
                        canary,
                        f"{name} in the JSON body (its own in the path)",
                        {name: own_id},
                        json_body={**body, name: victim_id},
                    )

    def send(
        self,
        route: str,
        owner: _Tenant,
        intruder: _Tenant,
        canary: str | None,
        technique: str,
        ids: dict[str, str],
        strict: bool = False,
        **kwargs: Any,
    ) -> None:
        """One replay as the intruder; `strict`: the only ID sent is the owner's, so any 2xx is a finding."""
        writes = self.ctx.scenario.endpoints[route].method != "GET"
        mark = f"{self.base}-w{len(self.writes)}"
        text = f"Remember this note: {mark}" if writes else PROBE_TEXT
        values = intruder.values(text, **ids)
        if not self.callable(route, values, intruder, **kwargs):
            return
        attempt = self.sender.call(route, values, token=intruder.token, **kwargs)
        what = f"{owner.account.tenant}'s {technique}"
        if attempt.refused:  # the safe default: the owner's object was not the audit's to write to
            self.write_notes.append(attempt.error)
            return
        if writes:  # even undecided: a write that timed out may have landed; judged when the owner reads back
            self.writes.append(_Write(route, technique, mark, intruder.label))
        if not attempt.decided:
            (self.write_notes if writes else self.notes).append(
                f"{route} with {what}: not decided ({attempt.error or attempt.status})"
            )
            return
        self.evidence.append(self.evidence_line(attempt, f"as {intruder.label}, {what}"))
        if writes:
            return
        self.decided += 1
        leaked = bool(canary and canary in attempt.text)
        same = strict and attempt.ok and any(json_of(attempt.response) == c for c in self.owner_copy.values())
        if leaked or same:
            how = "the owner's canary in the answer" if leaked else "the same object its owner reads"
            self.findings.append(
                f"{route}: {attempt.status} for a {intruder.label} sending tenant {what}: it read another "
                f"tenant's object ({how})"
            )
        elif strict and attempt.ok:
            self.notes.append(
                f"{route} with {what}: {attempt.status}, but neither the owner's canary nor its object in the "
                "answer: not counted as a leak"
            )

    def landed(self, owner: _Tenant) -> None:
        """A reads their object back: which of the intruders' writes ended up in it."""
        if not self.writes:
            return
        names = [n for r in self.routes for n in id_placeholders(self.ctx.scenario.endpoints[r])]
        text = "".join(self.read_back(owner, n) for n in dict.fromkeys(names))
        if not text:
            self.write_notes.append("the owner's object could not be read back: the writes cannot be judged")
            return
        self.write_checked = True
        for write in self.writes:
            if write.canary in text:
                self.write_findings.append(
                    f"{write.route}: text a {write.label} sent with tenant "
                    f"{owner.account.tenant}'s {write.technique} landed in that tenant's object "
                    "(read back by its owner)"
                )

    def evidence_line(self, attempt: Attempt, note: str) -> str:
        if attempt.response is None:
            return f"{note}: no answer ({attempt.error})"
        return self.ctx.evidence(attempt.response, note)


def _pick(ctx: AuditContext) -> tuple[Account | None, list[Account]]:
    """The owner (a client, else a coach, in a tenant) and intruders from another tenant: a client and a coach."""
    owner = next((a for role in ("client", "coach") for a in ctx.accounts(role) if a.tenant), None)
    if owner is None:
        return None, []
    intruders = [ctx.account(role, exclude_tenant=owner.tenant) for role in ("client", "coach")]
    return owner, [a for a in intruders if a is not None and a.tenant]


def _people(ctx: AuditContext, check: _Check) -> tuple[_Tenant | None, list[Account], bool, str]:
    """The owner (logged in, its IDs listed) and the intruders' accounts: the audit's own accounts when
    it could sign them up and they own an object to replay, else the scenario's (`_pick`). Then whether
    they are the audit's own, and the note on whose they are (and why, when they are not its own)."""
    signup = own_accounts(ctx)
    if signup.accounts:
        owner = check.tenant(signup.accounts[0], create=True)
        if owner.ids:
            return owner, list(signup.accounts[1:]), True, signup.note
        why = "; ".join(dict.fromkeys(owner.listed.why.values())) or "none listed"
        note = f"the accounts the audit signed up own no object to replay ({why}): the scenario's accounts were used"
    else:
        note = signup.note
    owner_account, intruders = _pick(ctx)
    if owner_account is None or not intruders:
        return None, [], False, note
    return check.tenant(owner_account), intruders, False, note


def run(ctx: AuditContext) -> list[CheckResult]:
    check_name = "cross-tenant reads"
    routes = id_routes(ctx)
    if not routes:
        return [
            CheckResult(
                "tenant_isolation",
                check_name,
                UNTESTED,
                note="no route of the API map takes an object ID ([audit] id_routes)",
            )
        ]
    with ctx.client() as client:
        check = _Check(ctx, Sender(ctx, client), routes)
        owner, intruder_accounts, own, whose = _people(ctx, check)
        if owner is None or not intruder_accounts:
            note = "needs accounts (with their tenant) in two tenants"
            return [
                CheckResult("tenant_isolation", check_name, UNTESTED, note="; ".join(p for p in (note, whose) if p))
            ]
        if owner.token is None:
            return [
                CheckResult(
                    "tenant_isolation",
                    check_name,
                    UNTESTED,
                    note=f"could not log in as the {owner.label}" + (f"; {whose}" if whose else ""),
                    fix="make a login work for the audit's accounts (harness check shows what it answered)",
                    gate=True,
                )
            ]
        canary = check.plant(owner)
        check.remember(owner)
        if canary is None:
            check.notes.append(
                "no canary in the owner's object: a read counts when the intruder gets the owner's object"
            )
        intruders = []
        for account in intruder_accounts:
            intruder = check.tenant(account, create=own)  # an ID of its own, for the pollution variants
            if intruder.token is None:
                check.notes.append(f"could not log in as the {intruder.label}")
                continue
            intruders.append(intruder)
        deletes = [r for r in routes if ctx.scenario.endpoints[r].method == "DELETE"]
        for intruder in intruders:
            for route in (r for r in routes if r not in deletes):
                check.replay(route, owner, intruder, canary)
        check.landed(owner)  # before any delete: the owner's object must still be there to read back
        for intruder in intruders:  # only with --allow-destructive: the safe default sends no DELETE
            for route in deletes:
                check.replay(route, owner, intruder, canary)
    reads = CheckResult(
        "tenant_isolation",
        check_name,
        FAIL if check.findings else PASS if check.decided else UNTESTED,
        check.findings,
        check.evidence[:MAX_EVIDENCE],
        "; ".join(dict.fromkeys(p for p in (whose, *check.notes) if p)),
    )
    write_notes = check.write_notes or ([] if check.writes else ["no route of the map writes to an object by its id"])
    writes = CheckResult(
        "tenant_isolation",
        "cross-tenant writes (read back by the owner)",
        FAIL if check.write_findings else PASS if check.writes and check.write_checked else UNTESTED,
        check.write_findings,
        note="; ".join(dict.fromkeys(p for p in (whose, *write_notes) if p)),
    )
    if writes.status == UNTESTED and check.write_notes:
        writes.fix = (
            "map a route of kind register (the audit then signs up accounts of its own) and the route that "
            "creates the object (a POST of kind write at the path of the route that lists them): the audit "
            "then writes only into objects it created; or give --allow-destructive against a disposable deployment"
        )
    return [reads, writes]
