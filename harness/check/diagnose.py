"""What an answer says about the API map: what worked, or the problem and its likely fix.

Each rule is a small pure function of a recorded `Answer` and the part of the scenario it judges; it
names a fix only from evidence in the answer (a cookie it set, a token at another path, the header a
refusal names). Rules are tried in order and the first that applies speaks; `Finding.fix` is what to
change in the scenario, written as the line to put there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from harness.check.answers import JWT, Answer, dig, looks_like_token
from harness.protocol.auth import csrf_missing
from harness.protocol.streams import ACCEPT, not_a_stream
from harness.scenario import Auth, Endpoint

__all__ = [
    "Finding",
    "worked",
    "problem",
    "excerpt",
    "transport",
    "login",
    "csrf_fetch",
    "route",
    "listing",
    "chat",
    "webhook",
    "WEBHOOK_HINTS",
    "hinted_scheme",
]

MAX_EXCERPT = 120  # characters of an answer's body quoted in a note


@dataclass(frozen=True)
class Finding:
    """One row's verdict: `ok`, what was seen (`note`), and for what did not work, the likely `fix`."""

    ok: bool
    note: str
    fix: str = ""


def worked(note: str) -> Finding:
    return Finding(True, note)


def problem(note: str, fix: str) -> Finding:
    return Finding(False, note, fix)


Rule = Callable[..., "Finding | None"]


def _first(rules: tuple[Rule, ...], *args: Any) -> Finding | None:
    return next((f for rule in rules if (f := rule(*args)) is not None), None)


# --- evidence ------------------------------------------------------------------------------------


def excerpt(answer: Answer, limit: int = MAX_EXCERPT) -> str:
    """The start of the body on one line, every token-looking string masked (the caller redacts the
    secrets it knows besides)."""
    text = re.sub(r"\s+", " ", answer.text[: limit * 4]).strip()
    text = JWT.sub("[token]", text)
    return text[:limit] + ("…" if len(text) > limit else "")


_SESSIONISH = re.compile(r"sess|sid|auth|token|jwt|login|connect", re.I)
_NOT_SESSION = re.compile(r"csrf|xsrf|lang|locale|consent|theme|_ga|_gid|awsalb|cf_|__cf", re.I)


def _token_paths(data: Any, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, str]]:
    """(dot path, value) of every string in nested objects that could be a session token."""
    if not isinstance(data, dict) or depth > 4:
        return
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _token_paths(value, path + ".", depth + 1)
        elif looks_like_token(value) and not _NOT_SESSION.search(key):
            yield path, value


def _best_token_path(answer: Answer) -> str | None:
    """Where the login answer's body most likely keeps the token: a JWT first, then a field named
    like a token, then any long opaque string."""
    found = list(_token_paths(answer.json()))
    for good in (
        lambda p, v: bool(JWT.fullmatch(v)),
        lambda p, v: bool(re.search(r"token|jwt|session|access", p.split(".")[-1], re.I)),
    ):
        best = next((p for p, v in found if good(p, v)), None)
        if best:
            return best
    return None


def _session_cookie(answer: Answer) -> str | None:
    """The cookie of a login answer that most likely holds the session."""
    names = [n for n in answer.cookies() if not _NOT_SESSION.search(n)]
    return next((n for n in names if _SESSIONISH.search(n)), names[0] if names else None)


_TOKEN_HEADER = re.compile(r"authorization|token|jwt|session|auth", re.I)


def _token_header(answer: Answer) -> str | None:
    """A response header that carries a token (Authorization: Bearer …, X-Auth-Token: …)."""
    for name, value in answer.headers:
        if name.lower() in ("set-cookie", "www-authenticate") or not _TOKEN_HEADER.search(name):
            continue
        if _NOT_SESSION.search(name):  # an anti-forgery token is not the session
            continue
        if looks_like_token(value.split(" ", 1)[-1].strip()):
            return name
    return None


def _fields(data: Any) -> str:
    return ", ".join(list(data)[:8]) if isinstance(data, dict) and data else "none"


# --- any route -----------------------------------------------------------------------------------


def transport(answer: Answer, endpoint: Endpoint, blocked: bool) -> Finding | None:
    """What any route's answer says whatever its kind: none, blocked, a server error, a wrong path or
    method, a redirect. None when the answer is for the kind's own rules."""
    return _first(
        (_no_answer, _blocked, _server_error, _not_found, _wrong_method, _redirected), answer, endpoint, blocked
    )


