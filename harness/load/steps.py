"""Journeys of the scenario's own (`[journeys.NAME]` with `steps`): one user's way through one.

Each such journey runs as a Locust user class of its own (harness.load.journeys.StepsJourney, one subclass
per journey), whose user drives a StepRunner; kept apart from Locust, so that its logic can be tested
without it. One iteration of a user sends the journey's steps in order (a run of weighted steps: one of them, picked by weight), each
`repeat` times, pausing `think` between requests; values extracted from an answer fill the placeholders
of the steps after it, for the rest of the user's life. A step that fails (an error, a block, a value it
was to extract and did not find, a placeholder without a value) ends the iteration: a real user could not
go on either. Every request is an ordinary sample named by its route.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from harness.load.client import ApiClient, CallResult
from harness.load.login import Backoff, log_in
from harness.load.values import DEFAULT_MESSAGES, template_values
from harness.protocol.extract import extract
from harness.scenario import Journey, Step
from harness.scenario.accounts import Account, identity_key
from harness.scenario.callers import session_login
from harness.scenario.templates import Unfilled, render

__all__ = ["StepRunner", "class_name"]


class StepRunner:
    """One user's way through a journey of the scenario's own, over any HTTP session (a Locust user's, or
    a test's): the values extracted so far and the session, kept from one iteration to the next."""

    def __init__(
        self,
        api: ApiClient,
        journey: Journey,
        account: Account | None,
        tenants: list[str],
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        self.journey = journey
        self.account = account
        self.tenants = tenants
        self.pause = pause  # gevent-patched inside Locust: other users run meanwhile
        self.endpoints = api.scenario.endpoints
        self.login = session_login(self.endpoints, journey)
        self.values: dict[str, Any] = {}  # extracted by earlier steps
        self.backoff = Backoff()
        if account is not None:
            api.identity = identity_key(account.email)

    def iteration(self) -> bool:
        """Send the steps once; False when one failed and the rest were not sent."""
        conversation = uuid.uuid4().hex[:16]  # the chat turns of one iteration: what spend is priced per
        owed: tuple[float, float] | None = None  # the pause before the next request
        for group in self.journey.groups():
            step = group[0] if len(group) == 1 else random.choices(group, [s.weight or 0.0 for s in group])[0]
            for _ in range(step.repeat):
                if owed is not None:
                    self.pause(random.uniform(*owed))
                if not self.send(step, conversation):
                    return False
                owed = step.think_s or self.journey.think_time
        return True

    def send(self, step: Step, conversation: str = "") -> bool:
        """One request of `step` (logging in first when it needs a session and has none); True when it
        went through and every value it extracts was found."""
        ep = self.endpoints[step.route]
        if ep.kind != "login" and ep.auth and self.login is not None and self.api.token is None:
            if not self._log_in():
                return False
        values = self._values()
        try:
            headers = {name: str(render(template, values, strict=True)) for name, template in step.headers}
        except Unfilled as exc:
            self.api.unsent(ep.method, ep.name, f"template: {exc}")
            return False
        found: dict[str, Any] = {}

        def check(result: CallResult) -> str:
            for e in step.extract:
                value, why = extract(e.source, e.expr, result.body, result.headers, result.json())
                if why:
                    return f"extract {e.name}: {why}"
                found[e.name] = value
            return ""

        if ep.kind == "login":
            email, password = (self.account.email, self.account.password) if self.account else ("", "")
            token, result = log_in(self.api, email, password, ep.name, values, check)
            self.api.token = token
        else:
            chat = conversation if ep.kind == "chat" else ""
            result = self.api.call(ep.name, values, headers=headers, conversation=chat, check=check)
            if result.status == 401:
                self.api.token = None  # the session ended: the next step that needs one logs in again
        if result.ok:
            self.values.update(found)
        return result.ok

    def _log_in(self) -> bool:
        """The session the steps need, from the API map's first login route; after a failed login the next
        one waits (Retry-After, else 1 s doubling to 30 s), as the client journey's."""
        assert self.login is not None
        email, password = (self.account.email, self.account.password) if self.account else ("", "")
        self.backoff.wait()
        token, result = log_in(self.api, email, password, self.login.name, self._values())
        self.backoff.record(token, result)
        self.api.token = token
        return token is not None

    def _values(self) -> dict[str, Any]:
        """The harness's placeholders (the account's, a message, a visitor's), then the extracted values."""
        message = random.choice(self.journey.messages or DEFAULT_MESSAGES)
        return {**template_values(self.account, self.tenants, message=message), **self.values}


def class_name(journey: str) -> str:
    """The Locust user class of a journey of the scenario's own (what run.json's `user_class` says)."""
    return f"Journey_{journey}"
