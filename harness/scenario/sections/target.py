"""[target]: where the traffic goes, and how the embedded demo API behaves when the harness starts it
(its profile, latency, model, auth style and webhook scheme).
"""

from __future__ import annotations

import math
import re
from typing import Any

from harness.demo_api.distributions import DistributionError, parse_distribution
from harness.scenario.model import DEMO_WEBHOOK_SCHEMES, ScenarioError
from harness.scenario.sections.reader import Reader

__all__ = ["parse_target"]


def parse_target(r: Reader, data: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(the host, or None to start the demo API; the demo API's settings)."""
    target = r.table(data, "target", "target")
    r.unknown(
        target,
        {
            "host",
            "profile",
            "seed",
            "latency",
            "model",
            "tenants",
            "clients_per_tenant",
            "processes",
            "max_prompt_tokens",
            "auth",
            "csrf",
            "token_lifetime",
            "webhook_scheme",
        },
        "target",
    )
    host = r.get(target, "host", "target.host", str, "") or None
    if host is not None and not re.fullmatch(r"https?://[^/\s]+[^\s]*", host):
        raise r.fail("target.host", f"expected a URL like http://127.0.0.1:8000, got {host!r}")
    profile = r.get(target, "profile", "target.profile", str, "hardened")
    if profile not in ("hardened", "vulnerable"):
        raise r.fail("target.profile", f'expected "hardened" or "vulnerable", got {profile!r}')
    target_settings: dict[str, Any] = {"profile": profile, "seed": r.get(target, "seed", "target.seed", int, 7)}
    for key in ("tenants", "clients_per_tenant", "processes", "max_prompt_tokens"):
        if key in target:
            target_settings[key] = r.whole(target, key, f"target.{key}", 1, minimum=1)
    target_settings.update(_demo_auth(r, target))
    if "webhook_scheme" in target:  # the scheme the demo API verifies; [webhook] scheme is the one sent
        target_settings["webhook_scheme"] = r.choice(
            target, "webhook_scheme", "target.webhook_scheme", DEMO_WEBHOOK_SCHEMES, one_of=True
        )
    latency = r.table(target, "latency", "target.latency")
    try:
        target_settings["latency"] = {
            route: parse_distribution(spec, f"target.latency.{route}").to_dict() for route, spec in latency.items()
        }
        model = r.table(target, "model", "target.model")
        r.unknown(model, {"ttft", "token_delay", "output_tokens", "usage"}, "target.model")
        if "usage" in model:  # false: the demo API leaves `usage` out, so tokens must be estimated
            target_settings["usage"] = r.get(model, "usage", "target.model.usage", bool, True)
        for key in ("ttft", "token_delay"):
            if key in model:
                target_settings[key] = parse_distribution(model[key], f"target.model.{key}").to_dict()
    except DistributionError as exc:
        raise ScenarioError(f"{r.source}: {exc}") from None
    if "output_tokens" in model:
        bounds = model["output_tokens"]
        if not (
            isinstance(bounds, list)
            and len(bounds) == 2
            and all(isinstance(b, int) and b > 0 for b in bounds)
            and bounds[0] <= bounds[1]
        ):
            raise r.fail("target.model.output_tokens", f"expected [min, max] positive integers, got {bounds!r}")
        target_settings["output_tokens"] = bounds
    return host, target_settings


def _demo_auth(r: Reader, target: dict[str, Any]) -> dict[str, Any]:
    """`[target] auth, csrf, token_lifetime`: how the embedded demo API authenticates (docs/auth.md)."""
    settings: dict[str, Any] = {}
    if "auth" in target:
        settings["auth"] = r.choice(target, "auth", "target.auth", ("bearer", "cookie", "api_key", "oauth2"))
    if "csrf" in target:
        settings["csrf"] = r.get(target, "csrf", "target.csrf", bool, False)
    if "token_lifetime" in target:
        settings["token_ttl_s"] = math.ceil(r.duration(target["token_lifetime"], "target.token_lifetime"))
    return settings