def _no_answer(answer: Answer, endpoint: Endpoint, blocked: bool) -> Finding | None:
    if answer.status:
        return None
    return problem(
        f"no answer ({answer.error or 'no response'})",
        "is the host right? pass --host URL (or set [target] host) to an API that is up",
    )


def _blocked(answer: Answer, endpoint: Endpoint, blocked: bool) -> Finding | None:
    if not blocked:
        return None
    wait = answer.header("retry-after")
    return problem(
        f"blocked by a rate limit ({answer.status}{', Retry-After ' + wait if wait else ''}): nothing learned",
        "run `harness check` again once the limit has reset",
    )


def _server_error(answer: Answer, endpoint: Endpoint, blocked: bool) -> Finding | None:
    if answer.status < 500:
        return None
    return problem(
        f"server error {answer.status}: {excerpt(answer) or 'empty body'}",
        f"see the API's logs; the request was the map's endpoints.{endpoint.name} as written",
    )


def _not_found(answer: Answer, endpoint: Endpoint, blocked: bool) -> Finding | None:
    if answer.status != 404:
        return None
    return problem(
        f"{endpoint.method} {endpoint.path} answered 404: no such route, or no such object",
        f"check endpoints.{endpoint.name}.path (and the path prefix in --host)",
    )


def _wrong_method(answer: Answer, endpoint: Endpoint, blocked: bool) -> Finding | None:
    if answer.status != 405:
        return None
    allow = answer.header("allow")
    fix = (
        f"the route takes {allow}: set endpoints.{endpoint.name}.method (and its kind, if it changes data)"
        if allow
        else f"check endpoints.{endpoint.name}.method and path"
    )
    return problem(f"{endpoint.method} {endpoint.path} answered 405 (method not allowed)", fix)


def _redirected(answer: Answer, endpoint: Endpoint, blocked: bool) -> Finding | None:
    if not 300 <= answer.status < 400:
        return None
    where = answer.header("location") or "nowhere"
    if re.search(r"login|signin|sign-in|auth", where, re.I):
        return problem(
            f"redirected to {where}: the API did not see a session",
            'the route expects a browser session: check [auth] (a cookie session wants style = "cookie")',
        )
    return problem(
        f"redirected ({answer.status}) to {where}",
        f"point endpoints.{endpoint.name}.path (or --host) at where it redirects",
    )


# --- login ---------------------------------------------------------------------------------------


def login(answer: Answer, auth: Auth, endpoint: Endpoint, role: str, sent_fields: tuple[str, ...], why: str) -> Finding:
    """A login (or OAuth2 token request) as `role`: `why` is what `harness.protocol.auth.read_login` found
    missing ("" when the answer gave the credential where [auth] says)."""
    if not answer.ok and not (300 <= answer.status < 400 and answer.cookies()):
        return _login_refused(answer, endpoint, role, sent_fields)
    if not why:
        return worked(f"logged in as {role}: {_credential_found(answer, auth)}")
    if auth.csrf is not None and why == f"login: {csrf_missing(auth)}":
        missing = f"login answered {answer.status} but {csrf_missing(auth)}"
        return _csrf_elsewhere(answer, missing) or problem(missing, "check [auth.csrf] from and name")
    missing = f"login answered {answer.status} but {_credential_missing(auth)}"
    rules = _LOGIN_RULES[auth.style if auth.token_from != "header" else "header"]
    return _first(rules, answer, missing) or problem(
        f"{missing}; the answer's fields: {_fields(answer.json())}, cookies: {', '.join(answer.cookies()) or 'none'}",
        "point [auth] at where the login answer keeps the session (docs/auth.md)",
    )


def _credential_found(answer: Answer, auth: Auth) -> str:
    if auth.style == "cookie":
        return f'session cookie "{auth.session_cookie or ", ".join(answer.cookies())}"'
    if auth.token_from == "header":
        return f"token in the {auth.token_header} header"
    return f'token at auth.token_field "{auth.token_field}"' + (" and a CSRF token" if auth.csrf else "")


