"""The scenario as the harness uses it: typed, frozen, validated (by harness.scenario.parse).

Journeys, attacks and probes say *what* to call by endpoint name; `Endpoint` says *how*. The
constants name what the harness knows: its journeys and the routes each needs, its attacks, the
limit keys, the bypass techniques and the {placeholders} it fills.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.scenario.thresholds import Threshold

__all__ = [
    "KINDS",
    "LEGACY_KINDS",
    "infer_kind",
    "STREAM_FORMATS",
    "STREAM_PATH_KEYS",
    "METHODS",
    "ACCOUNT_SOURCES",
    "JOURNEYS",
    "ATTACKS",
    "LIMIT_KEYS",
    "PLACEHOLDERS",
    "AUDIT_PLACEHOLDERS",
    "REGISTER_PLACEHOLDERS",
    "OBJECT_ID",
    "TECHNIQUES",
    "ScenarioError",
    "Endpoint",
    "Stage",
    "Load",
    "AUTH_STYLES",
    "ACCOUNT_COLUMNS",
    "Auth",
    "Csrf",
    "OAuth2",
    "Accounts",
    "WEBHOOK_SCHEMES",
    "DEMO_WEBHOOK_SCHEMES",
    "WEBHOOK_ALGORITHMS",
    "WEBHOOK_ENCODINGS",
    "WEBHOOK_TIMESTAMP_FORMATS",
    "WEBHOOK_SIGNED_FIELDS",
    "CustomSigning",
    "WebhookSigning",
    "LimitRule",
    "BlockRule",
    "Attack",
    "Probes",
    "Wallet",
    "EXTRACT_SOURCES",
    "Extract",
    "Step",
    "Journey",
    "Breaker",
    "Search",
    "HttpSettings",
    "Guardrails",
    "SPEND_NUMBERS",
    "SpendSettings",
    "Scenario",
]

# What a route is for. Journeys, attacks, probes, the wallet probe and the audit find routes by kind, so
# an API's own route names work; each of them handles none or several routes of a kind.
KINDS: dict[str, str] = {
    "login": "trades credentials for a session (token or cookie)",
    "logout": "ends the session",
    "chat": "sends messages to the LLM and answers (streamed or not)",
    "read": "reads one thing (a profile, one conversation)",
    "list": "lists things; items carry ids that read routes take",
    "write": "creates or changes data (never called by the shipped journeys or attacks)",
    "delete": "deletes data (never called unless a journey of yours names it)",
    "reset": "starts a password reset",
    "webhook": "receives signed deliveries from a provider",
    "admin": "admin-only route",
    "lead": "a public form (leads, contact)",
    "register": "creates a new account (sign-up); only the audit calls it, for accounts of its own",
    "health": "liveness or readiness",
    "other": "anything else; called only by journeys that name it",
}
# The kind of a route whose table has no `kind`, by the route names the shipped scenarios use; other
# names get one from their method (see infer_kind).
LEGACY_KINDS: dict[str, str] = {
    "login": "login",
    "logout": "logout",
    "chat": "chat",
    "me": "read",
    "conversations": "list",
    "conversation": "read",
    "reset_request": "reset",
    "webhook": "webhook",
    "admin_users": "admin",
    "leads": "lead",
    "health": "health",
}


def infer_kind(name: str, method: str) -> str:
    """The kind of a route that does not say: its legacy name's, else read for GET, other for the rest.

    Only GET is guessed (a read is harmless); a POST could create, change or delete, so it is `other`,
    which nothing calls unless a journey names it."""
    if name in LEGACY_KINDS:
        return LEGACY_KINDS[name]
    return "read" if method in ("GET", "HEAD") else "other"


# How a route's response is read: "none" (not an LLM route), "json" (one completion object), or a stream
# format of harness.protocol.streams (docs/streams.md).
STREAM_FORMATS = (
    "none",
    "sse-openai",
    "sse",
    "json",
    "openai-responses",
    "anthropic",
    "gemini",
    "vercel-ai",
    "ndjson",
    "text",
)
# What `stream_paths` of an ndjson route may set: the fields of harness.protocol.streams.JsonPaths.
STREAM_PATH_KEYS = ("text", "input_tokens", "output_tokens", "done", "error")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
ACCOUNT_SOURCES = ("demo", "file", "inline", "keys")
# How a virtual user proves who it is (see docs/auth.md): a token from the login answer (bearer), the
# session cookie it sets (cookie), a static key per account or role (api_key), an OAuth2 token (oauth2),
# or nothing at all (none).
AUTH_STYLES = ("bearer", "cookie", "api_key", "oauth2", "none")
# The columns of an accounts file the harness knows; any other column is a {placeholder} of its own.
ACCOUNT_COLUMNS: dict[str, str] = {
    "email": "the account's e-mail",
    "username": "the account's user name",
    "password": "the account's password",
    "role": "which journeys use it (accounts.roles; default client)",
    "tenant": "its tenant's slug",
    "api_key": 'its static API key (auth.style = "api_key")',
}

# preset journey -> (kinds of which it needs at least one route, kinds it also calls when the API has them).
# Which routes of those kinds each calls, and in what order: harness.scenario.callers.
JOURNEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "client": (("list", "read", "chat"), ("login", "reset", "logout")),
    "webhook": (("webhook",), ()),
    "visitor": (("lead",), ()),
}


# attack name -> (kinds of the routes it calls, the one it attacks last; what it does). The name is the
# samples' `role`. An attack takes turns over every route of the kind it attacks; it logs in (the first
# login route) where it needs a session, when the API has a login route.
ATTACKS: dict[str, tuple[tuple[str, ...], str]] = {
    "credential_stuffing": (("login",), "many accounts, one password try each, from one client"),
    "password_spraying": (("login",), "one common password tried against many accounts"),
    "brute_force": (("login",), "many passwords against one account"),
    "chat_flood": (("login", "chat"), "one account chatting at full speed, burning tokens"),
    "chat_flood_many_accounts": (("login", "chat"), "many accounts chatting at full speed from one client"),
    "reset_flood": (("reset",), "password-reset requests for one address"),
    "reset_flood_many": (("reset",), "password-reset requests for many addresses"),
    "webhook_forged": (("webhook",), "deliveries with a forged signature"),
    "webhook_stale": (("webhook",), "validly signed deliveries with a timestamp hours old"),
    "webhook_replay": (("webhook",), "exact replays of one valid delivery"),
    "webhook_flood": (("webhook",), "validly signed deliveries at full speed"),
    "admin_probe": (("admin",), "the admin route as anonymous, as a normal user, and with role headers"),
    "lead_spam": (("lead",), "the public lead form at full speed"),
}
LIMIT_KEYS = ("ip", "user", "account", "email", "global")

# {placeholder} -> what the harness puts there. Journeys, attacks, bypass probes and the wallet probe
# fill these on every route they call, and the calling account's columns besides (ACCOUNT_COLUMNS and the
# accounts file's own); any other placeholder would be sent empty (a mistyped {conversation_id} turns the
# single-item route into the list route), so the parser refuses it, and `render` refuses at run time a value
# it was not given (a failed sample, never an empty path segment).
# {conversation_id} is "" where no list route gave one (harness.scenario.callers.id_source): fine in a
# body ("start a new conversation"), refused in a path.
PLACEHOLDERS: dict[str, str] = {
    "email": "the account's e-mail (login, reset_request)",
    "password": "the account's password (login)",
    "messages": "the chat history as a list of {role, content} (chat)",
    "message": "the latest user message as a string (chat, leads)",
    "conversation_id": "a conversation id from the conversations route (conversation, chat)",
    "tenant": "a tenant slug (leads)",
    "name": "a visitor's name (leads)",
    "lead_email": "a visitor's e-mail (leads)",
}
# What `harness audit` fills besides, on routes that load traffic never calls (see harness.scenario.sections.placeholders):
# object ids (OBJECT_ID) take a real id from the route that lists them.
AUDIT_PLACEHOLDERS: dict[str, str] = {
    "prompt": "the injection probe's text",
    "new_password": "a wrong password (validation probes)",
    "token": "a dummy token (validation probes)",
    "id": "an object id listed by the route above it",
}
# What `harness audit` fills on a route of kind register: the new account's, made up for each sign-up
# (harness.audit.signup). A sign-up route takes no other placeholder.
REGISTER_PLACEHOLDERS: dict[str, str] = {
    "email": "a new address on [audit] register_domain (audit.invalid by default)",
    "username": "a new user name (the address's local part)",
    "password": "a new random password, never shown",
    "name": "a display name saying it is the audit's",
    "tenant": "a new tenant slug, where the sign-up asks for one",
}
# The placeholders that hold an object id: {id}, {NAME_id} and {NAMEId} ({conversation_id}, {userId}),
# "id" in any case after an underscore. The audit lists them from a route of the map (harness.audit.routes).
OBJECT_ID = re.compile(r"(?:[A-Za-z0-9]+_)?(?i:id)|[A-Za-z0-9]*[a-z0-9](?:Id|ID)")
TECHNIQUES = (
    "baseline",
    "ip-headers",
    "path-variants",
    "method-switch",
    "new-connection",
    "many-accounts",
    "many-sources",
    "window-edge",
    "race",
)


class ScenarioError(UsageError):
    """A scenario that cannot be run. `str(error)` is the one-line message for the user."""


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    body: Any = None  # a template: strings may hold {placeholders}
    auth: bool = True  # send the session token
    stream: str = "none"  # how the response body is read: one of STREAM_FORMATS
    stream_paths: tuple[tuple[str, str], ...] = ()  # ndjson: (STREAM_PATH_KEYS key, dot path) the map sets
    latency_target_ms: float | None = None  # p95 target; None = no latency target
    list_field: str = ""  # where a list response keeps its items ("" = top-level array)
    id_field: str = "id"  # the id of each item
    kind: str = "other"  # what the route is for (KINDS); parse fills it from the name or method when unset
    rejected_when: RejectRule | None = None  # answers that refuse the request although their status says yes


@dataclass(frozen=True)
class RejectRule:
    """What a refusal looks like on one route when its status does not say so (a failed login answered
    200 with an error body): every 4xx but 404/405/408 is a refusal anyway (harness.analysis.outcomes).

    Unlike the block rule, its parts are all required: the status is one of `statuses` (any, when
    empty) and, when given, the body matches `body_pattern` and the header `header` is present."""

    statuses: tuple[int, ...] = ()
    body_pattern: str = ""  # a regular expression searched in the body
    header: str = ""  # a response header whose presence means refused

    def matches(self, status: int, headers: Any, body: bytes | None) -> bool:
        if not status or (self.statuses and status not in self.statuses):
            return False
        if self.header and not (headers and self.header in headers):
            return False
        return not self.body_pattern or bool(body and re.search(self.body_pattern.encode(), body))


@dataclass(frozen=True)
class Stage:
    duration_s: float
    users: int
    spawn_rate: float
    arrival_rate: float | None = None  # open model: journeys started per second in this stage


@dataclass(frozen=True)
class Load:
    users: int
    spawn_rate: float
    duration_s: float
    stages: tuple[Stage, ...] = ()
    arrival_rate: float | None = None  # open model (see harness.scenario.arrivals); stages may carry their own
    pool: int | None = None  # open model: users serving the arrivals, when the scenario sets `users`
    max_lateness_s: float = 5.0  # open model: an arrival that waited longer for a free user is dropped

    @property
    def planned_duration_s(self) -> float:
        return sum(s.duration_s for s in self.stages) if self.stages else self.duration_s

    @property
    def open_model(self) -> bool:
        return self.arrival_rate is not None or any(s.arrival_rate is not None for s in self.stages)

    def arrival_stages(self) -> tuple[tuple[float, float], ...]:
        """(duration_s, rate) of each open-model stage; one stage at `arrival_rate` without stages."""
        if self.stages:
            return tuple((s.duration_s, s.arrival_rate or 0.0) for s in self.stages)
        return ((self.duration_s, self.arrival_rate or 0.0),)


@dataclass(frozen=True)
class Csrf:
    """`[auth.csrf]`: where the anti-forgery token comes from, and the header that echoes it on unsafe methods."""

    source: str  # "cookie" | "header" | "body" (the TOML field is `from`)
    name: str  # the cookie's name, the response header's, or a dot path into the JSON answer
    header: str = "X-CSRF-Token"
    fetch: str = ""  # an endpoint whose answer holds it (called after each login); "" = the login answer


@dataclass(frozen=True)
class OAuth2:
    """`[auth.oauth2]`: the token request, always to a path of the target itself (the guardrail)."""

    grant: str = "client_credentials"  # or "password": each account's username (else e-mail) and password
    token_path: str = "/oauth/token"
    client_id_env: str = ""  # environment variable names, never the values
    client_secret_env: str = ""
    scope: str = ""


@dataclass(frozen=True)
class Auth:
    token_field: str = "access_token"  # dot path into the login response
    header: str = "Authorization"
    scheme: str = "Bearer"  # "" sends the bare token
    style: str = "bearer"  # AUTH_STYLES
    token_from: str = "body"  # bearer: "body" (token_field) or "header" (token_header)
    token_header: str = ""
    session_cookie: str = ""  # cookie: the cookie a login must set ("" = any cookie)
    key_in: str = "header"  # api_key: "header" (header + scheme) or "query" (query_param)
    query_param: str = "api_key"
    keys: dict[str, str] = field(default_factory=dict)  # api_key: role -> environment variable holding its key
    oauth2: OAuth2 | None = None
    csrf: Csrf | None = None
    relogin_on_401: bool = True  # a 401 on an authenticated route: log in again once, retry once
    lifetime_s: float | None = None  # log in again before a session gets this old

    @property
    def uses_login_route(self) -> bool:
        """Whether a session comes from the API map's login route (bearer, cookie), not a key or a token path."""
        return self.style in ("bearer", "cookie")


