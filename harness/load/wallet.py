"""The denial-of-wallet probe: how big a prompt the LLM route takes, and how long a reply it gives.

Prompt sizes double from `prompt_start_tokens` up to the scenario's cap, then bisect between the
largest accepted and the smallest rejected size; each asks for a one-token reply, so a target that
accepts everything costs little to probe. Then one request asks for a long reply (in the prompt and
through the body's `max_tokens`). Every attempt is an ordinary request event with role "probe" and
technique "prompt-size" or "output-inflation"; `harness.analysis.wallet` reads the verdicts off the samples.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent

from harness.load.client import ApiClient, CallResult
from harness.load.plan import RunPlan
from harness.load.probes import log_in, probe_session
from harness.load.sources import is_loopback, source_addresses
from harness.load.values import template_values
from harness.scenario.accounts import account_pools, identity_key

__all__ = ["WalletProber", "filler", "BISECT_STEPS"]

log = logging.getLogger("harness")

BISECT_STEPS = 5  # after the doubling: the limit to within 1/32 of the last doubling step
FILLER_WORD = " coach"  # one cl100k_base token, so n of them are n tokens
REJECTIONS = (400, 413, 422)  # refused as too large, before any model spend
MAX_BLOCKED_RETRIES = 3


def filler(tokens: int) -> str:
    """A prompt of exactly `tokens` cl100k_base tokens."""
    return FILLER_WORD * tokens


class WalletProber:
    """Runs the denial-of-wallet probe once, from one Locust user's greenlet."""

    def __init__(self, environment: Any, plan: RunPlan, host: str) -> None:
        wallet = plan.scenario.wallet
        assert wallet is not None
        self.wallet = wallet
        self.scenario = plan.scenario
        source = source_addresses(environment, "wallet").next() if is_loopback(host) else None
        timeout = max(120.0, plan.scenario.http.timeout_s)  # a long reply streams for a while
        self.api = ApiClient(
            probe_session(
                environment,
                host,
                source,
                network_timeout=timeout,
                connection_timeout=plan.scenario.http.connect_timeout_s,
            ),
            plan.scenario,
            role="probe",
            credentials=plan.credentials,
        )
        self.api.timeout_s = timeout
        self.api.source_ip = source or ""
        accounts = account_pools(plan.credentials, plan.scenario)[1]
        self.account = accounts[-1] if accounts else None
        self.tenants = plan.credentials.tenants
        if self.scenario.endpoints[wallet.route].auth and accounts:
            account = accounts[-1]  # the bypass matrix starts from the first: least likely to share a counter
            self.api.credential = log_in(environment, plan, host, account, source)
            self.api.account, self.api.identity = account, identity_key(account.key)
        rules = plan.scenario.limits_by_route().get(wallet.route, [])
        self.pace_s = max((r.window_s / r.quota for r in rules), default=0.0)  # stay under the route's own limit
        self.backoff_s = max((r.window_s for r in rules), default=5.0)  # blocked anyway: a whole window

    def run(self) -> None:
        try:
            self.probe_prompt_sizes()
            self.probe_output_inflation()
        except Exception:  # a probe must never take the run down; what it sent is recorded
            log.exception("harness: the denial-of-wallet probe stopped early")

    def probe_prompt_sizes(self) -> None:
        """Double until refused (or the cap), then bisect between the last accepted and first refused size."""
        accepted, refused = 0, None
        size = self.wallet.prompt_start_tokens
        while refused is None:
            if self._accepted(size):
                accepted = size
                if size >= self.wallet.prompt_cap_tokens:
                    return
                size = min(2 * size, self.wallet.prompt_cap_tokens)
            else:
                refused = size
        for _ in range(BISECT_STEPS):
            middle = (accepted + refused) // 2
            if middle <= accepted:
                return
            if self._accepted(middle):
                accepted = middle
            else:
                refused = middle

    def probe_output_inflation(self) -> None:
        n = self.wallet.output_ask_tokens
        prompt = f"Please answer in at least {n} words: how should I plan my next quarter as a coach?"
        self._send(prompt, "output-inflation", n)

    def _accepted(self, tokens: int) -> bool:
        result = self._send(filler(tokens), "prompt-size", 1)
        return 200 <= result.status < 300 and not result.error

    def _send(self, prompt: str, technique: str, max_tokens: int) -> CallResult:
        """One attempt; a rate-limited one is retried after its Retry-After (the limit is not under test)."""
        values = template_values(self.account, self.tenants, message=prompt)
        extra = {self.wallet.max_tokens_field: max_tokens} if self.wallet.max_tokens_field else None
        for _ in range(MAX_BLOCKED_RETRIES):
            sent = time.monotonic()
            result = self.api.call(self.wallet.route, values, technique=technique, extra=extra)
            gevent.sleep(max(0.0, self.pace_s - (time.monotonic() - sent)))
            if not result.blocked:
                return result
            gevent.sleep(self.backoff_s)
        return result
