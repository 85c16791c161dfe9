"""What the demo API simulates: its profile, seed data size, model timing and injected latency.

A `TargetConfig` crosses process boundaries as JSON (`to_dict` / `from_dict`), so the harness can
start the demo API in a child process with exactly the configuration a scenario asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.distributions import Distribution, parse_distribution

__all__ = ["PROFILES", "ROUTES", "ROUTE_NAMES", "TargetConfig"]

PROFILES = ("hardened", "vulnerable")

# (route name, method, path). The names are a contract: scenario files refer to them and latency
# injection is keyed by them.
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("health", "GET", "/health"),
    ("login", "POST", "/api/auth/login"),
    ("logout", "POST", "/api/auth/logout"),
    ("me", "GET", "/api/me"),
    ("reset_request", "POST", "/api/auth/password-reset"),
    ("reset_confirm", "POST", "/api/auth/password-reset/confirm"),
    ("conversations", "GET", "/api/conversations"),
    ("conversation", "GET", "/api/conversations/{id}"),
    ("chat", "POST", "/api/chat"),
    ("leads", "POST", "/api/leads"),
    ("webhook", "POST", "/api/webhooks/stripe"),
    ("admin_users", "GET", "/api/admin/users"),
    ("demo_accounts", "GET", "/__demo__/accounts"),
    ("demo_outbox", "GET", "/__demo__/outbox"),
)
ROUTE_NAMES = tuple(name for name, _, _ in ROUTES)


def _default_ttft() -> Distribution:
    return Distribution("lognormal", {"median_ms": 180, "sigma": 0.25})


def _default_token_delay() -> Distribution:
    return Distribution("normal", {"mean_ms": 12, "sd_ms": 3})


def _int(value: Any, key: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{key}: expected an integer >= {minimum}, got {value!r}")
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
    token_ttl_s: int = 3600

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"profile: expected one of {', '.join(PROFILES)}, got {self.profile!r}")
        _int(self.seed, "seed", -(2**63))
        _int(self.tenants, "tenants", 1)
        _int(self.clients_per_tenant, "clients_per_tenant", 1)
        _int(self.webhook_tolerance_s, "webhook_tolerance_s", 0)
        _int(self.token_ttl_s, "token_ttl_s", 1)
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
            "token_ttl_s": self.token_ttl_s,
        }