# [webhook] scheme: how deliveries are signed (harness.protocol.signing implements each; docs/webhooks.md)
WEBHOOK_SCHEMES = ("stripe", "github", "standard", "slack", "custom")
DEMO_WEBHOOK_SCHEMES = WEBHOOK_SCHEMES[:-1]  # what the demo API can verify ([target] webhook_scheme)
WEBHOOK_ALGORITHMS = ("sha256", "sha1", "sha512")
WEBHOOK_ENCODINGS = ("hex", "base64")
WEBHOOK_TIMESTAMP_FORMATS = ("unix", "unix_ms", "iso8601")
WEBHOOK_SIGNED_FIELDS = ("id", "timestamp", "body")


@dataclass(frozen=True)
class CustomSigning:
    """[webhook.custom]: a signature header holding `prefix` + the HMAC of the `signed` template."""

    header: str
    signed: str = "{body}"  # {id}, {timestamp} and {body}
    algorithm: str = "sha256"
    encoding: str = "hex"
    prefix: str = ""
    timestamp_header: str | None = None
    timestamp_format: str = "unix"
    id_header: str | None = None


@dataclass(frozen=True)
class WebhookSigning:
    """[webhook] scheme, and the custom scheme's settings when it is "custom"."""

    scheme: str = "stripe"
    custom: CustomSigning | None = None


