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
from harness.load.login import Backoff
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
        auth = api.scenario.auth
        self.login = session_login(self.endpoints, journey, auth)
        # a session before the steps that send one: from the login route, an API key or an OAuth2 token
        sends_session = any(self.endpoints[step.route].auth for step in journey.steps)
        self.signs_in = self.login is not None or (sends_session and not auth.uses_login_route)
        self.values: dict[str, Any] = {}  # extracted by earlier steps
        self.backoff = Backoff()
        if account is not None:
            api.identity = identity_key(account.key)

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
        own_login = ep.kind == "login" and self.api.scenario.auth.uses_login_route
        if not own_login and ep.auth and self.signs_in and self.api.credential is None:
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

        result: CallResult | None
        if own_login:
            _, result = self.api.log_in(self._account(), ep, values, check)
        else:
            chat = conversation if ep.kind == "chat" else ""
            result = self.api.call(ep.name, values, headers=headers, conversation=chat, check=check)
            if result.status == 401:
                self.api.credential = None  # the session ended: the next step that needs one logs in again
        assert result is not None  # a login through a route always sends
        if result.ok:
            self.values.update(found)
        return result.ok

    def _log_in(self) -> bool:
        """The session the steps need, as `[auth]` says (the API map's first login route, an API key, an
        OAuth2 token); after a failed login the next one waits (Retry-After, else 1 s doubling to 30 s), as
        the client journey's."""
        self.backoff.wait()
        credential, result = self.api.log_in(self._account(), self.login, self._values())
        self.backoff.record(credential, result)
        return credential is not None

    def _account(self) -> Account:
        """Who logs in: the journey's account (the parser makes sure a journey that logs in has one)."""
        return self.account if self.account is not None else Account("", "")

    def _values(self) -> dict[str, Any]:
        """The harness's placeholders (the account's, a message, a visitor's), then the extracted values."""
        message = random.choice(self.journey.messages or DEFAULT_MESSAGES)
        return {**template_values(self.account, self.tenants, message=message), **self.values}


def class_name(journey: str) -> str:
    """The Locust user class of a journey of the scenario's own (what run.json's `user_class` says)."""
    return f"Journey_{journey}"
