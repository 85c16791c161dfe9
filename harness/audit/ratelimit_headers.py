"""What the rate-limit headers of the chat, login, reset, webhook and admin answers say.

Read from every answer the audit gets from a route of those kinds (no extra request), in every family
in use: the IETF drafts (`RateLimit-Limit/-Remaining/-Reset`, the combined `RateLimit` and
`RateLimit-Policy`), the legacy `X-RateLimit-*` (a reset past 10^9 is a Unix time), the
`x-ratelimit-{limit,remaining,reset}-{requests,tokens}` family LLM providers send (OpenAI's resets are Go
durations: `6m0s`, `1s`, `20ms`), Anthropic's `anthropic-ratelimit-*` (resets are RFC 3339 times), and
`Retry-After` (seconds or an HTTP date). They are evidence for the `rate_limiting` row, never its
verdict: a header announces a limit, only a load run shows it holds. A 429 that says neither when to
retry nor what the limit is gets a note with the fix.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

__all__ = ["LIMITED_KINDS", "Quota", "RateHeaders", "Observed", "parse", "parse_duration", "judge"]

# the kinds of route the checklist wants limited: every route of each
LIMITED_KINDS = ("chat", "login", "reset", "webhook", "admin")
MAX_PER_ROUTE = 20  # answers of one route kept: enough to see a 429 among them, bounded

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_EPOCH = 1e9  # an X-RateLimit-Reset above this is a Unix time, not seconds from now


def parse_duration(text: str) -> float | None:
    """Seconds in `12`, `1.5`, `6m0s`, `1s`, `20ms`, `1h2m3.5s` (Go's form, as OpenAI sends); None otherwise."""
    text = text.strip()
    try:
        return float(text) if text else None
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _integer(text: str | None) -> int | None:
    try:
        return int(float(text.strip())) if text is not None else None
    except ValueError:
        return None


def _moment(text: str, now: float) -> float | None:
    """Seconds from `now` to an RFC 3339 or HTTP date, or None."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


@dataclass(frozen=True)
class Quota:
    """One limit an answer announces: of requests, tokens, or unnamed ("")."""

    unit: str
    limit: int | None = None
    remaining: int | None = None
    reset_s: float | None = None

    def describe(self) -> str:
        what = f" {self.unit}" if self.unit else ""
        parts = [f"limit {self.limit:,}{what}" if self.limit is not None else ""]
        parts.append(f"{self.remaining:,} remaining" if self.remaining is not None else "")
        parts.append(f"resets in {_seconds(self.reset_s)}" if self.reset_s is not None else "")
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class RateHeaders:
    quotas: tuple[Quota, ...] = ()
    retry_after_s: float | None = None

    @property
    def any(self) -> bool:
        return bool(self.quotas) or self.retry_after_s is not None

    def describe(self) -> str:
        parts = [q.describe() for q in self.quotas]
        if self.retry_after_s is not None:
            parts.append(f"Retry-After {_seconds(self.retry_after_s)}")
        return "; ".join(p for p in parts if p)


def _seconds(value: float) -> str:
    return f"{value * 1000:g} ms" if 0 < value < 1 else f"{value:g} s"


def parse(headers: Mapping[str, str], now: float | None = None) -> RateHeaders:
    """Every quota the headers announce (names case-insensitive), and Retry-After."""
    now = time.time() if now is None else now
    h = {k.lower(): v for k, v in headers.items()}
    quotas = [q for q in (_provider(h, "requests"), _provider(h, "tokens")) if q is not None]
    quotas += [q for q in (_anthropic(h, unit, now) for unit in _ANTHROPIC_UNITS) if q is not None]
    for prefix in ("ratelimit-", "x-ratelimit-"):
        quota = _trio(h, prefix, now)
        if quota is not None:
            quotas.append(quota)
            break
    else:
        combined = _combined(h)
        if combined is not None:
            quotas.append(combined)
    retry = h.get("retry-after")
    retry_after = None
    if retry is not None:
        retry_after = parse_duration(retry)
        retry_after = _moment(retry, now) if retry_after is None else retry_after
    return RateHeaders(tuple(quotas), retry_after)


def _provider(h: Mapping[str, str], unit: str) -> Quota | None:
    """OpenAI's `x-ratelimit-limit-requests`, `-remaining-requests`, `-reset-requests` (and `-tokens`)."""
    names = [f"x-ratelimit-{part}-{unit}" for part in ("limit", "remaining", "reset")]
    if not any(n in h for n in names):
        return None
    reset = h.get(names[2])
    return Quota(unit, _integer(h.get(names[0])), _integer(h.get(names[1])), parse_duration(reset) if reset else None)


_ANTHROPIC_UNITS = ("requests", "tokens", "input-tokens", "output-tokens")


def _anthropic(h: Mapping[str, str], unit: str, now: float) -> Quota | None:
    names = [f"anthropic-ratelimit-{unit}-{part}" for part in ("limit", "remaining", "reset")]
    if not any(n in h for n in names):
        return None
    reset = h.get(names[2])
    return Quota(unit, _integer(h.get(names[0])), _integer(h.get(names[1])), _moment(reset, now) if reset else None)


def _trio(h: Mapping[str, str], prefix: str, now: float) -> Quota | None:
    """`RateLimit-Limit/-Remaining/-Reset` or `X-RateLimit-*`; the limit may carry a policy (`100, 100;w=60`)."""
    names = [f"{prefix}{part}" for part in ("limit", "remaining", "reset")]
    if not any(n in h for n in names):
        return None
    reset = parse_duration(h.get(names[2], ""))
    if reset is not None and reset > _EPOCH:
        reset = max(0.0, reset - now)
    limit = h.get(names[0])
    return Quota("", _integer(limit.split(",")[0].split(";")[0]) if limit else None, _integer(h.get(names[1])), reset)


def _combined(h: Mapping[str, str]) -> Quota | None:
    """The one-header forms: `RateLimit: limit=10, remaining=9, reset=5` (draft 7) or
    `RateLimit: "default";r=9;t=5` with `RateLimit-Policy: "default";q=10;w=10` (later drafts)."""
    if "ratelimit" not in h:
        return None
    fields = dict(re.findall(r"\b(limit|remaining|reset|r|t)=(\d+(?:\.\d+)?)", h["ratelimit"]))
    policy = h.get("ratelimit-policy", "")
    quota = re.search(r"\bq=(\d+)", policy) or re.match(r"\s*(\d+)", policy)
    limit = _integer(fields.get("limit")) if "limit" in fields else _integer(quota.group(1)) if quota else None
    reset = fields.get("reset", fields.get("t"))
    return Quota("", limit, _integer(fields.get("remaining", fields.get("r"))), float(reset) if reset else None)


@dataclass(frozen=True)
class Observed:
    """One answer of a limited route: its status and what its headers say."""

    route: str
    status: int
    headers: RateHeaders


def judge(observed: Iterable[Observed]) -> tuple[list[str], list[str]]:
    """(evidence, notes) for the rate_limiting row: per route, the last answer's headers that announce a
    limit (or that none did), and a note for each route that answered 429 with no Retry-After and no
    rate-limit header."""
    by_route: dict[str, list[Observed]] = {}
    for o in observed:
        by_route.setdefault(o.route, []).append(o)
    evidence, notes = [], []
    for route, answers in by_route.items():
        announced = [o for o in answers if o.headers.any]
        if announced:
            last = announced[-1]
            evidence.append(f"{route}: rate-limit headers of a {last.status}: {last.headers.describe()}")
        else:
            statuses = ", ".join(str(s) for s in sorted({o.status for o in answers}))
            evidence.append(f"{route}: no rate-limit header on {len(answers)} answer(s) ({statuses})")
        if any(o.status == 429 and not o.headers.any for o in answers):
            notes.append(
                f"{route}: a 429 with no Retry-After and no rate-limit header; clients cannot tell when to "
                "retry: send Retry-After (and RateLimit-Limit/-Remaining/-Reset) with every 429"
            )
    return evidence, notes
