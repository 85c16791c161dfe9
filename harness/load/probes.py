"""The bypass matrix: controlled experiments against every rate-limited route.

Each experiment is one (route, technique) pair, sent from its own source address with its own
identity, so that experiments running side by side do not share a counter on a correct limiter. The
baseline is the plain case (one client, keep-alive, the exact path): 3q attempts (q = the route's
largest declared quota). A technique that changes one thing about the request (ip-headers,
path-variants, method-switch, new-connection) is judged on an identity that has just exhausted its
quota through the canonical request: its variant alternates with a canonical control, so a counter kept
per exact path, per method or per connection shows as a variant admitted while the control is blocked.
The others (many-accounts, many-sources, window-edge, race) send 3q attempts their own way. Every
attempt is an ordinary Locust request event: a sample with role "probe" and its technique (a control's
ends in "#canonical").
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.event
from locust.contrib.fasthttp import FastHttpSession
from locust.event import EventHook

from harness.load.bypass import spoofed_ip
from harness.load.client import ApiClient, CallResult
from harness.load.plan import RunPlan
from harness.load.sources import SourceBoundPool, is_loopback, source_addresses
from harness.load.webhooks import signed_headers
from harness.protocol.auth import Credential
from harness.scenario import LimitRule
from harness.scenario.accounts import Account, account_pools, identity_key
from harness.scenario.probeplan import (
    AFTER_EXHAUSTION,
    CANONICAL_MARK,
    IDENTITY_KEYS,
    RETRY_MARK,
    one_at_a_time,
    path_variants,
    planned_techniques,
    tightest,
    window_roll,
)
from harness.scenario.templates import render

__all__ = ["ProbeRunner", "probe_session", "log_in"]

log = logging.getLogger("harness")


def probe_session(
    environment: Any,
    host: str,
    source: str | None,
    concurrency: int = 1,
    network_timeout: float = 30.0,
    connection_timeout: float = 10.0,
) -> FastHttpSession:
    """A Locust HTTP session of a probe's own (no user), bound to `source` when given; its requests
    fire the usual request events, so every attempt is a sample."""
    pool = (
        SourceBoundPool(
            source, concurrency=concurrency, network_timeout=network_timeout, connection_timeout=connection_timeout
        )
        if source
        else None
    )
    return FastHttpSession(
        base_url=host,
        request_event=environment.events.request,
        user=None,
        client_pool=pool,
        max_retries=1,
        concurrency=concurrency,
        network_timeout=network_timeout,
        connection_timeout=connection_timeout,
    )


def log_in(environment: Any, plan: RunPlan, host: str, account: Account, source: str | None) -> Credential | None:
    """A session for `account` as `[auth]` says, fetched outside the measurement (set-up, not a sample: its
    requests go to an event hook nobody listens to), from the probe's own address; None when the login gave
    none, or when a bearer or cookie session is needed and the API has no login route; as abuse traffic, it
    follows no redirect."""
    if plan.scenario.auth.uses_login_route and plan.scenario.route("login") is None:
        return None
    http = plan.scenario.http
    session = probe_session(
        environment, host, source, network_timeout=http.timeout_s, connection_timeout=http.connect_timeout_s
    )
    session.request_event = EventHook()
    return ApiClient(session, plan.scenario, role="probe", credentials=plan.credentials).log_in(account)[0]


@dataclass
class _Experiment:
    route: str
    technique: str
    attempts: int
    identity: str = ""  # "<route index>-<round>.<slot>": a fictional e-mail, or one account (routes behind login)
    retry: bool = False  # the repeat of a round whose baseline saw a fixed window roll over
    outcomes: list[tuple[float, bool]] = field(default_factory=list)  # (sent at, blocked), sequential ones

    @property
    def label(self) -> str:
        """The technique as written in the samples; the analysis prefers a retry's rows."""
        return self.technique + (RETRY_MARK if self.retry else "")


