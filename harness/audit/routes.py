"""Calling the API map's routes for the access and tenancy checks: which placeholders are object
IDs, where a route's objects are listed, values to fill a template with, and a sender that waits out
a rate limit instead of taking a block for a denial (and never sends a placeholder empty).

A 429 says nothing about authorization: a check that counted it as "denied" would pass a broken
route whenever a limit happened to be full. So a blocked answer is waited out (Retry-After, within a
time budget) and sent again; one still blocked stays undecided.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.audit.context import AuditContext, Destructive, json_of
from harness.audit.values import Unfilled, account_values, is_object_id, placeholders, unfilled
from harness.scenario import Endpoint, Scenario
from harness.scenario.accounts import Account

__all__ = [
    "Attempt",
    "Sender",
    "ObjectIds",
    "id_placeholders",
    "list_route",
    "listed_ids",
    "read_route",
    "probe_values",
    "login",
    "dig",
    "emails_in",
    "retry_after",
    "create_route",
]

PROBE_TEXT = "launch-harness audit probe"


@dataclass
class Attempt:
    """One request's outcome: a response, or why there is none (an error, or still blocked)."""

    response: httpx.Response | None
    error: str = ""
    blocked: bool = False
    refused: bool = False  # not sent: it would have deleted or overwritten what the audit did not create

    @property
    def status(self) -> int:
        return self.response.status_code if self.response is not None else 0

    @property
    def ok(self) -> bool:
        return self.response is not None and not self.blocked and 200 <= self.status < 300

    @property
    def decided(self) -> bool:
        return self.response is not None and not self.blocked

    @property
    def text(self) -> str:
        return self.response.text if self.response is not None else ""


class Sender:
    """Sends requests for one check through one client (one keep-alive connection, so a target with
    several processes answers from one), bounded in count and in time spent waiting out blocks."""

    def __init__(
        self,
        ctx: AuditContext,
        client: httpx.Client,
        *,
        wait_budget_s: float = 30.0,
        max_wait_s: float = 12.0,
        max_requests: int = 400,
    ) -> None:
        self.ctx = ctx
        self.client = client
        self.wait_left_s = wait_budget_s
        self.max_wait_s = max_wait_s
        self.requests_left = max_requests
        self.waited_s = 0.0

    def call(self, route: str, values: Mapping[str, Any] | None = None, **kwargs: Any) -> Attempt:
        """`ctx.call(client, route, values, **kwargs)`, a block waited out and retried. Nothing is sent
        when a placeholder has no value (the path and body given in `kwargs` replace the templates)."""
        missing = unfilled(
            self.ctx.scenario.endpoints[route],
            values or {},
            path=kwargs.get("path") is None,
            body=kwargs.get("json_body") is None,
        )
        if missing:
            return Attempt(None, f"not sent: {Unfilled(route, missing)}")
        while True:
            if self.requests_left <= 0:
                return Attempt(None, "request budget of this check spent")
            self.requests_left -= 1
            try:
                response = self.ctx.call(self.client, route, values, **kwargs)
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
                return Attempt(None, f"{type(exc).__name__}: {self.ctx.redact(str(exc))[:120]}")
            except Destructive as exc:  # the safe default: not sent, and said so
                return Attempt(None, str(exc), refused=True)
            rule = self.ctx.scenario.block
            if not rule.matches(response.status_code, response.headers, response.content):
                return Attempt(response)
            wait = retry_after(response.headers.get("retry-after"))
            if wait > min(self.max_wait_s, self.wait_left_s):
                return Attempt(response, f"blocked by a rate limit (Retry-After {wait:g} s)", blocked=True)
            time.sleep(wait)
            self.wait_left_s -= wait
            self.waited_s += wait


def retry_after(value: str | None) -> float:
    """Seconds to wait before sending again: Retry-After in seconds (+0.2), else one second."""
    try:
        return max(0.0, float(value)) + 0.2 if value is not None else 1.0
    except ValueError:
        return 1.0  # an HTTP date, or garbage: try again soon


# --- templates --------------------------------------------------------------------------------


def id_placeholders(endpoint: Endpoint) -> list[str]:
    """The placeholders of `endpoint` that hold an object ID ({id}, {conversation_id}): path first."""
    names = placeholders(endpoint.path) + [
        n for n in placeholders(endpoint.body) if n not in placeholders(endpoint.path)
    ]
    return [n for n in names if is_object_id(n)]