def _credential_missing(auth: Auth) -> str:
    if auth.style == "cookie":
        return f'no session cookie "{auth.session_cookie}"' if auth.session_cookie else "no cookie set"
    if auth.token_from == "header":
        return f'no token in the response header "{auth.token_header}"'
    return f'no token at auth.token_field "{auth.token_field}"'


def _token_elsewhere(answer: Answer, missing: str) -> Finding | None:
    path = _best_token_path(answer)
    if path is None:
        return None
    return problem(f"{missing}; the body has a token-like string at {path}", f'set [auth] token_field = "{path}"')


def _token_in_header(answer: Answer, missing: str) -> Finding | None:
    header = _token_header(answer)
    if header is None:
        return None
    return problem(
        f"{missing}; the answer's {header} header carries a token",
        f'set [auth] token_from = "header" (token_header = "{header}")',
    )


def _cookie_session(answer: Answer, missing: str) -> Finding | None:
    cookie = _session_cookie(answer)
    if cookie is None:
        return None
    return problem(
        f'{missing}; the answer set a cookie "{cookie}"',
        f'try [auth] style = "cookie" (session_cookie = "{cookie}")',
    )


def _token_in_body(answer: Answer, missing: str) -> Finding | None:
    """token_from = "header", but the token came in the body."""
    path = _best_token_path(answer)
    if path is None:
        return None
    return problem(
        f"{missing}; the body has a token-like string at {path}",
        f'set [auth] token_from = "body" (token_field = "{path}")',
    )


def _token_in_other_header(answer: Answer, missing: str) -> Finding | None:
    header = _token_header(answer)
    if header is None:
        return None
    return problem(f"{missing}; the answer's {header} header carries a token", f'set [auth] token_header = "{header}"')


def _other_cookie(answer: Answer, missing: str) -> Finding | None:
    """A cookie session whose cookie has another name than `session_cookie`."""
    cookie = _session_cookie(answer)
    if cookie is None:
        return None
    return problem(f'{missing}; the answer set a cookie "{cookie}"', f'set [auth] session_cookie = "{cookie}"')


def _bearer_in_body(answer: Answer, missing: str) -> Finding | None:
    """A cookie style whose login answers with a token instead."""
    path = _best_token_path(answer)
    if path is None:
        return None
    return problem(
        f"{missing}; the body has a token-like string at {path}",
        f'try [auth] style = "bearer" (token_field = "{path}")',
    )


def _bearer_in_header(answer: Answer, missing: str) -> Finding | None:
    header = _token_header(answer)
    if header is None:
        return None
    return problem(
        f"{missing}; the answer's {header} header carries a token",
        f'try [auth] style = "bearer", token_from = "header" (token_header = "{header}")',
    )


_LOGIN_RULES: dict[str, tuple[Rule, ...]] = {  # [auth] style (or a bearer token from a header) -> rules
    "bearer": (_token_elsewhere, _token_in_header, _cookie_session),
    "oauth2": (_token_elsewhere,),
    "header": (_token_in_other_header, _token_in_body, _cookie_session),
    "cookie": (_other_cookie, _bearer_in_body, _bearer_in_header),
}

_CSRF_NAME = re.compile(r"csrf|xsrf", re.I)


def _csrf_elsewhere(answer: Answer, missing: str) -> Finding | None:
    """Where the answer does carry an anti-forgery token: a cookie, a header or a body field named so."""
    data = answer.json()
    found = [("cookie", n) for n in answer.cookies() if _CSRF_NAME.search(n)]
    found += [("header", k) for k, _ in answer.headers if _CSRF_NAME.search(k)]
    found += [("body", k) for k in (data if isinstance(data, dict) else {}) if _CSRF_NAME.search(k)]
    if not found:
        return None
    source, name = found[0]
    return problem(f"{missing}; the answer has {source} {name}", f'set [auth.csrf] from = "{source}", name = "{name}"')


def csrf_fetch(answer: Answer, auth: Auth, route: str) -> Finding:
    """The route that hands out the CSRF token after a login, when it did not."""
    missing = f"{route} (auth.csrf.fetch) answered {answer.status} but {csrf_missing(auth)}"
    return _csrf_elsewhere(answer, missing) or problem(missing, f"check [auth.csrf] fetch, from and name ({route})")


