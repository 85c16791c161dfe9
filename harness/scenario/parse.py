"""Scenario files: TOML in, a validated, typed `Scenario` out.

Every error names the file, the field and what is expected, in one line, so that a bad scenario
fails before a single request is sent (exit code 2). This module reads the file and checks its values
once; each section's parser is in harness.scenario.sections.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from harness.scenario.model import Scenario, ScenarioError
from harness.scenario.sections.abuse import parse_attacks, parse_block, parse_limits, parse_probes
from harness.scenario.sections.auth import account_columns, parse_accounts, parse_auth
from harness.scenario.sections.endpoints import parse_endpoints
from harness.scenario.sections.journeys import parse_journeys
from harness.scenario.sections.load import check_caps, parse_breaker, parse_guardrails, parse_http, parse_load
from harness.scenario.sections.placeholders import check_placeholders, check_steps, route_callers
from harness.scenario.sections.reader import MAX_DEPTH, Reader, show
from harness.scenario.sections.search import parse_search
from harness.scenario.sections.spend import parse_spend, parse_wallet
from harness.scenario.sections.target import parse_target
from harness.scenario.sections.thresholds import parse_targets
from harness.scenario.sections.webhook import parse_webhook

__all__ = [
    "load_scenario",
    "parse_scenario",
    "read_toml",
    "scenario_path",
    "shipped_scenarios",
    "SHIPPED_SCENARIOS",
]

SHIPPED_SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"  # package data
_INT64 = (-(2**63), 2**63 - 1)  # TOML integers are 64-bit


def scenario_path(name: str | Path) -> Path:
    """A scenario file's path: `name` itself, or the shipped scenario of that name (`smoke` is
    harness/scenarios/smoke.toml), so that an installed harness runs its scenarios from any folder."""
    path = Path(name)
    if path.exists() or path.suffix or len(path.parts) > 1:
        return path
    shipped = SHIPPED_SCENARIOS / f"{path.name}.toml"
    return shipped if shipped.exists() else path


def shipped_scenarios() -> list[str]:
    return sorted(p.stem for p in SHIPPED_SCENARIOS.glob("*.toml"))


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (a path, or the name of a shipped scenario)."""
    path = scenario_path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(
            f"{path}: file not found (pass the path of a scenario .toml file, or the name of a "
            f"shipped one: {', '.join(shipped_scenarios())})"
        ) from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_scenario(read_toml(raw, str(path)), source=str(path), base_dir=path.parent)


def read_toml(raw: bytes, source: str) -> dict[str, Any]:
    """TOML from bytes: UTF-8, with or without a byte-order mark (Windows editors add one); one-line errors."""
    try:
        if b"\x00" in raw:  # never in a text file: UTF-16 without a byte-order mark, or binary
            raise UnicodeDecodeError("utf-8", raw, raw.index(b"\x00"), raw.index(b"\x00") + 1, "NUL byte")
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # binary, UTF-16 (its own byte-order mark), Latin-1...
        raise ScenarioError(f"{source}: not UTF-8 text: save it as UTF-8") from None
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ScenarioError(
            f"{source}: not valid TOML: nested too deeply (keep tables and lists within {MAX_DEPTH} levels)"
        ) from None
    except ValueError as exc:  # TOMLDecodeError, or an integer of more than 4300 digits
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "integer string conversion" in reason:
            reason = "an integer too long to read (TOML integers are 64-bit)"
        raise ScenarioError(f"{source}: not valid TOML: {reason}") from None


def parse_scenario(data: dict[str, Any], source: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    r = Reader(source)
    _check_values(r, data)
    r.unknown(
        data,
        {
            "scenario",
            "target",
            "auth",
            "accounts",
            "webhook",
            "endpoints",
            "load",
            "journeys",
            "targets",
            "limits",
            "block",
            "attacks",
            "probes",
            "wallet",
            "spend",
            "thresholds",
            "abort",
            "guardrails",
            "http",
            "audit",
            "search",
        },
        "",
    )

    meta = r.table(data, "scenario", "scenario")
    r.unknown(meta, {"name", "description"}, "scenario")
    r.get(meta, "description", "scenario.description", str, "")
    name = r.get(meta, "name", "scenario.name", str, Path(source).stem if source != "<scenario>" else "scenario")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise r.fail("scenario.name", f"expected letters, digits, '-', '_' or '.', got {name!r}")

    host, target_settings = parse_target(r, data)

    endpoints = parse_endpoints(r, data)
    auth = parse_auth(r, data, endpoints)
    accounts = parse_accounts(r, data, base_dir, auth, endpoints)
    secret_env, webhook_signing = parse_webhook(r, data)

    load = parse_load(r, data)
    journeys, journey_settings, custom_journeys = parse_journeys(r, data, endpoints)
    default_target, thresholds = parse_targets(r, data, endpoints)

    limits = parse_limits(r, data, endpoints)
    attacks, attacks_start = parse_attacks(r, data, endpoints)
    probes = parse_probes(r, data, limits)
    wallet = parse_wallet(r, data, endpoints)
    guardrails = parse_guardrails(r, data)
    check_caps(r, guardrails, load, attacks)
    callers = route_callers(endpoints, auth, journeys, attacks, probes, wallet)
    stepped = {step.route for journey in custom_journeys.values() for step in journey.steps}
    columns = account_columns(accounts)
    needs = check_placeholders(r, endpoints, callers, stepped, "client" in journeys, columns)
    needs += check_steps(r, endpoints, custom_journeys, columns)
    accounts = replace(accounts, needs=accounts.needs + needs)
    return Scenario(
        limits=limits,
        block=parse_block(r, data),
        attacks=attacks,
        attacks_start_after_s=attacks_start,
        probes=probes,
        wallet=wallet,
        search=parse_search(r, data, guardrails),
        breaker=parse_breaker(r, data),
        guardrails=guardrails,
        http=parse_http(r, data),
        spend=parse_spend(r, data),
        name=name,
        path=Path(source) if source != "<scenario>" else None,
        host=host,
        target=target_settings,
        endpoints=endpoints,
        auth=auth,
        accounts=accounts,
        webhook_secret_env=secret_env,
        webhook_signing=webhook_signing,
        load=load,
        journeys=journeys,
        journey_settings=journey_settings,
        custom_journeys=custom_journeys,
        default_latency_target_ms=default_target,
        thresholds=thresholds,
        raw=data,
    )


def _check_values(r: Reader, data: dict[str, Any]) -> None:
    """Every value of the file, once, up front: at most MAX_DEPTH levels deep, 64-bit integers, no
    dates or times. After this nothing recurses without bound, formats a 10,000-digit number, or meets
    a value that JSON (the plan sent to workers, a request body) cannot carry."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise r.fail(
                    where, f"nested more than {MAX_DEPTH} levels deep (tables and lists inside each other): flatten it"
                )
            if isinstance(value, dict):
                stack.extend((item, f"{where}.{key}" if where else str(key), depth + 1) for key, item in value.items())
            else:
                stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
            raise r.fail(where, f"{show(value)} is out of range (TOML integers are 64-bit: at most {_INT64[1]})")
        elif isinstance(value, (datetime, date, time)):
            raise r.fail(where, f"no field takes a date or time, got {value}: write it as a string in quotes")