@dataclass(frozen=True)
class Accounts:
    source: str = "demo"
    file: Path | None = None
    inline: tuple[dict[str, str], ...] = ()
    roles: tuple[str, ...] = ("client",)  # which accounts legit clients log in as
    columns: tuple[str, ...] = ()  # the accounts file's columns when it has no header row
    # (column, what uses it) that every account must fill ("a|b": either), checked where accounts are read
    needs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LimitRule:
    """A declared limit: `quota` requests per `window_s` per `key` on `route`."""

    route: str
    key: str
    quota: int
    window_s: float


@dataclass(frozen=True)
class BlockRule:
    """What a blocked (rate-limited) response looks like on this target."""

    statuses: tuple[int, ...] = (429,)
    body_pattern: str = ""  # a regular expression searched in the body
    header: str = ""  # a response header whose presence means blocked

    def matches(self, status: int, headers: Any, body: bytes | None) -> bool:
        """Does this response match the block rule (status set, body pattern, header)?"""
        if status in self.statuses:
            return True
        if self.header and headers and self.header in headers:
            return True
        return bool(self.body_pattern and body and re.search(self.body_pattern.encode(), body))


@dataclass(frozen=True)
class Attack:
    name: str
    users: int = 1
    rate: float = 0.0  # requests per second per user; 0 = as fast as the target answers
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Probes:
    """The bypass matrix: which limited routes to probe, with which techniques."""

    routes: tuple[str, ...] = ()
    techniques: tuple[str, ...] = TECHNIQUES
    start_after_s: float = 5.0