def _login_refused(answer: Answer, endpoint: Endpoint, role: str, sent_fields: tuple[str, ...]) -> Finding:
    sent = ", ".join(sent_fields) or "no body"
    if answer.status in (400, 422):
        wanted = sorted(set(_named_fields(answer.json())) - set(sent_fields))
        fix = (
            f"the API asks for {', '.join(wanted)}: name them in endpoints.{endpoint.name}.body"
            if wanted
            else f"check the field names of endpoints.{endpoint.name}.body"
        )
        return problem(f"login body refused ({answer.status}, sent {sent}): {excerpt(answer)}", fix)
    if answer.status in (401, 403):
        return problem(
            f"the login refused the {role} account ({answer.status}): {excerpt(answer) or 'empty body'}",
            f"check the {role} row of the accounts, and the field names of endpoints.{endpoint.name}.body "
            f"(sent {sent})",
        )
    return problem(
        f"login answered {answer.status}: {excerpt(answer) or 'empty body'}",
        f"check endpoints.{endpoint.name} (method {endpoint.method}, path {endpoint.path})",
    )


def _named_fields(error: Any) -> list[str]:
    """Field names a validation error points at: FastAPI's `loc`, `field`, `param`, `path`."""
    names: list[str] = []
    stack = [error]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            loc = value.get("loc")
            if isinstance(loc, list) and loc and isinstance(loc[-1], str):
                names.append(loc[-1])
            names += [value[k] for k in ("field", "param") if isinstance(value.get(k), str)]
            stack.extend(v for v in value.values() if isinstance(v, (dict, list)))
    return [n for n in names if re.fullmatch(r"[A-Za-z_][\w.-]{0,40}", n) and n != "body"]


# --- routes that need a session ------------------------------------------------------------------


def route(answer: Answer, auth: Auth, endpoint: Endpoint, role: str, has_session: bool) -> Finding:
    """A read, list or chat route's status: 2xx worked (the kind's own rules look further), a refusal
    names what the API wanted. `has_session`: a credential went with the request."""
    if answer.ok:
        return worked(f"{answer.status} {answer.content_type or 'no content type'}")
    if answer.status in (401, 403):
        rules = (_no_api_key, _wants_api_key, _key_elsewhere, _wants_csrf, _wants_other_scheme, _no_auth)
        return _first(rules, answer, auth, role, has_session) or _refused(answer, auth, endpoint, role)
    if answer.status in (400, 422):
        return problem(
            f"request refused ({answer.status}): {excerpt(answer) or 'empty body'}",
            f"check endpoints.{endpoint.name}.body and its placeholders",
        )
    return problem(f"answered {answer.status}: {excerpt(answer) or 'empty body'}", f"check endpoints.{endpoint.name}")


_API_KEY = re.compile(r"api[ _-]?key|x-api-key|apikey", re.I)


def _no_api_key(answer: Answer, auth: Auth, role: str, has_session: bool) -> Finding | None:
    """style = "api_key", and no key for the role: the refusal is the missing key."""
    if auth.style != "api_key" or has_session:
        return None
    return problem(
        f"refused ({answer.status}) without an API key: the scenario has none for role {role}",
        f'no API key for role {role}: add an api_key column or [auth.keys] {role} = "ENV"',
    )


def _wants_api_key(answer: Answer, auth: Auth, role: str, has_session: bool) -> Finding | None:
    if auth.style == "api_key" or not _API_KEY.search(answer.text + " " + answer.header("www-authenticate")):
        return None
    return problem(
        f"refused ({answer.status}); the answer asks for an API key: {excerpt(answer)}",
        'try [auth] style = "api_key" with a key per account (an api_key column) or per role ([auth.keys])',
    )


def _key_elsewhere(answer: Answer, auth: Auth, role: str, has_session: bool) -> Finding | None:
    """An API key refused by a server that names the header it reads it from."""
    named = re.search(r"\bx-api-key\b", answer.text, re.I)
    if auth.style != "api_key" or not named or (auth.key_in == "header" and auth.header.lower() == "x-api-key"):
        return None
    return problem(
        f"the API key was refused ({answer.status}); the answer names the X-Api-Key header: {excerpt(answer)}",
        '[auth] key_in = "header", header = "X-Api-Key", scheme = ""',
    )


