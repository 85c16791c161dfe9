"""Credentials on the wire: what a login answer yields (a token, session cookies, a CSRF token) and what
each authenticated request then carries.

Pure functions of the scenario's `[auth]` (any object with its fields, such as harness.scenario.Auth)
and plain data: status, headers as (name, value) pairs with repeats, the JSON body. So the load client
(geventhttpclient, inside Locust) and the audit (httpx) read and send credentials alike. The styles are
described in docs/auth.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlencode

__all__ = [
    "UNSAFE_METHODS",
    "FORM",
    "AuthSettings",
    "Credential",
    "value_at",
    "header_values",
    "parse_set_cookie",
    "store_cookies",
    "cookie_header",
    "read_login",
    "read_csrf",
    "csrf_missing",
    "credential_headers",
    "credential_params",
    "with_params",
    "token_request_body",
]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})  # what a CSRF token is echoed on
FORM = "application/x-www-form-urlencoded"  # an OAuth2 token request's body (RFC 6749, 4.1.3)


class CsrfSettings(Protocol):
    @property
    def source(self) -> str: ...  # cookie | header | body
    @property
    def name(self) -> str: ...
    @property
    def header(self) -> str: ...
    @property
    def fetch(self) -> str: ...


class OAuth2Settings(Protocol):
    @property
    def grant(self) -> str: ...
    @property
    def scope(self) -> str: ...


class AuthSettings(Protocol):
    """The fields of `[auth]` read here (harness.scenario.Auth has them all)."""

    @property
    def style(self) -> str: ...
    @property
    def token_field(self) -> str: ...
    @property
    def header(self) -> str: ...
    @property
    def scheme(self) -> str: ...
    @property
    def token_from(self) -> str: ...
    @property
    def token_header(self) -> str: ...
    @property
    def session_cookie(self) -> str: ...
    @property
    def key_in(self) -> str: ...
    @property
    def query_param(self) -> str: ...
    @property
    def csrf(self) -> CsrfSettings | None: ...
    @property
    def oauth2(self) -> OAuth2Settings | None: ...


@dataclass
class Credential:
    """One identity's session: its token (or API key), its own cookie jar, its CSRF token.

    Mutable on purpose: a server may set or roll cookies on any answer, and the jar follows."""

    token: str = ""  # a bearer or OAuth2 access token, or the API key
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""
    obtained_at: float = 0.0  # time.monotonic() at the login

    def secrets(self) -> list[str]:
        """The values to keep out of anything written (cookie names are not secret, their values are)."""
        return [v for v in (self.token, self.csrf, *self.cookies.values()) if v]

    def older_than(self, lifetime_s: float | None, now: float) -> bool:
        """Whether the session has reached `lifetime_s` ([auth] lifetime) and should be renewed."""
        return lifetime_s is not None and now - self.obtained_at >= lifetime_s


def value_at(data: Any, path: str) -> str | None:
    """The non-empty string at a dot path of a JSON body ("access_token", "data.session.jwt"), else None."""
    for key in path.split(".") if path else ():
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data if isinstance(data, str) and data else None


def header_values(headers: Iterable[tuple[str, str]], name: str) -> list[str]:
    """Every value of a header, in order (Set-Cookie comes once per cookie)."""
    name = name.lower()
    return [value for key, value in headers if key.lower() == name]


def parse_set_cookie(value: str, now: float) -> tuple[str, str | None] | None:
    """(name, value) of one Set-Cookie line, value None when it deletes the cookie (Max-Age <= 0 or an
    Expires in the past, RFC 6265 5.3); None for a line without a name. Domain and Path are not kept:
    every cookie goes back to the one target a run talks to."""
    pair, *attributes = value.split(";")
    name, eq, cookie = pair.partition("=")
    name = name.strip()
    if not eq or not name:
        return None
    expires: float | None = None
    for attribute in attributes:
        key, _, arg = attribute.partition("=")
        key, arg = key.strip().lower(), arg.strip()
        if key == "max-age":
            try:
                return (name, None) if int(arg) <= 0 else (name, cookie.strip())  # Max-Age wins over Expires
            except ValueError:
                continue
        if key == "expires":
            try:
                expires = parsedate_to_datetime(arg).timestamp()
            except (TypeError, ValueError, IndexError, OverflowError):
                continue
    if expires is not None and math.isfinite(expires) and expires <= now:
        return name, None
    return name, cookie.strip()


def store_cookies(jar: dict[str, str], headers: Iterable[tuple[str, str]], now: float) -> None:
    """Apply an answer's Set-Cookie lines to `jar`, in order."""
    for line in header_values(headers, "set-cookie"):
        parsed = parse_set_cookie(line, now)
        if parsed is None:
            continue
        name, value = parsed
        if value is None:
            jar.pop(name, None)
        else:
            jar[name] = value


