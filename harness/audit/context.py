"""What every audit check gets: the target, its API map, its accounts, the `[audit]` settings, and a
few helpers to call a route of the map as a given account.

The `[audit]` table of a scenario (all optional):

    [audit]
    matrix = { admin_users = { anonymous = "deny", client = "deny", coach = "deny", admin = "allow" } }
    id_routes = ["conversation"]        # routes that take an object ID: replayed across tenants
                                        # (default: every route with an object id in its path or body)
    id_lists = { user_id = "users" }    # placeholder -> the route listing those ids (default: guessed)
    static_paths = ["/", "/app.js"]     # pages and bundles scanned for secrets; caching checked
    origins = ["https://app.example"]   # origins the API may allow (CORS)
    domain = "example.com"              # the sending domain of its e-mail (SPF, DKIM, DMARC)
    dkim_selectors = ["s1"]
    dns_server = "127.0.0.1:5353"       # default: the system resolver
    chat_route = "chat"                 # the one LLM route probed (default: every route of kind chat)
    https_url = "https://127.0.0.1:8443" # where TLS, HSTS and the HTTP→HTTPS redirect are checked
    system_prompt_file = "prompt.txt"   # the chat's system prompt (relative to the scenario): leak scoring
    system_prompt_canary = "cp_..."     # a marker in that prompt; the demo API's own are known
    expiry_wait_s = 10                  # longest wait for a session token to expire (auth: expired token)
    destructive = false                 # true (or --allow-destructive): DELETE, and writes to objects the
                                        # audit did not create, may be sent (listed in audit.json)
    register_domain = "audit.invalid"   # the domain of the addresses the audit signs up with (kind register)

Safe by default: a request that would delete an object, or write (PUT, PATCH, POST) to an object id
the audit did not create itself, is not sent unless `destructive` is on (`AuditContext.guard`); the
ones sent with it on are listed (`destructive_requests`). Each identity sends only its own credential:
the HTTP clients keep no cookies, so an anonymous request carries none, and a session past its
lifetime (`[auth] lifetime`, or its JWT's `exp`) is renewed before it is used.

Its own accounts: when the map has a route of kind `register`, the checks that write data sign up two
accounts of the audit's own (harness.audit.signup; `signup` keeps them for the whole audit) and write
only into objects those accounts create. Every account it made is listed (`accounts_created`, never
its password), so the user can remove it; the passwords it made up are redacted like the rest.

Without a matrix, every route of the map with `auth = true` must deny anonymous callers, and a route
of kind `admin` (or, with no kind set, named `admin*`) must deny every role but `admin`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from typing import Any

import httpx

from harness.audit.ratelimit_headers import LIMITED_KINDS, MAX_PER_ROUTE, Observed, parse
from harness.protocol.auth import (
    FORM,
    Credential,
    cookie_header,
    credential_headers,
    credential_params,
    read_csrf,
    read_login,
    store_cookies,
    token_request_body,
    with_params,
)
from harness.scenario import Endpoint, Scenario, ScenarioError
from harness.scenario.accounts import Account, Credentials
from harness.scenario.model import OBJECT_ID
from harness.scenario.templates import placeholders, render

__all__ = [
    "AuditSettings",
    "AuditContext",
    "CreatedAccount",
    "Destructive",
    "Signup",
    "parse_audit_settings",
    "ROLES",
]

ROLES = ("anonymous", "client", "coach", "admin")
MAX_BODY = 4 * 1024 * 1024  # the most of one answer an audit check reads
DECISIONS = ("allow", "deny")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")


@dataclass(frozen=True)
class AuditSettings:
    matrix: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # route -> role -> allow | deny
    id_routes: tuple[str, ...] = ()
    id_lists: Mapping[str, str] = field(default_factory=dict)  # id placeholder -> the route that lists them
    static_paths: tuple[str, ...] = ("/",)
    origins: tuple[str, ...] = ()
    domain: str = ""
    dkim_selectors: tuple[str, ...] = ()
    dns_server: str = ""  # "HOST[:PORT]"; "" = the system resolver
    chat_route: str = ""  # "": every route of kind chat
    https_url: str = ""
    system_prompt_file: str = ""
    system_prompt_canary: str = ""
    expiry_wait_s: float = 10.0
    destructive: bool = False  # deletes and overwrites of objects the audit did not create may be sent
    register_domain: str = "audit.invalid"  # where the addresses of the accounts the audit signs up are


def parse_audit_settings(scenario: Scenario) -> AuditSettings:
    """The scenario's `[audit]` table, checked; a bad field is a one-line ScenarioError."""
    raw = scenario.raw.get("audit", {})
    where = f"{scenario.path or '<scenario>'}: audit"
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: expected a table ([audit])")
    known = set(AuditSettings.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ScenarioError(f"{where}.{unknown[0]}: unknown field (expected one of: {', '.join(sorted(known))})")
    matrix: dict[str, dict[str, str]] = {}
    for route, roles in (raw.get("matrix") or {}).items():
        if route not in scenario.endpoints:
            raise ScenarioError(
                f"{where}.matrix.{route}: not an endpoint of the API map "
                f"(expected one of: {', '.join(sorted(scenario.endpoints))})"
            )
        if not isinstance(roles, dict):
            raise ScenarioError(
                f'{where}.matrix.{route}: expected a table like {{anonymous = "deny", admin = "allow"}}'
            )
        for role, decision in roles.items():
            if role not in ROLES or decision not in DECISIONS:
                raise ScenarioError(
                    f"{where}.matrix.{route}.{role}: expected a role in {', '.join(ROLES)} "
                    f'set to "allow" or "deny", got {decision!r}'
                )
        matrix[route] = dict(roles)
    strings = {}
    for key in ("id_routes", "static_paths", "origins", "dkim_selectors"):
        value = raw.get(key, ["/"] if key == "static_paths" else [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ScenarioError(f"{where}.{key}: expected a list of strings")
        strings[key] = tuple(value)
    for route in strings["id_routes"]:
        if route not in scenario.endpoints:
            raise ScenarioError(f"{where}.id_routes: {route!r} is not an endpoint of the API map")
    for key in ("domain", "dns_server", "chat_route", "https_url", "system_prompt_file", "system_prompt_canary"):
        if key in raw and not isinstance(raw[key], str):
            raise ScenarioError(f"{where}.{key}: expected a string")
    if raw.get("chat_route") and raw["chat_route"] not in scenario.endpoints:
        raise ScenarioError(
            f"{where}.chat_route: {raw['chat_route']!r} is not an endpoint of the API map "
            '(leave it out to probe every route of kind "chat")'
        )
    id_lists = raw.get("id_lists", {})
    if not isinstance(id_lists, dict) or not all(isinstance(v, str) for v in id_lists.values()):
        raise ScenarioError(f'{where}.id_lists: expected a table like {{ user_id = "users" }}')
    for name, route in id_lists.items():
        if route not in scenario.endpoints:
            raise ScenarioError(f"{where}.id_lists.{name}: {route!r} is not an endpoint of the API map")
    wait = raw.get("expiry_wait_s", 10.0)
    if not isinstance(wait, (int, float)) or isinstance(wait, bool) or not 0 <= wait <= 3600:
        raise ScenarioError(f"{where}.expiry_wait_s: expected seconds from 0 to 3600, got {wait!r}")
    destructive = raw.get("destructive", False)
    if not isinstance(destructive, bool):
        raise ScenarioError(f"{where}.destructive: expected true or false, got {destructive!r}")
    domain = raw.get("register_domain", "audit.invalid")
    if not isinstance(domain, str) or not _DOMAIN.fullmatch(domain):
        raise ScenarioError(
            f'{where}.register_domain: expected a domain like "audit.invalid" (no @, no scheme), got {domain!r}'
        )
    return AuditSettings(
        matrix=matrix,
        destructive=destructive,
        domain=raw.get("domain", ""),
        dns_server=raw.get("dns_server", ""),
        id_lists=dict(id_lists),
        chat_route=raw.get("chat_route", ""),
        https_url=raw.get("https_url", ""),
        system_prompt_file=raw.get("system_prompt_file", ""),
        system_prompt_canary=raw.get("system_prompt_canary", ""),
        expiry_wait_s=float(wait),
        register_domain=domain,
        **strings,
    )


@dataclass(frozen=True)
class CreatedAccount:
    """An account the audit signed up (audit.json `accounts_created`): what the user needs to find and
    remove it. Never its password."""

    email: str  # "" when the sign-up takes a user name only
    username: str  # "" when it takes none
    route: str  # the route of kind register it was made through
    purpose: str  # why it was made: the audit's owner, its intruder, a bad-body probe that was taken
    id: str = ""  # the id the sign-up answer gave it, when it named one


@dataclass(frozen=True)
class Signup:
    """The audit's own accounts (an owner, then an intruder, each in a tenant of its own), or none and
    why: no route of kind register, or the sign-up or the login with a new account was refused."""

    accounts: tuple[Account, ...] = ()
    note: str = ""  # how they were made, or why the scenario's accounts are used instead


@dataclass
class AuditContext:
    """The target and everything a check needs to talk to it."""

    base_url: str
    scenario: Scenario
    credentials: Credentials
    settings: AuditSettings = field(default_factory=AuditSettings)
    timeout_s: float = 10.0
    _tokens: dict[str, str | None] = field(default_factory=dict, repr=False)  # account key -> token()'s answer
    _sessions: dict[str, Credential] = field(default_factory=dict, repr=False)  # what token() handed out
    _owners: dict[str, Account] = field(default_factory=dict, repr=False)  # a handed-out session -> its account
    created: set[str] = field(default_factory=set)  # object ids the audit created (it may write to them)
    destructive_requests: list[str] = field(default_factory=list)  # "METHOD path" sent with destructive on
    observed: list[Observed] = field(default_factory=list)  # answers of limited routes: their rate-limit headers
    signup: Signup | None = None  # the audit's own accounts, once a check asked for them (harness.audit.signup)
    accounts_created: list[CreatedAccount] = field(default_factory=list)  # every account the audit signed up
    refused_login: httpx.Response | None = field(default=None, repr=False)  # the last login answer that said no
    _made_up: list[str] = field(default_factory=list, repr=False)  # passwords the audit made up: redacted

    # --- the target ---------------------------------------------------------------------------
    def client(self, **kwargs: Any) -> httpx.Client:
        """An HTTP client on the target: bounded in time, no redirects followed (a check looks at them),
        and no cookie jar: a cookie one answer sets must not ride along on the next request, which may be
        an anonymous one or another identity's (each request carries only the credential given to it)."""
        kwargs.setdefault("timeout", self.timeout_s)
        kwargs.setdefault("follow_redirects", False)
        return httpx.Client(base_url=self.base_url, cookies=_NoJar(), **kwargs)

    def expected(self, route: str, role: str) -> str:
        """ "allow" or "deny": the matrix's word, else the default rule (see the module docstring)."""
        if role in self.settings.matrix.get(route, {}):
            return self.settings.matrix[route][role]
        endpoint = self.scenario.endpoints[route]
        if self.admin_only(route):
            return "allow" if role == "admin" else "deny"
        return "deny" if role == "anonymous" and endpoint.auth else "allow"

    def admin_only(self, route: str) -> bool:
        """A route of kind admin; one whose table sets no kind is also one when named admin* (as before kinds)."""
        table = (self.scenario.raw.get("endpoints") or {}).get(route)
        unset = not (isinstance(table, dict) and "kind" in table)
        return self.scenario.endpoints[route].kind == "admin" or (unset and route.startswith("admin"))

    def chat_routes(self) -> list[Endpoint]:
        """The LLM routes the chat checks probe: `[audit] chat_route`, else every route of kind chat."""
        if self.settings.chat_route:
            return [self.scenario.endpoints[self.settings.chat_route]]
        return self.scenario.routes("chat")

    # --- accounts -----------------------------------------------------------------------------
    def accounts(self, role: str) -> list[Account]:
        return [a for a in self.credentials.accounts if a.role == role]

    def account(self, role: str, tenant: str | None = None, exclude_tenant: str | None = None) -> Account | None:
        """An account of `role` (in `tenant`, or not in `exclude_tenant`), if the target has one."""
        for a in self.accounts(role):
            if (tenant is None or a.tenant == tenant) and (exclude_tenant is None or a.tenant != exclude_tenant):
                return a
        return None

    def made_up_password(self) -> str:
        """A new random password for an account of the audit's own (upper, lower, digit and symbol, so
        common password rules take it), remembered only to be redacted from every output."""
        password = secrets.token_urlsafe(18) + "!Aa1"
        self._made_up.append(password)
        return password

    def token(self, account: Account) -> str | None:
        """A session for `account` as `[auth]` says (a login, an OAuth2 token request, its API key), as the
        string `auth_headers` and `call` take: its token or key, else its cookies. A failed login (a 429,
        say) is tried again next time rather than remembered; no auth at all (style none) is None."""
        if not self._tokens.get(account.key):
            credential = self._log_in(account)
            handle = (credential.token or cookie_header(credential.cookies)) if credential is not None else ""
            if credential is not None and handle:
                self._sessions[handle] = credential
                self._owners[handle] = account
            self._tokens[account.key] = handle or None
        return self._tokens[account.key]

    def _fresh(self, handle: str) -> Credential | None:
        """The session behind `handle`, logged in again first when it is past its lifetime (`[auth]
        lifetime`, or a JWT's `exp`); the handle stays the same, so callers holding it keep working."""
        credential = self._sessions.get(handle)
        account = self._owners.get(handle)
        if credential is None or account is None or not _expired(credential, self.scenario.auth.lifetime_s):
            return credential
        renewed = self._log_in(account)
        if renewed is not None:
            self._sessions[handle] = renewed
            credential = renewed
        return credential

    def _log_in(self, account: Account) -> Credential | None:
        """A new session for `account`, or None (refused, no credential in the answer, no answer)."""
        try:
            return self._new_session(account)
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError):
            return None

    def _new_session(self, account: Account) -> Credential | None:
        auth = self.scenario.auth
        if auth.style == "api_key":
            key = self.credentials.api_key(account)
            return Credential(token=key) if key else None
        login = self.scenario.route("login")
        if auth.style == "none" or (auth.oauth2 is None and login is None):
            return None
        with self.client() as client:
            if auth.oauth2 is not None:
                body = token_request_body(auth, account.values(), self.credentials.oauth_client)
                request = client.build_request(
                    "POST", auth.oauth2.token_path, content=body, headers={"content-type": FORM}
                )
                response = self.send(client, request)
            else:
                assert login is not None
                response = self.call(client, login.name, account.values())
            if not 200 <= response.status_code < 400:  # a session cookie may come with a redirect
                self.refused_login = response
                return None
            jar: dict[str, str] = {}
            store_cookies(jar, response.headers.multi_items(), time.time())
            credential, _ = read_login(auth, response.headers.multi_items(), json_of(response), jar, time.monotonic())
            if credential is not None and auth.csrf is not None and auth.csrf.fetch:
                headers = credential_headers(auth, credential, "GET")
                fetched = self.call(client, auth.csrf.fetch, account.values(), headers=headers)
                store_cookies(credential.cookies, fetched.headers.multi_items(), time.time())
                csrf = read_csrf(auth, fetched.headers.multi_items(), json_of(fetched), credential.cookies)
                if not csrf:
                    return None
                credential.csrf = csrf
        return credential

    def auth_headers(self, token: str | None) -> dict[str, str]:
        """The headers of a session `token` handed out (its CSRF token too, whatever the method), or of a
        bare token string (a forged or an expired one) in `[auth] header`."""
        if not token:
            return {}
        credential = self._fresh(token) or Credential(token=token)
        return credential_headers(self.scenario.auth, credential, "POST")

    def auth_params(self, token: str | None) -> dict[str, str]:
        """The query parameters of a session (an API key with `key_in = "query"`)."""
        return credential_params(self.scenario.auth, self._fresh(token) or Credential(token=token)) if token else {}

    def call(
        self,
        client: httpx.Client,
        route: str,
        values: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        path: str | None = None,
        method: str | None = None,
    ) -> httpx.Response:
        """Call a route of the API map: its method, path and body template filled from `values`. A
        request `guard` stops raises Destructive instead (nothing is sent); the ids of an object a
        POST without an object id creates are remembered as the audit's own."""
        ep = self.scenario.endpoints[route]
        values = dict(values or {})
        verb = (method or ep.method).upper()
        body = json_body if json_body is not None else (render(ep.body, values) if ep.body is not None else None)
        target = path or render(ep.path, values, in_path=True)
        refused = self.guard(route, verb, values, target, body)
        if refused:
            raise Destructive(refused)
        all_headers = {**self.auth_headers(token), **(headers or {})}
        request = client.build_request(
            verb,
            with_params(target, self.auth_params(token)),
            headers=all_headers,
            **({"json": body} if body is not None else {}),
        )
        response = self.send(client, request)
        self.observe(route, response.status_code, response.headers)
        if verb == "POST" and not self._ids_sent(route, values, target, body) and 200 <= response.status_code < 300:
            self.created.update(_new_ids(json_of(response), ep.id_field))
        return response

    def observe(self, route: str, status: int, headers: Mapping[str, str]) -> None:
        """Keep what the rate-limit headers of an answer from a chat, login, reset, webhook or admin route
        say (the `rate_limiting` row's evidence), at most MAX_PER_ROUTE answers per route."""
        if self.scenario.endpoints[route].kind in LIMITED_KINDS or self.admin_only(route):
            if sum(o.route == route for o in self.observed) < MAX_PER_ROUTE:
                self.observed.append(Observed(route, status, parse(headers)))

    # --- safety ---------------------------------------------------------------------------------
    def guard(self, route: str, method: str, values: Mapping[str, Any], path: str, body: Any) -> str:
        """Why this request may not be sent ("" when it may): a DELETE, or a write to an object the
        audit did not create, while `[audit] destructive` (--allow-destructive) is off; the audit's
        text into a password or e-mail field, ever. One allowed only by the opt-in is listed."""
        marked = [k for k, v in (body.items() if isinstance(body, dict) else ()) if _personal(k, v)]
        if marked:  # never, opt-in or not: an account's password or address is not the audit's to change
            return f"{route}: not sent: it would write the audit's text into {', '.join(marked)}"
        if not self._foreign(route, method, values, path, body):
            return ""
        if self.settings.destructive:
            self.destructive_requests.append(f"{method} {path.partition('?')[0]}")
            return ""
        ids = ", ".join(i for i in self._ids_sent(route, values, path, body) if i not in self.created)
        what = "delete" if method == "DELETE" else "write to"
        return (
            f"{route}: not sent: {method} would {what} an object the audit did not create"
            + (f" ({ids})" if ids else "")
            + "; give --allow-destructive (or [audit] destructive = true) to allow it"
        )

    def _foreign(self, route: str, method: str, values: Mapping[str, Any], path: str, body: Any) -> bool:
        """Does this request delete, or write to, an object the audit did not create?"""
        if method in ("GET", "HEAD", "OPTIONS") or self.scenario.endpoints[route].kind in (
            "login",
            "logout",
            "register",
        ):
            return False  # a login or logout makes or ends the audit's own session, a sign-up its own account
        ids = self._ids_sent(route, values, path, body)
        if method != "POST":  # a DELETE, PUT or PATCH with no id acts on an existing object (the account's)
            return not ids or any(i not in self.created for i in ids)
        return any(i not in self.created for i in ids)  # a POST with no object id creates one

    def _ids_sent(self, route: str, values: Mapping[str, Any], path: str, body: Any) -> list[str]:
        """The object ids a request names: its route's id placeholders as filled, and any id-named field
        of a JSON body or the query string given instead of the templates (tenant isolation's variants)."""
        ep = self.scenario.endpoints[route]
        names = [n for n in placeholders(ep.path) + placeholders(ep.body) if OBJECT_ID.fullmatch(n)]
        found = [str(values[n]) for n in names if values.get(n) not in (None, "")]
        if isinstance(body, dict):
            found += [str(v) for k, v in body.items() if OBJECT_ID.fullmatch(str(k)) and v not in (None, "")]
        query = path.partition("?")[2]
        for pair in query.split("&") if query else ():
            key, _, value = pair.partition("=")
            if OBJECT_ID.fullmatch(key) and value:
                found.append(value)
        return list(dict.fromkeys(found))

    def send(self, client: httpx.Client, request: httpx.Request) -> httpx.Response:
        """Send and read the whole answer within one deadline and MAX_BODY bytes: httpx's timeouts
        bound each read, so a server that drips its answer would otherwise hold the audit forever.
        A body cut at the limit is kept as far as it came."""
        deadline = time.monotonic() + self.timeout_s
        response = client.send(request, stream=True)
        body = bytearray()
        try:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= MAX_BODY or time.monotonic() > deadline:
                    break
        except httpx.HTTPError:
            pass  # what arrived is what the check judges
        finally:
            response.close()
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=bytes(body[:MAX_BODY]),
            request=request,
            extensions=response.extensions,
        )

    # --- secrets ------------------------------------------------------------------------------
    def redact(self, text: str) -> str:
        """`text` with every secret handed to the harness, and every session's token and cookies, replaced."""
        sessions = [v for c in self._sessions.values() for v in c.secrets()]
        made = [*self.credentials.secrets(), *self._made_up, *sessions, *(t for t in self._tokens.values() if t)]
        for secret in made:
            if secret:
                text = text.replace(secret, "[redacted]")
        return text

    def evidence(self, response: httpx.Response, note: str = "", body_chars: int = 160) -> str:
        """One line: method path -> status, a short redacted body excerpt."""
        request = response.request
        body = re.sub(r"\s+", " ", response.text[:body_chars]) if response.content else ""
        line = f"{request.method} {request.url.raw_path.decode(errors='replace')} -> {response.status_code}"
        return self.redact(" ".join(p for p in (line, note, body and f"body: {body}") if p))


class Destructive(Exception):
    """A request the safe default does not send (AuditContext.guard says why)."""


class _NoJar(CookieJar):
    """A cookie jar that keeps nothing: sessions travel only as each request's own credential."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


AUDIT_TEXT = ("audit-canary-", "launch-harness audit probe", "Remember this note")  # what the audit writes
_PERSONAL = re.compile(r"(?i)pass(word|wd)?|e-?mail|phone")


def _personal(key: Any, value: Any) -> bool:
    """A password, e-mail or phone field about to be given the audit's probe or canary text."""
    return bool(_PERSONAL.search(str(key))) and isinstance(value, str) and any(t in value for t in AUDIT_TEXT)


def _expired(credential: Credential, lifetime_s: float | None) -> bool:
    """A session past `[auth] lifetime`, or whose JWT's `exp` is within a second."""
    if credential.older_than(lifetime_s, time.monotonic()):
        return True
    parts = credential.token.split(".")
    if len(parts) != 3:
        return False
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return False
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return isinstance(exp, (int, float)) and not isinstance(exp, bool) and exp <= time.time() + 1


def _new_ids(data: Any, id_field: str) -> list[str]:
    """The ids a create answer names: its route's `id_field`, and every top-level `*_id`/`id` field."""
    if not isinstance(data, dict):
        return []
    keys = [id_field, *(k for k in data if OBJECT_ID.fullmatch(k))]
    return [str(data[k]) for k in dict.fromkeys(keys) if isinstance(data.get(k), (str, int)) and data[k] != ""]


def json_of(response: httpx.Response | None) -> Any:
    """The response's JSON; None without a response or when its body is not JSON."""
    if response is None:
        return None
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return None


def names(items: Sequence[str]) -> str:
    return ", ".join(items)