def _stem(name: str) -> str | None:
    """The object an id placeholder names: `conversation` for {conversation_id} and {conversationId}."""
    for suffix in ("_id", "_ID", "_Id", "Id", "ID"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def list_route(scenario: Scenario, route: str, name: str, id_lists: Mapping[str, str] | None = None) -> str | None:
    """The route that lists the objects `name` (of `route`) refers to: the one `[audit] id_lists` names,
    else a GET route without placeholders (kind list first) at the path above `{name}`
    (`/api/conversations` for `/api/conversations/{id}`), else one named after the ID (`conversations`
    for `{conversation_id}`), else a list route whose path ends with its plural (`/api/conversations`)."""
    if id_lists and name in id_lists:
        return id_lists[name]
    endpoint = scenario.endpoints[route]
    candidates = [ep for ep in scenario.endpoints.values() if ep.method == "GET" and not placeholders(ep.path)]
    listing = {ep.name: ep for ep in sorted(candidates, key=lambda ep: ep.kind != "list")}
    marker = "{" + name + "}"
    if marker in endpoint.path:
        above = endpoint.path.split(marker)[0].rstrip("/")
        for n, ep in listing.items():
            if ep.path.rstrip("/") == above:
                return n
    stem = _stem(name) or route
    wanted = (f"{stem}s", f"{stem}es", stem)
    for candidate in wanted:
        if candidate in listing:
            return candidate
    plural = wanted[:2]  # a route of kind list whose path ends with the plural, under any name
    last = {n: ep.path.rstrip("/").rpartition("/")[2] for n, ep in listing.items() if ep.kind == "list"}
    return next((n for n, segment in last.items() if segment in plural), None)


def create_route(scenario: Scenario, route: str, name: str, id_lists: Mapping[str, str] | None = None) -> str | None:
    """The route that creates the objects `name` (of `route`) refers to: a POST of kind write, with no
    object id, at the path of the route that lists them (`POST /api/conversations` beside `GET
    /api/conversations`). Its answer's `id_field` is the new object's id."""
    listing = list_route(scenario, route, name, id_lists)
    if listing is None:
        return None
    path = scenario.endpoints[listing].path.rstrip("/")
    makers = [
        ep.name
        for ep in scenario.endpoints.values()
        if ep.method == "POST" and ep.kind == "write" and not id_placeholders(ep) and ep.path.rstrip("/") == path
    ]
    return makers[0] if makers else None


def read_route(scenario: Scenario, name: str) -> str | None:
    """A GET route that takes `{name}` in its path (kind read first): where an object is read back."""
    routes = [ep for ep in scenario.endpoints.values() if ep.method == "GET" and "{" + name + "}" in ep.path]
    return min(routes, key=lambda ep: ep.kind != "read").name if routes else None


def dig(data: Any, path: str) -> Any:
    for key in path.split(".") if path else ():
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def listed_ids(scenario: Scenario, route: str, attempt: Attempt) -> list[str]:
    """The item IDs of a list route's answer (its `list_field` and `id_field`)."""
    if not attempt.ok:
        return []
    endpoint = scenario.endpoints[route]
    items = dig(json_of(attempt.response), endpoint.list_field) if endpoint.list_field else json_of(attempt.response)
    if not isinstance(items, list):
        return []
    return [str(i[endpoint.id_field]) for i in items if isinstance(i, dict) and i.get(endpoint.id_field) is not None]


def probe_values(account: Account | None = None, text: str = PROBE_TEXT, **ids: str) -> dict[str, Any]:
    """Values for a route template: a short harmless chat message, every column of the account the
    request is sent as (its own password among them: evidence is redacted), and the object IDs given."""
    values: dict[str, Any] = {
        "messages": [{"role": "user", "content": text}],
        "message": text,
        "name": "Audit Probe",
        "lead_email": "audit-probe@example.com",
    }
    values.update(account_values(account))
    values.update(ids)
    return values


@dataclass
class ObjectIds:
    """Object IDs of one account's own, listed through the map as that account, and why a placeholder
    has none (no route lists them, no session, the list was empty)."""

    ids: dict[str, list[str]] = field(default_factory=dict)  # placeholder -> IDs
    why: dict[str, str] = field(default_factory=dict)  # placeholder -> why there is none
    _lists: dict[str, tuple[list[str], str]] = field(default_factory=dict)  # list route -> (IDs, its outcome)

    def find(self, sender: Sender, route: str, account: Account | None, token: str | None) -> None:
        """List the IDs of every ID placeholder of `route` not found yet (each list route asked once)."""
        ctx = sender.ctx
        for name in id_placeholders(ctx.scenario.endpoints[route]):
            if self.ids.get(name):
                continue
            listing = list_route(ctx.scenario, route, name, ctx.settings.id_lists)
            if listing is None:
                continue  # values.unfilled_note says where such IDs could come from
            if token is None and ctx.scenario.endpoints[listing].auth:
                who = f"as the {account.role}" if account else "anonymously"
                self.why[name] = f"no value for {{{name}}} (could not log in {who} to list them through {listing})"
                continue
            if listing not in self._lists:
                attempt = sender.call(listing, probe_values(account), token=token)
                outcome = attempt.error or f"answered {attempt.status}"
                self._lists[listing] = (listed_ids(ctx.scenario, listing, attempt), outcome)
            found, outcome = self._lists[listing]
            if found:
                self.ids[name] = found
                self.why.pop(name, None)
            else:
                self.why[name] = f"no value for {{{name}}} ({listing} listed none: {outcome})"

    def first(self) -> dict[str, str]:
        return {name: ids[0] for name, ids in self.ids.items() if ids}


# --- sessions ---------------------------------------------------------------------------------


def login(ctx: AuditContext, sender: Sender, account: Account) -> tuple[str | None, Attempt | None]:
    """A new session token for `account` through the map's (first) login route (a block waited out)."""
    route = ctx.scenario.route("login")
    if route is None:
        return None, None
    attempt = sender.call(route.name, account_values(account))
    token = dig(json_of(attempt.response), ctx.scenario.auth.token_field) if attempt.ok else None
    return (token if isinstance(token, str) and token else None), attempt


def emails_in(text: str, accounts: Sequence[Account], exclude: Account | None = None) -> list[str]:
    """The known accounts' whole e-mail addresses found in `text` (someone's user data), bar `exclude`'s
    own: an identifier unique to that user, matched whole (never a short name, nor `ann@x.co` inside
    `joann@x.com`)."""
    return [
        a.email
        for a in accounts
        if a != exclude
        and "@" in a.email
        and re.search(r"(?<![\w.+-])" + re.escape(a.email) + r"(?![\w-])", text, re.IGNORECASE)
    ]
