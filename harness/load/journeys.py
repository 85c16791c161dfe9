"""Legitimate traffic as Locust users: a coaching client, a payment provider, a visitor leaving a lead,
each calling the routes of the kinds it needs (harness.scenario.callers), and the scenario's own journeys
(steps in TOML): a user class each, made from StepsJourney when the run starts (harness.load.steps runs them).

Locust loads them through an entry point (harness/locustfiles/journeys.py, or locustfiles/journeys.py
in a checkout). The harness plugin imported below records every request and writes a run folder.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from typing import Any

from locust import FastHttpUser, task

from harness.load import plugin  # noqa: F401  (registers the recording hooks)
from harness.load.client import ApiClient
from harness.load.login import Backoff
from harness.load.plan import RunPlan
from harness.load.sources import bind_user, is_loopback, source_addresses, use_http_settings, user_host
from harness.load.steps import StepRunner, class_name
from harness.load.values import DEFAULT_MESSAGES, template_values
from harness.load.webhooks import signed_headers
from harness.scenario import JOURNEYS, Endpoint, Scenario
from harness.scenario.accounts import account_pools, identity_key, next_account
from harness.scenario.arrivals import CHUNK_POLL_S, arrival_queue
from harness.scenario.callers import client_routes, id_placeholders, id_source


class JourneyUser(FastHttpUser):
    """What every journey's user does: its run plan, its API client, its source address, its pace."""

    abstract = True
    journey = ""
    default_think_time = (1.0, 3.0)

    def __init__(self, environment: Any) -> None:
        use_http_settings(self, environment)
        super().__init__(environment)

    def on_start(self) -> None:
        plan = RunPlan.from_environment(self.environment)
        if plan is None:
            raise RuntimeError("no run plan: run this locustfile with the harness plugin (it is imported above)")
        self.plan = plan
        self.settings: dict[str, Any] = plan.scenario.journey_settings.get(self.journey, {})
        self.api = ApiClient(self.client, plan.scenario, credentials=plan.credentials)
        self.source_ip = ""
        if is_loopback(user_host(self)):  # each client its own address, as on the internet
            self.source_ip = source_addresses(self.environment, "legit").next()
            bind_user(self, self.source_ip)
        self.arrivals = arrival_queue(self.environment, self.journey)  # None: closed model
        self.set_up()
        if self.arrivals is not None:
            self.wait_time()  # the first iteration waits for its arrival too

    def set_up(self) -> None:
        """What the journey does once, before its first iteration (logging in, say)."""

    def context(self) -> dict[str, Any]:
        return {"source_ip": self.source_ip}

    def think_time(self) -> float:
        low, high = self.settings.get("think_time", self.default_think_time)
        return random.uniform(low, high)

    def wait_time(self) -> float:
        """Closed model: think time. Open model: sleep until the next arrival this user takes, and
        note how late it starts (Locust calls this between iterations, as a user waits)."""
        if self.arrivals is None:
            return self.think_time()
        now = time.time()
        intended = self.arrivals.next(now)
        while intended is None and self.arrivals.open_ended:  # a capacity search deciding its next step
            time.sleep(CHUNK_POLL_S)
            now = time.time()
            intended = self.arrivals.next(now)
        if intended is None:  # the schedule is over for this worker: idle until the run ends
            self.api.schedule_delay_s = None
            return 3600.0
        step = self.arrivals.step
        if intended > now:
            time.sleep(intended - now)  # gevent-patched; Locust may stop us while we sleep
        delay = max(0.0, time.time() - intended)
        self.arrivals.record_start(delay, step)
        self.api.schedule_delay_s = delay
        return 0.0