@dataclass(frozen=True)
class Wallet:
    """Denial-of-wallet probes on one LLM route: how big a prompt it takes, how long a reply it gives."""

    route: str = "chat"
    start_after_s: float = 5.0
    prompt_start_tokens: int = 1024
    prompt_cap_tokens: int = 131_072  # doubling stops here: the biggest prompt ever sent
    output_ask_tokens: int = 2000  # the reply length asked for (in the prompt and as max_tokens)
    max_tokens_field: str = "max_tokens"  # top-level body field that caps the reply ("" = none)


# Where a journey step reads a value for later steps (`extract = { NAME = "SOURCE:EXPR" }`).
EXTRACT_SOURCES: dict[str, str] = {
    "json": "a dot path into the JSON answer: items.0.id, data.token, items.*.id (a random item's)",
    "header": "a response header, by name",
    "cookie": "a cookie the answer sets (Set-Cookie), by name",
    "regex": "a regular expression searched in the answer's text: its first group, else the whole match",
}


@dataclass(frozen=True)
class Extract:
    """One value a step reads from its answer, kept as {name} for the steps after it."""

    name: str
    source: str  # EXTRACT_SOURCES
    expr: str  # the JSON path (as keys: "items.0.id"), header name, cookie name or pattern


@dataclass(frozen=True)
class Step:
    """One request of a journey of the scenario's own (`steps = [{ route = ... }]`)."""

    route: str
    repeat: int = 1  # sent this many times in a row
    weight: float | None = None  # weighted steps next to each other: one of them is sent, picked by weight
    think_s: tuple[float, float] | None = None  # the pause after it (min, max); None: the journey's think_time
    extract: tuple[Extract, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()  # (name, template): e.g. a CSRF token extracted earlier


@dataclass(frozen=True)
class Journey:
    """A journey of the scenario's own: its steps, in order, make one iteration of a user."""

    name: str
    steps: tuple[Step, ...]
    think_time: tuple[float, float] = (1.0, 3.0)  # between steps and between iterations, in seconds
    messages: tuple[str, ...] = ()  # what {message} and {messages} hold on a chat route (() = the default ones)

    def groups(self) -> list[tuple[Step, ...]]:
        """The steps as they run: one step alone, or a run of weighted neighbours of which one is sent."""
        groups: list[tuple[Step, ...]] = []
        for step in self.steps:
            if step.weight is not None and groups and groups[-1][0].weight is not None:
                groups[-1] = (*groups[-1], step)
            else:
                groups.append((step,))
        return groups


@dataclass(frozen=True)
class Search:
    """`[search]` (or `harness run --find-capacity`): open-model steps of rising arrival rate until a
    criterion fails, then bisection between the last step that passed and the first that failed
    (harness.load.capacity runs it, harness.analysis.capacity judges each step)."""

    start_rate: float = 2.0  # journeys per second of the first step
    max_rate: float = 500.0  # never offered more (the answer is then "at least max_rate")
    growth: float = 2.0  # each coarse step offers this many times the last
    resolution: float = 0.05  # bisection stops when the first failure is within 5 % of the last pass
    hold_s: float = 10.0  # each step is held at least this long, from the end of its settling
    max_hold_s: float = 30.0  # and at most this long while its p95 is not yet steady
    settle_s: float = 2.0  # the first seconds of a step are not judged (the queue of the last one drains)
    # criteria: a step fails when any one fails
    p95_ms: float | None = None  # None: each route's latency target (the report's line, 500 ms by default)
    p99_ms: float | None = None
    ttft_p95_ms: float | None = None
    max_error_rate: float = 0.01
    min_achieved: float = 0.95  # achieved arrivals / offered
    max_dropped: float = 0.01  # arrivals dropped (no free user for max_lateness) / offered


@dataclass(frozen=True)
class Breaker:
    """The circuit breaker: abort when more than `error_rate` of the last `window_s` of requests failed."""

    error_rate: float = 0.5  # 1 turns it off
    window_s: float = 10.0
    min_requests: int = 50  # fewer requests in the window are not judged


@dataclass(frozen=True)
class HttpSettings:
    """How long a request may take and how much of a body is read: a hostile target cannot hang a run."""

    timeout_s: float = 30.0  # whole request, connect to last byte (a slow drip ends here)
    connect_timeout_s: float = 5.0
    max_body_bytes: int = 16 * 1024 * 1024  # read no further; the sample is an error


@dataclass(frozen=True)
class Guardrails:
    """Where abuse traffic may go besides loopback, and the hard caps of a run (None: no cap)."""

    allowed_hosts: tuple[str, ...] = ()
    max_users: int = 10_000  # load beyond these is refused at parse time unless raised explicitly
    max_spawn_rate: float = 1000.0
    max_arrival_rate: float = 5000.0
    max_duration_s: float | None = 4 * 3600.0
    max_requests: int | None = None
    max_rps: float | None = None
    max_spend_usd: float | None = None


SPEND_NUMBERS = {  # [spend] field -> default: what `harness cost` assumes about traffic
    "hidden_tokens": 0.0,  # system prompt + retrieved context per request, never seen by the client
    "conversations_per_day": 1000.0,
    "turns_per_conversation": 4.0,
    "input_tokens_per_turn": 150.0,
    "output_tokens_per_turn": 300.0,
    "cached_tokens_per_turn": 0.0,
    "attackers": 1.0,
    "attacker_requests_per_second": 1.0,
    "attacker_input_tokens": 2000.0,
    "attacker_output_tokens": 1000.0,
}


@dataclass(frozen=True)
class SpendSettings:
    model: str = "gpt-4o-mini"
    prices: dict[str, Any] = field(default_factory=dict)  # overrides of the shipped price table
    numbers: dict[str, float] = field(default_factory=lambda: dict(SPEND_NUMBERS))


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path | None
    host: str | None  # None = start the embedded demo API
    target: dict[str, Any]  # settings for the embedded demo API (profile, seed, latency, model)
    endpoints: dict[str, Endpoint]
    auth: Auth
    accounts: Accounts
    webhook_secret_env: str
    load: Load
    journeys: dict[str, float]  # journey (preset or the scenario's own) -> weight
    journey_settings: dict[str, dict[str, Any]]
    default_latency_target_ms: float | None
    limits: tuple[LimitRule, ...] = ()
    block: BlockRule = BlockRule()
    attacks: dict[str, Attack] = field(default_factory=dict)
    attacks_start_after_s: float = 0.0
    probes: Probes = Probes()
    wallet: Wallet | None = None
    search: Search | None = None  # a capacity search instead of the load's stages
    spend: SpendSettings = SpendSettings()
    thresholds: tuple[Threshold, ...] = ()  # the checklist defaults, then the scenario's own
    breaker: Breaker = Breaker()
    guardrails: Guardrails = field(default_factory=lambda: Guardrails())
    http: HttpSettings = HttpSettings()
    webhook_signing: WebhookSigning = WebhookSigning()
    custom_journeys: dict[str, Journey] = field(default_factory=dict)  # [journeys.NAME] with steps
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def limits_by_route(self) -> dict[str, list[LimitRule]]:
        routes: dict[str, list[LimitRule]] = {}
        for rule in self.limits:
            routes.setdefault(rule.route, []).append(rule)
        return routes

    def routes(self, kind: str) -> list[Endpoint]:
        """Every route of a kind, in the order of the API map."""
        return [ep for ep in self.endpoints.values() if ep.kind == kind]

    def route(self, kind: str) -> Endpoint | None:
        """The first route of a kind (the API map's order), or None when the API has none."""
        return next((ep for ep in self.endpoints.values() if ep.kind == kind), None)

    def latency_targets(self) -> dict[str, float | None]:
        """Endpoint -> p95 target in ms. Streamed (LLM) routes have none unless set explicitly."""
        return _latency_targets(self.endpoints, self.default_latency_target_ms)

    def streaming_endpoints(self) -> dict[str, str]:
        """LLM endpoints -> how their replies are read (a stream format, or json)."""
        return {n: ep.stream for n, ep in sorted(self.endpoints.items()) if ep.stream != "none"}


def _latency_targets(endpoints: dict[str, Endpoint], default: float | None) -> dict[str, float | None]:
    targets: dict[str, float | None] = {}
    for name, ep in endpoints.items():
        if ep.latency_target_ms is not None:
            targets[name] = ep.latency_target_ms
        elif ep.stream == "none":
            targets[name] = default
        else:
            targets[name] = None
    return targets
