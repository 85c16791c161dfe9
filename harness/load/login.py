"""Logging in as a simulated user: a login is a success only when it yields a usable credential, and a
failed one is tried again only after a pause.

A login that answers 200 without a token at `auth.token_field` (a wrong path in the scenario, a changed
API) would otherwise count as a success while every call after it goes out without credentials, and a
journey that logs in again before each task would hammer the login route, blocked or not.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from harness.load.client import ApiClient, CallResult
from harness.scenario import Scenario

__all__ = ["token_at", "log_in", "login_route", "Backoff"]


def token_at(data: Any, path: str) -> str | None:
    """The non-empty string at a dot path of a JSON body ("access_token", "data.token"), else None."""
    for key in path.split(".") if path else ():
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data if isinstance(data, str) and data else None


def log_in(
    api: ApiClient,
    email: str,
    password: str,
    route: str = "",
    values: dict[str, Any] | None = None,
    check: Callable[[CallResult], str] | None = None,
) -> tuple[str | None, CallResult]:
    """Call a login route (`route`, else the API map's first of kind login); a 2xx without a token is a
    failed sample naming the path looked at. `values` fill the rest of its templates; `check` may fail
    the sample for another reason (see ApiClient.call)."""
    field = api.scenario.auth.token_field
    route = route or login_route(api.scenario)

    def missing(result: CallResult) -> str:
        if not token_at(result.json(), field):
            return f'{route}: no token at auth.token_field "{field}"'
        return check(result) if check is not None else ""

    result = api.call(route, {**(values or {}), "email": email, "password": password}, check=missing)
    return (token_at(result.json(), field) if result.ok else None), result


def login_route(scenario: Scenario) -> str:
    """The route users log in with: the API map's first of kind login ("" when it has none)."""
    ep = scenario.route("login")
    return ep.name if ep is not None else ""


class Backoff:
    """When a user may log in again: after Retry-After when the login was blocked (and said when),
    else 1 s, 2 s, 4 s ... up to 30 s after consecutive failures; at once after a success."""

    FIRST_S = 1.0
    MAX_S = 30.0

    def __init__(self) -> None:
        self.failures = 0
        self.due = 0.0  # time.monotonic() before which no login is sent

    def delay_s(self, result: CallResult) -> float:
        """The pause after this failed login (the `failures`-th in a row)."""
        retry_after = result.retry_after_s
        if result.blocked and math.isfinite(retry_after) and retry_after > 0:
            return retry_after
        return min(self.MAX_S, self.FIRST_S * 2 ** (self.failures - 1))

    def record(self, token: str | None, result: CallResult) -> None:
        if token is not None:
            self.failures, self.due = 0, 0.0
            return
        self.failures += 1
        self.due = time.monotonic() + self.delay_s(result)

    def wait(self) -> None:
        """Sleep (gevent-patched in Locust) until the next login may go out."""
        pause = self.due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
