"""What the demo API simulates: its profile, seed data size, model timing, injected latency, rate
limits and how many server processes answer.

A `TargetConfig` crosses process boundaries as JSON (`to_dict` / `from_dict`), so the harness can
start the demo API in a child process with exactly the configuration a scenario asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from harness.demo_api.distributions import Distribution, parse_distribution
from harness.protocol.signing import PRESETS

__all__ = [
    "AUTH_STYLES",
    "DEFAULT_LIMITS",
    "LIMIT_KEYS",
    "LimitRule",
    "PROFILES",
    "ROUTES",
    "ROUTE_NAMES",
    "TargetConfig",
]

PROFILES = ("hardened", "vulnerable")
AUTH_STYLES = ("bearer", "cookie", "api_key", "oauth2")  # how callers prove who they are (demo_api.sessions)
MAX_TENANTS = MAX_CLIENTS_PER_TENANT = 1000
_ORIGIN = re.compile(r"https?://[^/\s?#]+")  # scheme://host[:port], no path

# (route name, method, path). The names are a contract: scenario files refer to them and latency
# injection is keyed by them.
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("health", "GET", "/health"),
    ("login", "POST", "/api/auth/login"),
    ("register", "POST", "/api/auth/register"),  # sign-up: a new client in a tenant of its own
    ("logout", "POST", "/api/auth/logout"),
    ("csrf", "GET", "/api/auth/csrf"),
    ("oauth_token", "POST", "/oauth/token"),
    ("me", "GET", "/api/me"),
    ("reset_request", "POST", "/api/auth/password-reset"),
    ("reset_confirm", "POST", "/api/auth/password-reset/confirm"),
    ("conversations", "GET", "/api/conversations"),
    ("conversation", "GET", "/api/conversations/{id}"),
    ("new_conversation", "POST", "/api/conversations"),
    ("chat", "POST", "/api/chat"),
    ("chat_format", "POST", "/api/chat/{format}"),  # the chat in other wire formats (harness.demo_api.formats)
    ("leads", "POST", "/api/leads"),
    ("webhook", "POST", "/api/webhooks/stripe"),
    ("admin_users", "GET", "/api/admin/users"),
    ("demo_accounts", "GET", "/__demo__/accounts"),
    ("demo_outbox", "GET", "/__demo__/outbox"),
    ("demo_stats", "GET", "/__demo__/stats"),
    ("demo_stats_reset", "POST", "/__demo__/stats/reset"),
)
ROUTE_NAMES = tuple(name for name, _, _ in ROUTES)


# What a rule counts requests by. `ip` is the TCP peer address, never a forwarding header.
LIMIT_KEYS = ("ip", "user", "account", "email", "global")
# Keys read from the JSON body's "email" field, so only routes whose body is a small form may use them.
UNLIMITED_ROUTES = ("demo_stats", "demo_stats_reset")  # so a test can always read the figures
BODY_KEY_ROUTES = {"account": ("login", "reset_request"), "email": ("login", "reset_request")}


@dataclass(frozen=True)
class LimitRule:
    """At most `quota` requests per `window_s` seconds for each value of `key`."""

    quota: int
    window_s: float
    key: str

    def to_dict(self) -> dict[str, Any]:
        return {"quota": self.quota, "window_s": self.window_s, "key": self.key}


# Short windows, so a CI-sized run sees several of them. Every rule counts every request to the
# route, whatever its outcome: failed logins are exactly what a login limit is for.
DEFAULT_LIMITS: dict[str, tuple[LimitRule, ...]] = {
    "login": (LimitRule(10, 10, "ip"), LimitRule(5, 10, "account")),
    "reset_request": (LimitRule(3, 10, "email"), LimitRule(10, 10, "ip")),
    "chat": (LimitRule(10, 10, "user"), LimitRule(30, 10, "ip")),  # per ip too: one client, many accounts
    "webhook": (LimitRule(50, 10, "ip"),),
    "admin_users": (LimitRule(10, 10, "ip"),),
    "leads": (LimitRule(10, 10, "ip"),),
    "register": (LimitRule(10, 10, "ip"),),
    "new_conversation": (LimitRule(10, 10, "user"),),
}


def _default_limits() -> dict[str, tuple[LimitRule, ...]]:
    return dict(DEFAULT_LIMITS)


def _parse_rule(data: Any, where: str) -> LimitRule:
    if isinstance(data, LimitRule):
        return data
    if not isinstance(data, dict):
        raise ValueError(f'{where}: expected a table like {{quota = 5, window_s = 10, key = "ip"}}, got {data!r}')
    unknown = sorted(set(data) - {"quota", "window_s", "key"})
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown key; expected quota, window_s, key")
    for name in ("quota", "window_s", "key"):
        if name not in data:
            raise ValueError(f"{where}.{name}: required")
    return LimitRule(data["quota"], data["window_s"], data["key"])


def _check_limits(limits: Any) -> dict[str, tuple[LimitRule, ...]]:
    if not isinstance(limits, dict):
        raise ValueError("limits: expected a table of route name -> list of rules")
    checked: dict[str, tuple[LimitRule, ...]] = {}
    for route, rules in limits.items():
        if route not in ROUTE_NAMES:
            raise ValueError(f"limits.{route}: unknown route; expected one of {', '.join(ROUTE_NAMES)}")
        if route in UNLIMITED_ROUTES:
            raise ValueError(f"limits.{route}: the demo statistics routes are never rate limited")
        if not isinstance(rules, (list, tuple)):
            raise ValueError(f"limits.{route}: expected a list of rules")
        parsed = []
        for i, raw in enumerate(rules):
            where = f"limits.{route}[{i}]"
            rule = _parse_rule(raw, where)
            _int(rule.quota, f"{where}.quota", 1)
            window = rule.window_s
            if not isinstance(window, (int, float)) or isinstance(window, bool) or not 0 < window <= 86_400:
                raise ValueError(f"{where}.window_s: expected seconds in (0, 86400], got {window!r}")
            if rule.key not in LIMIT_KEYS:
                raise ValueError(f"{where}.key: expected one of {', '.join(LIMIT_KEYS)}, got {rule.key!r}")
            if rule.key in BODY_KEY_ROUTES and route not in BODY_KEY_ROUTES[rule.key]:
                allowed = " or ".join(BODY_KEY_ROUTES[rule.key])
                raise ValueError(f"{where}.key: {rule.key!r} reads the e-mail of a {allowed} body; not for {route}")
            parsed.append(LimitRule(rule.quota, float(window), rule.key))
        checked[route] = tuple(parsed)
    return checked


def _default_ttft() -> Distribution:
    return Distribution("lognormal", {"median_ms": 180, "sigma": 0.25})


def _default_token_delay() -> Distribution:
    return Distribution("normal", {"mean_ms": 12, "sd_ms": 3})


def _int(value: Any, key: str, minimum: int, maximum: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{key}: expected an integer >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{key}: expected at most {maximum}, got {value!r}")
    return value


@dataclass
class TargetConfig:
    """Configuration of one demo API process. Invalid values raise `ValueError` naming the key."""

    profile: str = "hardened"
    seed: int = 7
    tenants: int = 3
    clients_per_tenant: int = 4
    ttft: Distribution = field(default_factory=_default_ttft)
    token_delay: Distribution = field(default_factory=_default_token_delay)
    output_tokens: tuple[int, int] = (20, 60)
    latency: dict[str, Distribution] = field(default_factory=dict)
    webhook_tolerance_s: int = 300
    webhook_scheme: str = "stripe"  # how the webhook route verifies deliveries: a preset of harness.protocol.signing
    token_ttl_s: int = 3600
    # Route name -> rules; the whole table is replaced when given ({} turns every limit off).
    limits: dict[str, tuple[LimitRule, ...]] = field(default_factory=_default_limits)
    processes: int = 1  # uvicorn processes sharing one listening socket
    # False: replies carry no token usage, as some real targets do, so the harness must estimate tokens.
    usage: bool = True
    # Hardened: the most tokens a chat's message contents may have (the hidden system prompt not included).
    max_prompt_tokens: int = 8192
    # A server that freezes now and then (a GC pause, a blocked event loop): every request that arrives
    # within `for_s` after a multiple of `every_s` on the wall clock waits until that stretch ends.
    stall: dict[str, float] | None = None
    # Hardened: the browser origins allowed to call the API (CORS), as "https://app.example"; vulnerable
    # allows any (flaw 12).
    cors_origins: tuple[str, ...] = ()
    # How callers authenticate (AUTH_STYLES, see harness.demo_api.sessions), and whether a session's
    # unsafe requests (POST, PUT, PATCH, DELETE) must echo its CSRF token in X-CSRF-Token.
    auth: str = "bearer"
    csrf: bool = False

    def stall_remaining(self, now: float) -> float:
        """Seconds until the stall under way at `now` (epoch seconds) ends; 0 outside a stall."""
        if not self.stall:
            return 0.0
        phase = now % self.stall["every_s"]
        return self.stall["for_s"] - phase if phase < self.stall["for_s"] else 0.0

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile: expected one of {', '.join(PROFILES)}, got {self.profile!r}")
        if self.auth not in AUTH_STYLES:
            raise ValueError(f"auth: expected one of {', '.join(AUTH_STYLES)}, got {self.auth!r}")
        if not isinstance(self.csrf, bool):
            raise ValueError(f"csrf: expected true or false, got {self.csrf!r}")
        _int(self.seed, "seed", -(2**63))
        _int(self.tenants, "tenants", 1, MAX_TENANTS)  # the seed data is built at start-up, in memory
        _int(self.clients_per_tenant, "clients_per_tenant", 1, MAX_CLIENTS_PER_TENANT)
        _int(self.webhook_tolerance_s, "webhook_tolerance_s", 0)
        if self.webhook_scheme not in PRESETS:
            raise ValueError(f"webhook_scheme: expected one of {', '.join(PRESETS)}, got {self.webhook_scheme!r}")
        _int(self.token_ttl_s, "token_ttl_s", 1)
        _int(self.processes, "processes", 1)
        if self.processes > 64:
            raise ValueError(f"processes: expected at most 64, got {self.processes}")
        if not isinstance(self.usage, bool):
            raise ValueError(f"usage: expected true or false, got {self.usage!r}")
        _int(self.max_prompt_tokens, "max_prompt_tokens", 1)
        origins = self.cors_origins
        if not isinstance(origins, (list, tuple)) or not all(
            isinstance(o, str) and _ORIGIN.fullmatch(o) for o in origins
        ):
            raise ValueError(f'cors_origins: expected a list like ["https://app.example"], got {origins!r}')
        self.cors_origins = tuple(origins)
        self.limits = _check_limits(self.limits)
        bounds = self.output_tokens
        if (
            not isinstance(bounds, (tuple, list))
            or len(bounds) != 2
            or not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)
            or not 1 <= bounds[0] <= bounds[1]
        ):
            raise ValueError(f"output_tokens: expected [min, max] with 1 <= min <= max, got {bounds!r}")
        self.output_tokens = (bounds[0], bounds[1])
        for key in ("ttft", "token_delay"):
            if not isinstance(getattr(self, key), Distribution):
                raise ValueError(f"{key}: expected a Distribution")
        if self.stall is not None:
            stall = self.stall
            if not (
                isinstance(stall, dict)
                and set(stall) == {"every_s", "for_s"}
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in stall.values())
                and 0 < stall["for_s"] < stall["every_s"]
            ):
                raise ValueError(f"stall: expected {{every_s = 10, for_s = 1}} with 0 < for_s < every_s, got {stall!r}")
            self.stall = {"every_s": float(stall["every_s"]), "for_s": float(stall["for_s"])}
        for name, dist in self.latency.items():
            if name not in ROUTE_NAMES:
                raise ValueError(f"latency.{name}: unknown route; expected one of {', '.join(ROUTE_NAMES)}")
            if not isinstance(dist, Distribution):
                raise ValueError(f"latency.{name}: expected a Distribution")

    @classmethod
    def from_dict(cls, data: Any) -> TargetConfig:
        """Build from JSON-able data; distributions use the `{"dist": ..., ...}` form or a bare number (ms)."""
        if not isinstance(data, dict):
            raise ValueError("target config: expected a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown key; expected one of {', '.join(sorted(known))}")
        kwargs = dict(data)
        for key in ("ttft", "token_delay"):
            if key in kwargs:
                kwargs[key] = parse_distribution(kwargs[key], where=key)
        if "latency" in kwargs:
            latency = kwargs["latency"]
            if not isinstance(latency, dict):
                raise ValueError("latency: expected a table of route name -> distribution")
            kwargs["latency"] = {
                str(name): parse_distribution(spec, where=f"latency.{name}") for name, spec in latency.items()
            }
        if "output_tokens" in kwargs and isinstance(kwargs["output_tokens"], list):
            kwargs["output_tokens"] = tuple(kwargs["output_tokens"])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form that `from_dict` reads back unchanged."""
        return {
            "profile": self.profile,
            "seed": self.seed,
            "tenants": self.tenants,
            "clients_per_tenant": self.clients_per_tenant,
            "ttft": self.ttft.to_dict(),
            "token_delay": self.token_delay.to_dict(),
            "output_tokens": list(self.output_tokens),
            "latency": {name: dist.to_dict() for name, dist in self.latency.items()},
            "webhook_tolerance_s": self.webhook_tolerance_s,
            "webhook_scheme": self.webhook_scheme,
            "token_ttl_s": self.token_ttl_s,
            "limits": {route: [rule.to_dict() for rule in rules] for route, rules in self.limits.items()},
            "processes": self.processes,
            "usage": self.usage,
            "max_prompt_tokens": self.max_prompt_tokens,
            "stall": self.stall,
            "cors_origins": list(self.cors_origins),
            "auth": self.auth,
            "csrf": self.csrf,
        }
