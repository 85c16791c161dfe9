"""Rate-limit counting: an exact moving window (sliding log) and the naive fixed window, in memory.

A request is admitted only if every rule that applies to it has room, and is then recorded in all
of them at once. A blocked request is recorded nowhere: otherwise one rule's block would use up
another rule's quota, and a client that honours Retry-After would find the slot taken by its own
rejected retries. The fixed window is here because it is what the vulnerable profile ships: its
counter restarts at every multiple of the window, so a burst straddling the edge gets twice in.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Check", "Usage", "Counter", "SlidingLog", "FixedWindow", "Verdict", "decide", "limit_headers"]

_SWEEP_EVERY = 4096  # acquisitions between sweeps of idle buckets, so attacker-chosen keys cannot pile up


@dataclass(frozen=True)
class Check:
    """One rule applied to one request: its bucket (route, rule, key value) and its policy."""

    bucket: str
    quota: int
    window_s: float


@dataclass(frozen=True)
class Usage:
    """A bucket after the decision: requests in its window (this one included if admitted), and
    seconds until one more request would fit."""

    used: int
    frees_in: float


class Counter(Protocol):
    def acquire(self, checks: Sequence[Check], now: float) -> tuple[bool, list[Usage]]:
        """Admit the request if every check has room, recording it in all; else record nothing."""
        ...


def sliding_usage(times: Sequence[float], check: Check, now: float) -> Usage:
    """Usage of a sliding log holding `times` (sorted, all inside the window)."""
    n = len(times)
    if n >= check.quota:  # full: the (n - quota + 1)-th oldest entry must age out first
        return Usage(n, times[n - check.quota] + check.window_s - now)
    return Usage(n, times[0] + check.window_s - now if times else 0.0)


class SlidingLog:
    """Exact moving window: the timestamps of the admitted requests of the last `window_s` seconds."""

    def __init__(self) -> None:
        self._logs: dict[str, tuple[float, deque[float]]] = {}
        self._until_sweep = _SWEEP_EVERY

    def acquire(self, checks: Sequence[Check], now: float) -> tuple[bool, list[Usage]]:
        logs = []
        for check in checks:
            _, log = self._logs.setdefault(check.bucket, (check.window_s, deque()))
            cutoff = now - check.window_s
            while log and log[0] <= cutoff:
                log.popleft()
            logs.append(log)
        admitted = all(len(log) < check.quota for log, check in zip(logs, checks))
        if admitted:
            for log in logs:
                log.append(now)
        usages = [sliding_usage(log, check, now) for log, check in zip(logs, checks)]
        self._until_sweep -= 1
        if self._until_sweep <= 0:
            self._sweep(now)
        return admitted, usages

    def _sweep(self, now: float) -> None:
        self._logs = {k: (w, log) for k, (w, log) in self._logs.items() if log and log[-1] > now - w}
        self._until_sweep = max(_SWEEP_EVERY, len(self._logs))


class FixedWindow:
    """Counters that restart at every multiple of `window_s` since the epoch (the planted flaw)."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[float, int, int]] = {}  # bucket -> (window_s, window index, count)
        self._until_sweep = _SWEEP_EVERY

    def acquire(self, checks: Sequence[Check], now: float) -> tuple[bool, list[Usage]]:
        states = []
        for check in checks:
            index = math.floor(now / check.window_s)
            _, current, count = self._counts.get(check.bucket, (check.window_s, index, 0))
            states.append((index, count if current == index else 0))
        admitted = all(count < check.quota for (_, count), check in zip(states, checks))
        usages = []
        for (index, count), check in zip(states, checks):
            if admitted:
                count += 1
                self._counts[check.bucket] = (check.window_s, index, count)
            usages.append(Usage(count, (index + 1) * check.window_s - now))
        self._until_sweep -= 1
        if self._until_sweep <= 0:
            self._counts = {k: v for k, v in self._counts.items() if v[1] >= math.floor(now / v[0])}
            self._until_sweep = max(_SWEEP_EVERY, len(self._counts))
        return admitted, usages


@dataclass(frozen=True)
class Verdict:
    """What the response says about the limit: the tightest rule, or the one that blocked longest."""

    admitted: bool
    quota: int
    window_s: float
    remaining: int
    reset_s: int  # whole seconds until a slot of that rule frees (Retry-After when blocked)


def _whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds - 1e-9))


def decide(admitted: bool, checks: Sequence[Check], usages: Sequence[Usage]) -> Verdict:
    pairs = list(zip(checks, usages))
    if admitted:  # fewest remaining, then the longest wait for the next slot
        check, usage = min(pairs, key=lambda p: (p[0].quota - p[1].used, -p[1].frees_in))
        return Verdict(True, check.quota, check.window_s, check.quota - usage.used, _whole_seconds(usage.frees_in))
    full = [p for p in pairs if p[1].used >= p[0].quota]
    check, usage = max(full, key=lambda p: p[1].frees_in)  # the client must wait for every full rule
    return Verdict(False, check.quota, check.window_s, 0, _whole_seconds(usage.frees_in))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def limit_headers(verdict: Verdict) -> dict[str, str]:
    """IETF draft `RateLimit`/`RateLimit-Policy` plus the legacy `X-RateLimit-*` trio (reset in seconds)."""
    headers = {
        "RateLimit-Policy": f"{verdict.quota};w={_number(verdict.window_s)}",
        "RateLimit": f"limit={verdict.quota}, remaining={verdict.remaining}, reset={verdict.reset_s}",
        "X-RateLimit-Limit": str(verdict.quota),
        "X-RateLimit-Remaining": str(verdict.remaining),
        "X-RateLimit-Reset": str(verdict.reset_s),
    }
    if not verdict.admitted:
        headers["Retry-After"] = str(verdict.reset_s)
    return headers
