"""When a simulated user may log in again after a failed login: only after a pause.

A login that yields no usable credential is a failed sample (ApiClient.log_in names what it looked at: a
wrong `auth.token_field`, a missing session cookie, a changed API), and a journey that logs in again before
each task would otherwise hammer the login route, blocked or not.
"""

from __future__ import annotations

import math
import time

from harness.load.client import CallResult
from harness.protocol.auth import Credential

__all__ = ["Backoff"]


class Backoff:
    """When a user may log in again: after Retry-After when the login was blocked (and said when),
    else 1 s, 2 s, 4 s ... up to 30 s after consecutive failures; at once after a success."""

    FIRST_S = 1.0
    MAX_S = 30.0

    def __init__(self) -> None:
        self.failures = 0
        self.due = 0.0  # time.monotonic() before which no login is sent

    def delay_s(self, result: CallResult | None) -> float:
        """The pause after this failed login (the `failures`-th in a row)."""
        retry_after = result.retry_after_s if result is not None else math.nan
        if result is not None and result.blocked and math.isfinite(retry_after) and retry_after > 0:
            return retry_after
        return min(self.MAX_S, self.FIRST_S * 2 ** (self.failures - 1))

    def record(self, credential: Credential | None, result: CallResult | None) -> None:
        if credential is not None:
            self.failures, self.due = 0, 0.0
            return
        self.failures += 1
        self.due = time.monotonic() + self.delay_s(result)

    def wait(self) -> None:
        """Sleep (gevent-patched in Locust) until the next login may go out."""
        pause = self.due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
