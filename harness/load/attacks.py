"""Abuse traffic beside the legit journeys: credential attacks, floods, webhook abuse, admin probing,
lead spam, the bypass matrix of every rate-limited route, and the denial-of-wallet probe.

Which attacks run, how many users each and at what rate come from the scenario's [attacks] tables;
an attack the scenario leaves out does not run. Each attacks the routes of its kind (scenario.ATTACKS),
taking turns when the API has several. Every request's sample carries the attack's name as its role. Locust loads them through an entry point (harness/locustfiles/abuse.py).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from typing import Any

import gevent
from locust import FastHttpUser, task

from harness.load import plugin  # noqa: F401  (registers the recording hooks)
from harness.load.client import ApiClient
from harness.load.plan import RunPlan
from harness.load.probes import ProbeRunner
from harness.load.sources import bind_user, is_loopback, source_addresses, use_http_settings, user_host
from harness.load.values import template_values
from harness.load.wallet import WalletProber
from harness.load.webhooks import signed_headers
from harness.protocol.auth import Credential
from harness.scenario.accounts import Account, account_pools, identity_key
from harness.scenario.callers import attack_routes

COMMON_PASSWORDS = ["Password1!", "Summer2026!", "Welcome123", "Qwerty!23", "Coaching2026"]
ROLE_HEADERS = ("X-User-Role", "X-Role")


class _Attack(FastHttpUser):
    """One attacker: one source address (on loopback), the scenario's pace, starting after legit traffic."""

    abstract = True
    attack = ""

    def __init__(self, environment: Any) -> None:
        use_http_settings(self, environment)
        super().__init__(environment)

    def on_start(self) -> None:
        plan = RunPlan.from_environment(self.environment)
        if plan is None:
            raise RuntimeError("no run plan: run this locustfile with the harness plugin (it is imported above)")
        self.plan = plan
        self.settings = plan.scenario.attacks[self.attack]
        self.api = ApiClient(self.client, plan.scenario, role=self.attack, credentials=plan.credentials)
        self.accounts = account_pools(plan.credentials, plan.scenario)[0]
        self.targets = [ep.name for ep in attack_routes(plan.scenario.endpoints, self.attack)]
        self.turn = 0
        self.source_ip = ""
        if is_loopback(user_host(self)):
            self.source_ip = source_addresses(self.environment, "attack").next()
            bind_user(self, self.source_ip)
        gevent.sleep(plan.scenario.attacks_start_after_s)  # legit traffic alone first: the "before" figures
        self.started = time.time()

    def context(self) -> dict[str, Any]:
        return {"source_ip": self.source_ip}

    def wait_time(self) -> float:
        rate = self.settings.rate
        return 1.0 / rate if rate > 0 else 0.0

    def target(self) -> str:
        """The next route of the attack's kind: each in turn."""
        self.turn += 1
        return self.targets[(self.turn - 1) % len(self.targets)]

    def values(self, account: Account | None = None, **given: Any) -> dict[str, Any]:
        return template_values(account, self.plan.credentials.tenants, **given)

    def login(self, account: Account) -> Credential | None:
        """A session for the attack as `[auth]` says (None when it comes from a login route and the API has
        none); a 2xx without a usable credential is a failed sample that says so."""
        scenario = self.plan.scenario
        if scenario.auth.uses_login_route and scenario.route("login") is None:
            return None
        return self.api.log_in(account)[0]

    def delivery(self, secret: str, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
        event = {
            "id": f"evt_{uuid.uuid4().hex[:24]}",
            "type": "invoice.paid",
            "created": int(time.time()),
            "data": {"object": {"amount_total": 100, "currency": "usd"}},
        }
        body = json.dumps(event).encode()
        return body, signed_headers(self.plan, body, str(event["id"]), secret, timestamp)

    def send(self, delivery: tuple[bytes, dict[str, str]], technique: str = "") -> None:
        body, headers = delivery
        self.api.call(self.target(), body=body, headers=headers, technique=technique)


class CredentialStuffing(_Attack):
    """Leaked credentials: many accounts, one try each."""

    attack = "credential_stuffing"

    @task
    def attempt(self) -> None:
        n = random.randrange(10**6)
        account = random.choice([*self.accounts, None])
        if account is None:  # an address the target never had
            account = Account(f"leaked-{n}@mail.example", "", username=f"leaked-{n}")
        self.api.identity = identity_key(account.key)
        self.api.attempt_login(self.target(), self.values(account, password=f"leaked-{n}"))


class PasswordSpraying(_Attack):
    """One common password against every account in turn."""

    attack = "password_spraying"

    def on_start(self) -> None:
        super().on_start()
        self.password = self.settings.settings.get("password", COMMON_PASSWORDS[0])
        self.sprayed = 0

    @task
    def attempt(self) -> None:
        account = self.accounts[self.sprayed % len(self.accounts)]
        self.sprayed += 1
        self.api.identity = identity_key(account.key)
        self.api.attempt_login(self.target(), self.values(account, password=self.password))


class BruteForce(_Attack):
    """Many passwords against one account."""

    attack = "brute_force"

    @task
    def attempt(self) -> None:
        account = self.accounts[0]
        self.api.identity = identity_key(account.key)
        password = f"{random.choice(COMMON_PASSWORDS)}{random.randrange(100)}"
        self.api.attempt_login(self.target(), self.values(account, password=password))


class ChatFlood(_Attack):
    """One account chatting as fast as the target answers: the token bill of one abuser."""

    attack = "chat_flood"

    def on_start(self) -> None:
        super().on_start()
        self.account = random.choice(self.accounts)
        self.login(self.account)
        self.api.identity = identity_key(self.account.key)

    @task
    def flood(self) -> None:
        message = "Write me a long, detailed 12-week coaching programme."
        result = self.api.call(self.target(), self.values(self.account, message=message))
        if result.status == 401:  # and logging in again at once failed: once more, next time
            self.login(self.account)


class ChatFloodManyAccounts(_Attack):
    """Many accounts chatting at full speed from one client: what a per-account limit alone lets through."""

    attack = "chat_flood_many_accounts"

    def on_start(self) -> None:
        super().on_start()
        self.sessions = [(a, self.login(a)) for a in self.accounts]
        self.api.credential = self.api.account = None
        self.session = 0

    @task
    def flood(self) -> None:
        account, credential = self.sessions[self.session % len(self.sessions)]
        self.session += 1
        self.api.credential, self.api.account, self.api.identity = credential, account, identity_key(account.key)
        message = "Summarise everything you know about my clients."
        self.api.call(self.target(), self.values(account, message=message))


class ResetFlood(_Attack):
    """Password-reset requests for one address: an inbox bombed, an e-mail bill run up."""

    attack = "reset_flood"

    @task
    def flood(self) -> None:
        self.api.identity = identity_key(self.accounts[0].key)
        self.api.call(self.target(), self.values(self.accounts[0]))


class ResetFloodMany(_Attack):
    """Password-reset requests for many addresses from one client."""

    attack = "reset_flood_many"

    @task
    def flood(self) -> None:
        email = random.choice([*(a.email for a in self.accounts), f"someone-{random.randrange(10**6)}@mail.example"])
        self.api.identity = identity_key(email)
        self.api.call(self.target(), self.values(email=email))


class WebhookForged(_Attack):
    """Deliveries signed with a secret the attacker guessed: every one must be refused."""

    attack = "webhook_forged"

    @task
    def deliver(self) -> None:
        self.send(self.delivery("whsec_" + "guess" * 4), technique="forged")


class WebhookStale(_Attack):
    """Validly signed deliveries with a timestamp an hour old: outside any sane tolerance."""

    attack = "webhook_stale"

    @task
    def deliver(self) -> None:
        self.send(self.delivery(self.plan.credentials.webhook_secret or "", int(time.time()) - 3600), "stale")


class WebhookReplay(_Attack):
    """One valid delivery, captured and replayed byte for byte."""

    attack = "webhook_replay"

    def on_start(self) -> None:
        super().on_start()
        self.captured = self.delivery(self.plan.credentials.webhook_secret or "")

    @task
    def replay(self) -> None:
        self.send(self.captured, technique="replay")


class WebhookFlood(_Attack):
    """Validly signed, distinct deliveries at full speed."""

    attack = "webhook_flood"

    @task
    def deliver(self) -> None:
        self.send(self.delivery(self.plan.credentials.webhook_secret or ""))


class AdminProbe(_Attack):
    """The admin route as anonymous, as a normal user, and with client-sent role headers."""

    attack = "admin_probe"

    def on_start(self) -> None:
        super().on_start()
        self.account = random.choice(self.accounts)
        self.client_credential = self.login(self.account)
        self.api.relogin = False  # each variant is sent as it is, anonymous ones included
        self.variant = 0

    @task
    def probe(self) -> None:
        variants: list[tuple[str, Credential | None, dict[str, str]]] = [
            ("anonymous", None, {}),
            ("client", self.client_credential, {}),
            *((f"header:{h}", self.client_credential, {h: "admin"}) for h in ROLE_HEADERS),
            *((f"anonymous+header:{h}", None, {h: "admin"}) for h in ROLE_HEADERS),
        ]
        technique, credential, headers = variants[self.variant % len(variants)]
        self.variant += 1
        self.api.credential = credential  # anonymous: no token, no cookies
        route = self.targets[(self.variant - 1) // len(variants) % len(self.targets)]  # every variant on each route
        self.api.call(route, self.values(self.account), headers=headers, technique=technique)


class LeadSpam(_Attack):
    """The public lead form at full speed."""

    attack = "lead_spam"

    @task
    def spam(self) -> None:
        n = random.randrange(10**6)
        values = self.values(name=f"Spam {n}", lead_email=f"spam-{n}@mail.example", message="Buy followers now!")
        self.api.call(self.target(), values)


class LimitProbe(FastHttpUser):
    """Runs the bypass matrix once (all probed routes side by side), then idles until the run ends."""

    probe = True
    fixed_count = 0

    def on_start(self) -> None:
        plan = RunPlan.from_environment(self.environment)
        if plan is None:
            raise RuntimeError("no run plan: run this locustfile with the harness plugin (it is imported above)")
        gevent.sleep(plan.scenario.probes.start_after_s)
        ProbeRunner(self.environment, plan, user_host(self)).run()

    @task
    def idle(self) -> None:
        gevent.sleep(1.0)


class WalletProbe(FastHttpUser):
    """Runs the denial-of-wallet probe once (largest prompt accepted, reply inflation), then idles."""

    wallet_probe = True
    fixed_count = 0

    def on_start(self) -> None:
        plan = RunPlan.from_environment(self.environment)
        if plan is None or plan.scenario.wallet is None:
            raise RuntimeError("no run plan with a [wallet] table: run this locustfile with the harness plugin")
        gevent.sleep(plan.scenario.wallet.start_after_s)
        WalletProber(self.environment, plan, user_host(self)).run()

    @task
    def idle(self) -> None:
        gevent.sleep(1.0)
