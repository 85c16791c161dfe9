"""A drafted scenario, typed, and written as TOML text with the comments a person must read.

tomli-w writes no comments, and a draft is mostly its comments: every guess carries a `# review:`
line. So the text is written here, by hand, from a few primitives (`toml_key`, `toml_string`,
`toml_value`, `comment`) that make any key, value or comment from a foreign document safe: quotes,
backslashes, line breaks, control characters and lone surrogates are escaped or replaced, so what
tomllib reads back is what the importer meant (tests/scenario/importers/test_draft.py).
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Route",
    "Auth",
    "Step",
    "Journey",
    "Draft",
    "render_draft",
    "accounts_stub",
    "literal",
    "toml_key",
    "toml_string",
    "toml_value",
    "comment",
    "ACCOUNT_PLACEHOLDER_PASSWORD",
]

ACCOUNT_PLACEHOLDER_PASSWORD = "CHANGE-ME"  # in the accounts stub: never a real secret
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")  # as harness.scenario.templates
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_INT64 = (-(2**63), 2**63 - 1)
MAX_DEPTH = 24  # a drafted value deeper than this is cut (the parser refuses more than 32 levels)


@dataclass(frozen=True)
class Route:
    """One `[endpoints.NAME]` of the draft; `why` is the review comment on its kind."""

    name: str
    method: str
    path: str
    kind: str
    why: str
    body: Any = None
    auth: bool = True
    stream: str = "none"
    stream_why: str = ""
    list_field: str | None = None  # list routes: where the items are ("" = a top-level array)
    id_field: str = "id"
    notes: tuple[str, ...] = ()  # review lines a person must act on (a required header, a form body...)


@dataclass(frozen=True)
class Auth:
    """`[auth]` in the shape of the auth styles; `fields` are (key, value, review comment) after `style`."""

    style: str
    why: str
    fields: tuple[tuple[str, Any, str], ...] = ()
    oauth2: tuple[tuple[str, Any, str], ...] = ()
    account_columns: tuple[str, ...] = ()  # accounts.csv columns the style reads besides email, password, role
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    route: str
    think_s: float | None = None  # the pause after this step
    skip: str = ""  # why the step is left commented out ("" = it runs)


@dataclass(frozen=True)
class Journey:
    name: str
    why: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Draft:
    name: str
    description: str
    command: str  # how it was made, for the first line
    auth: Auth
    routes: tuple[Route, ...]
    journeys: tuple[Journey, ...]
    hosts: tuple[tuple[str, str], ...] = ()  # (URL, why): candidates for [target] host, left commented
    notes: tuple[str, ...] = ()  # what a person must do before a run (the header)
    left_out: tuple[str, ...] = ()  # what the source had that the draft does not map


# --- TOML primitives -----------------------------------------------------------------------------------


def _scalar_text(text: str) -> str:
    """A lone surrogate (JSON allows "\\ud800") is no character: UTF-8 and TOML both refuse it."""
    return re.sub(r"[\ud800-\udfff]", "\ufffd", text)


def toml_string(text: str) -> str:
    """A TOML basic string: quotes and backslashes escaped, every control character as an escape."""
    out = []
    for ch in _scalar_text(text):
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or not ch.isprintable():
            out.append(f"\\u{ord(ch):04X}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    """A bare key when it can be one, else a quoted one."""
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def toml_value(value: Any) -> str:
    """An inline TOML value (strings, numbers, booleans, arrays, inline tables) from a `literal` value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"not a TOML value: {type(value).__name__}")


def comment(text: str) -> str:
    """Comment text on one line: TOML comments take no control character but the tab."""
    return re.sub(r"[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]+", " ", _scalar_text(text)).strip()


