"""The reader every section parser shares: typed fields out of nested TOML tables, each error one line
naming `file: a.b.c: what is expected`, and the few names and patterns several sections check.
"""

from __future__ import annotations

import math
import re
from typing import Any

from harness.scenario.model import ScenarioError

__all__ = ["Reader", "show", "parse_duration", "MAX_DEPTH", "HEADER_NAME", "COOKIE_NAME", "IDENTIFIER"]

HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token (RFC 9110)
COOKIE_NAME = HEADER_NAME  # a cookie name is an HTTP token too (RFC 6265)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a placeholder's or an environment variable's name
MAX_DEPTH = 32  # tables and lists inside each other: deeper is a mistake (and would exhaust recursion)
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m(?!s))?\s*(?:(\d+(?:\.\d+)?)s)?\s*$")


def parse_duration(value: Any, where: str) -> float:
    """Seconds from 90, "90s", "2m", "1h30m" or "1m30s"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)) and any(m.groups()):
        h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        seconds = h * 3600 + mi * 60 + s
    else:
        raise ScenarioError(f'{where}: expected a duration like 90, "90s", "2m" or "1m30s", got {show(value)}')
    if not math.isfinite(seconds):
        raise ScenarioError(f'{where}: expected a finite duration like "90s", got {show(value)}')
    if seconds <= 0:
        raise ScenarioError(f"{where}: expected a positive duration, got {value!r}")
    return seconds


class Reader:
    """Reads typed fields out of nested tables, naming `file: a.b.c` in every error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {where}: {message}")

    def table(self, data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a table ([{where}]), got {type(value).__name__}")
        return value

    def get(self, data: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...], default: Any) -> Any:
        if key not in data:
            return default
        value = data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(where, f"expected {_kind_name(kinds)}, got {value!r}")
        if not isinstance(value, kinds):
            raise self.fail(where, f"expected {_kind_name(kinds)}, got {value!r}")
        return value

    def number(
        self,
        data: dict[str, Any],
        key: str,
        where: str,
        default: float,
        minimum: float = 0.0,
        maximum: float | None = None,
    ) -> float:
        value = self.get(data, key, where, (int, float), default)
        if not math.isfinite(value):  # nan passes every comparison, and inf never ends
            raise self.fail(where, f"expected a finite number >= {minimum:g}, got {value!r}")
        if value < minimum:
            raise self.fail(where, f"expected a number >= {minimum:g}, got {value!r}")
        if maximum is not None and value > maximum:
            raise self.fail(where, f"expected a number from {minimum:g} to {maximum:g}, got {value!r}")
        return float(value)

    def duration(self, value: Any, where: str) -> float:
        try:
            return parse_duration(value, where)
        except ScenarioError as exc:
            raise ScenarioError(f"{self.source}: {exc}") from None

    def whole(self, data: dict[str, Any], key: str, where: str, default: int, minimum: int = 0) -> int:
        value = self.get(data, key, where, int, default)
        if value < minimum:
            raise self.fail(where, f"expected a whole number >= {minimum}, got {value!r}")
        return value

    def choice(
        self, data: dict[str, Any], key: str, where: str, choices: tuple[str, ...], *, one_of: bool = False
    ) -> str:
        """A string among `choices`, the first by default. The error offers them as 'a' or 'b', or, with
        `one_of`, as one of 'a', 'b', 'c'."""
        value = self.get(data, key, where, str, choices[0])
        if value not in choices:
            offered = f"one of {', '.join(map(repr, choices))}" if one_of else " or ".join(map(repr, choices))
            raise self.fail(where, f"expected {offered}, got {show(value)}")
        return value

    def unknown(self, data: dict[str, Any], allowed: set[str], where: str) -> None:
        extra = sorted(set(data) - allowed)
        if extra:
            prefix = f"{where}." if where else ""
            raise self.fail(f"{prefix}{extra[0]}", f"unknown field (expected one of: {', '.join(sorted(allowed))})")


def show(value: Any) -> str:
    """`repr` for a message, short: a huge value (a hex literal has no digit limit) cannot flood the line."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)
