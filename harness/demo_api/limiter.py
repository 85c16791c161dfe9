"""The rate-limit guard: which rules apply to a request, what each counts it by, and the answer.

It runs before injected latency and before the handler, so a blocked chat never reaches the model
and a blocked reset never queues an e-mail.

hardened: an exact moving window per (route name, rule, key value); `ip` is the TCP peer address;
path variants share the route's counters because they are counted by route name.

vulnerable, one planted flaw per check (see docs/demo-api.md):
  - no limit on password-reset requests;
  - login is counted by the first `X-Forwarded-For` value when present, with no per-account rule;
  - the chat limit applies only to the exact raw path `/api/chat`;
  - every window is fixed (counters restart at multiples of the window since the epoch);
  - counters live in each process's memory (several processes give about N times the quota).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from harness.demo_api.auth import TokenError, TokenService
from harness.demo_api.config import LimitRule, TargetConfig
from harness.demo_api.middleware import PEER_KEY, RAW_PATH_KEY
from harness.demo_api.ratelimit import Check, Counter, FixedWindow, SlidingLog, decide, limit_headers
from harness.demo_api.web import FORM_BODY_LIMIT, ApiError, bearer_token, read_body

__all__ = ["LIMIT_HEADERS_KEY", "RateLimiter", "build_limiter"]

LIMIT_HEADERS_KEY = "harness.limit_headers"  # scope key: headers for an admitted response
KeyFunction = Callable[[Request], Awaitable[str | None]]  # None: the rule does not count this request


def peer(request: Request) -> str | None:
    """The TCP peer address, even where proxy headers have rewritten `request.client`."""
    if PEER_KEY in request.scope:
        return request.scope[PEER_KEY]
    return request.client.host if request.client else None


async def _peer(request: Request) -> str | None:
    return peer(request)


async def _first_forwarded(request: Request) -> str | None:
    """The vulnerable login key: whatever the client claims in X-Forwarded-For."""
    values = request.headers.getlist("x-forwarded-for")
    first = values[0].split(",")[0].strip() if values else ""
    return first or peer(request)


async def _body_email(request: Request) -> str | None:
    """The e-mail of a login or reset body, as the handler will look it up (trimmed, lower-cased)."""
    try:
        data = json.loads(await read_body(request, FORM_BODY_LIMIT))
    except (ApiError, ValueError, UnicodeDecodeError, RecursionError):
        return None  # the handler answers 413 or 422; the other rules still count the request
    email = data.get("email") if isinstance(data, dict) else None
    return email.strip().lower() if isinstance(email, str) and email.strip() else None


async def _everyone(request: Request) -> str:
    return "*"


def _user_key(tokens: TokenService, identify: Callable[[Request], str | None] | None) -> KeyFunction:
    """The caller's id (`identify`, else a bearer token's subject); None without a valid credential: the
    handler answers 401 without any cost worth limiting."""

    async def user(request: Request) -> str | None:
        if identify is not None:
            return identify(request)
        token = bearer_token(request)
        if token is None:
            return None
        try:
            return str(tokens.verify(token)["sub"])
        except TokenError:
            return None

    return user


@dataclass(frozen=True)
class _Rule:
    rule: LimitRule
    key: KeyFunction


class RateLimiter:
    """A guard for `create_app`: answers 429 when a rule of the route is full, else marks headers."""

    def __init__(self, rules: dict[str, tuple[_Rule, ...]], counter: Counter, raw_paths: dict[str, str]) -> None:
        self.rules = rules
        self.counter = counter
        self.raw_paths = raw_paths  # route -> the only raw path its limit applies to (vulnerable chat)

    async def __call__(self, route: str, request: Request) -> Response | None:
        rules = self.rules.get(route)
        if not rules:
            return None
        only = self.raw_paths.get(route)
        if only is not None and request.scope.get(RAW_PATH_KEY, request.url.path) != only:
            return None
        checks = []
        for i, r in enumerate(rules):
            value = await r.key(request)
            if value is not None:
                checks.append(Check(f"{route}\x1f{i}\x1f{value}", r.rule.quota, r.rule.window_s))
        if not checks:
            return None
        admitted, usages = self.counter.acquire(checks, time.time())
        verdict = decide(admitted, checks, usages)
        headers = limit_headers(verdict)
        if not admitted:
            return JSONResponse({"error": "rate_limited"}, status_code=429, headers=headers)
        request.scope[LIMIT_HEADERS_KEY] = headers
        return None


def build_limiter(
    config: TargetConfig,
    tokens: TokenService,
    shared: Counter | None = None,
    identify: Callable[[Request], str | None] | None = None,
) -> RateLimiter | None:
    """The profile's limiter for `config.limits`, or None when no rule is configured.

    `shared` is the cross-process counter store; only the hardened profile uses it. `identify` tells the
    caller's id in the configured auth style (harness.demo_api.sessions)."""
    keys: dict[str, KeyFunction] = {
        "ip": _peer, "user": _user_key(tokens, identify), "account": _body_email, "email": _body_email,
        "global": _everyone,
    }  # fmt: skip
    rules: dict[str, tuple[_Rule, ...]] = {}
    raw_paths: dict[str, str] = {}
    vulnerable = config.profile == "vulnerable"
    for route, configured in config.limits.items():
        chosen = []
        for rule in configured:
            key = keys[rule.key]
            if vulnerable and route == "reset_request":
                continue  # flaw 1: no limit at all
            if vulnerable and route == "login":
                if rule.key in ("account", "email"):
                    continue  # flaw 2: no per-account rule...
                if rule.key == "ip":
                    key = _first_forwarded  # ...and the client names its own address
            chosen.append(_Rule(rule, key))
        if chosen:
            rules[route] = tuple(chosen)
    if vulnerable:
        raw_paths["chat"] = "/api/chat"  # flaw 3: path variants are not counted
    if not rules:
        return None
    if vulnerable:
        counter: Counter = FixedWindow()  # flaws 4 and 5: fixed windows, per-process memory
    else:
        counter = shared if shared is not None else SlidingLog()
    return RateLimiter(rules, counter, raw_paths)
