"""Which routes the harness's own traffic calls, by kind: the preset journeys, the attacks, the probes.

The API map names routes freely and gives each a kind (harness.scenario.model.KINDS); this module
turns kinds into the routes each caller sends to, so that the journeys at run time, the parser's
placeholder checks and the run's facts (the routes a journey must reach) agree. Nothing here sends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from harness.scenario.model import ATTACKS, JOURNEYS, Auth, Endpoint, Journey
from harness.scenario.templates import placeholders

__all__ = [
    "ClientRoutes",
    "client_routes",
    "id_placeholders",
    "id_source",
    "attack_routes",
    "journey_routes",
    "session_login",
    "session_route",
    "required_routes",
]

ID_PLACEHOLDER = re.compile(r"(?:([A-Za-z0-9]+)_)?id", re.IGNORECASE)  # {id}, {NAME_id}: an object id


def id_placeholders(ep: Endpoint) -> list[str]:
    """The {id} and {NAME_id} placeholders of a route's path and body, in order."""
    return [name for name in placeholders([ep.path, ep.body]) if ID_PLACEHOLDER.fullmatch(name)]


def id_source(endpoints: Mapping[str, Endpoint], ep: Endpoint) -> Endpoint | None:
    """The list route whose items' ids fill `ep`'s one id placeholder, or None.

    The list whose path starts `ep`'s (/api/items lists /api/items/{item_id}; the longest such), else
    the one named after the placeholder, by route name or last path segment ({conversation_id} and
    `conversations`). A route with no id placeholder, or with two (/projects/{project_id}/tasks/{task_id}:
    which is which?), has none: a journey of the scenario's own extracts such ids."""
    ids = id_placeholders(ep)
    if len(ids) != 1:
        return None
    lists = [e for e in endpoints.values() if e.kind == "list" and e.name != ep.name]
    path = ep.path.split("?")[0]
    prefixed = [e for e in lists if path.startswith(e.path.split("?")[0].rstrip("/") + "/")]
    if prefixed:
        return max(prefixed, key=lambda e: len(e.path))
    match = ID_PLACEHOLDER.fullmatch(ids[0])
    stem = (match.group(1) or "").lower() if match else ""
    if not stem:
        return None
    wanted = {stem, stem + "s", stem + "es"}
    for e in lists:
        segments = [s for s in e.path.split("?")[0].split("/") if s and "{" not in s]
        if e.name.lower() in wanted or (segments and segments[-1].lower() in wanted):
            return e
    return None


@dataclass(frozen=True)
class ClientRoutes:
    """What the client journey calls: it logs in (when the API has a login route), browses (a list
    route, then a read route that takes one of its ids), chats in turns, and now and then reads the
    account's own routes (reads without an id), requests a password reset or logs out."""

    login: Endpoint | None
    lists: tuple[Endpoint, ...]
    id_reads: tuple[tuple[Endpoint, Endpoint], ...]  # (read route, the list route whose ids it takes)
    reads: tuple[Endpoint, ...]  # read routes without an id placeholder
    chats: tuple[Endpoint, ...]
    reset: Endpoint | None
    logout: Endpoint | None

    def calls(self) -> list[Endpoint]:
        """Every route the journey may send to."""
        found = [self.login, *self.lists, *(r for r, _ in self.id_reads), *self.reads, *self.chats]
        return [e for e in (*found, self.reset, self.logout) if e is not None]

    def required(self) -> list[str]:
        """The routes each client reaches in any run worth its name: the login, the lists and the
        chat routes (their tasks come round 8 times in 9); the reads when it has nothing else."""
        first = [*self.lists, *self.chats] or [*self.reads, *(r for r, _ in self.id_reads)]
        return [e.name for e in ([self.login] if self.login else []) + first]


def session_route(endpoints: Mapping[str, Endpoint], auth: Auth | None = None) -> Endpoint | None:
    """The route sessions come from: the API map's first of kind login, where `[auth] style` logs in
    through one (bearer, cookie: `auth.uses_login_route`; None stands for the default, bearer). None with
    an API key, an OAuth2 token (its own token path) or no auth, or when the API has no login route."""
    if auth is not None and not auth.uses_login_route:
        return None
    return next((e for e in endpoints.values() if e.kind == "login"), None)


def client_routes(endpoints: Mapping[str, Endpoint], auth: Auth | None = None) -> ClientRoutes:
    """The client journey's routes, by kind. A read route with an id it cannot fill is not among them:
    the parser refuses such a route where the client runs."""
    of = list(endpoints.values())
    reads = [e for e in of if e.kind == "read"]
    return ClientRoutes(
        login=session_route(endpoints, auth),
        lists=tuple(e for e in of if e.kind == "list"),
        id_reads=tuple((e, src) for e in reads if id_placeholders(e) and (src := id_source(endpoints, e))),
        reads=tuple(e for e in reads if not id_placeholders(e)),
        chats=tuple(e for e in of if e.kind == "chat"),
        reset=next((e for e in of if e.kind == "reset"), None),
        logout=next((e for e in of if e.kind == "logout"), None),
    )


def attack_routes(endpoints: Mapping[str, Endpoint], attack: str) -> list[Endpoint]:
    """The routes an attack takes turns on: every route of its kind."""
    kind = ATTACKS[attack][0][-1]
    return [e for e in endpoints.values() if e.kind == kind]


def journey_routes(endpoints: Mapping[str, Endpoint], journey: str, auth: Auth | None = None) -> list[Endpoint]:
    """Every route a preset journey may send to."""
    if journey == "client":
        return client_routes(endpoints, auth).calls()
    kinds = JOURNEYS[journey][0]
    return [e for e in endpoints.values() if e.kind in kinds]


def session_login(endpoints: Mapping[str, Endpoint], journey: Journey, auth: Auth | None = None) -> Endpoint | None:
    """The login route a journey of the scenario's own logs in with before its first step that sends the
    session, and again after a 401: the session route (session_route), when a step's route has auth = true
    and no step is a login of its own (those log in each time they run)."""
    routes = [endpoints[step.route] for step in journey.steps]
    if any(ep.kind == "login" for ep in routes) or not any(ep.auth for ep in routes):
        return None
    return session_route(endpoints, auth)


def required_routes(
    endpoints: Mapping[str, Endpoint], journey: str, own: Mapping[str, Journey], auth: Auth | None = None
) -> tuple[list[str], str | None]:
    """(the routes every user of a journey reaches, the login route among them): what run.json keeps so
    that the verdict can tell a journey that never reached a route (harness.analysis.verdict)."""
    if journey == "client":
        routes = client_routes(endpoints, auth)
        return routes.required(), routes.login.name if routes.login else None
    if journey in JOURNEYS:
        return [ep.name for ep in journey_routes(endpoints, journey)][:1], None
    spec = own[journey]
    login = session_login(endpoints, spec, auth)
    steps = [group[0].route for group in spec.groups() if len(group) == 1]  # a weighted pick may skip a route
    names = list(dict.fromkeys([*([login.name] if login else []), *steps]))
    logins = [n for n in names if endpoints[n].kind == "login"]
    return names, logins[0] if logins else None
