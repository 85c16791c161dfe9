"""Legitimate traffic as Locust users: a coaching client, a payment provider, a visitor leaving a lead.

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
from harness.load.webhooks import signed_headers
from harness.scenario.accounts import account_pools, identity_key, next_account
from harness.scenario.arrivals import arrival_queue

DEFAULT_MESSAGES = [
    "How do I price my first coaching package?",
    "Draft a follow-up e-mail for a lead who went quiet.",
    "What should I ask in a discovery call?",
    "Summarise my last session notes in three bullet points.",
    "Give me a weekly plan to get my first ten clients.",
]


class _Journey(FastHttpUser):
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
        if intended is None:  # the schedule is over for this worker: idle until the run ends
            self.api.schedule_delay_s = None
            return 3600.0
        if intended > now:
            time.sleep(intended - now)  # gevent-patched; Locust may stop us while we sleep
        delay = max(0.0, time.time() - intended)
        self.arrivals.record_start(delay)
        self.api.schedule_delay_s = delay
        return 0.0


class CoachingClient(_Journey):
    """Logs in, lists conversations, chats in streamed turns with think time, now and then resets a password."""

    journey = "client"
    weight = 8

    def set_up(self) -> None:
        # not `self.account`: that is the task below, which the attribute would hide
        self.user_account = next_account(self.environment, account_pools(self.plan.credentials, self.plan.scenario)[0])
        self.api.identity = identity_key(self.user_account.key)
        self.conversation_ids: list[str] = []
        self.history: list[dict[str, str]] = []
        self.backoff = Backoff()
        self.login()

    def login(self) -> bool:
        """Log in; after a failed login the next one waits (Retry-After, else 1 s doubling to 30 s)."""
        self.backoff.wait()
        credential, result = self.api.log_in(self.user_account)
        self.backoff.record(credential, result)
        return credential is not None

    def _logged_in(self) -> bool:
        return self.api.credential is not None or self.login()

    @task(3)
    def browse(self) -> None:
        if not self._logged_in():
            return
        result = self.api.call("conversations")
        if result.status == 401:
            self.api.credential = None
            return
        ep = self.plan.scenario.endpoints["conversations"]
        items = _dig(result.json(), ep.list_field) if ep.list_field else result.json()
        if isinstance(items, list):
            self.conversation_ids = [str(i[ep.id_field]) for i in items if isinstance(i, dict) and ep.id_field in i]
        if self.conversation_ids and self.api.has("conversation"):
            self.api.call("conversation", {"conversation_id": random.choice(self.conversation_ids)})

    @task(5)
    def chat(self) -> None:
        if not self._logged_in():
            return
        if not self.conversation_ids:
            self.browse()  # a client chats inside one of their conversations
        low, high = self.settings.get("chat_turns", (1.0, 3.0))
        messages = self.settings.get("messages", DEFAULT_MESSAGES)
        conversation_id = random.choice(self.conversation_ids) if self.conversation_ids else ""
        conversation = uuid.uuid4().hex[:16]  # one sitting of turns: what spend is priced per
        for turn in range(random.randint(int(low), int(high))):
            if turn:
                time.sleep(self.think_time())  # between turns, in either model (gevent-patched sleep)
            message = random.choice(messages)
            self.history = (self.history + [{"role": "user", "content": message}])[-6:]
            result = self.api.call(
                "chat",
                {"messages": self.history, "message": message, "conversation_id": conversation_id},
                conversation=conversation,
            )
            if result.status == 401:
                self.api.credential = None
                return
            if result.stream is not None:
                self.history.append({"role": "assistant", "content": result.stream.content})

    @task(1)
    def account(self) -> None:
        if self.api.has("me") and self._logged_in():
            self.api.call("me")
        if self.api.has("reset_request") and random.random() < self.settings.get("reset_probability", 0.05):
            self.api.call("reset_request", {"email": self.user_account.email})


class PaymentProvider(_Journey):
    """Delivers signed webhooks (the scenario's [webhook] scheme), each a new event."""

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
        self.api.call("webhook", body=body, headers=signed_headers(self.plan, body, str(event["id"])))


class Visitor(_Journey):
    """Leaves a lead on a coach's public form."""

    journey = "visitor"
    weight = 1
    default_think_time = (2.0, 6.0)

    @task
    def leave_lead(self) -> None:
        tenants = self.plan.credentials.tenants or [""]
        n = random.randrange(1_000_000)
        self.api.call(
            "leads",
            {
                "tenant": random.choice(tenants),
                "name": f"Lead {n}",
                "lead_email": f"lead-{n}@example.test",
                "message": "I'd like to book a discovery call.",
            },
        )


def _dig(data: Any, path: str) -> Any:
    for key in path.split(".") if path else ():
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
