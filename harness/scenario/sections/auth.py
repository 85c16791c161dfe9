"""[auth] and [accounts] (docs/auth.md): how each account gets its session or key (the style, OAuth2,
CSRF), and the accounts themselves with the columns each must fill.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.scenario.model import ACCOUNT_COLUMNS, ACCOUNT_SOURCES, AUTH_STYLES, Accounts, Auth, Csrf, Endpoint, OAuth2
from harness.scenario.sections.reader import COOKIE_NAME, HEADER_NAME, IDENTIFIER, Reader, show
from harness.scenario.templates import placeholders

__all__ = ["parse_auth", "parse_accounts", "account_columns"]

_AUTH_FIELDS = {  # field -> the styles it belongs to
    "style": AUTH_STYLES,
    "token_field": ("bearer", "oauth2"),
    "header": ("bearer", "api_key", "oauth2"),
    "scheme": ("bearer", "api_key", "oauth2"),
    "token_from": ("bearer",),
    "token_header": ("bearer",),
    "session_cookie": ("cookie",),
    "key_in": ("api_key",),
    "query_param": ("api_key",),
    "keys": ("api_key",),
    "oauth2": ("oauth2",),
    "csrf": ("bearer", "cookie", "oauth2"),
    "relogin_on_401": ("bearer", "cookie", "oauth2"),
    "lifetime": ("bearer", "cookie", "oauth2"),
}


def parse_auth(r: Reader, data: dict[str, Any], endpoints: dict[str, Endpoint]) -> Auth:
    """`[auth]`: the style and its fields; a field of another style is refused rather than ignored."""
    t = r.table(data, "auth", "auth")
    r.unknown(t, set(_AUTH_FIELDS), "auth")
    style = r.get(t, "style", "auth.style", str, "bearer")
    if style not in AUTH_STYLES:
        raise r.fail("auth.style", f"expected one of {', '.join(AUTH_STYLES)}, got {show(style)}")
    for key, styles in _AUTH_FIELDS.items():
        if key in t and style not in styles:
            raise r.fail(
                f"auth.{key}",
                f'not used with style = "{style}" (it goes with style = {" or ".join(map(repr, styles))}): remove it',
            )
    header = r.get(t, "header", "auth.header", str, "Authorization")
    if not HEADER_NAME.fullmatch(header):  # else every request fails inside the HTTP client
        raise r.fail("auth.header", f"expected an HTTP header name like Authorization or X-Api-Key, got {show(header)}")
    scheme = r.get(t, "scheme", "auth.scheme", str, "Bearer")
    if not re.fullmatch(r"[!-~]*", scheme):
        raise r.fail(
            "auth.scheme", f'expected a word like Bearer or Token (or "" for the bare token), got {show(scheme)}'
        )
    token_from = r.choice(t, "token_from", "auth.token_from", ("body", "header"))
    token_header = r.get(t, "token_header", "auth.token_header", str, "")
    if token_from == "header" and not HEADER_NAME.fullmatch(token_header):
        raise r.fail(
            "auth.token_header",
            f'token_from = "header" needs the response header that holds the token, like X-Auth-Token, got '
            f"{show(token_header)}",
        )
    session_cookie = r.get(t, "session_cookie", "auth.session_cookie", str, "")
    if session_cookie and not COOKIE_NAME.fullmatch(session_cookie):
        raise r.fail("auth.session_cookie", f"expected a cookie name like sid, got {show(session_cookie)}")
    query_param = r.get(t, "query_param", "auth.query_param", str, "api_key")
    if not re.fullmatch(r"[A-Za-z0-9_.~-]+", query_param):
        raise r.fail("auth.query_param", f"expected a query parameter name like api_key, got {show(query_param)}")
    keys = r.table(t, "keys", "auth.keys")
    for role, env in keys.items():
        if not isinstance(env, str) or not IDENTIFIER.fullmatch(env):
            raise r.fail(
                f"auth.keys.{role}",
                f"expected the name of the environment variable that holds the key, like CLIENT_API_KEY, got "
                f"{show(env)} (never the key itself in the file)",
            )
    if style == "oauth2" and "oauth2" not in t:
        raise r.fail("auth.oauth2", 'style = "oauth2" needs [auth.oauth2] with grant, token_path and client_id_env')
    return Auth(
        token_field=r.get(t, "token_field", "auth.token_field", str, "access_token"),
        header=header,
        scheme=scheme,
        style=style,
        token_from=token_from,
        token_header=token_header,
        session_cookie=session_cookie,
        key_in=r.choice(t, "key_in", "auth.key_in", ("header", "query")),
        query_param=query_param,
        keys=dict(keys),
        oauth2=_parse_oauth2(r, t) if style == "oauth2" else None,
        csrf=_parse_csrf(r, t, endpoints) if "csrf" in t else None,
        relogin_on_401=r.get(t, "relogin_on_401", "auth.relogin_on_401", bool, True),
        lifetime_s=r.duration(t["lifetime"], "auth.lifetime") if "lifetime" in t else None,
    )


def _parse_oauth2(r: Reader, t: dict[str, Any]) -> OAuth2:
    o = r.table(t, "oauth2", "auth.oauth2")
    r.unknown(o, {"grant", "token_path", "client_id_env", "client_secret_env", "scope"}, "auth.oauth2")
    grant = r.choice(o, "grant", "auth.oauth2.grant", ("client_credentials", "password"))
    path = r.get(o, "token_path", "auth.oauth2.token_path", str, "/oauth/token")
    if not re.fullmatch(r"/(?!/)[!-~]*", path):  # "//host/..." would leave the target
        raise r.fail(
            "auth.oauth2.token_path",
            f"expected a path on the target like /oauth/token, got {show(path)}: the token request only ever "
            "goes to the target host (the guardrail); an identity provider elsewhere cannot be used",
        )
    envs = {}
    for key in ("client_id_env", "client_secret_env"):
        envs[key] = r.get(o, key, f"auth.oauth2.{key}", str, "")
        if envs[key] and not IDENTIFIER.fullmatch(envs[key]):
            raise r.fail(
                f"auth.oauth2.{key}",
                f"expected an environment variable name like OAUTH_CLIENT_ID, got {show(envs[key])}",
            )
        if grant == "client_credentials" and not envs[key]:
            raise r.fail(
                f"auth.oauth2.{key}",
                'required with grant = "client_credentials": the name of the environment variable that holds it',
            )
    return OAuth2(grant=grant, token_path=path, scope=r.get(o, "scope", "auth.oauth2.scope", str, ""), **envs)


def _parse_csrf(r: Reader, t: dict[str, Any], endpoints: dict[str, Endpoint]) -> Csrf:
    c = r.table(t, "csrf", "auth.csrf")
    r.unknown(c, {"from", "name", "header", "fetch"}, "auth.csrf")
    source = r.choice(c, "from", "auth.csrf.from", ("cookie", "header", "body"))
    name = r.get(c, "name", "auth.csrf.name", str, "")
    if not name or (source != "body" and not HEADER_NAME.fullmatch(name)):
        what = {"cookie": "the cookie's name", "header": "the response header's name", "body": "a dot path"}[source]
        raise r.fail("auth.csrf.name", f'required with from = "{source}": {what}, like csrftoken, got {show(name)}')
    header = r.get(c, "header", "auth.csrf.header", str, "X-CSRF-Token")
    if not HEADER_NAME.fullmatch(header):
        raise r.fail("auth.csrf.header", f"expected an HTTP header name like X-CSRF-Token, got {show(header)}")
    fetch = r.get(c, "fetch", "auth.csrf.fetch", str, "")
    if fetch and fetch not in endpoints:
        raise r.fail(
            "auth.csrf.fetch", f"expected an endpoint of the API map whose answer holds the token, got {show(fetch)}"
        )
    return Csrf(source=source, name=name, header=header, fetch=fetch)


def parse_accounts(
    r: Reader, data: dict[str, Any], base_dir: Path | None, auth: Auth, endpoints: dict[str, Endpoint]
) -> Accounts:
    t = r.table(data, "accounts", "accounts")
    r.unknown(t, {"source", "file", "inline", "roles", "columns"}, "accounts")
    source = r.get(t, "source", "accounts.source", str, "keys" if auth.keys else "demo")
    if source not in ACCOUNT_SOURCES:
        raise r.fail("accounts.source", f"expected one of {', '.join(ACCOUNT_SOURCES)}, got {source!r}")
    if source == "keys" and not auth.keys:
        raise r.fail("accounts.source", '"keys" makes one account per role of [auth.keys]: add [auth.keys]')
    roles = r.get(t, "roles", "accounts.roles", list, ["client"])
    if not roles or not all(isinstance(x, str) for x in roles):
        raise r.fail("accounts.roles", f"expected a non-empty list of role names, got {roles!r}")
    file = None
    if source == "file":
        name = r.get(t, "file", "accounts.file", str, "")
        if not name:
            raise r.fail("accounts.file", 'required when accounts.source = "file" (a CSV with email,password[,role])')
        file = (base_dir / name) if base_dir and not Path(name).is_absolute() else Path(name)
    columns = r.get(t, "columns", "accounts.columns", list, [])
    if columns and source != "file":
        raise r.fail("accounts.columns", 'only with accounts.source = "file" (the columns of a file without header)')
    if not all(isinstance(c, str) and c.isidentifier() for c in columns) or len(set(columns)) < len(columns):
        raise r.fail(
            "accounts.columns",
            f'expected distinct column names like ["email", "password", "role"], got {show(columns)}',
        )
    inline = r.get(t, "inline", "accounts.inline", list, [])
    if source == "inline":
        if not inline:
            raise r.fail("accounts.inline", "expected a list of {email = ..., password = ...} tables")
        for i, acc in enumerate(inline):
            if not (isinstance(acc, dict) and all(isinstance(k, str) and k.isidentifier() for k in acc)):
                raise r.fail(f"accounts.inline[{i}]", "expected a table of columns like {email = ..., password = ...}")
            for key in acc:
                r.get(acc, key, f"accounts.inline[{i}].{key}", str, "")
    needs = _account_needs(auth, endpoints)
    for i, acc in enumerate(inline if source == "inline" else []):
        for column, why in needs:
            if not any(acc.get(name) for name in column.split("|")):
                wanted = " or ".join(column.split("|"))
                raise r.fail(f"accounts.inline[{i}]", f"no {wanted} ({why}): give every account a {wanted}")
    return Accounts(
        source=source, file=file, inline=tuple(inline), roles=tuple(roles), columns=tuple(columns), needs=needs
    )


def _account_needs(auth: Auth, endpoints: dict[str, Endpoint]) -> tuple[tuple[str, str], ...]:
    """(column, what uses it) every account must fill: a name and a password to log in with, the login route's
    account placeholders, the key of the api_key style, the password grant's user name (or e-mail) and
    password. "a|b": either will do."""
    needs: list[tuple[str, str]] = []
    login = next((ep for ep in endpoints.values() if ep.kind == "login"), None)
    if auth.uses_login_route:
        why = f'auth.style = "{auth.style}" logs each account in'
        needs += [("email|username", why), ("password", why)]
    if auth.uses_login_route and login is not None:
        for part, template in (("path", login.path), ("body", login.body)):
            needs += [
                (found, f"endpoints.{login.name}.{part} uses {{{found}}}")
                for found in placeholders(template)
                if found in ACCOUNT_COLUMNS
            ]
    if auth.style == "api_key" and not auth.keys:
        needs.append(("api_key", 'auth.style = "api_key" sends each account\'s key (or add [auth.keys])'))
    if auth.oauth2 is not None and auth.oauth2.grant == "password":
        needs += [
            ("username|email", 'auth.oauth2.grant = "password" sends it as username'),
            ("password", 'auth.oauth2.grant = "password" sends it'),
        ]
    return tuple(needs)


def account_columns(accounts: Accounts) -> set[str] | None:
    """The columns the accounts will have, for the placeholder check; None until an accounts file with a
    header row is read (`harness.scenario.accounts` checks the rest there)."""
    if accounts.source == "file":
        return set(accounts.columns) or None
    if accounts.source == "inline":
        return {key for row in accounts.inline for key in row}
    if accounts.source == "keys":
        return {"role", "api_key"}
    return {"email", "password", "role", "tenant", "api_key"}  # the demo API's
