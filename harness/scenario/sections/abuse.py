"""[limits], [block], [attacks] and [probes]: the rate limits the API claims, how it says no, and the
abuse traffic sent to test them.
"""

from __future__ import annotations

import re
from typing import Any

from harness.scenario.callers import attack_routes
from harness.scenario.model import (
    ATTACKS,
    KINDS,
    LIMIT_KEYS,
    TECHNIQUES,
    Attack,
    BlockRule,
    Endpoint,
    LimitRule,
    Probes,
)
from harness.scenario.sections.reader import Reader

__all__ = ["parse_limits", "parse_block", "parse_attacks", "parse_probes"]


def parse_limits(r: Reader, data: dict[str, Any], endpoints: dict[str, Endpoint]) -> tuple[LimitRule, ...]:
    items = data.get("limits", [])
    if not isinstance(items, list):
        raise r.fail("limits", "expected [[limits]] tables: route, key, quota, window")
    rules = []
    for i, item in enumerate(items):
        where = f"limits[{i}]"
        if not isinstance(item, dict):
            raise r.fail(where, "expected a table with route, key, quota and window")
        r.unknown(item, {"route", "key", "quota", "window"}, where)
        route = r.get(item, "route", f"{where}.route", str, "")
        if route not in endpoints:
            raise r.fail(f"{where}.route", f"expected an endpoint of the API map, got {route!r}")
        key = r.get(item, "key", f"{where}.key", str, "ip")
        if key not in LIMIT_KEYS:
            raise r.fail(f"{where}.key", f"expected one of {', '.join(LIMIT_KEYS)}, got {key!r}")
        quota = r.whole(item, "quota", f"{where}.quota", 0, minimum=1)
        window = r.duration(item.get("window", "60s"), f"{where}.window")
        rules.append(LimitRule(route=route, key=key, quota=quota, window_s=window))
    return tuple(rules)


def parse_block(r: Reader, data: dict[str, Any]) -> BlockRule:
    t = r.table(data, "block", "block")
    r.unknown(t, {"statuses", "body_pattern", "header"}, "block")
    statuses = r.get(t, "statuses", "block.statuses", list, [429])
    if not statuses or not all(isinstance(x, int) and 100 <= x <= 599 for x in statuses):
        raise r.fail("block.statuses", f"expected a list of HTTP status codes like [429, 503], got {statuses!r}")
    pattern = r.get(t, "body_pattern", "block.body_pattern", str, "")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise r.fail("block.body_pattern", f"not a valid regular expression: {exc}") from None
    return BlockRule(tuple(statuses), pattern, r.get(t, "header", "block.header", str, ""))


def parse_attacks(r: Reader, data: dict[str, Any], endpoints: dict[str, Endpoint]) -> tuple[dict[str, Attack], float]:
    t = r.table(data, "attacks", "attacks")
    start_after = r.duration(t["start_after"], "attacks.start_after") if "start_after" in t else 0.0
    attacks = {}
    for name, spec in t.items():
        if name == "start_after":
            continue
        where = f"attacks.{name}"
        if name not in ATTACKS:
            raise r.fail(where, f"unknown attack (expected one of: {', '.join(ATTACKS)})")
        if not isinstance(spec, dict):
            raise r.fail(where, "expected a table, e.g. { users = 1, rate = 5 }")
        r.unknown(spec, {"users", "rate", "enabled", "password"}, where)
        if not r.get(spec, "enabled", f"{where}.enabled", bool, True):
            continue
        if not attack_routes(endpoints, name):
            kind = ATTACKS[name][0][-1]
            raise r.fail(
                where,
                f'the {name} attack needs a route of kind "{kind}" ({KINDS[kind]}) and the API map has none: '
                f'add kind = "{kind}" to the [endpoints.NAME] it should attack, or set enabled = false',
            )
        r.get(spec, "password", f"{where}.password", str, "")
        settings = {k: v for k, v in spec.items() if k not in ("users", "rate", "enabled")}
        attacks[name] = Attack(
            name=name,
            users=r.whole(spec, "users", f"{where}.users", 1, minimum=1),
            rate=r.number(spec, "rate", f"{where}.rate", 0.0),
            settings=settings,
        )
    return attacks, start_after


def parse_probes(r: Reader, data: dict[str, Any], limits: tuple[LimitRule, ...]) -> Probes:
    if "probes" not in data:
        return Probes(routes=())
    t = r.table(data, "probes", "probes")
    r.unknown(t, {"routes", "techniques", "start_after"}, "probes")
    declared = tuple(dict.fromkeys(rule.route for rule in limits))
    routes = r.get(t, "routes", "probes.routes", list, list(declared))
    for i, route in enumerate(routes):
        if route not in declared:
            raise r.fail(f"probes.routes[{i}]", f"expected a route with a declared [[limits]] rule, got {route!r}")
    techniques = r.get(t, "techniques", "probes.techniques", list, list(TECHNIQUES))
    for i, name in enumerate(techniques):
        if name not in TECHNIQUES:
            raise r.fail(f"probes.techniques[{i}]", f"expected one of {', '.join(TECHNIQUES)}, got {name!r}")
    if "baseline" not in techniques:
        techniques = ["baseline", *techniques]  # every amplification is measured against it
    start_after = r.duration(t.get("start_after", 5), "probes.start_after")
    return Probes(routes=tuple(routes), techniques=tuple(techniques), start_after_s=start_after)