def cookie_header(jar: Mapping[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in jar.items())


def read_login(
    auth: AuthSettings, headers: Iterable[tuple[str, str]], body: Any, cookies: Mapping[str, str], now: float
) -> tuple[Credential | None, str]:
    """(the credential a 2xx login or token answer gave, "") or (None, why not, naming what was looked at).

    `cookies` are those the answer (and any redirect on its way) set; `body` is its parsed JSON (or None).
    A CSRF token read from a `fetch` route comes later (read_csrf)."""
    headers = list(headers)
    token = ""
    if auth.style == "cookie":
        if auth.session_cookie and auth.session_cookie not in cookies:
            seen = f" (it set: {', '.join(sorted(cookies))})" if cookies else ""
            return None, f'login: no session cookie "{auth.session_cookie}" (auth.session_cookie) in the answer{seen}'
        if not cookies:
            return None, 'login: the answer set no cookie (auth.style = "cookie")'
    elif auth.style == "bearer" and auth.token_from == "header":
        found = next(iter(header_values(headers, auth.token_header)), "").strip()
        token = _without_scheme(found, auth.scheme)
        if not token:
            return None, f'login: no token in the response header "{auth.token_header}" (auth.token_header)'
    elif auth.style in ("bearer", "oauth2"):
        token = value_at(body, auth.token_field) or ""
        if not token:
            hint = f' (it set cookies: {", ".join(sorted(cookies))}; try auth.style = "cookie")' if cookies else ""
            return None, f'login: no token at auth.token_field "{auth.token_field}"{hint}'
    credential = Credential(token=token, cookies=dict(cookies), obtained_at=now)
    if auth.csrf is not None and not auth.csrf.fetch:
        csrf = read_csrf(auth, headers, body, cookies)
        if csrf is None:
            return None, f"login: {csrf_missing(auth)}"
        credential.csrf = csrf
    return credential, ""


def read_csrf(
    auth: AuthSettings, headers: Iterable[tuple[str, str]], body: Any, cookies: Mapping[str, str]
) -> str | None:
    """The CSRF token of an answer (the login's, or its `fetch` route's), where `[auth.csrf]` says it is."""
    csrf = auth.csrf
    if csrf is None:
        return None
    if csrf.source == "cookie":
        return cookies.get(csrf.name) or None
    if csrf.source == "header":
        return next(iter(header_values(headers, csrf.name)), "").strip() or None
    return value_at(body, csrf.name)


def csrf_missing(auth: AuthSettings) -> str:
    """What was looked for and not found, for a failed sample's error."""
    csrf = auth.csrf
    assert csrf is not None
    where = {"cookie": "in the cookie", "header": "in the response header", "body": "at the body path"}[csrf.source]
    return f'no CSRF token {where} "{csrf.name}" (auth.csrf)'


def _without_scheme(value: str, scheme: str) -> str:
    """A token from a header that may carry its scheme ("Bearer abc" -> "abc")."""
    word, _, rest = value.partition(" ")
    return rest.strip() if rest and scheme and word.lower() == scheme.lower() else value


def credential_headers(
    auth: AuthSettings, credential: Credential | None, method: str, *, cookies: bool = True
) -> dict[str, str]:
    """The headers an authenticated request carries: the token (or API key) in `auth.header`, the cookie
    jar (unless the HTTP client sends it itself: `cookies=False`), and the CSRF token on unsafe methods."""
    if credential is None:
        return {}
    headers: dict[str, str] = {}
    if credential.token and not (auth.style == "api_key" and auth.key_in == "query"):
        headers[auth.header] = f"{auth.scheme} {credential.token}" if auth.scheme else credential.token
    if cookies and credential.cookies:
        headers["Cookie"] = cookie_header(credential.cookies)
    csrf = auth.csrf
    if csrf is not None and method.upper() in UNSAFE_METHODS:
        # a cookie-borne token follows the jar: the server may roll it on any answer
        value = (credential.cookies.get(csrf.name) if csrf.source == "cookie" else None) or credential.csrf
        if value:
            headers[csrf.header] = value
    return headers


def credential_params(auth: AuthSettings, credential: Credential | None) -> dict[str, str]:
    """Query parameters an authenticated request carries: the API key with `key_in = "query"`."""
    if credential is None or not credential.token or not (auth.style == "api_key" and auth.key_in == "query"):
        return {}
    return {auth.query_param: credential.token}


def with_params(path: str, params: Mapping[str, str]) -> str:
    """`path` with `params` added to its query string."""
    if not params:
        return path
    return f"{path}{'&' if '?' in path else '?'}{urlencode(params)}"


def token_request_body(auth: AuthSettings, account: Mapping[str, str], client: tuple[str, str]) -> bytes:
    """An OAuth2 token request (RFC 6749 4.3 and 4.4), form-encoded, the client's id and secret in the body
    (client_secret_post); the password grant sends the account's user name, else its e-mail."""
    oauth2 = auth.oauth2
    assert oauth2 is not None, "token_request_body is for auth.style = oauth2"
    form = {"grant_type": oauth2.grant}
    if oauth2.grant == "password":
        form["username"] = account.get("username") or account.get("email") or ""
        form["password"] = account.get("password", "")
    client_id, secret = client
    form.update({k: v for k, v in (("client_id", client_id), ("client_secret", secret), ("scope", oauth2.scope)) if v})
    return urlencode(form).encode()