def _wants_csrf(answer: Answer, auth: Auth, role: str, has_session: bool) -> Finding | None:
    if answer.status != 403 or not _CSRF_NAME.search(answer.text):
        return None
    fix = (
        "add [auth.csrf]: where the login answer gives the token (from, name) and the header that echoes it"
        if auth.csrf is None
        else f"check [auth.csrf] (the token was sent in {auth.csrf.header})"
    )
    return problem(f"refused (403) for want of a CSRF token: {excerpt(answer)}", fix)


def _wants_other_scheme(answer: Answer, auth: Auth, role: str, has_session: bool) -> Finding | None:
    challenge = answer.header("www-authenticate")
    wanted = challenge.split(" ", 1)[0].split(",", 1)[0].strip()
    sends_scheme = auth.style in ("bearer", "oauth2") or (auth.style == "api_key" and auth.key_in == "header")
    if not sends_scheme or not wanted or wanted.lower() == auth.scheme.lower():
        return None
    return problem(
        f"refused ({answer.status}); WWW-Authenticate: {wanted} (the map sends {auth.scheme or 'a bare token'})",
        f'set [auth] scheme = "{wanted}"',
    )


def _no_auth(answer: Answer, auth: Auth, role: str, has_session: bool) -> Finding | None:
    if auth.style != "none":
        return None
    return problem(
        f'refused ({answer.status}): the route wants credentials and [auth] style is "none"',
        "set [auth] style to how the API authenticates (bearer, cookie, api_key, oauth2)",
    )


def _refused(answer: Answer, auth: Auth, endpoint: Endpoint, role: str) -> Finding:
    if answer.status == 403:
        return problem(
            f"forbidden (403) for role {role}: {excerpt(answer) or 'empty body'}",
            f"the route may need another role; or set endpoints.{endpoint.name}.auth / [auth] to what it expects",
        )
    challenge = answer.header("www-authenticate")
    what, fix = {
        "cookie": ("the session cookie was not accepted", "check [auth] session_cookie and the login route"),
        "api_key": ("the API key was refused", "check the key, and [auth] key_in, header and scheme"),
    }.get(auth.style, ("the session was not accepted", "check [auth] header and scheme (how the token is sent)"))
    return problem(
        f"{what} (401{', WWW-Authenticate: ' + challenge if challenge else ''}): {excerpt(answer) or 'empty body'}",
        fix,
    )


# --- lists ---------------------------------------------------------------------------------------


def listing(answer: Answer, endpoint: Endpoint) -> tuple[Finding, list[str]]:
    """A list route's 2xx: the items at `list_field` and their ids at `id_field`, or where they are."""
    data = answer.json()
    items = dig(data, endpoint.list_field) if endpoint.list_field else data
    where = f'list_field "{endpoint.list_field}"' if endpoint.list_field else "the top level"
    if not isinstance(items, list):
        found = _list_paths(data)
        fix = (
            f'set endpoints.{endpoint.name}.list_field = "{found[0]}"'
            if found
            else f"the answer holds no list: check endpoints.{endpoint.name} (kind list?)"
        )
        return problem(f"no list at {where}; the answer's fields: {_fields(data)}", fix), []
    ids = [str(i[endpoint.id_field]) for i in items if isinstance(i, dict) and i.get(endpoint.id_field) is not None]
    if items and not ids:
        keys = [k for k in (items[0] if isinstance(items[0], dict) else {}) if re.search(r"id$", k, re.I)]
        fix = f'set endpoints.{endpoint.name}.id_field = "{keys[0]}"' if keys else "set id_field to the items' id"
        return problem(f'{len(items)} items, none with an id at id_field "{endpoint.id_field}"', fix), []
    return worked(f"{len(items)} items at {where}"), ids


def _list_paths(data: Any, prefix: str = "", depth: int = 0) -> list[str]:
    """Dot paths of the lists in nested objects, shallow first."""
    if not isinstance(data, dict) or depth > 3:
        return []
    here = [f"{prefix}{k}" for k, v in data.items() if isinstance(v, list)]
    deeper = [p for k, v in data.items() for p in _list_paths(v, f"{prefix}{k}.", depth + 1)]
    return here + deeper


# --- chat ----------------------------------------------------------------------------------------


