"""[endpoints]: the API map, each route with its method, path, body template, kind and stream format."""

from __future__ import annotations

import math
import re
from typing import Any

from harness.scenario.model import (
    KINDS,
    METHODS,
    REGISTER_PLACEHOLDERS,
    STREAM_FORMATS,
    STREAM_PATH_KEYS,
    Endpoint,
    RejectRule,
    infer_kind,
)
from harness.scenario.sections.reader import Reader, show
from harness.scenario.templates import placeholders

__all__ = ["parse_endpoints"]


def parse_endpoints(r: Reader, data: dict[str, Any]) -> dict[str, Endpoint]:
    table = r.table(data, "endpoints", "endpoints")
    if not table:
        raise r.fail("endpoints", "expected at least one [endpoints.NAME] table (the API map)")
    endpoints = {}
    allowed = {
        "method",
        "path",
        "body",
        "auth",
        "stream",
        "stream_paths",
        "latency_target_ms",
        "list_field",
        "id_field",
        "kind",
        "rejected_when",
    }
    for name, spec in table.items():
        where = f"endpoints.{name}"
        if not isinstance(spec, dict):
            raise r.fail(where, "expected a table with method and path")
        r.unknown(spec, allowed, where)
        method = r.get(spec, "method", f"{where}.method", str, "GET").upper()
        if method not in METHODS:
            raise r.fail(f"{where}.method", f"expected one of {', '.join(METHODS)}, got {method!r}")
        path = r.get(spec, "path", f"{where}.path", str, None)
        if not path or not path.startswith("/"):
            raise r.fail(f"{where}.path", f"expected a path starting with '/', got {show(path)}")
        if not re.fullmatch(r"/[!-~]*", path):  # a space or line break would corrupt the request line
            raise r.fail(
                f"{where}.path",
                f"expected printable ASCII without spaces (percent-encode the rest, e.g. %20), got {show(path)}",
            )
        stream = r.get(spec, "stream", f"{where}.stream", str, "none")
        if stream not in STREAM_FORMATS:
            raise r.fail(f"{where}.stream", f"expected one of {', '.join(STREAM_FORMATS)}, got {stream!r}")
        target = spec.get("latency_target_ms")
        if target is not None:
            target = r.number(spec, "latency_target_ms", f"{where}.latency_target_ms", 0.0, minimum=1.0)
        body = spec.get("body")
        if body is not None:
            _check_body(r, body, f"{where}.body")
        kind = r.get(spec, "kind", f"{where}.kind", str, "") or infer_kind(name, method)
        if kind not in KINDS:
            raise r.fail(f"{where}.kind", f"expected one of {', '.join(KINDS)}, got {show(kind)}")
        auth = r.get(spec, "auth", f"{where}.auth", bool, True)
        if kind == "register":
            _check_register(r, where, method, path, body, auth)
        endpoints[name] = Endpoint(
            name=name,
            method=method,
            path=path,
            body=body,
            auth=auth,
            stream=stream,
            stream_paths=_stream_paths(r, spec, where, stream),
            latency_target_ms=target,
            list_field=r.get(spec, "list_field", f"{where}.list_field", str, ""),
            id_field=r.get(spec, "id_field", f"{where}.id_field", str, "id"),
            kind=kind,
            rejected_when=_rejected_when(r, spec, where),
        )
    return endpoints