class CoachingClient(JourneyUser):
    """Logs in (when the API has a login route), browses (a list route, then a read route that takes one of
    its ids), chats in streamed turns with think time, reads the account's own routes, now and then requests
    a password reset or logs out. Every route is found by its kind (harness.scenario.callers.client_routes);
    a task whose kind the API lacks is left out of the mix, so an API without chat is browsed and read."""

    journey = "client"
    weight = 8

    def set_up(self) -> None:
        auth = self.plan.scenario.auth
        self.routes = client_routes(self.plan.scenario.endpoints, auth)
        # a session from the login route (bearer, cookie: when the API has one), an API key or an OAuth2 token
        self.signs_in = self.routes.login is not None or not auth.uses_login_route
        # not `self.account`: that is the task below, which the attribute would hide
        self.user_account = next_account(self.environment, account_pools(self.plan.credentials, self.plan.scenario)[0])
        self.api.identity = identity_key(self.user_account.key)
        self.ids: dict[str, list[str]] = {}  # list route -> the ids of its items, as last listed
        self.history: list[dict[str, str]] = []
        self.backoff = Backoff()
        routes = self.routes
        has = {"browse": routes.lists, "chat": routes.chats, "account": routes.reads or routes.reset or routes.logout}
        self.tasks = [t for t in self.tasks if has.get(getattr(t, "__name__", ""))]
        self.login()

    def login(self) -> bool:
        """Log in as `[auth]` says; after a failed login the next one waits (Retry-After, else 1 s doubling
        to 30 s)."""
        if not self.signs_in:
            return True
        self.backoff.wait()
        credential, result = self.api.log_in(self.user_account, self.routes.login)
        self.backoff.record(credential, result)
        return credential is not None

    def _logged_in(self) -> bool:
        return not self.signs_in or self.api.credential is not None or self.login()

    def _values(self, **given: Any) -> dict[str, Any]:
        return template_values(self.user_account, self.plan.credentials.tenants, **given)

    @task(3)
    def browse(self, source: Endpoint | None = None) -> None:
        """A list route (`source`, else one at random), then a read route that takes one of its ids."""
        if not self._logged_in():
            return
        source = source or random.choice(self.routes.lists)
        result = self.api.call(source.name, self._values())
        if result.status == 401:
            self.api.credential = None
            return
        items = _dig(result.json(), source.list_field) if source.list_field else result.json()
        if isinstance(items, list):
            self.ids[source.name] = [
                str(i[source.id_field]) for i in items if isinstance(i, dict) and source.id_field in i
            ]
        reads = [read for read, src in self.routes.id_reads if src.name == source.name]
        if self.ids.get(source.name) and reads:
            read = random.choice(reads)
            self.api.call(read.name, self._values(**{id_placeholders(read)[0]: random.choice(self.ids[source.name])}))

    @task(5)
    def chat(self) -> None:
        if not self._logged_in():
            return
        route = random.choice(self.routes.chats)
        source = id_source(self.plan.scenario.endpoints, route)
        if source is not None and not self.ids.get(source.name):
            self.browse(source)  # a client chats inside one of their conversations
        ids = self.ids.get(source.name, []) if source is not None else []
        chosen = {id_placeholders(route)[0]: random.choice(ids) if ids else ""} if source is not None else {}
        low, high = self.settings.get("chat_turns", (1.0, 3.0))
        messages = self.settings.get("messages", DEFAULT_MESSAGES)
        conversation = uuid.uuid4().hex[:16]  # one sitting of turns: what spend is priced per
        for turn in range(random.randint(int(low), int(high))):
            if turn:
                time.sleep(self.think_time())  # between turns, in either model (gevent-patched sleep)
            message = random.choice(messages)
            self.history = (self.history + [{"role": "user", "content": message}])[-6:]
            result = self.api.call(
                route.name, self._values(messages=self.history, message=message, **chosen), conversation=conversation
            )
            if result.status == 401:
                self.api.credential = None
                return
            if result.stream is not None:
                self.history.append({"role": "assistant", "content": result.stream.content})

    @task(1)
    def account(self) -> None:
        if self.routes.reads and self._logged_in():
            self.api.call(random.choice(self.routes.reads).name, self._values())
        if self.routes.reset and random.random() < self.settings.get("reset_probability", 0.05):
            self.api.call(self.routes.reset.name, self._values())
        logout = self.routes.logout
        if logout and self.api.credential and random.random() < self.settings.get("logout_probability", 0.0):
            self.api.call(logout.name, self._values())
            self.api.credential = None  # the next task logs in again


class PaymentProvider(JourneyUser):
    """Delivers signed webhooks (the scenario's [webhook] scheme), each a new event, to the routes of kind webhook."""

    journey = "webhook"
    weight = 1

    @task
    def deliver(self) -> None:
        event = {
            "id": f"evt_{uuid.uuid4().hex[:24]}",
            "type": random.choice(["checkout.session.completed", "invoice.paid", "customer.subscription.updated"]),
            "created": int(time.time()),
            "data": {"object": {"amount_total": random.choice([4900, 9900, 19900]), "currency": "usd"}},
        }
        body = json.dumps(event).encode()
        route = random.choice(self.plan.scenario.routes("webhook")).name
        self.api.call(route, body=body, headers=signed_headers(self.plan, body, str(event["id"])))


class Visitor(JourneyUser):
    """Leaves a lead on a coach's public form (the routes of kind lead)."""

    journey = "visitor"
    weight = 1
    default_think_time = (2.0, 6.0)

    @task
    def leave_lead(self) -> None:
        route = random.choice(self.plan.scenario.routes("lead")).name
        values = template_values(None, self.plan.credentials.tenants, message="I'd like to book a discovery call.")
        self.api.call(route, values)


class StepsJourney(JourneyUser):
    """The user class of a journey of the scenario's own; `add_journey_classes` makes one per journey."""

    abstract = True

    def set_up(self) -> None:
        journey = self.plan.scenario.custom_journeys[self.journey]
        accounts = account_pools(self.plan.credentials, self.plan.scenario)[0]
        account = next_account(self.environment, accounts) if accounts else None
        self.steps = StepRunner(self.api, journey, account, self.plan.credentials.tenants)

    def think_time(self) -> float:
        low, high = self.steps.journey.think_time
        return random.uniform(low, high)

    @task
    def iterate(self) -> None:
        self.steps.iteration()


def add_journey_classes(user_classes: list[type], scenario: Scenario) -> None:
    """Add a user class for each journey of the scenario's own, where the harness's journeys run (a
    locustfile of the user's own is left as it is). The master and each worker make the same classes
    from the same scenario, so Locust finds them by name on both sides."""
    if not any(getattr(c, "journey", "") in JOURNEYS for c in user_classes):
        return
    present = {c.__name__ for c in user_classes}
    for name in scenario.custom_journeys:
        if class_name(name) not in present:
            user_classes.append(type(class_name(name), (StepsJourney,), {"journey": name, "__module__": __name__}))


plugin.JOURNEY_CLASS_MAKERS.append(add_journey_classes)


def _dig(data: Any, path: str) -> Any:
    for key in path.split(".") if path else ():
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
