"""What the audit fills a route's {placeholders} with, and the rule that none is ever sent empty.

- The account a request is sent as fills {email}, {password}, {role}, {tenant} and every other column
  it has (so a {username} or {api_key} column works as soon as the accounts carry it).
- Object ids ({id}, {NAME_id}, {NAMEId}: harness.scenario.model.OBJECT_ID) come from the route of the
  map that lists those objects (harness.audit.routes).
- The checks add their own: a probe message, the chat history, a prompt.

A placeholder with no value is never rendered: an empty path segment (`/users//email`) answers 404 or
405, which would look like a denial. The request is not sent, and the check names the placeholder and
why it had no value (`Unfilled`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from harness.scenario import Endpoint
from harness.scenario.accounts import Account
from harness.scenario.model import OBJECT_ID

__all__ = [
    "Unfilled",
    "placeholders",
    "is_object_id",
    "account_values",
    "unfilled",
    "unfilled_note",
    "unfilled_reason",
]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Unfilled(ValueError):
    """A route was about to be called with a placeholder that has no value."""

    def __init__(self, route: str, names: list[str], why: Mapping[str, str] | None = None) -> None:
        self.route, self.names = route, names
        super().__init__(unfilled_note(route, names, why or {}))


def placeholders(template: Any) -> list[str]:
    """The {names} in a template (a string, or a JSON body template), in order, each once."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.extend(n for n in _PLACEHOLDER.findall(value) if n not in found)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(template)
    return found


def is_object_id(name: str) -> bool:
    return OBJECT_ID.fullmatch(name) is not None


def account_values(account: Account | None) -> dict[str, str]:
    """Every column of `account` that has a value, by its name ({email}, {password}, {role}, {tenant},
    {username}, {api_key}, and whatever other columns the accounts file carries: Account.values()). An
    empty column is no value: the route is not called rather than sent with it empty."""
    return {k: v for k, v in account.values().items() if v} if account is not None else {}


def unfilled(endpoint: Endpoint, values: Mapping[str, Any], *, path: bool = True, body: bool = True) -> list[str]:
    """The placeholders of `endpoint` that `values` leaves without a value: absent, or empty in the
    path (an empty body field can be meant: `conversation_id = ""` starts a new conversation)."""
    missing = [n for n in placeholders(endpoint.path) if values.get(n) in (None, "")] if path else []
    if body:
        missing += [n for n in placeholders(endpoint.body) if n not in values and n not in missing]
    return missing


def unfilled_note(route: str, names: list[str], why: Mapping[str, str]) -> str:
    """One line: the route was not called, each placeholder it lacked and why."""
    return f"{route}: not called: " + "; ".join(unfilled_reason(n, why) for n in names)


def unfilled_reason(name: str, why: Mapping[str, str] | None = None) -> str:
    """Why {name} has no value: the caller's reason when it has one, else what the audit fills it from."""
    if why and why.get(name):
        return why[name]
    if is_object_id(name):
        return (
            f"no value for {{{name}}} (an object id: no route of the map lists them; map a GET route at the "
            "path above it or named after it, or name one in [audit] id_lists)"
        )
    return f"no value for {{{name}}} (not a column of the accounts, nor a value this check fills)"
