"""Endpoint templates: the {placeholders} of a path or a body, filled with a call's values.

The parser refuses any placeholder the harness does not fill (harness.scenario.model.PLACEHOLDERS,
and what a journey's steps extract), so a value missing here is one the caller has not got (an id a
failed step never extracted, a tenant the accounts lack). Load traffic renders `strict`: such a
template raises `Unfilled`, and the call becomes a failed sample saying why, never a request with an
empty path segment (/users//email answered 405 and counted as refused). Without `strict`, a missing
value renders empty (what `harness audit` relies on for the values it leaves out).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

__all__ = ["render", "placeholders", "PLACEHOLDER", "Unfilled"]

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Unfilled(ValueError):
    """A placeholder without a value (or, in a path, with an empty one): `str()` says which."""

    def __init__(self, name: str, in_path: bool) -> None:
        self.name = name
        super().__init__(f"no value for {{{name}}}" + (" in the path" if in_path else ""))


def render(template: Any, values: dict[str, Any], *, in_path: bool = False, strict: bool = False) -> Any:
    """Fill {placeholders}. A string that is exactly "{name}" takes the value itself (a list stays a list).

    `strict`: a placeholder missing from `values`, or empty in a path, raises Unfilled."""

    def value(name: str) -> Any:
        if strict and (name not in values or (in_path and values[name] in ("", None))):
            raise Unfilled(name, in_path)
        return values.get(name, "")

    if isinstance(template, str):
        whole = PLACEHOLDER.fullmatch(template)
        if whole and not in_path:
            return value(whole.group(1))
        return PLACEHOLDER.sub(
            lambda m: quote(str(value(m.group(1))), safe="") if in_path else str(value(m.group(1))),
            template,
        )
    if isinstance(template, dict):
        return {k: render(v, values, strict=strict) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, values, strict=strict) for v in template]
    return template


def placeholders(template: Any) -> list[str]:
    """The {names} a template's strings hold (not its keys: `render` fills values only), in order."""
    found: list[str] = []
    stack = [template]
    while stack:
        value = stack.pop(0)
        if isinstance(value, str):
            found.extend(n for n in PLACEHOLDER.findall(value) if n not in found)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found
