"""`harness init --har FILE`: a scenario drafted from a browser recording (HAR 1.2).

A recording shows what a person really did: which routes, in which order, with which pauses, and how
the session travelled (a token from the login answer in `Authorization`, a cookie it set, a static
key). The draft keeps the requests to one host (the most frequent, or `--host-filter`), drops static
assets, turns ids in paths into {NAME_id} placeholders and replays the order as a TOML journey. What
it never keeps is a secret: passwords, tokens, cookies and keys become placeholders or REDACTED, by
field name and by value, wherever they occur (tests/scenario/importers/test_har.py checks each).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from harness.errors import UsageError
from harness.scenario.importers.draft import Auth, Draft, Journey, Route, Step, literal
from harness.scenario.importers.guess import (
    REDACTED,
    body_template,
    field_placeholder,
    guess_kind,
    id_placeholder,
    is_secret_field,
    route_name,
    unique_name,
    words,
)
from harness.scenario.templates import placeholders

__all__ = ["draft_from_har", "read_har", "Exchange"]

_STATIC_TYPES: tuple[str, ...] = ("text/css", "text/html", "javascript", "ecmascript", "image/", "font/", "audio/")
_STATIC_TYPES += ("video/", "application/font", "application/wasm", "application/manifest+json", "text/cache-manifest")
_STATIC_EXTENSIONS = {".js", ".mjs", ".css", ".map", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".webp"}
_STATIC_EXTENSIONS |= {".avif", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp4", ".webm", ".mp3", ".html", ".htm"}
_STATIC_RESOURCES = {"document", "stylesheet", "script", "image", "font", "media", "manifest", "texttrack"}
_ID_SEGMENT = re.compile(
    r"\d+"  # 42
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"  # a UUID
    r"|[0-9a-fA-F]{16,}"  # a hex digest or object id
    r"|[A-Za-z]{1,12}[_-](?=[A-Za-z0-9]*\d)[A-Za-z0-9]{6,}"  # conv_3fa2b1c4d5e6, usr-01hf8k2...
    r"|(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{12,}"  # a ULID, a base62 key
    r"|(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}"  # a URL-safe token (a reset link's)
)
_KEY_HEADER = re.compile(r"(?:^|[-_])(?:api[-_]?key|apikey|key|token|auth[-_]token|access[-_]token)$", re.IGNORECASE)
_SENSITIVE_HEADER = re.compile(r"authorization|cookie|key|token|secret|auth|session|csrf|xsrf", re.IGNORECASE)
_SESSION_COOKIE = re.compile(r"sess|sid|auth|token|jwt|login", re.IGNORECASE)
_CSRF = re.compile(r"csrf|xsrf", re.IGNORECASE)
_TOKEN_SHAPES = re.compile(
    r"eyJ[\w-]{6,}\.[\w-]{6,}\.[\w-]*"  # a JWT
    r"|\b(?:sk|pk|rk|ak)[-_][A-Za-z0-9_-]{16,}"  # a provider's key
    r"|\b(?:Bearer|Basic|Token)\s+\S{8,}",
    re.IGNORECASE,
)
_UNSAFE_STEP = {
    "write": "creates or changes data",
    "delete": "deletes data",
    "admin": "an admin route",
    "reset": "starts a password reset (sends e-mail)",
    "webhook": "a provider's delivery",
    "lead": "fills a public form",
    "other": "not a read",
}
_WHOLE_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_FILLED = {"email", "password", "username", "api_key", "message", "messages"}  # what every call has


def _fail(path: Path, message: str) -> UsageError:
    return UsageError(f"{path}: {message}")


@dataclass(frozen=True)
class Exchange:
    """One recorded request and its answer, as the draft needs them (header names lower-cased)."""

    method: str
    scheme: str
    host: str
    path: str
    query: tuple[tuple[str, str], ...]
    request_headers: tuple[tuple[str, str], ...]
    body_mime: str
    body_text: str
    form: tuple[tuple[str, str], ...]
    status: int
    response_headers: tuple[tuple[str, str], ...]
    response_mime: str
    response_text: str
    started_s: float
    duration_s: float
    resource_type: str = ""

    def header(self, name: str) -> str:
        return next((v for n, v in self.request_headers if n == name), "")

    def answer_headers(self, name: str) -> list[str]:
        return [v for n, v in self.response_headers if n == name]

    @property
    def static(self) -> bool:
        mime = self.response_mime.lower()
        extension = "." + self.path.rsplit("/", 1)[-1].rpartition(".")[2].lower() if "." in self.path else ""
        return (
            self.method == "OPTIONS"  # a CORS preflight: the browser's, not the app's
            or self.resource_type.lower() in _STATIC_RESOURCES
            or any(t in mime for t in _STATIC_TYPES)
            or extension in _STATIC_EXTENSIONS
        )

    def request_json(self) -> Any:
        if self.form and not self.body_text:
            return dict(self.form)
        if "form-urlencoded" in self.body_mime.lower():
            return dict(parse_qsl(self.body_text, keep_blank_values=True))
        return _json(self.body_text)

    def answer_json(self) -> Any:
        return (
            _json(self.response_text)
            if "json" in self.response_mime.lower() or self.response_text[:1] in "[{"
            else None
        )


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except (ValueError, RecursionError):
        return None


# --- reading ----------------------------------------------------------------------------------------------


def read_har(path: Path) -> list[Exchange]:
    """Every http(s) exchange of a HAR file, in the order they started; a one-line UsageError when
    the file is not a HAR."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _fail(path, "file not found (pass a browser recording saved as HAR)") from None
    except OSError as exc:
        raise _fail(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise _fail(path, "not a HAR file: not UTF-8 text (a HAR is JSON)") from None
    except json.JSONDecodeError as exc:
        raise _fail(path, f"not a HAR file: not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise _fail(path, "not a HAR file: JSON nested too deeply") from None
    log = data.get("log") if isinstance(data, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise _fail(path, "not a HAR file: expected a JSON object with log.entries (save the network log as HAR)")
    exchanges = []
    for i, entry in enumerate(entries):
        exchange = _exchange(entry, f"log.entries[{i}]", path)
        if exchange is not None:
            exchanges.append(exchange)
    return sorted(exchanges, key=lambda e: e.started_s)


def _exchange(entry: Any, where: str, path: Path) -> Exchange | None:
    request = entry.get("request") if isinstance(entry, dict) else None
    response = entry.get("response") if isinstance(entry, dict) else None
    if not isinstance(request, dict) or not isinstance(request.get("url"), str):
        raise _fail(path, f"{where}.request: expected a table with method and url (a HAR 1.2 entry)")
    url = urlsplit(request["url"])
    if url.scheme not in ("http", "https") or not url.netloc:
        return None  # data:, blob:, ws:, chrome-extension: never the API's requests
    response = response if isinstance(response, dict) else {}
    try:
        started = datetime.fromisoformat(str(entry.get("startedDateTime", ""))).timestamp()
    except ValueError:
        raise _fail(path, f"{where}.startedDateTime: expected an ISO 8601 time like 2024-05-01T10:00:00.000Z") from None
    total = entry.get("time", 0)
    post: dict[str, Any] = request["postData"] if isinstance(request.get("postData"), dict) else {}
    content: dict[str, Any] = response["content"] if isinstance(response.get("content"), dict) else {}
    status = response.get("status")
    return Exchange(
        method=str(request.get("method", "GET")).upper(),
        scheme=url.scheme,
        host=url.netloc.lower(),
        path=url.path or "/",
        query=tuple(parse_qsl(url.query, keep_blank_values=True)),
        request_headers=_with_cookies(_pairs(request.get("headers")), request.get("cookies"), "cookie"),
        body_mime=str(post.get("mimeType", "")),
        body_text=str(post.get("text", "") or ""),
        form=_pairs(post.get("params"), lower=False),
        status=status if isinstance(status, int) else 0,
        response_headers=_with_cookies(_pairs(response.get("headers")), response.get("cookies"), "set-cookie"),
        response_mime=str(content.get("mimeType", "")),
        response_text=_content_text(content),
        started_s=started,
        duration_s=max(float(total), 0.0) / 1000 if isinstance(total, (int, float)) else 0.0,
        resource_type=str(entry.get("_resourceType", "")),
    )


def _pairs(items: Any, lower: bool = True) -> tuple[tuple[str, str], ...]:
    if not isinstance(items, list):
        return ()
    return tuple(
        (str(i["name"]).lower() if lower else str(i["name"]), str(i.get("value", "")))
        for i in items
        if isinstance(i, dict) and "name" in i
    )


def _with_cookies(headers: tuple[tuple[str, str], ...], cookies: Any, name: str) -> tuple[tuple[str, str], ...]:
    """Headers with the entry's `cookies` array as Cookie / Set-Cookie headers, when the headers have
    none: some exporters keep cookies only there."""
    pairs = [f"{c['name']}={c.get('value', '')}" for c in cookies or [] if isinstance(c, dict) and "name" in c]
    if not pairs or any(n == name for n, _ in headers) or not isinstance(cookies, list):
        return headers
    if name == "cookie":
        return (*headers, (name, "; ".join(pairs)))
    return (*headers, *((name, pair) for pair in pairs))


def _content_text(content: dict[str, Any]) -> str:
    text = content.get("text")
    if not isinstance(text, str):
        return ""
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return ""
    return text


# --- secrets -------------------------------------------------------------------------------------------


def _strings(value: Any, where: str = "", depth: int = 0) -> Iterator[tuple[str, str, str]]:
    """(dot path, field name, text) of every string field in a JSON value, bounded in depth."""
    if depth > 12:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            at = f"{where}.{key}" if where else str(key)
            if isinstance(item, str):
                yield at, str(key), item
            else:
                yield from _strings(item, at, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, where, depth + 1)


def _secrets(exchanges: list[Exchange]) -> set[str]:
    """Every credential the recording shows: sensitive headers both ways and their parts, cookies,
    and secret fields of bodies, queries and answers. None of these may reach the draft."""
    found: set[str] = set()
    for ex in exchanges:
        for name, value in ex.request_headers + ex.response_headers:
            if _SENSITIVE_HEADER.search(name):
                found.update(_header_secrets(name, value))
        for name, value in (*ex.query, *ex.form):
            if is_secret_field(name):
                found.add(value)
        for data in (ex.request_json(), ex.answer_json()):
            found.update(text for _, field, text in _strings(data) if is_secret_field(field))
    return {s for s in found if len(s) >= 4}


def _header_secrets(name: str, value: str) -> list[str]:
    """The secret parts of a sensitive header: a cookie's value (not `Path` or `HttpOnly`), the token
    after an Authorization scheme, else the whole value."""
    if name == "set-cookie":
        return [value.split(";")[0].partition("=")[2]]
    if name == "cookie":
        return [pair.partition("=")[2] for pair in value.split(";")]
    if name in ("authorization", "proxy-authorization"):
        return [value, value.partition(" ")[2]]
    return [value]


@dataclass(frozen=True)
class _Scrubber:
    """What must not reach the draft: the recording's secrets, and its account's e-mail and username,
    which stand for each account's as {email} and {username}."""

    secrets: frozenset[str]
    identity: dict[str, str]  # recorded value -> its placeholder

    def hides(self, text: str) -> bool:
        return bool(_TOKEN_SHAPES.search(text)) or any(secret in text for secret in self.secrets)

    def value(self, value: Any, ids: dict[str, str]) -> Any:
        """A drafted value with each string that holds a secret REDACTED, and a recorded identity or
        path id made the placeholder that stands for it."""
        if isinstance(value, dict):
            return {k: self.value(v, ids) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, ids) for v in value]
        if not isinstance(value, str) or _WHOLE_PLACEHOLDER.fullmatch(value):
            return value  # a placeholder the draft put there (`literal` made the recording's own braces inert)
        if value in self.identity or value in ids:
            return self.identity.get(value) or ids[value]
        return REDACTED if self.hides(value) else value


def _scrubber(exchanges: list[Exchange]) -> _Scrubber:
    identity: dict[str, str] = {}
    for ex in exchanges:
        for _, field, text in _strings(ex.request_json()):
            placeholder = field_placeholder(field, "login")
            if placeholder in ("{email}", "{username}") and len(text) >= 4:
                identity.setdefault(text, placeholder)
    return _Scrubber(frozenset(_secrets(exchanges) | set(identity)), identity)


# --- auth ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _AuthGuess:
    auth: Auth
    login: int | None = None  # index of the exchange whose answer started the session
    carries: tuple[str, str] = ("", "")  # ("header"|"cookie"|"query", name): how a request shows it has a session


def _issued(exchanges: list[Exchange], token: str, before: int) -> tuple[int, str, str] | None:
    """(index, "body"|"header", where) of the first answer before `before` that handed out `token`."""
    for i, ex in enumerate(exchanges[:before]):
        for dot, _, text in _strings(ex.answer_json()):
            if text == token:
                return i, "body", dot
        for name, value in ex.response_headers:
            if name != "set-cookie" and token in (value, value.partition(" ")[2]):
                return i, "header", name
    return None


def _guess_auth(exchanges: list[Exchange]) -> _AuthGuess:
    """The session as the recording shows it: Authorization, a key header, a cookie, a key in the query."""
    for i, ex in enumerate(exchanges):
        value = ex.header("authorization")
        if value:
            scheme, _, token = value.partition(" ") if " " in value else ("", "", value)
            return _header_auth(exchanges, i, "Authorization", scheme, token)
    for i, ex in enumerate(exchanges):
        name = next((n for n, _ in ex.request_headers if _KEY_HEADER.search(n) and not _CSRF.search(n)), "")
        if name:
            return _header_auth(exchanges, i, _header_case(name), "", ex.header(name))
    cookie = _cookie_auth(exchanges)
    if cookie is not None:
        return cookie
    for ex in exchanges:
        name = next((n for n, _ in ex.query if is_secret_field(n)), "")
        if name:
            fields = (("key_in", "query", ""), ("query_param", name, ""))
            why = f"requests send a key in the query parameter {name}"
            return _AuthGuess(Auth("api_key", why, fields, (), ("api_key",), (_KEY_NOTE,)), None, ("query", name))
    return _AuthGuess(Auth("none", "the recorded requests carry no token, key or session cookie"))


_KEY_NOTE = "each account's key is the api_key column of the accounts file"


def _header_case(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def _header_auth(exchanges: list[Exchange], at: int, header: str, scheme: str, token: str) -> _AuthGuess:
    sent = f"{header}: {scheme + ' ' if scheme else ''}<token>"
    issued = _issued(exchanges, token, at)
    carries = ("header", header.lower())
    fields: tuple[tuple[str, Any, str], ...]
    if issued is None:
        why = f"requests send {sent} that no recorded answer handed out: a static key per account"
        fields = (("key_in", "header", ""), ("header", header, ""), ("scheme", scheme, ""))
        return _AuthGuess(Auth("api_key", why, fields, (), ("api_key",), (_KEY_NOTE,)), None, carries)
    index, place, where = issued
    login = exchanges[index]
    origin = f"the answer of {login.method} {login.path}"
    if place == "body":
        fields = (("token_from", "body", ""), ("token_field", where, f"where {origin} held the token"))
    else:
        fields = (("token_from", "header", ""), ("token_header", _header_case(where), f"the header of {origin}"))
    fields += (("header", header, ""), ("scheme", scheme, ""))
    return _AuthGuess(Auth("bearer", f"requests send {sent} from {origin}", fields), index, carries)


def _cookie_auth(exchanges: list[Exchange]) -> _AuthGuess | None:
    """A cookie an answer set and later requests sent back: the session (csrf cookies aside)."""
    candidates: list[tuple[int, str]] = []
    for i, ex in enumerate(exchanges):
        for value in ex.answer_headers("set-cookie"):
            name, _, cookie = value.split(";")[0].strip().partition("=")
            if (
                name
                and not _CSRF.search(name)
                and any(f"{name}={cookie}" in later.header("cookie").replace(" ", "") for later in exchanges[i + 1 :])
            ):
                candidates.append((i, name))
    if not candidates:
        return None
    index, name = next((c for c in candidates if _SESSION_COOKIE.search(c[1])), candidates[0])
    login = exchanges[index]
    why = f"the answer of {login.method} {login.path} set the cookie {name}, and later requests sent it back"
    if login.method == "POST":
        return _AuthGuess(Auth("cookie", why, (("session_cookie", name, ""),)), index, ("cookie", name))
    note = f"the cookie came from {login.method} {login.path}, not from a sign-in: add the login route that sets it"
    return _AuthGuess(Auth("cookie", why, (("session_cookie", name, ""),), notes=(note,)), None, ("cookie", name))


def _has_session(ex: Exchange, carries: tuple[str, str]) -> bool:
    where, name = carries
    if where == "header":
        return bool(ex.header(name))
    if where == "cookie":
        return f"{name}=" in ex.header("cookie")
    if where == "query":
        return any(n == name for n, _ in ex.query)
    return False


# --- routes and the journey ----------------------------------------------------------------------------


def _generalised(ex: Exchange, ids: dict[str, str], scrub: _Scrubber) -> str:
    """The path with each id segment a {NAME_id} placeholder (recorded in `ids`: value -> placeholder),
    the recorded e-mail or username its placeholder, and a segment that holds a secret REDACTED."""
    parts, previous = [], ""
    for segment in ex.path.strip("/").split("/"):
        if segment in scrub.identity:
            parts.append(scrub.identity[segment])
        elif segment and _ID_SEGMENT.fullmatch(segment):
            placeholder = id_placeholder("id", previous)
            ids.setdefault(segment, placeholder)
            parts.append(placeholder)
        elif scrub.hides(segment):
            parts.append(REDACTED)
        else:
            parts.append(quote(literal(segment), safe="-._~!$&'()*+,;=:@%"))
            previous = segment or previous
    return "/" + "/".join(parts)


def _query(ex: Exchange, scrub: _Scrubber, carries: tuple[str, str]) -> str:
    kept = [
        (name, value)
        for name, value in ex.query
        if not is_secret_field(name) and not (carries[0] == "query" and name == carries[1])
    ]
    pairs = [(name, scrub.value(literal(value), {})) for name, value in kept]
    return "&".join(f"{quote(n, safe='')}={quote(str(v), safe='')}" for n, v in pairs)


def _list_shape(answer: Any) -> tuple[str, str] | None:
    """(list_field, id_field) when an answer is a list of objects ("" = a top-level array)."""
    if isinstance(answer, list):
        items, field = answer, ""
    elif isinstance(answer, dict):
        lists = [(k, v) for k, v in answer.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
        if not lists:
            return None
        field, items = lists[0]
    else:
        return None
    if not items or not isinstance(items[0], dict):
        return None if items else (field, "id")
    keys = list(items[0])
    id_field = "id" if "id" in keys else next((k for k in keys if words(k) and words(k)[-1] in ("id", "uuid")), "id")
    return field, id_field


def _route(
    ex: Exchange,
    name: str,
    path: str,
    login: bool,
    guess: _AuthGuess,
    scrub: _Scrubber,
    ids: dict[str, str],
) -> Route:
    answer = ex.answer_json() if 200 <= ex.status < 300 else None  # an error's {"errors": [...]} lists nothing
    lists = _list_shape(answer) if ex.method in ("GET", "HEAD") else None
    streams = "text/event-stream" in ex.response_mime.lower()
    kind, why = guess_kind(ex.method, path, lists=lists is not None)
    if login:
        kind, why = "login", f"{ex.method} {path}: its answer started the session the later requests sent"
    elif streams and ex.method == "POST" and kind != "chat":
        kind, why = "chat", f"{ex.method} {path}: answers text/event-stream, as a model's reply"
    notes: list[str] = []
    body = None
    data = ex.request_json() if ex.method not in ("GET", "HEAD") else None
    if data is not None:
        body, notes = body_template(literal(data), kind)
        body = scrub.value(body, ids)
        if "json" not in ex.body_mime.lower():
            notes.append(f"recorded as {ex.body_mime or 'no content type'}: the harness sends the body as JSON")
        notes.insert(0, "body from the recording, secrets replaced: check the literal values")
    elif ex.body_text:
        notes.append(f"the recorded body ({ex.body_mime or 'no content type'}) is not JSON: draft one")
    stream, stream_why = "none", ""
    if streams:
        openai = "chat.completion.chunk" in ex.response_text
        stream = "sse-openai" if openai else "sse"
        stream_why = "the answer was OpenAI chat-completion chunks" if openai else "the answer was text/event-stream"
    elif kind == "chat":
        stream, stream_why = "json", "an LLM route that answered JSON"
    return Route(
        name=name,
        method=ex.method,
        path=path,
        kind=kind,
        why=why,
        body=body,
        auth=_has_session(ex, guess.carries) and kind != "login",
        stream=stream,
        stream_why=stream_why,
        list_field=lists[0] if lists and kind == "list" else None,
        id_field=lists[1] if lists and kind == "list" else "id",
        notes=tuple(notes),
    )


def _step(route: Route, think_s: float | None) -> Step:
    """A step of the recorded journey: routes that change data, and routes that need a value of an
    earlier answer, are there but commented out for a person to enable."""
    needs = [p for p in placeholders([route.path, route.body]) if p not in _FILLED]
    if route.kind in _UNSAFE_STEP and not (route.kind == "other" and route.method in ("GET", "HEAD")):
        return Step(route.name, think_s, f"{_UNSAFE_STEP[route.kind]}: enable it on purpose")
    if needs:
        wanted = ", ".join("{" + p + "}" for p in needs)
        return Step(route.name, think_s, f"needs {wanted} from an earlier answer: extract it in a step before")
    return Step(route.name, think_s)


def _hosts(exchanges: list[Exchange], host_filter: str | None, path: Path) -> tuple[str, list[Exchange], list[str]]:
    api = [ex for ex in exchanges if not ex.static]
    counts = Counter(ex.host for ex in api)
    if not counts:
        raise _fail(path, "no API request in the recording (only static assets, or no http(s) entry): nothing to draft")
    seen = ", ".join(f"{h} ({n})" for h, n in counts.most_common(5))
    if host_filter:
        wanted = host_filter.lower().strip().removeprefix("https://").removeprefix("http://").rstrip("/")
        host = next((h for h in counts if h == wanted or h.split(":")[0] == wanted), "")
        if not host:
            raise _fail(path, f"--host-filter {host_filter}: no API request to that host (the recording has: {seen})")
    else:
        host = counts.most_common(1)[0][0]
    others = [f"{n} requests to {h}: pass --host-filter {h} to draft those" for h, n in counts.items() if h != host]
    return host, [ex for ex in api if ex.host == host], others


def draft_from_har(path: Path, host_filter: str | None = None, command: str = "") -> Draft:
    """The draft for a HAR recording, or a one-line UsageError naming what is wrong with it."""
    exchanges = read_har(path)
    host, kept, left_out = _hosts(exchanges, host_filter, path)
    static = sum(1 for ex in exchanges if ex.static)
    if static:
        left_out.append(f"{static} static assets and preflights (pages, scripts, styles, images, fonts)")
    guess = _guess_auth(kept)
    scrub = _scrubber(exchanges)
    routes: dict[tuple[str, str], Route] = {}
    order: list[Route] = []
    taken: set[str] = set()
    ids: dict[str, str] = {}
    for i, ex in enumerate(kept):
        path_only = _generalised(ex, ids, scrub)
        key = (ex.method, path_only)
        if key not in routes:
            name = unique_name(route_name(f"{ex.method} {path_only}"), taken)
            query = _query(ex, scrub, guess.carries)
            full = path_only + (f"?{query}" if query else "")
            routes[key] = _route(ex, name, full, i == guess.login, guess, scrub, ids)
        order.append(routes[key])
    steps = []
    for i, route in enumerate(order):
        if i + 1 < len(order):
            gap = kept[i + 1].started_s - (kept[i].started_s + kept[i].duration_s)
            think = round(gap, 1) if gap >= 0.05 else None
        else:
            think = None
        steps.append(_step(route, think))
    scheme = kept[0].scheme
    journey = Journey(
        "recorded", "the recorded requests in order, think times from the recording's pauses", tuple(steps)
    )
    notes = []
    if not any(not s.skip for s in steps):
        notes.append("the journey `recorded` has no step that runs as drafted: enable one, or write your own")
    if guess.auth.style == "api_key":
        notes.append("put each account's key in the api_key column of the accounts file")
    slug = re.sub(r"[^a-z0-9]+", "-", host.split(":")[0].lower()).strip("-") or "draft"
    return Draft(
        name=slug,
        description=f"{len(kept)} recorded requests to {host}",
        command=command or f"harness init --har {path.name}",
        auth=guess.auth,
        routes=tuple(routes.values()),
        journeys=(journey,),
        hosts=((f"{scheme}://{host}", "the recorded host: load only a host you may test"),),
        notes=tuple(notes),
        left_out=tuple(left_out),
    )
