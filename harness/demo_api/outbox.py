"""Password-reset tokens and the demo mailbox that would have delivered them.

A real product e-mails the token; the demo keeps it in memory and shows it at `/__demo__/outbox`
so a load test can complete the reset flow. Tokens are single use, expire, and at most a few are
pending per account, so a reset-request flood cannot grow memory without bound.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Outbox"]


@dataclass
class _Pending:
    token: str
    user_id: str
    email: str
    expires_at: float


class Outbox:
    def __init__(self, ttl_s: int = 900, per_account: int = 5, clock: Callable[[], float] = time.time) -> None:
        self.ttl_s = ttl_s
        self.per_account = per_account
        self.clock = clock
        self._by_token: dict[str, _Pending] = {}
        self._by_email: dict[str, list[_Pending]] = {}

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(24)

    def deliver(self, token: str, user_id: str, email: str) -> None:
        pending = _Pending(token, user_id, email, self.clock() + self.ttl_s)
        queue = self._by_email.setdefault(email, [])
        queue.append(pending)
        self._by_token[token] = pending
        while len(queue) > self.per_account:
            self._by_token.pop(queue.pop(0).token, None)

    def pending(self, email: str) -> list[str]:
        """Unexpired, unused tokens for `email`, oldest first."""
        now = self.clock()
        return [p.token for p in self._by_email.get(email, []) if p.expires_at > now]

    def redeem(self, token: str) -> str | None:
        """The user id a valid token resets, consuming every pending token of that account; else None."""
        pending = self._by_token.get(token)
        if pending is None or pending.expires_at <= self.clock():
            return None
        for p in self._by_email.pop(pending.email, []):
            self._by_token.pop(p.token, None)
        return pending.user_id