class ProbeRunner:
    """Runs the scenario's bypass matrix from one Locust user's greenlet."""

    def __init__(self, environment: Any, plan: RunPlan, host: str) -> None:
        self.environment = environment
        self.plan = plan
        self.scenario = plan.scenario
        self.host = host
        self.loopback = is_loopback(host)
        self.sources = source_addresses(environment, "probe")
        self.accounts = account_pools(plan.credentials, self.scenario)[1]
        self._credentials: dict[str, Credential | None] = {}

    # --- plumbing ------------------------------------------------------------------------
    def _session(self, source: str | None, concurrency: int = 1) -> FastHttpSession:
        http = self.scenario.http
        return probe_session(self.environment, self.host, source, concurrency, http.timeout_s, http.connect_timeout_s)

    def _source(self) -> str | None:
        return self.sources.next() if self.loopback else None

    def _credential(self, account: Account, source: str | None) -> Credential | None:
        """Log in outside the measurement (setup, not an attempt): the probe needs a session to attack with.

        Once per account: the same session serves every experiment, whatever its source address.
        """
        if account.key not in self._credentials:
            self._credentials[account.key] = log_in(self.environment, self.plan, self.host, account, source)
        return self._credentials[account.key]

    def _values(self, identity: str, attempt: int) -> dict[str, Any]:
        """Template values for one attempt; login and reset identities are fictional addresses."""
        email = f"probe-{identity}@probe.example"
        return {
            "email": email,
            "username": f"probe-{identity}",
            "password": f"wrong-{attempt}-{uuid.uuid4().hex[:6]}",
            "message": "probe",
            "messages": [{"role": "user", "content": "Say hi."}],
            "conversation_id": "",
            "tenant": (self.plan.credentials.tenants or [""])[0],
            "name": "Probe",
            "lead_email": f"lead-probe-{attempt}@probe.example",
        }

    def _attempt(
        self,
        api: ApiClient,
        route: str,
        technique: str,
        identity: str,
        attempt: int,
        headers: dict[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
    ) -> CallResult:
        body = None
        headers = dict(headers or {})
        if self.scenario.endpoints[route].kind == "webhook":
            event = {
                "id": f"evt_probe_{uuid.uuid4().hex[:20]}",
                "type": "invoice.paid",
                "created": int(time.time()),
                "data": {"object": {}},
            }
            body = json.dumps(event).encode()
            headers.update(signed_headers(self.plan, body, str(event["id"])))
        return api.call(
            route,
            self._values(identity, attempt),
            headers=headers,
            body=body,
            technique=technique,
            path=path,
            method=method,
        )

    def _client(self, route: str, session: FastHttpSession, identity: str, source: str | None) -> ApiClient:
        api = ApiClient(session, self.scenario, role="probe", credentials=self.plan.credentials)
        api.source_ip = source or ""
        if self._identity_in_body(route):
            api.identity = identity_key(f"probe-{identity}@probe.example")
        elif self.scenario.endpoints[route].auth and self.accounts:
            account = self._account(identity)
            api.credential, api.account = self._credential(account, source), account
            api.identity = identity_key(account.key)
        return api

    def _identity_in_body(self, route: str) -> bool:
        """A login or reset route: its identity is the e-mail in the body, not a session."""
        return self.scenario.endpoints[route].kind in IDENTITY_KEYS

    def _account(self, identity: str) -> Account:
        """Experiment k of a route uses account k; many-accounts (which runs alone) takes them all in turn."""
        slot = identity.rsplit("-", 1)[-1].rsplit(".", 1)[-1]
        return self.accounts[int(slot.lstrip("m")) % len(self.accounts)]

    # --- the matrix ------------------------------------------------------------------------
    def run(self) -> None:
        routes = self.scenario.probes.routes
        gevent.joinall([gevent.spawn(self.run_route, route, i) for i, route in enumerate(routes)])

    def experiments(self, route: str) -> list[_Experiment]:
        """3 × the route's largest declared quota each, so a technique that escapes the tightest rule shows."""
        n = 3 * max(rule.quota for rule in self.scenario.limits_by_route()[route])
        return [_Experiment(route, t, n) for t in planned_techniques(self.scenario, route, self.loopback)]

    def run_route(self, route: str, index: int) -> None:
        """Side by side where sources and identities keep experiments apart, else in rounds a window apart
        (away from loopback, or under a declared global counter that every experiment would share).

        A round never uses one account twice; many-accounts always runs last, alone: it takes them all.
        """
        rule = tightest(self.scenario, route)
        largest = max(r.quota for r in self.scenario.limits_by_route()[route])  # more in one window is a roll
        experiments = self.experiments(route)
        last = [e for e in experiments if e.technique == "many-accounts"]
        first = [e for e in experiments if e.technique != "many-accounts"]
        size = 1 if one_at_a_time(self.scenario, route, self.loopback) else len(first)
        if self.scenario.endpoints[route].auth and not self._identity_in_body(route) and self.accounts:
            size = min(size, len(self.accounts))  # one account per experiment at a time
        rounds = [first[i : i + size] for i in range(0, len(first), size)] + [last]
        for i, group in enumerate(r for r in rounds if r):
            if i:
                gevent.sleep(rule.window_s + 1)
            self._run_round(group, f"{index}-{i}", rule)
            rolled = [
                t for e in group if e.technique == "baseline" and (t := window_roll(e.outcomes, largest)) is not None
            ]
            if rolled:
                # A fixed window rolled over mid-burst: every experiment of the round saw two windows,
                # which hides what a technique adds. Once more, starting just after the next roll.
                gevent.sleep(max(0.0, rolled[0] + rule.window_s + 0.1 - time.time()))
                retry = [_Experiment(e.route, e.technique, e.attempts, retry=True) for e in group]
                self._run_round(retry, f"{index}-{i}r", rule)

    def _run_round(self, group: list[_Experiment], name: str, rule: LimitRule) -> None:
        for slot, e in enumerate(group):
            e.identity = f"{name}.{slot}"
        gevent.joinall([gevent.spawn(self._run, e, rule) for e in group])

    def _run(self, e: _Experiment, rule: LimitRule) -> None:
        runner: Callable[[_Experiment, LimitRule], None] = {
            "many-sources": self._many_sources,
            "many-accounts": self._many_accounts,
            "window-edge": self._window_edge,
            "race": self._race,
        }.get(e.technique, self._after_exhaustion if e.technique.split(":")[0] in AFTER_EXHAUSTION else self._baseline)
        try:
            runner(e, rule)
        except Exception:  # a probe must never take the run down; what it sent is recorded
            log.exception("harness: probe %s on %s stopped early", e.technique, e.route)

    def _baseline(self, e: _Experiment, rule: LimitRule) -> None:
        source = self._source()
        api = self._client(e.route, self._session(source), e.identity, source)
        for attempt in range(e.attempts):
            sent = time.time()
            e.outcomes.append((sent, self._attempt(api, e.route, e.label, e.identity, attempt).blocked))

    def _after_exhaustion(self, e: _Experiment, rule: LimitRule) -> None:
        """Exhaust the identity's quota through the canonical request, then alternate the variant with a
        canonical control (q pairs, 4 to 10; twice that for new-connection): a variant admitted between
        two blocked controls escaped the counter. A control admitted (the window rolled, a slot freed)
        is followed by exhausting it again. Few pairs keep the phase well inside one window.

        Same identity and source address throughout; new-connection sends its variants on a second
        session that closes its connection after each request, the controls on the first (keep-alive)."""
        source = self._source()
        api = self._client(e.route, self._session(source), e.identity, source)
        kind, _, detail = e.technique.partition(":")
        variant, path, method = api, None, None
        headers: dict[str, str] = {}
        if kind == "path-variants":
            exact = render(
                self.scenario.endpoints[e.route].path, self._values(e.identity, 0), in_path=True, strict=True
            )
            path = path_variants(exact)[detail]
        elif kind == "method-switch":
            method = detail
        elif kind == "new-connection":
            variant = self._client(e.route, self._session(source), e.identity, source)
            headers["Connection"] = "close"
        control = e.label + CANONICAL_MARK
        sent = 0

        def canonical_blocked() -> bool:
            nonlocal sent
            sent += 1
            return self._attempt(api, e.route, control, e.identity, sent).blocked

        def exhausted() -> bool:
            return any(canonical_blocked() for _ in range(e.attempts))  # stops at the first block

        if not exhausted():
            return  # never blocked: the baseline reports the route as absent
        # a new connection reaches another server process only by chance: twice as many pairs
        for _ in range(min(max(4, rule.quota), 10) * (2 if kind == "new-connection" else 1)):
            if kind == "ip-headers":
                ip = spoofed_ip()
                headers = {detail: f"for={ip}" if detail == "Forwarded" else ip}
            sent += 1
            self._attempt(variant, e.route, e.label, e.identity, sent, headers, path, method)
            if not canonical_blocked() and not exhausted():
                return

    def _many_sources(self, e: _Experiment, rule: LimitRule) -> None:
        source = self._source()
        identity_api = self._client(e.route, self._session(source), e.identity, source)
        for attempt in range(e.attempts):
            src = self._source()
            api = ApiClient(self._session(src), self.scenario, role="probe", credentials=self.plan.credentials)
            api.credential, api.account = identity_api.credential, identity_api.account
            api.identity, api.source_ip = identity_api.identity, src or ""
            self._attempt(api, e.route, e.label, e.identity, attempt)

    def _many_accounts(self, e: _Experiment, rule: LimitRule) -> None:
        source = self._source()
        session = self._session(source)
        base = e.identity.rsplit("-", 1)[0]
        identities = [f"{base}-m{i}" for i in range(e.attempts)]
        clients = [self._client(e.route, session, identity, source) for identity in identities]
        for attempt, (api, identity) in enumerate(zip(clients, identities)):
            self._attempt(api, e.route, e.label, identity, attempt)

    def _race(self, e: _Experiment, rule: LimitRule) -> None:
        source = self._source()
        api = self._client(e.route, self._session(source, concurrency=e.attempts), e.identity, source)
        start = gevent.event.Event()

        def one(attempt: int) -> None:
            start.wait()
            self._attempt(api, e.route, e.label, e.identity, attempt)

        greenlets = [gevent.spawn(one, i) for i in range(e.attempts)]
        gevent.sleep(0.05)
        start.set()
        gevent.joinall(greenlets)

    def _window_edge(self, e: _Experiment, rule: LimitRule) -> None:
        """Exhaust, find the moment a slot frees, then burst on both sides of one window later."""
        source = self._source()
        api = self._client(e.route, self._session(source, concurrency=rule.quota), e.identity, source)
        attempt = 0
        for attempt in range(e.attempts):
            if self._attempt(api, e.route, e.label, e.identity, attempt).blocked:
                break
        else:
            return  # never blocked: the baseline reports the route as absent
        step = max(0.05, rule.window_s / 100)
        deadline = time.time() + 2 * rule.window_s + 2
        freed_at = None
        while time.time() < deadline:
            gevent.sleep(step)
            attempt += 1
            sent = time.time()
            if not self._attempt(api, e.route, e.label, e.identity, attempt).blocked:
                freed_at = sent
                break
        if freed_at is None:
            return
        edge = min(0.5, rule.window_s / 10)
        for at in (freed_at + rule.window_s - edge, freed_at + rule.window_s + edge / 5):
            gevent.sleep(max(0.0, at - time.time()))
            burst = [
                gevent.spawn(self._attempt, api, e.route, e.label, e.identity, attempt + 1 + i)
                for i in range(rule.quota)
            ]
            gevent.joinall(burst)
            attempt += rule.quota
