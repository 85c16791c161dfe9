"""Values a journey step reads from its answer for the steps after it: a JSON path, a response header,
a cookie the answer sets, or a regular expression over its text (the sources of
harness.scenario.model.EXTRACT_SOURCES, checked by the parser).

Pure: an answer's bytes and headers in, the value or the reason there is none out, so that a step
whose answer lacks what later steps need fails with that reason instead of sending them empty.
"""

from __future__ import annotations

import json
import random
import re
from http.cookies import CookieError, SimpleCookie
from typing import Any

__all__ = ["extract", "json_at", "header_values"]

_UNSET: Any = object()


def extract(source: str, expr: str, body: bytes | None, headers: Any, parsed: Any = _UNSET) -> tuple[Any, str]:
    """(value, "") or (None, why not). `expr` is as the parser keeps it (a JSON path as dot-separated
    keys, "*" for a random item); `parsed`: the body as JSON when the caller has it already."""
    if source == "json":
        data = parsed if parsed is not _UNSET else _loads(body)
        found = json_at(data, expr.split(".") if expr else [])
        return (random.choice(found), "") if found else (None, f"nothing at json:{expr} in the answer")
    if source == "header":
        values = header_values(headers, expr)
        return (values[0], "") if values else (None, f"no {expr} header in the answer")
    if source == "cookie":
        value = _cookie(headers, expr)
        return (value, "") if value is not None else (None, f"the answer sets no cookie {expr}")
    match = re.search(expr, (body or b"").decode("utf-8", "replace"))
    if match is None:
        return None, f"regex:{expr} matches nothing in the answer"
    return (match.group(1) if match.re.groups else match.group(0)), ""


def json_at(data: Any, keys: list[str]) -> list[Any]:
    """Every non-null value at `keys` ("*" takes each item of a list; a number, the item at that index)."""
    if not keys:
        return [] if data is None else [data]
    key, rest = keys[0], keys[1:]
    if isinstance(data, list):
        if key == "*":
            return [v for item in data for v in json_at(item, rest)]
        if key.isdigit() and int(key) < len(data):
            return json_at(data[int(key)], rest)
        return []
    if isinstance(data, dict) and key in data:
        return json_at(data[key], rest)
    return []


def header_values(headers: Any, name: str) -> list[str]:
    """Every value of a response header, by name whatever its case (geventhttpclient's headers, httpx's,
    or a plain mapping)."""
    if headers is None:
        return []
    for method in ("getlist", "get_list"):
        several = getattr(headers, method, None)
        if callable(several):
            return [str(v) for v in several(name)]
    values = [v for k, v in headers.items() if str(k).lower() == name.lower()]
    return [str(x) for v in values for x in (v if isinstance(v, list) else [v])]


def _cookie(headers: Any, name: str) -> str | None:
    for line in header_values(headers, "Set-Cookie"):
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(line)
        except CookieError:
            continue
        if name in jar:
            return jar[name].value
    return None


def _loads(body: bytes | None) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None