def literal(value: Any, depth: int = 0) -> Any:
    """A value from a foreign document as the draft may hold it: JSON- and TOML-safe, and inert.

    No null (TOML has none: dropped), no date (the parser refuses TOML dates: ISO text), no infinite
    or NaN number, no integer beyond 64 bits (as text), string keys, at most MAX_DEPTH levels; and a
    `{word}` in a string becomes `(word)`, or the harness would read it as a placeholder to fill."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if _INT64[0] <= value <= _INT64[1] else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _PLACEHOLDER.sub(r"(\1)", _scalar_text(value))
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, dict):
        items = ((str(k), literal(v, depth + 1)) for k, v in value.items())
        return {k: v for k, v in items if v is not None}
    if isinstance(value, (list, tuple)):
        return [v for v in (literal(item, depth + 1) for item in value) if v is not None]
    return None


# --- the draft as text --------------------------------------------------------------------------------


def _line(key: str, value: Any, review: str = "") -> str:
    text = f"{toml_key(key)} = {toml_value(value)}"
    return f"{text}  # review: {comment(review)}" if review else text


def _reviews(lines: tuple[str, ...] | list[str]) -> list[str]:
    return [f"# review: {comment(line)}" for line in lines]


def _think(seconds: float) -> str:
    return f"{seconds:.1f}".rstrip("0").rstrip(".") + "s"


def _header(draft: Draft, accounts_file: str) -> list[str]:
    lines = [
        f"# Drafted by `{comment(draft.command)}`: {comment(draft.description)}.",
        "# A draft for a person to review: each `# review:` comment marks a guess to check.",
        "# It cannot run as-is. Before a run:",
        "#   - set [target] host (or pass --host) to a host you may load: without one the harness",
        "#     starts its own demo API, which has none of these routes;",
        f"#   - put test accounts in {comment(accounts_file)} (its values are placeholders);",
    ]
    lines += [f"#   - {comment(note)}" for note in draft.notes]
    lines += ["# Then check it: harness validate FILE (and harness check FILE --host URL, which sends a little)."]
    if draft.left_out:
        lines.append("# Left out of the draft:")
        lines += [f"#   - {comment(item)}" for item in draft.left_out]
    return lines


def _auth(auth: Auth) -> list[str]:
    lines = ["[auth]", *_reviews(auth.notes), _line("style", auth.style, auth.why)]
    lines += [_line(key, value, review) for key, value, review in auth.fields]
    if auth.oauth2:
        lines += ["", "[auth.oauth2]"] + [_line(key, value, review) for key, value, review in auth.oauth2]
    return lines


def _route(route: Route) -> list[str]:
    lines = [f"[endpoints.{toml_key(route.name)}]", *_reviews(route.notes)]
    lines += [_line("method", route.method), _line("path", route.path), _line("kind", route.kind, route.why)]
    if not route.auth:
        lines.append(_line("auth", False))
    if route.body is not None:
        lines.append(_line("body", route.body))
    if route.stream != "none":
        lines.append(_line("stream", route.stream, route.stream_why))
    if route.list_field is not None:
        where = "the answer is a JSON array" if route.list_field == "" else "the items of the answer"
        lines += [_line("list_field", route.list_field, where), _line("id_field", route.id_field)]
    return lines


def _journey(journey: Journey) -> list[str]:
    lines = [f"[journeys.{toml_key(journey.name)}]", *_reviews([journey.why]), "steps = ["]
    for step in journey.steps:
        item = {"route": step.route} | ({"think": _think(step.think_s)} if step.think_s else {})
        text = toml_value(item) + ","
        lines.append(f"  # {text}  # review: {comment(step.skip)}" if step.skip else f"  {text}")
    return lines + ["]"]


def render_draft(draft: Draft, accounts_file: str = "accounts.csv") -> str:
    """The draft as a scenario file: what a person reads first, then each table, with its reviews."""
    blocks: list[list[str]] = [_header(draft, accounts_file)]
    blocks.append(["[scenario]", _line("name", draft.name), _line("description", draft.description)])
    target = ["[target]"]
    target += [f"# host = {toml_string(url)}  # review: {comment(why)}" for url, why in draft.hosts]
    if not draft.hosts:
        target.append('# host = "https://staging.example.com"  # review: the host you may load (or pass --host)')
    blocks.append(target)
    blocks.append(_auth(draft.auth))
    blocks.append(
        [
            "[accounts]",
            _line("source", "file"),
            _line("file", accounts_file, "written by harness init with placeholder values: put test accounts there"),
        ]
    )
    blocks += [_route(route) for route in draft.routes]
    blocks.append(
        [
            "[load]",
            _line("users", 2, "a gentle first run: raise it once harness check passes"),
            _line("spawn_rate", 1),
            _line("duration", "30s"),
        ]
    )
    blocks += [_journey(journey) for journey in draft.journeys]
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"


def accounts_stub(draft: Draft) -> str:
    """accounts.csv with its header row and two placeholder accounts: never a real secret."""
    columns = ["email", "password", "role", *draft.auth.account_columns]
    rows = [",".join(columns)]
    for n in (1, 2):
        values = {
            "email": f"client{n}@example.com",
            "password": ACCOUNT_PLACEHOLDER_PASSWORD,
            "role": "client",
            "username": f"client{n}",
        }
        rows.append(",".join(values.get(column, f"{ACCOUNT_PLACEHOLDER_PASSWORD}-{n}") for column in columns))
    return "\n".join(rows) + "\n"
