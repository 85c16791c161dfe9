"""[load] and what bounds a run: the users, rates and stages, the [guardrails] caps they must stay under,
the [abort] breaker and the [http] deadlines and body cap.
"""

from __future__ import annotations

import math
import re
from typing import Any

from harness.scenario.model import Attack, Breaker, Guardrails, HttpSettings, Load, ScenarioError, Stage
from harness.scenario.sections.reader import Reader

__all__ = ["parse_load", "parse_guardrails", "check_load_caps", "check_caps", "parse_breaker", "parse_http"]


def parse_load(r: Reader, data: dict[str, Any]) -> Load:
    t = r.table(data, "load", "load")
    r.unknown(t, {"users", "spawn_rate", "duration", "stages", "arrival_rate", "max_lateness"}, "load")
    users = r.whole(t, "users", "load.users", 10, minimum=1)
    spawn_rate = r.number(t, "spawn_rate", "load.spawn_rate", float(users), minimum=0.001)
    duration = r.duration(t.get("duration", "60s"), "load.duration")
    arrival_rate = r.number(t, "arrival_rate", "load.arrival_rate", 0.0, minimum=0.001) if "arrival_rate" in t else None
    max_lateness = r.duration(t.get("max_lateness", "5s"), "load.max_lateness")
    stages = []
    raw_stages = r.get(t, "stages", "load.stages", list, [])
    open_stages = any(isinstance(st, dict) and "arrival_rate" in st for st in raw_stages)
    for i, st in enumerate(raw_stages):
        where = f"load.stages[{i}]"
        if not isinstance(st, dict):
            raise r.fail(where, 'expected a table like {duration = "30s", users = 20, spawn_rate = 2}')
        r.unknown(st, {"duration", "users", "spawn_rate", "arrival_rate"}, where)
        if open_stages:  # an open-model stage: a rate, never a user count
            if "arrival_rate" not in st or "duration" not in st or "users" in st:
                raise r.fail(
                    where,
                    "open-model stages take duration and arrival_rate (no users): "
                    "use arrival_rate in every stage, or users in every stage",
                )
            stages.append(
                Stage(
                    duration_s=r.duration(st["duration"], f"{where}.duration"),
                    users=0,
                    spawn_rate=spawn_rate,
                    arrival_rate=r.number(st, "arrival_rate", f"{where}.arrival_rate", 0.0),
                )
            )
            continue
        if "users" not in st or "duration" not in st:
            raise r.fail(where, "expected both duration and users")
        stage_users = r.whole(st, "users", f"{where}.users", 0)
        stages.append(
            Stage(
                duration_s=r.duration(st["duration"], f"{where}.duration"),
                users=stage_users,
                spawn_rate=r.number(st, "spawn_rate", f"{where}.spawn_rate", spawn_rate, minimum=0.001),
            )
        )
    if arrival_rate is not None and stages and not open_stages:
        raise r.fail("load.arrival_rate", "goes with open-model stages (each with arrival_rate), not with users stages")
    open_model = arrival_rate is not None or open_stages
    return Load(
        users=users,
        spawn_rate=spawn_rate,
        duration_s=duration,
        stages=tuple(stages),
        arrival_rate=arrival_rate,
        pool=users if open_model and "users" in t else None,
        max_lateness_s=max_lateness,
    )


def parse_breaker(r: Reader, data: dict[str, Any]) -> Breaker:
    t = r.table(data, "abort", "abort")
    r.unknown(t, {"error_rate", "window", "min_requests"}, "abort")
    rate = r.number(t, "error_rate", "abort.error_rate", 0.5)
    if not 0 < rate <= 1:
        raise r.fail("abort.error_rate", f"expected a share of failed requests in (0, 1] (1 = off), got {rate!r}")
    return Breaker(
        error_rate=rate,
        window_s=r.duration(t.get("window", 10), "abort.window"),
        min_requests=r.whole(t, "min_requests", "abort.min_requests", 50, minimum=1),
    )