def chat(answer: Answer, endpoint: Endpoint, chunks: int, stream_error: str) -> Finding:
    """A chat route's 2xx against its `stream` format: `chunks` content pieces read, `stream_error` why
    the reader stopped ("" when whole). A stream read as another format names the format it looks like."""
    fmt = endpoint.stream
    looks = _stream_format(answer)
    if fmt in ACCEPT:
        not_stream = not_a_stream(fmt, answer.content_type)
        if not_stream:
            return problem(
                f'stream = "{fmt}" but the answer is not one ({not_stream.removeprefix("bad response: ")})',
                f'set endpoints.{endpoint.name}.stream = "json" (or ask for a stream in its body, e.g. stream = true)',
            )
        if stream_error or not chunks:
            first = next((line for line in answer.text.splitlines() if line.strip()), "an empty body")
            fix = (
                f'the events look like {looks}\'s: set endpoints.{endpoint.name}.stream = "{looks}"'
                if looks and looks != fmt
                else f"set endpoints.{endpoint.name}.stream to the API's stream format (docs/streams.md)"
            )
            return problem(f'read as "{fmt}": {stream_error or "no content"}; it begins: {first[:80]}', fix)
        return worked(f"answered: {chunks} content chunks ({fmt})")
    if looks:
        return problem(
            f'the answer is a stream ({answer.content_type}), read as stream = "{fmt}"',
            f'set endpoints.{endpoint.name}.stream = "{looks}"',
        )
    return worked(f"answered: {answer.status} {answer.content_type or 'no content type'}")


# the wire format a streamed answer looks like: (a marker in its text, the format), most specific first
_STREAM_MARKERS = (
    ("response.output_text.delta", "openai-responses"),
    ("content_block_delta", "anthropic"),
    ('"candidates"', "gemini"),
    ('"type":"text-delta"', "vercel-ai"),
    ('"choices"', "sse-openai"),
)


def _stream_format(answer: Answer) -> str | None:
    """The stream format of an answer by its content type and first events, None when it is no stream."""
    kind = answer.content_type
    if kind == "application/x-ndjson":
        return "ndjson"
    if kind != "text/event-stream" and not answer.header("x-vercel-ai-data-stream"):
        return None
    text = answer.text[:4096].replace(" ", "")
    if answer.header("x-vercel-ai-data-stream") or re.search(r"(?m)^0:\"", text):
        return "vercel-ai"
    return next((fmt for marker, fmt in _STREAM_MARKERS if marker.replace(" ", "") in text), "sse")


# --- webhooks ------------------------------------------------------------------------------------

# a header name (or its word in an error text) -> the signature scheme that sends it
WEBHOOK_HINTS: dict[str, str] = {
    "stripe-signature": "stripe",
    "x-hub-signature": "github",
    "x-slack-signature": "slack",
    "x-slack-request-timestamp": "slack",
    "webhook-signature": "standard",
    "webhook-id": "standard",
    "svix-signature": "standard",
}


def webhook(
    answer: Answer, endpoint: Endpoint, scheme: str, secret_env: str, accepted_as: str | None = None
) -> Finding:
    """One signed test delivery: accepted, or refused; `accepted_as` names another scheme whose
    signature of the same test event the route accepted (the strongest evidence), else the scheme the
    answer's text or headers name."""
    if answer.ok:
        return worked(f"accepted a signed test delivery ({scheme})")
    if answer.status not in (400, 401, 403):
        return problem(f"delivery answered {answer.status}: {excerpt(answer)}", f"check endpoints.{endpoint.name}")
    refused = f"the {scheme}-signed test delivery was refused ({answer.status}): {excerpt(answer) or 'empty body'}"
    if accepted_as:
        return problem(
            refused, f'the same test event signed as {accepted_as} was accepted: set [webhook] scheme = "{accepted_as}"'
        )
    hinted = hinted_scheme(answer)
    if hinted and hinted != scheme:
        return problem(refused, f'the answer names the {hinted} scheme: set [webhook] scheme = "{hinted}"')
    return problem(refused, f'check [webhook] secret_env ({secret_env}: the signing secret) and scheme ("{scheme}")')


def hinted_scheme(answer: Answer) -> str | None:
    """The scheme a refusal's text or headers name (`missing webhook-signature header`)."""
    text = (answer.text + " " + " ".join(f"{k} {v}" for k, v in answer.headers)).lower().replace("_", "-")
    return next((scheme for word, scheme in WEBHOOK_HINTS.items() if word in text), None)
