"""Which requests `harness check` sends, from the scenario alone: bounded and harmless by construction.

A session per role that has an account (a login, or an OAuth2 token request; an API key needs none),
then one GET per health, list, read (and admin, as an admin) route, one chat turn per chat route, one
signed test delivery per webhook route. Routes of any other
kind, and any route whose method is not GET where a read is expected, are listed as not sent: check
never creates, changes or deletes anything on purpose (a chat turn and a test delivery are the two
writes a legit user makes anyway, and both say they come from the check).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from harness.scenario import PLACEHOLDERS, Endpoint, Scenario
from harness.scenario.accounts import Account
from harness.scenario.callers import ID_PLACEHOLDER, id_source
from harness.scenario.templates import PLACEHOLDER

__all__ = ["Step", "Plan", "plan_check", "CHECK_PROMPT", "CHECK_MAX_TOKENS", "ORDER", "TOKEN_ROUTE"]

CHECK_PROMPT = "harness check: reply with the single word ok."
CHECK_MAX_TOKENS = 16  # the reply asked for, where the chat body has a max_tokens field
ORDER = ("health", "list", "read", "admin", "chat", "webhook")  # kinds, in the order they are called
READ_KINDS = ("health", "list", "read", "admin")  # called with GET only


@dataclass(frozen=True)
class Step:
    """One request of the check: `action` is login, get, chat or webhook; `role` whose session it
    uses ("" = none)."""

    action: str
    route: str
    role: str = ""

    @property
    def label(self) -> str:
        who = f" as {self.role}" if self.role else " (no session)"
        return {"login": f"login{who}", "get": f"GET{who}", "chat": f"chat{who}", "webhook": "signed delivery"}[
            self.action
        ]


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    accounts: dict[str, Account]  # role -> the account its session (login, token request, API key) uses
    routes: dict[str, Endpoint]  # the API map, and the OAuth2 token request as a route of its own
    not_sent: tuple[tuple[str, str], ...]  # (route, why)


TOKEN_ROUTE = "oauth2_token"  # the OAuth2 token request's name in the table, as in a run's samples


def plan_check(scenario: Scenario, accounts: list[Account]) -> Plan:
    """The steps for this scenario and these accounts: a session per role (the first account of each)
    where [auth] gets one from a login or a token request, then the routes by kind."""
    by_role: dict[str, Account] = {}
    for account in accounts:
        by_role.setdefault(account.role, account)
    user = _user_role(scenario, by_role)
    routes = dict(scenario.endpoints)
    login = _session_route(scenario)
    if login is not None:
        routes[login.name] = login
    roles = sorted(by_role, key=lambda r: r != user)  # the role load traffic uses first
    oauth2 = scenario.auth.oauth2
    if oauth2 is not None and oauth2.grant == "client_credentials":
        roles = roles[:1]  # the client is one identity, whichever account
    steps = [Step("login", login.name, role) for role in roles] if login else []
    not_sent: list[tuple[str, str]] = []
    for kind in ORDER:
        for ep in scenario.routes(kind):
            why = _not_sent(scenario, ep, roles)
            if why:
                not_sent.append((ep.name, why))
                continue
            role = "admin" if kind == "admin" else (user if ep.auth else "")
            action = {"chat": "chat", "webhook": "webhook"}.get(kind, "get")
            steps.append(Step(action, ep.name, "" if kind == "webhook" else role))
    seen = {s.route for s in steps} | {name for name, _ in not_sent}
    not_sent += [(n, f"kind {ep.kind}: check never calls it") for n, ep in scenario.endpoints.items() if n not in seen]
    return Plan(tuple(steps), by_role, routes, tuple(not_sent))


def _session_route(scenario: Scenario) -> Endpoint | None:
    """Where a session comes from: the first login route (bearer, cookie), the OAuth2 token request
    (oauth2), or nowhere (an API key, no auth)."""
    auth = scenario.auth
    if auth.oauth2 is not None:
        return Endpoint(TOKEN_ROUTE, "POST", auth.oauth2.token_path, auth=False, kind="login")
    return scenario.route("login") if auth.uses_login_route else None


def _user_role(scenario: Scenario, by_role: dict[str, Account]) -> str:
    """The role load traffic logs in as: the first of `accounts.roles` with an account."""
    return next((r for r in scenario.accounts.roles if r in by_role), next(iter(by_role), ""))


def _not_sent(scenario: Scenario, ep: Endpoint, roles: list[str]) -> str:
    """Why a route of a called kind is left out, "" when it is called."""
    if ep.kind in READ_KINDS and ep.method != "GET":
        return f"kind {ep.kind} with method {ep.method}: check sends only GET to a {ep.kind} route"
    if ep.kind == "admin" and "admin" not in roles:
        return "kind admin: no session has the role admin"
    return _extracted(scenario, ep)


def _extracted(scenario: Scenario, ep: Endpoint) -> str:
    """A placeholder of `ep` that only a journey of the scenario's own fills (a value it extracts from an
    earlier answer): check runs no journeys, so it cannot send this route as a run would."""
    sources = {
        e.name: (journey.name, step.route)
        for journey in scenario.custom_journeys.values()
        for step in journey.steps
        for e in step.extract
    }
    for name in PLACEHOLDER.findall(f"{ep.path} {json.dumps(ep.body)}"):
        if (
            name in sources
            and name not in PLACEHOLDERS
            and not (ID_PLACEHOLDER.fullmatch(name) and id_source(scenario.endpoints, ep))
        ):
            journey, route = sources[name]
            return f"{{{name}}} is extracted by journey {journey} (step {route}); check runs no journeys"
    return ""