def parse_guardrails(r: Reader, data: dict[str, Any]) -> Guardrails:
    t = r.table(data, "guardrails", "guardrails")
    r.unknown(
        t,
        {
            "allowed_hosts",
            "max_users",
            "max_spawn_rate",
            "max_arrival_rate",
            "max_duration",
            "max_requests",
            "max_rps",
            "max_spend_usd",
        },
        "guardrails",
    )
    hosts = r.get(t, "allowed_hosts", "guardrails.allowed_hosts", list, [])
    for i, host in enumerate(hosts):
        if not isinstance(host, str) or not re.fullmatch(r"[A-Za-z0-9.:-]+", host):
            raise r.fail(
                f"guardrails.allowed_hosts[{i}]",
                f"expected a host name or address like staging.example.com, got {host!r}",
            )
    return Guardrails(
        allowed_hosts=tuple(h.lower() for h in hosts),
        max_users=r.whole(t, "max_users", "guardrails.max_users", Guardrails.max_users, minimum=1),
        max_spawn_rate=r.number(
            t, "max_spawn_rate", "guardrails.max_spawn_rate", Guardrails.max_spawn_rate, minimum=0.001
        ),
        max_arrival_rate=r.number(
            t, "max_arrival_rate", "guardrails.max_arrival_rate", Guardrails.max_arrival_rate, minimum=0.001
        ),
        max_duration_s=r.duration(t.get("max_duration", "4h"), "guardrails.max_duration"),
        max_requests=r.whole(t, "max_requests", "guardrails.max_requests", 0, minimum=1)
        if "max_requests" in t
        else None,
        max_rps=r.number(t, "max_rps", "guardrails.max_rps", 0, minimum=0.001) if "max_rps" in t else None,
        max_spend_usd=(
            r.number(t, "max_spend_usd", "guardrails.max_spend_usd", 0, minimum=0.0) if "max_spend_usd" in t else None
        ),
    )


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$")
_SIZE_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def parse_http(r: Reader, data: dict[str, Any]) -> HttpSettings:
    """`[http]`: the per-request deadline, the connect timeout and the body cap."""
    t = r.table(data, "http", "http")
    r.unknown(t, {"timeout", "connect_timeout", "max_body_bytes"}, "http")
    size: Any = t.get("max_body_bytes", HttpSettings.max_body_bytes)
    m = _SIZE.match(size) if isinstance(size, str) else None
    if isinstance(size, int) and not isinstance(size, bool):
        max_bytes = size
    elif m and math.isfinite(float(m.group(1))):
        max_bytes = int(float(m.group(1)) * _SIZE_UNITS[m.group(2) or "B"])
    else:
        raise r.fail("http.max_body_bytes", f'expected a size like 16777216 or "16 MiB", got {size!r}')
    if max_bytes < 1024:
        raise r.fail("http.max_body_bytes", f'expected at least 1024 bytes (e.g. "16 MiB"), got {size!r}')
    return HttpSettings(
        timeout_s=r.duration(t.get("timeout", "30s"), "http.timeout"),
        connect_timeout_s=r.duration(t.get("connect_timeout", "5s"), "http.connect_timeout"),
        max_body_bytes=max_bytes,
    )


def check_load_caps(
    guardrails: Guardrails,
    users: float | None,
    spawn_rate: float | None,
    arrival_rate: float | None,
    *,
    fields: tuple[str, str, str] = ("--users", "--spawn-rate", "--arrival-rate"),
) -> str | None:
    """`field: why` when a load is over the caps of `[guardrails]`, else None; `None` values are not checked.

    An absurd value (users = 1e9) grows the master without bound or never finishes spawning; who
    really needs more raises the cap in the scenario, on purpose."""
    checks = (
        (users, guardrails.max_users, "max_users", "users"),
        (spawn_rate, guardrails.max_spawn_rate, "max_spawn_rate", "users started per second"),
        (arrival_rate, guardrails.max_arrival_rate, "max_arrival_rate", "arrivals per second"),
    )
    for field_name, (value, cap, name, unit) in zip(fields, checks):
        if value is not None and value > cap:
            return (
                f"{field_name}: {_number(value)} {unit} is over the guardrail {name} ({_number(cap)}); "
                f"raise [guardrails] {name} if you really mean it"
            )
    return None


def check_caps(r: Reader, caps: Guardrails, load: Load, attacks: dict[str, Attack]) -> None:
    checks: list[tuple[str, int, float | None, float | None]] = [
        ("load", load.users, load.spawn_rate, load.arrival_rate)
    ]
    checks += [(f"load.stages[{i}]", st.users, st.spawn_rate, st.arrival_rate) for i, st in enumerate(load.stages)]
    checks += [(f"attacks.{a.name}", a.users, None, None) for a in attacks.values()]
    for where, users, spawn_rate, arrival_rate in checks:
        fields = (f"{where}.users", f"{where}.spawn_rate", f"{where}.arrival_rate")
        reason = check_load_caps(caps, users, spawn_rate, arrival_rate, fields=fields)
        if reason:
            raise ScenarioError(f"{r.source}: {reason}")


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,g}"