def _check_register(r: Reader, where: str, method: str, path: str, body: Any, auth: bool) -> None:
    """A sign-up route is how the audit makes accounts of its own: sent with no session, with the new
    account's values only (REGISTER_PLACEHOLDERS), which must include a password and an e-mail or user
    name to log in with afterwards."""
    if method not in ("POST", "PUT"):
        raise r.fail(
            f"{where}.method", f'a route of kind "register" creates an account: expected POST or PUT, got {method}'
        )
    if auth:
        raise r.fail(f"{where}.auth", 'a route of kind "register" is called without a session: set auth = false')
    found = placeholders(path) + [n for n in placeholders(body) if n not in placeholders(path)]
    unknown = [n for n in found if n not in REGISTER_PLACEHOLDERS]
    if unknown:
        raise r.fail(
            f"{where}.body" if unknown[0] in placeholders(body) else f"{where}.path",
            f'unknown placeholder {{{unknown[0]}}} for a route of kind "register" (it takes the new account\'s: '
            f"{', '.join('{' + n + '}' for n in REGISTER_PLACEHOLDERS)})",
        )
    if "password" not in found or not {"email", "username"} & set(found):
        raise r.fail(
            f"{where}.body",
            'a route of kind "register" must send {password} and {email} or {username}: the audit logs in '
            'with them afterwards, e.g. body = { email = "{email}", password = "{password}" }',
        )


def _rejected_when(r: Reader, spec: dict[str, Any], where: str) -> RejectRule | None:
    """`rejected_when = { statuses = [200], body_pattern = '"error"' }`: how this route refuses a request
    while its status says yes (a failed login answered 200); all the parts given must match."""
    if "rejected_when" not in spec:
        return None
    where = f"{where}.rejected_when"
    t = r.table(spec, "rejected_when", where)
    r.unknown(t, {"statuses", "body_pattern", "header"}, where)
    statuses = r.get(t, "statuses", f"{where}.statuses", list, [])
    if not all(isinstance(x, int) and not isinstance(x, bool) and 100 <= x <= 599 for x in statuses):
        raise r.fail(f"{where}.statuses", f"expected a list of HTTP status codes like [200], got {show(statuses)}")
    pattern = r.get(t, "body_pattern", f"{where}.body_pattern", str, "")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise r.fail(f"{where}.body_pattern", f"not a valid regular expression: {exc}") from None
    rule = RejectRule(tuple(statuses), pattern, r.get(t, "header", f"{where}.header", str, ""))
    if not rule.body_pattern and not rule.header and not rule.statuses:
        raise r.fail(
            where, 'expected statuses, body_pattern or header, e.g. { statuses = [200], body_pattern = "error" }'
        )
    return rule


def _check_body(r: Reader, body: Any, where: str) -> None:
    """A body template is sent as JSON: a table, a list or a string, with finite numbers."""
    if not isinstance(body, (dict, list, str)):
        raise r.fail(
            where,
            f"expected a table, a list or a string (the JSON body template, e.g. "
            f'{{ email = "{{email}}" }}), got {show(body)}',
        )
    stack: list[tuple[Any, str]] = [(body, where)]
    while stack:
        value, at = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise r.fail(at, f"{value!r} is not a JSON number: write a finite number")
        if isinstance(value, dict):
            stack.extend((item, f"{at}.{key}") for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, f"{at}[{i}]") for i, item in enumerate(value))


def _stream_paths(r: Reader, spec: dict[str, Any], where: str, stream: str) -> tuple[tuple[str, str], ...]:
    """An ndjson route's dot paths to its text, usage, end and errors (docs/streams.md); unset ones read Ollama."""
    if "stream_paths" not in spec:
        return ()
    where = f"{where}.stream_paths"
    if stream != "ndjson":
        raise r.fail(where, f'only for stream = "ndjson" (this route has stream = {stream!r}); remove it')
    table = r.table(spec, "stream_paths", where)
    r.unknown(table, set(STREAM_PATH_KEYS), where)
    for key, path in table.items():
        empty_ok = key != "text"  # "" turns usage, the end marker or errors off; the text is always read
        if not isinstance(path, str) or (path == "" and not empty_ok) or (path and "" in path.split(".")):
            turn_off = ' (or "" for none)' if empty_ok else ""
            raise r.fail(f"{where}.{key}", f'expected a dot path like "message.content"{turn_off}, got {show(path)}')
    return tuple((key, table[key]) for key in STREAM_PATH_KEYS if key in table)
