"""Scenario files: TOML in, a validated, typed `Scenario` out.

Every error names the file, the field and what is expected, in one line, so that a bad scenario
fails before a single request is sent (exit code 2).
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from harness.demo_api.distributions import DistributionError, parse_distribution
from harness.scenario.callers import (
    attack_routes,
    client_routes,
    id_placeholders,
    id_source,
    journey_routes,
    session_route,
)
from harness.scenario.model import (
    ACCOUNT_COLUMNS,
    ACCOUNT_SOURCES,
    ATTACKS,
    AUDIT_PLACEHOLDERS,
    AUTH_STYLES,
    DEMO_WEBHOOK_SCHEMES,
    EXTRACT_SOURCES,
    JOURNEYS,
    KINDS,
    LIMIT_KEYS,
    METHODS,
    OBJECT_ID,
    PLACEHOLDERS,
    SPEND_NUMBERS,
    STREAM_FORMATS,
    STREAM_PATH_KEYS,
    TECHNIQUES,
    WEBHOOK_ALGORITHMS,
    WEBHOOK_ENCODINGS,
    WEBHOOK_SCHEMES,
    WEBHOOK_SIGNED_FIELDS,
    WEBHOOK_TIMESTAMP_FORMATS,
    Accounts,
    Attack,
    Auth,
    BlockRule,
    Breaker,
    Csrf,
    CustomSigning,
    Endpoint,
    Extract,
    Guardrails,
    HttpSettings,
    Journey,
    LimitRule,
    Load,
    OAuth2,
    Probes,
    Scenario,
    ScenarioError,
    SpendSettings,
    Stage,
    Step,
    Wallet,
    WebhookSigning,
    _latency_targets,
    infer_kind,
)
from harness.scenario.thresholds import (
    DEFAULT_ERROR_RATE,
    Threshold,
    ThresholdError,
    check_targets,
    default_thresholds,
    merge,
    parse_threshold,
)

__all__ = [
    "load_scenario",
    "parse_scenario",
    "parse_duration",
    "read_toml",
    "check_load_caps",
    "scenario_path",
    "shipped_scenarios",
    "SHIPPED_SCENARIOS",
]

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token (RFC 9110)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")  # what harness.load.client.render fills
SHIPPED_SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"  # package data
MAX_DEPTH = 32  # tables and lists inside each other: deeper is a mistake (and would exhaust recursion)
_INT64 = (-(2**63), 2**63 - 1)  # TOML integers are 64-bit

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m(?!s))?\s*(?:(\d+(?:\.\d+)?)s)?\s*$")


def parse_duration(value: Any, where: str) -> float:
    """Seconds from 90, "90s", "2m", "1h30m" or "1m30s"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)) and any(m.groups()):
        h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        seconds = h * 3600 + mi * 60 + s
    else:
        raise ScenarioError(f'{where}: expected a duration like 90, "90s", "2m" or "1m30s", got {_show(value)}')
    if not math.isfinite(seconds):
        raise ScenarioError(f'{where}: expected a finite duration like "90s", got {_show(value)}')
    if seconds <= 0:
        raise ScenarioError(f"{where}: expected a positive duration, got {value!r}")
    return seconds


class _Reader:
    """Reads typed fields out of nested tables, naming `file: a.b.c` in every error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {where}: {message}")

    def table(self, data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a table ([{where}]), got {type(value).__name__}")
        return value

    def get(self, data: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...], default: Any) -> Any:
        if key not in data:
            return default
        value = data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(where, f"expected {_kind_name(kinds)}, got {value!r}")
        if not isinstance(value, kinds):
            raise self.fail(where, f"expected {_kind_name(kinds)}, got {value!r}")
        return value

    def number(
        self,
        data: dict[str, Any],
        key: str,
        where: str,
        default: float,
        minimum: float = 0.0,
        maximum: float | None = None,
    ) -> float:
        value = self.get(data, key, where, (int, float), default)
        if not math.isfinite(value):  # nan passes every comparison, and inf never ends
            raise self.fail(where, f"expected a finite number >= {minimum:g}, got {value!r}")
        if value < minimum:
            raise self.fail(where, f"expected a number >= {minimum:g}, got {value!r}")
        if maximum is not None and value > maximum:
            raise self.fail(where, f"expected a number from {minimum:g} to {maximum:g}, got {value!r}")
        return float(value)

    def duration(self, value: Any, where: str) -> float:
        try:
            return parse_duration(value, where)
        except ScenarioError as exc:
            raise ScenarioError(f"{self.source}: {exc}") from None

    def whole(self, data: dict[str, Any], key: str, where: str, default: int, minimum: int = 0) -> int:
        value = self.get(data, key, where, int, default)
        if value < minimum:
            raise self.fail(where, f"expected a whole number >= {minimum}, got {value!r}")
        return value

    def unknown(self, data: dict[str, Any], allowed: set[str], where: str) -> None:
        extra = sorted(set(data) - allowed)
        if extra:
            prefix = f"{where}." if where else ""
            raise self.fail(f"{prefix}{extra[0]}", f"unknown field (expected one of: {', '.join(sorted(allowed))})")


def _show(value: Any) -> str:
    """`repr` for a message, short: a huge value (a hex literal has no digit limit) cannot flood the line."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,g}"


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


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
    r = _Reader(source)
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
        },
        "",
    )

    meta = r.table(data, "scenario", "scenario")
    r.unknown(meta, {"name", "description"}, "scenario")
    r.get(meta, "description", "scenario.description", str, "")
    name = r.get(meta, "name", "scenario.name", str, Path(source).stem if source != "<scenario>" else "scenario")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise r.fail("scenario.name", f"expected letters, digits, '-', '_' or '.', got {name!r}")

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
        target_settings["webhook_scheme"] = _one_of(
            r, target, "webhook_scheme", "target.webhook_scheme", DEMO_WEBHOOK_SCHEMES, "stripe"
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
        raise ScenarioError(f"{source}: {exc}") from None
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

    endpoints = _parse_endpoints(r, data)
    auth = _parse_auth(r, data, endpoints)
    accounts = _parse_accounts(r, data, base_dir, auth, endpoints)
    secret_env, webhook_signing = _parse_webhook(r, data)

    load = _parse_load(r, data)
    journeys, journey_settings, custom_journeys = _parse_journeys(r, data, endpoints)

    targets = r.table(data, "targets", "targets")
    r.unknown(targets, {"p95_ms", "error_rate"}, "targets")
    default_target = r.number(targets, "p95_ms", "targets.p95_ms", 500.0, minimum=1.0)
    thresholds = _parse_thresholds(r, data, endpoints, default_target, _error_rate(r, targets))

    limits = _parse_limits(r, data, endpoints)
    attacks, attacks_start = _parse_attacks(r, data, endpoints)
    probes = _parse_probes(r, data, limits)
    wallet = _parse_wallet(r, data, endpoints)
    guardrails = _parse_guardrails(r, data)
    _check_caps(r, guardrails, load, attacks)
    callers = _callers(endpoints, auth, journeys, attacks, probes, wallet)
    stepped = {step.route for journey in custom_journeys.values() for step in journey.steps}
    columns = _columns(accounts)
    needs = _check_placeholders(r, endpoints, callers, stepped, "client" in journeys, columns)
    needs += _check_steps(r, endpoints, custom_journeys, columns)
    accounts = replace(accounts, needs=accounts.needs + needs)
    return Scenario(
        limits=limits,
        block=_parse_block(r, data),
        attacks=attacks,
        attacks_start_after_s=attacks_start,
        probes=probes,
        wallet=wallet,
        breaker=_parse_breaker(r, data),
        guardrails=guardrails,
        http=_parse_http(r, data),
        spend=_parse_spend(r, data),
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


def _check_values(r: _Reader, data: dict[str, Any]) -> None:
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
            raise r.fail(where, f"{_show(value)} is out of range (TOML integers are 64-bit: at most {_INT64[1]})")
        elif isinstance(value, (datetime, date, time)):
            raise r.fail(where, f"no field takes a date or time, got {value}: write it as a string in quotes")


def _check_body(r: _Reader, body: Any, where: str) -> None:
    """A body template is sent as JSON: a table, a list or a string, with finite numbers."""
    if not isinstance(body, (dict, list, str)):
        raise r.fail(
            where,
            f"expected a table, a list or a string (the JSON body template, e.g. "
            f'{{ email = "{{email}}" }}), got {_show(body)}',
        )
    stack: list[tuple[Any, str]] = [(body, where)]
    while stack:
        value, at = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise r.fail(at, f"{value!r} is not a JSON number: write a finite number")
        if isinstance(value, dict):
            stack.extend((item, f"{at}.{key}") for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, f"{at}[{i}]") for i, item in enumerate(value))


def _placeholders(template: Any) -> list[str]:
    """The {names} a template's strings hold (not its keys: `render` fills values only), in order."""
    found: list[str] = []
    stack = [template]
    while stack:
        value = stack.pop(0)
        if isinstance(value, str):
            found.extend(n for n in _PLACEHOLDER.findall(value) if n not in found)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


CLIENT = "the client journey"  # the one caller that fills object ids (from a list route)


def _callers(
    endpoints: dict[str, Endpoint],
    auth: Auth,
    journeys: dict[str, float],
    attacks: dict[str, Attack],
    probes: Probes,
    wallet: Wallet | None,
) -> dict[str, list[str]]:
    """Route -> who of the harness's own traffic sends to it in this scenario (the preset journeys, the
    attacks, the probes), by kind: each fills PLACEHOLDERS and the calling account's columns, nothing
    else, except the client journey's object ids (harness.scenario.callers.id_source)."""
    callers: dict[str, list[str]] = {}
    login = session_route(endpoints, auth)
    for journey in (j for j in JOURNEYS if j in journeys):
        for ep in journey_routes(endpoints, journey, auth):
            callers.setdefault(ep.name, []).append(CLIENT if journey == "client" else f"the {journey} journey")
    for name in attacks:
        for route in [*(ep.name for ep in attack_routes(endpoints, name)), *([login.name] if login else [])]:
            callers.setdefault(route, []).append(f"attack {name}")
    for route in probes.routes:
        callers.setdefault(route, []).append("the bypass probes")
    if wallet is not None:
        callers.setdefault(wallet.route, []).append("the denial-of-wallet probe")
    return callers


def _check_placeholders(
    r: _Reader,
    endpoints: dict[str, Endpoint],
    callers: dict[str, list[str]],
    stepped: set[str],
    client: bool,
    columns: set[str] | None,
) -> tuple[tuple[str, str], ...]:
    """Every placeholder must be one the harness fills, or it is sent empty and the run measures the
    wrong request. Routes load traffic calls get PLACEHOLDERS and the accounts' `columns` (and, from the
    client journey, an object id from a list route); routes only `harness audit` calls may also take
    AUDIT_PLACEHOLDERS and object ids ({id}, {NAME_id}); routes only the scenario's own journeys call are
    checked step by step.

    With `columns` None (an accounts file whose header row names them), the placeholders nothing else fills
    are returned as (column, what uses it): the accounts file must have them (harness.scenario.accounts
    checks)."""
    routes = client_routes(endpoints)
    paired = {read.name for read, _ in routes.id_reads} if client else set()
    client_ids = paired | {ep.name for ep in routes.chats if client and id_source(endpoints, ep)}
    deferred: list[tuple[str, str]] = []
    for name, ep in endpoints.items():
        if client and ep.kind == "read" and id_placeholders(ep) and name not in paired:
            part = "path" if any(OBJECT_ID.fullmatch(n) for n in _placeholders(ep.path)) else "body"
            raise r.fail(f"endpoints.{name}.{part}", _unpaired(ep))
        who = callers.get(name, [])
        if not who and name in stepped:
            continue  # see _check_steps
        for part, template in (("path", ep.path), ("body", ep.body)):
            for found in _placeholders(template):
                problem = _placeholder_problem(ep, part, found, who, name in client_ids, columns or set())
                if problem and columns is None and found not in PLACEHOLDERS:
                    deferred.append((found, f"endpoints.{name}.{part} uses {{{found}}}"))
                elif problem:
                    raise r.fail(f"endpoints.{name}.{part}", problem)
    return tuple(deferred)


def _placeholder_problem(
    ep: Endpoint, part: str, found: str, who: list[str], client_id: bool, columns: set[str]
) -> str:
    """Why `found` cannot be filled on this route by the traffic that calls it ("" when it can);
    `client_id`: the client journey fills the route's id placeholder from a list route; `columns`: the
    accounts' columns, which every caller fills from its account."""
    extra = sorted(columns - set(PLACEHOLDERS))
    also = f"; account columns: {', '.join(extra)}" if extra else ""
    if not who:
        if found in PLACEHOLDERS or found in AUDIT_PLACEHOLDERS or OBJECT_ID.fullmatch(found) or found in columns:
            return ""
        known = [*sorted(PLACEHOLDERS), *sorted(AUDIT_PLACEHOLDERS), "NAME_id"]
        return f"unknown placeholder {{{found}}} (known: {', '.join(known)}{also})"
    for caller in who:
        if caller == CLIENT and client_id and found in id_placeholders(ep):
            continue
        if found not in PLACEHOLDERS and found not in columns:
            return (
                f"unknown placeholder {{{found}}} (known: {', '.join(sorted(PLACEHOLDERS))}{also}); {ep.name} is "
                f"called by {caller}, which fills no other (the audit's {{id}} and {{NAME_id}} go on routes only "
                "the audit calls, or on routes of a journey of your own that extracts them)"
            )
        if part == "path" and found == "conversation_id":
            return (
                f"{{conversation_id}} in a path would be sent empty by {caller} (only the client journey reads "
                "conversation ids, from a list route): leave the route out of it, or move the id to the body"
            )
    return ""


def _unpaired(ep: Endpoint) -> str:
    """The error for a read route whose id the client journey cannot fill."""
    ids = id_placeholders(ep)
    if len(ids) > 1:
        why = f"takes one id from a list route, and {ep.name} has {len(ids)} ({', '.join(ids)})"
    else:
        why = (
            f"takes {{{ids[0]}}} from a route of kind list whose path starts as {ep.name}'s or that is named "
            f"after it, and the API map has none"
        )
    return (
        f"unknown placeholder {{{ids[0]}}} for the client journey, which reads every route of kind read and {why}: "
        f'add that list route, or set kind = "other" on {ep.name} to leave it to the audit and to journeys of '
        "your own (steps with extract)"
    )


def _check_steps(
    r: _Reader, endpoints: dict[str, Endpoint], journeys: dict[str, Journey], columns: set[str] | None
) -> tuple[tuple[str, str], ...]:
    """Each step of the scenario's own journeys sends only placeholders it has a value for: the harness's
    (PLACEHOLDERS), the account's `columns` and what earlier steps extract. A value a weighted step extracts
    counts after its group only when every step of the group extracts it; {conversation_id} is "" unless
    extracted. With `columns` None (an accounts file with a header row), the others are returned as
    (column, what uses it), as by _check_placeholders."""
    deferred: list[tuple[str, str]] = []
    for journey in journeys.values():
        extracted: set[str] = set()
        index = 0
        for group in journey.groups():
            for step in group:
                where = f"journeys.{journey.name}.steps[{index}]"
                deferred += _check_step(r, endpoints[step.route], step, where, extracted, columns)
                index += 1
            extracted |= set.intersection(*({e.name for e in step.extract} for step in group))
    return tuple(deferred)


def _check_step(
    r: _Reader, ep: Endpoint, step: Step, where: str, extracted: set[str], columns: set[str] | None
) -> list[tuple[str, str]]:
    deferred: list[tuple[str, str]] = []
    for part, template in (("path", ep.path), ("body", ep.body), *((f"headers.{k}", v) for k, v in step.headers)):
        for found in _placeholders(template):
            empty = {"conversation_id"} if part != "body" else set()  # "" is no path segment, no header
            fills = (set(PLACEHOLDERS) - empty) | extracted | (columns or set())
            if found in fills:
                continue
            on = part if part.startswith("headers.") else f"route {ep.name}'s {part}"
            if columns is None and found not in PLACEHOLDERS:
                deferred.append((found, f"{where} uses {{{found}}} in {on}"))
                continue
            raise r.fail(
                where,
                f"unknown placeholder {{{found}}} in {on}: no earlier step extracts it (extract = {{ {found} = "
                f'"json:..." }} on a step before it); known: {", ".join(sorted(fills))}',
            )
    return deferred


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


def _check_caps(r: _Reader, caps: Guardrails, load: Load, attacks: dict[str, Attack]) -> None:
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


def _parse_endpoints(r: _Reader, data: dict[str, Any]) -> dict[str, Endpoint]:
    table = r.table(data, "endpoints", "endpoints")
    if not table:
        raise r.fail("endpoints", "expected at least one [endpoints.NAME] table (the API map)")
    endpoints = {}
    allowed = {
        "method",
        "path",
        "body",
        "auth",
        "stream",
        "stream_paths",
        "latency_target_ms",
        "list_field",
        "id_field",
        "kind",
    }
    for name, spec in table.items():
        where = f"endpoints.{name}"
        if not isinstance(spec, dict):
            raise r.fail(where, "expected a table with method and path")
        r.unknown(spec, allowed, where)
        method = r.get(spec, "method", f"{where}.method", str, "GET").upper()
        if method not in METHODS:
            raise r.fail(f"{where}.method", f"expected one of {', '.join(METHODS)}, got {method!r}")
        path = r.get(spec, "path", f"{where}.path", str, None)
        if not path or not path.startswith("/"):
            raise r.fail(f"{where}.path", f"expected a path starting with '/', got {_show(path)}")
        if not re.fullmatch(r"/[!-~]*", path):  # a space or line break would corrupt the request line
            raise r.fail(
                f"{where}.path",
                f"expected printable ASCII without spaces (percent-encode the rest, e.g. %20), got {_show(path)}",
            )
        stream = r.get(spec, "stream", f"{where}.stream", str, "none")
        if stream not in STREAM_FORMATS:
            raise r.fail(f"{where}.stream", f"expected one of {', '.join(STREAM_FORMATS)}, got {stream!r}")
        target = spec.get("latency_target_ms")
        if target is not None:
            target = r.number(spec, "latency_target_ms", f"{where}.latency_target_ms", 0.0, minimum=1.0)
        body = spec.get("body")
        if body is not None:
            _check_body(r, body, f"{where}.body")
        kind = r.get(spec, "kind", f"{where}.kind", str, "") or infer_kind(name, method)
        if kind not in KINDS:
            raise r.fail(f"{where}.kind", f"expected one of {', '.join(KINDS)}, got {_show(kind)}")
        endpoints[name] = Endpoint(
            name=name,
            method=method,
            path=path,
            body=body,
            auth=r.get(spec, "auth", f"{where}.auth", bool, True),
            stream=stream,
            stream_paths=_stream_paths(r, spec, where, stream),
            latency_target_ms=target,
            list_field=r.get(spec, "list_field", f"{where}.list_field", str, ""),
            id_field=r.get(spec, "id_field", f"{where}.id_field", str, "id"),
            kind=kind,
        )
    return endpoints


# ---- [auth] and [accounts] (docs/auth.md) ----

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COOKIE_NAME = _HEADER_NAME  # a cookie name is an HTTP token too (RFC 6265)
_AUTH_FIELDS = {  # field -> the styles it belongs to
    "style": AUTH_STYLES,
    "token_field": ("bearer", "oauth2"),
    "header": ("bearer", "api_key", "oauth2"),
    "scheme": ("bearer", "api_key", "oauth2"),
    "token_from": ("bearer",),
    "token_header": ("bearer",),
    "session_cookie": ("cookie",),
    "key_in": ("api_key",),
    "query_param": ("api_key",),
    "keys": ("api_key",),
    "oauth2": ("oauth2",),
    "csrf": ("bearer", "cookie", "oauth2"),
    "relogin_on_401": ("bearer", "cookie", "oauth2"),
    "lifetime": ("bearer", "cookie", "oauth2"),
}


def _parse_auth(r: _Reader, data: dict[str, Any], endpoints: dict[str, Endpoint]) -> Auth:
    """`[auth]`: the style and its fields; a field of another style is refused rather than ignored."""
    t = r.table(data, "auth", "auth")
    r.unknown(t, set(_AUTH_FIELDS), "auth")
    style = r.get(t, "style", "auth.style", str, "bearer")
    if style not in AUTH_STYLES:
        raise r.fail("auth.style", f"expected one of {', '.join(AUTH_STYLES)}, got {_show(style)}")
    for key, styles in _AUTH_FIELDS.items():
        if key in t and style not in styles:
            raise r.fail(
                f"auth.{key}",
                f'not used with style = "{style}" (it goes with style = {" or ".join(map(repr, styles))}): remove it',
            )
    header = r.get(t, "header", "auth.header", str, "Authorization")
    if not _HEADER_NAME.fullmatch(header):  # else every request fails inside the HTTP client
        raise r.fail(
            "auth.header", f"expected an HTTP header name like Authorization or X-Api-Key, got {_show(header)}"
        )
    scheme = r.get(t, "scheme", "auth.scheme", str, "Bearer")
    if not re.fullmatch(r"[!-~]*", scheme):
        raise r.fail(
            "auth.scheme", f'expected a word like Bearer or Token (or "" for the bare token), got {_show(scheme)}'
        )
    token_from = _choice(r, t, "token_from", ("body", "header"))
    token_header = r.get(t, "token_header", "auth.token_header", str, "")
    if token_from == "header" and not _HEADER_NAME.fullmatch(token_header):
        raise r.fail(
            "auth.token_header",
            f'token_from = "header" needs the response header that holds the token, like X-Auth-Token, got '
            f"{_show(token_header)}",
        )
    session_cookie = r.get(t, "session_cookie", "auth.session_cookie", str, "")
    if session_cookie and not _COOKIE_NAME.fullmatch(session_cookie):
        raise r.fail("auth.session_cookie", f"expected a cookie name like sid, got {_show(session_cookie)}")
    query_param = r.get(t, "query_param", "auth.query_param", str, "api_key")
    if not re.fullmatch(r"[A-Za-z0-9_.~-]+", query_param):
        raise r.fail("auth.query_param", f"expected a query parameter name like api_key, got {_show(query_param)}")
    keys = r.table(t, "keys", "auth.keys")
    for role, env in keys.items():
        if not isinstance(env, str) or not _ENV_NAME.fullmatch(env):
            raise r.fail(
                f"auth.keys.{role}",
                f"expected the name of the environment variable that holds the key, like CLIENT_API_KEY, got "
                f"{_show(env)} (never the key itself in the file)",
            )
    if style == "oauth2" and "oauth2" not in t:
        raise r.fail("auth.oauth2", 'style = "oauth2" needs [auth.oauth2] with grant, token_path and client_id_env')
    return Auth(
        token_field=r.get(t, "token_field", "auth.token_field", str, "access_token"),
        header=header,
        scheme=scheme,
        style=style,
        token_from=token_from,
        token_header=token_header,
        session_cookie=session_cookie,
        key_in=_choice(r, t, "key_in", ("header", "query")),
        query_param=query_param,
        keys=dict(keys),
        oauth2=_parse_oauth2(r, t) if style == "oauth2" else None,
        csrf=_parse_csrf(r, t, endpoints) if "csrf" in t else None,
        relogin_on_401=r.get(t, "relogin_on_401", "auth.relogin_on_401", bool, True),
        lifetime_s=r.duration(t["lifetime"], "auth.lifetime") if "lifetime" in t else None,
    )


def _choice(r: _Reader, t: dict[str, Any], key: str, choices: tuple[str, ...], where: str = "auth") -> str:
    value = r.get(t, key, f"{where}.{key}", str, choices[0])
    if value not in choices:
        raise r.fail(f"{where}.{key}", f"expected {' or '.join(map(repr, choices))}, got {_show(value)}")
    return value


def _parse_oauth2(r: _Reader, t: dict[str, Any]) -> OAuth2:
    o = r.table(t, "oauth2", "auth.oauth2")
    r.unknown(o, {"grant", "token_path", "client_id_env", "client_secret_env", "scope"}, "auth.oauth2")
    grant = _choice(r, o, "grant", ("client_credentials", "password"), "auth.oauth2")
    path = r.get(o, "token_path", "auth.oauth2.token_path", str, "/oauth/token")
    if not re.fullmatch(r"/(?!/)[!-~]*", path):  # "//host/..." would leave the target
        raise r.fail(
            "auth.oauth2.token_path",
            f"expected a path on the target like /oauth/token, got {_show(path)}: the token request only ever "
            "goes to the target host (the guardrail); an identity provider elsewhere cannot be used",
        )
    envs = {}
    for key in ("client_id_env", "client_secret_env"):
        envs[key] = r.get(o, key, f"auth.oauth2.{key}", str, "")
        if envs[key] and not _ENV_NAME.fullmatch(envs[key]):
            raise r.fail(
                f"auth.oauth2.{key}",
                f"expected an environment variable name like OAUTH_CLIENT_ID, got {_show(envs[key])}",
            )
        if grant == "client_credentials" and not envs[key]:
            raise r.fail(
                f"auth.oauth2.{key}",
                'required with grant = "client_credentials": the name of the environment variable that holds it',
            )
    return OAuth2(grant=grant, token_path=path, scope=r.get(o, "scope", "auth.oauth2.scope", str, ""), **envs)


def _parse_csrf(r: _Reader, t: dict[str, Any], endpoints: dict[str, Endpoint]) -> Csrf:
    c = r.table(t, "csrf", "auth.csrf")
    r.unknown(c, {"from", "name", "header", "fetch"}, "auth.csrf")
    source = _choice(r, c, "from", ("cookie", "header", "body"), "auth.csrf")
    name = r.get(c, "name", "auth.csrf.name", str, "")
    if not name or (source != "body" and not _HEADER_NAME.fullmatch(name)):
        what = {"cookie": "the cookie's name", "header": "the response header's name", "body": "a dot path"}[source]
        raise r.fail("auth.csrf.name", f'required with from = "{source}": {what}, like csrftoken, got {_show(name)}')
    header = r.get(c, "header", "auth.csrf.header", str, "X-CSRF-Token")
    if not _HEADER_NAME.fullmatch(header):
        raise r.fail("auth.csrf.header", f"expected an HTTP header name like X-CSRF-Token, got {_show(header)}")
    fetch = r.get(c, "fetch", "auth.csrf.fetch", str, "")
    if fetch and fetch not in endpoints:
        raise r.fail(
            "auth.csrf.fetch", f"expected an endpoint of the API map whose answer holds the token, got {_show(fetch)}"
        )
    return Csrf(source=source, name=name, header=header, fetch=fetch)


def _demo_auth(r: _Reader, target: dict[str, Any]) -> dict[str, Any]:
    """`[target] auth, csrf, token_lifetime`: how the embedded demo API authenticates (docs/auth.md)."""
    settings: dict[str, Any] = {}
    if "auth" in target:
        settings["auth"] = _choice(r, target, "auth", ("bearer", "cookie", "api_key", "oauth2"), "target")
    if "csrf" in target:
        settings["csrf"] = r.get(target, "csrf", "target.csrf", bool, False)
    if "token_lifetime" in target:
        settings["token_ttl_s"] = math.ceil(r.duration(target["token_lifetime"], "target.token_lifetime"))
    return settings


def _one_of(r: _Reader, data: dict[str, Any], key: str, where: str, choices: tuple[str, ...], default: str) -> str:
    value = r.get(data, key, where, str, default)
    if value not in choices:
        raise r.fail(where, f"expected one of {', '.join(repr(c) for c in choices)}, got {_show(value)}")
    return value


def _parse_webhook(r: _Reader, data: dict[str, Any]) -> tuple[str, WebhookSigning]:
    """[webhook]: the secret's environment variable, and how deliveries are signed (docs/webhooks.md)."""
    webhook = r.table(data, "webhook", "webhook")
    r.unknown(webhook, {"secret_env", "scheme", "custom"}, "webhook")
    secret_env = r.get(webhook, "secret_env", "webhook.secret_env", str, "HARNESS_WEBHOOK_SECRET")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", secret_env):
        raise r.fail(
            "webhook.secret_env",
            f"expected an environment variable name like HARNESS_WEBHOOK_SECRET, got {_show(secret_env)}",
        )
    scheme = _one_of(r, webhook, "scheme", "webhook.scheme", WEBHOOK_SCHEMES, "stripe")
    if scheme != "custom":
        if "custom" in webhook:
            raise r.fail("webhook.custom", f'read only with scheme = "custom" (scheme is {scheme!r}); remove it')
        return secret_env, WebhookSigning(scheme)
    if "custom" not in webhook:
        raise r.fail(
            "webhook.custom", 'required with scheme = "custom": add [webhook.custom] with header = "X-Signature"'
        )
    return secret_env, WebhookSigning(scheme, _parse_custom_signing(r, r.table(webhook, "custom", "webhook.custom")))


def _parse_custom_signing(r: _Reader, t: dict[str, Any]) -> CustomSigning:
    """[webhook.custom]: every header an HTTP token, the template's fields known and each carried by a header."""
    r.unknown(t, set(CustomSigning.__dataclass_fields__), "webhook.custom")
    if "header" not in t:
        raise r.fail("webhook.custom.header", 'required: the header that carries the signature, like "X-Signature"')
    headers: dict[str, str | None] = {}
    for key in ("header", "timestamp_header", "id_header"):
        value = r.get(t, key, f"webhook.custom.{key}", str, None)
        if value is not None and not _HEADER_NAME.fullmatch(value):
            raise r.fail(f"webhook.custom.{key}", f"expected an HTTP header name like X-Signature, got {_show(value)}")
        headers[key] = value
    signed = r.get(t, "signed", "webhook.custom.signed", str, "{body}")
    fields = re.findall(r"\{([^{}]*)\}", signed)
    unknown = [f for f in fields if f not in WEBHOOK_SIGNED_FIELDS]
    if unknown:
        raise r.fail("webhook.custom.signed", f"unknown field {{{unknown[0]}}}; use {{id}}, {{timestamp}} and {{body}}")
    if "body" not in fields:
        raise r.fail(
            "webhook.custom.signed", 'must contain {body}, like "{timestamp}.{body}": a signature must cover the body'
        )
    for field_, header in (("timestamp", "timestamp_header"), ("id", "id_header")):
        if field_ in fields and not headers[header]:
            raise r.fail(
                f"webhook.custom.{header}", f"required: signed has {{{field_}}}, name the header that carries it"
            )
    prefix = r.get(t, "prefix", "webhook.custom.prefix", str, "")
    if not re.fullmatch(r"[!-~]*", prefix):
        raise r.fail(
            "webhook.custom.prefix", f'expected printable ASCII without spaces, like "sha256=", got {_show(prefix)}'
        )
    return CustomSigning(
        header=str(headers["header"]),
        signed=signed,
        algorithm=_one_of(r, t, "algorithm", "webhook.custom.algorithm", WEBHOOK_ALGORITHMS, "sha256"),
        encoding=_one_of(r, t, "encoding", "webhook.custom.encoding", WEBHOOK_ENCODINGS, "hex"),
        prefix=prefix,
        timestamp_header=headers["timestamp_header"],
        timestamp_format=_one_of(
            r, t, "timestamp_format", "webhook.custom.timestamp_format", WEBHOOK_TIMESTAMP_FORMATS, "unix"
        ),
        id_header=headers["id_header"],
    )


def _stream_paths(r: _Reader, spec: dict[str, Any], where: str, stream: str) -> tuple[tuple[str, str], ...]:
    """An ndjson route's dot paths to its text, usage, end and errors (docs/streams.md); unset ones read Ollama."""
    if "stream_paths" not in spec:
        return ()
    where = f"{where}.stream_paths"
    if stream != "ndjson":
        raise r.fail(where, f'only for stream = "ndjson" (this route has stream = {stream!r}); remove it')
    table = r.table(spec, "stream_paths", where)
    r.unknown(table, set(STREAM_PATH_KEYS), where)
    for key, path in table.items():
        empty_ok = key != "text"  # "" turns usage, the end marker or errors off; the text is always read
        if not isinstance(path, str) or (path == "" and not empty_ok) or (path and "" in path.split(".")):
            turn_off = ' (or "" for none)' if empty_ok else ""
            raise r.fail(f"{where}.{key}", f'expected a dot path like "message.content"{turn_off}, got {_show(path)}')
    return tuple((key, table[key]) for key in STREAM_PATH_KEYS if key in table)


def _parse_accounts(
    r: _Reader, data: dict[str, Any], base_dir: Path | None, auth: Auth, endpoints: dict[str, Endpoint]
) -> Accounts:
    t = r.table(data, "accounts", "accounts")
    r.unknown(t, {"source", "file", "inline", "roles", "columns"}, "accounts")
    source = r.get(t, "source", "accounts.source", str, "keys" if auth.keys else "demo")
    if source not in ACCOUNT_SOURCES:
        raise r.fail("accounts.source", f"expected one of {', '.join(ACCOUNT_SOURCES)}, got {source!r}")
    if source == "keys" and not auth.keys:
        raise r.fail("accounts.source", '"keys" makes one account per role of [auth.keys]: add [auth.keys]')
    roles = r.get(t, "roles", "accounts.roles", list, ["client"])
    if not roles or not all(isinstance(x, str) for x in roles):
        raise r.fail("accounts.roles", f"expected a non-empty list of role names, got {roles!r}")
    file = None
    if source == "file":
        name = r.get(t, "file", "accounts.file", str, "")
        if not name:
            raise r.fail("accounts.file", 'required when accounts.source = "file" (a CSV with email,password[,role])')
        file = (base_dir / name) if base_dir and not Path(name).is_absolute() else Path(name)
    columns = r.get(t, "columns", "accounts.columns", list, [])
    if columns and source != "file":
        raise r.fail("accounts.columns", 'only with accounts.source = "file" (the columns of a file without header)')
    if not all(isinstance(c, str) and c.isidentifier() for c in columns) or len(set(columns)) < len(columns):
        raise r.fail(
            "accounts.columns",
            f'expected distinct column names like ["email", "password", "role"], got {_show(columns)}',
        )
    inline = r.get(t, "inline", "accounts.inline", list, [])
    if source == "inline":
        if not inline:
            raise r.fail("accounts.inline", "expected a list of {email = ..., password = ...} tables")
        for i, acc in enumerate(inline):
            if not (isinstance(acc, dict) and all(isinstance(k, str) and k.isidentifier() for k in acc)):
                raise r.fail(f"accounts.inline[{i}]", "expected a table of columns like {email = ..., password = ...}")
            for key in acc:
                r.get(acc, key, f"accounts.inline[{i}].{key}", str, "")
    needs = _account_needs(auth, endpoints)
    for i, acc in enumerate(inline if source == "inline" else []):
        for column, why in needs:
            if not any(acc.get(name) for name in column.split("|")):
                wanted = " or ".join(column.split("|"))
                raise r.fail(f"accounts.inline[{i}]", f"no {wanted} ({why}): give every account a {wanted}")
    return Accounts(
        source=source, file=file, inline=tuple(inline), roles=tuple(roles), columns=tuple(columns), needs=needs
    )


def _account_needs(auth: Auth, endpoints: dict[str, Endpoint]) -> tuple[tuple[str, str], ...]:
    """(column, what uses it) every account must fill: a name and a password to log in with, the login route's
    account placeholders, the key of the api_key style, the password grant's user name (or e-mail) and
    password. "a|b": either will do."""
    needs: list[tuple[str, str]] = []
    login = next((ep for ep in endpoints.values() if ep.kind == "login"), None)
    if auth.uses_login_route:
        why = f'auth.style = "{auth.style}" logs each account in'
        needs += [("email|username", why), ("password", why)]
    if auth.uses_login_route and login is not None:
        for part, template in (("path", login.path), ("body", login.body)):
            needs += [
                (found, f"endpoints.{login.name}.{part} uses {{{found}}}")
                for found in _placeholders(template)
                if found in ACCOUNT_COLUMNS
            ]
    if auth.style == "api_key" and not auth.keys:
        needs.append(("api_key", 'auth.style = "api_key" sends each account\'s key (or add [auth.keys])'))
    if auth.oauth2 is not None and auth.oauth2.grant == "password":
        needs += [
            ("username|email", 'auth.oauth2.grant = "password" sends it as username'),
            ("password", 'auth.oauth2.grant = "password" sends it'),
        ]
    return tuple(needs)


def _columns(accounts: Accounts) -> set[str] | None:
    """The columns the accounts will have, for the placeholder check; None until an accounts file with a
    header row is read (`harness.scenario.accounts` checks the rest there)."""
    if accounts.source == "file":
        return set(accounts.columns) or None
    if accounts.source == "inline":
        return {key for row in accounts.inline for key in row}
    if accounts.source == "keys":
        return {"role", "api_key"}
    return {"email", "password", "role", "tenant", "api_key"}  # the demo API's


def _parse_load(r: _Reader, data: dict[str, Any]) -> Load:
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


def _parse_journeys(
    r: _Reader, data: dict[str, Any], endpoints: dict[str, Endpoint]
) -> tuple[dict[str, float], dict[str, dict[str, Any]], dict[str, Journey]]:
    """(journey -> weight, preset -> its settings, the scenario's own journeys): `[journeys.NAME]` is a
    preset (JOURNEYS) or, with `steps`, a journey of the scenario's own."""
    t = r.table(data, "journeys", "journeys")
    if not t:
        t = {"client": 1}
    weights: dict[str, float] = {}
    settings: dict[str, dict[str, Any]] = {}
    custom: dict[str, Journey] = {}
    for name, spec in t.items():
        where = f"journeys.{name}"
        if isinstance(spec, (int, float)) and not isinstance(spec, bool):
            spec = {"weight": spec}
        if not isinstance(spec, dict):
            raise r.fail(where, "expected a weight or a table with weight and settings")
        if name not in JOURNEYS:
            if "steps" not in spec:
                raise r.fail(
                    where,
                    f"unknown journey (expected one of: {', '.join(JOURNEYS)}, or a journey of your own with "
                    'steps = [{ route = "..." }, ...])',
                )
            journey, weight = _parse_custom_journey(r, name, spec, endpoints)
            if weight:
                weights[name], custom[name] = weight, journey
            continue
        r.unknown(
            spec, {"weight", "think_time", "chat_turns", "reset_probability", "logout_probability", "messages"}, where
        )
        weight = r.number(spec, "weight", f"{where}.weight", 1.0, maximum=1e6)  # relative; Locust's are whole
        if weight == 0:
            continue
        _check_journey_kinds(r, name, endpoints)
        s: dict[str, Any] = {}
        for key in ("think_time", "chat_turns"):
            if key in spec:
                s[key] = list(_interval(r, spec[key], f"{where}.{key}"))
        for key in ("reset_probability", "logout_probability"):
            if key in spec:
                p = r.number(spec, key, f"{where}.{key}", 0.0)
                if p > 1:
                    raise r.fail(f"{where}.{key}", f"expected a probability between 0 and 1, got {p!r}")
                s[key] = p
        if "messages" in spec:
            s["messages"] = list(_messages(r, spec["messages"], f"{where}.messages"))
        weights[name] = weight
        settings[name] = s
    if not weights:
        raise r.fail("journeys", "expected at least one journey with a weight above 0")
    return weights, settings, custom


def _check_journey_kinds(r: _Reader, name: str, endpoints: dict[str, Endpoint]) -> None:
    """A preset journey needs a route of one of its kinds (JOURNEYS), or it would send nothing."""
    needs = JOURNEYS[name][0]
    if any(ep.kind in needs for ep in endpoints.values()):
        return
    kinds = " or ".join(f'"{k}"' for k in needs)
    raise r.fail(
        f"journeys.{name}",
        f"the {name} journey needs a route of kind {kinds} ({KINDS[needs[0]]}) and the API map has none: "
        f'add kind = "{needs[0]}" to the [endpoints.NAME] it should call, or set weight = 0',
    )


def _interval(r: _Reader, value: Any, where: str) -> tuple[float, float]:
    """[min, max] seconds (think time) or counts (chat turns)."""
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x < 1e6 for x in value)
        and value[0] <= value[1]
    ):
        raise r.fail(where, f"expected [min, max] non-negative numbers below 1000000, got {_show(value)}")
    return float(value[0]), float(value[1])


def _messages(r: _Reader, value: Any, where: str) -> tuple[str, ...]:
    if not (isinstance(value, list) and value and all(isinstance(m, str) for m in value)):
        raise r.fail(where, "expected a non-empty list of strings (what clients ask the bot)")
    return tuple(value)


_NAME = re.compile(r"[A-Za-z0-9_-]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_REPEAT = 10_000


def _parse_custom_journey(
    r: _Reader, name: str, spec: dict[str, Any], endpoints: dict[str, Endpoint]
) -> tuple[Journey, float]:
    """A journey of the scenario's own: `weight`, `think_time`, `messages` and its `steps`."""
    where = f"journeys.{name}"
    if not _NAME.fullmatch(name):
        raise r.fail(where, "a journey's name takes letters, digits, '-' and '_' (it names the journey's users)")
    r.unknown(spec, {"weight", "think_time", "messages", "steps"}, where)
    weight = r.number(spec, "weight", f"{where}.weight", 1.0, maximum=1e6)
    steps = spec["steps"]
    if not isinstance(steps, list) or not steps:
        raise r.fail(
            f"{where}.steps", 'expected a non-empty list of steps like [{ route = "login" }, { route = "items" }]'
        )
    journey = Journey(
        name=name,
        steps=tuple(_parse_step(r, item, f"{where}.steps[{i}]", endpoints) for i, item in enumerate(steps)),
        think_time=_interval(r, spec["think_time"], f"{where}.think_time") if "think_time" in spec else (1.0, 3.0),
        messages=_messages(r, spec["messages"], f"{where}.messages") if "messages" in spec else (),
    )
    return journey, weight


def _parse_step(r: _Reader, item: Any, where: str, endpoints: dict[str, Endpoint]) -> Step:
    """One step: `route`, `repeat`, `weight`, `think`, `extract`, `headers`."""
    if not isinstance(item, dict):
        raise r.fail(where, f'expected a table like {{ route = "login" }}, got {_show(item)}')
    r.unknown(item, {"route", "repeat", "weight", "think", "extract", "headers"}, where)
    route = r.get(item, "route", f"{where}.route", str, "")
    if route not in endpoints:
        raise r.fail(
            f"{where}.route",
            f"expected a route of the API map ({', '.join(endpoints)}), got {_show(route or None)}",
        )
    weight = r.number(item, "weight", f"{where}.weight", 1.0, maximum=1e6) if "weight" in item else None
    if weight == 0:
        raise r.fail(f"{where}.weight", "expected a weight above 0 (leave the step out instead)")
    repeat = r.whole(item, "repeat", f"{where}.repeat", 1, minimum=1)
    if repeat > MAX_REPEAT:
        raise r.fail(f"{where}.repeat", f"expected at most {MAX_REPEAT:,} repeats, got {repeat:,}")
    extract = r.get(item, "extract", f"{where}.extract", dict, {})
    headers = r.get(item, "headers", f"{where}.headers", dict, {})
    for header, value in headers.items():
        if not _HEADER_NAME.fullmatch(header) or not isinstance(value, str) or not re.fullmatch(r"[ -~]*", value):
            raise r.fail(f"{where}.headers.{header}", 'expected a header name and a printable string like "{csrf}"')
    return Step(
        route=route,
        repeat=repeat,
        weight=weight,
        think_s=_think(r, item["think"], f"{where}.think") if "think" in item else None,
        extract=tuple(_parse_extract(r, n, v, f"{where}.extract.{n}", endpoints[route]) for n, v in extract.items()),
        headers=tuple(headers.items()),
    )


def _think(r: _Reader, value: Any, where: str) -> tuple[float, float]:
    """A step's pause: 0, a duration ("1s", 1.5) or [min, max] seconds."""
    if isinstance(value, list):
        return _interval(r, value, where)
    if value == 0 and not isinstance(value, bool):
        return 0.0, 0.0
    seconds = r.duration(value, where)
    return seconds, seconds


def _parse_extract(r: _Reader, name: str, value: Any, where: str, ep: Endpoint) -> Extract:
    """`NAME = "json:items.0.id"`, `"header:X-CSRF-Token"`, `"cookie:sid"` or `"regex:order-(\\d+)"`."""
    if not _IDENTIFIER.fullmatch(name):
        raise r.fail(where, "a value's name is a placeholder name: letters, digits and '_', not starting with a digit")
    source, _, expr = value.partition(":") if isinstance(value, str) else ("", "", "")
    if source not in EXTRACT_SOURCES or not expr:
        raise r.fail(
            where,
            f'expected "SOURCE:WHAT" with SOURCE one of {", ".join(EXTRACT_SOURCES)} '
            f'(e.g. "json:items.0.id", "header:X-CSRF-Token", "cookie:sid", "regex:order-(\\d+)"), got {_show(value)}',
        )
    if source in ("json", "regex") and ep.stream not in ("none", "json"):
        raise r.fail(
            where, f"{ep.name} streams its answer ({ep.stream}), which keeps no body to read: use header: or cookie:"
        )
    if source == "json":
        expr = _json_path(r, expr, where)
    elif source == "header" and not _HEADER_NAME.fullmatch(expr):
        raise r.fail(where, f"expected a header name after header:, like X-CSRF-Token, got {_show(expr)}")
    elif source == "cookie" and not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", expr):
        raise r.fail(where, f"expected a cookie name after cookie:, like sid, got {_show(expr)}")
    elif source == "regex":
        try:
            re.compile(expr)
        except re.error as exc:
            raise r.fail(where, f"not a valid regular expression: {exc}") from None
    return Extract(name=name, source=source, expr=expr)


def _json_path(r: _Reader, expr: str, where: str) -> str:
    """A JSON path as dot-separated keys: "items.0.id"; "$.items[0].id" and "items[*].id" read the same."""
    text = re.sub(r"\[(\d+|\*)\]", r".\1", expr)
    text = re.sub(r"^\$(?=\.|$)", "", text).removeprefix(".")
    keys = text.split(".") if text else []  # "$": the whole answer
    if not all(keys) or any("[" in key or "]" in key for key in keys):
        raise r.fail(where, f'expected a path of keys like "json:items.0.id" or "json:$.data[0].id", got {_show(expr)}')
    return ".".join(keys)


def _parse_limits(r: _Reader, data: dict[str, Any], endpoints: dict[str, Endpoint]) -> tuple[LimitRule, ...]:
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


def _parse_block(r: _Reader, data: dict[str, Any]) -> BlockRule:
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


def _parse_attacks(r: _Reader, data: dict[str, Any], endpoints: dict[str, Endpoint]) -> tuple[dict[str, Attack], float]:
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


def _parse_probes(r: _Reader, data: dict[str, Any], limits: tuple[LimitRule, ...]) -> Probes:
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


def _error_rate(r: _Reader, targets: dict[str, Any]) -> float:
    """`[targets] error_rate`: 0.01 or "1%" (the default); 1 or "100%" turns the default off."""
    value = targets.get("error_rate", DEFAULT_ERROR_RATE)
    rate = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        rate = float(value)
    elif isinstance(value, str) and (m := re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*%\s*", value)):
        rate = float(m.group(1)) / 100
    if rate is None or not 0 < rate <= 1:
        raise r.fail(
            "targets.error_rate",
            "expected the share of legit requests that may fail per endpoint, a "
            f'ratio in (0, 1] or a percent like "1%" (1 or "100%" = off), got {value!r}',
        )
    return rate


def _parse_thresholds(
    r: _Reader,
    data: dict[str, Any],
    endpoints: dict[str, Endpoint],
    default_target: float,
    error_rate: float = DEFAULT_ERROR_RATE,
) -> tuple[Threshold, ...]:
    """`thresholds = ["p95(login) < 500ms", {expr, abort, grace}]`, after the checklist defaults.

    Checked against the API map here, so that a typo fails before any traffic.
    """
    items = r.get(data, "thresholds", "thresholds", list, [])
    streaming = [name for name, ep in endpoints.items() if ep.stream != "none"]
    explicit = []
    for i, item in enumerate(items):
        where = f"thresholds[{i}]"
        abort, grace = False, 10.0
        if isinstance(item, dict):
            r.unknown(item, {"expr", "abort", "grace"}, where)
            if "expr" not in item:
                raise r.fail(f"{where}.expr", 'missing (e.g. expr = "error_rate(*) < 1%")')
            abort = r.get(item, "abort", f"{where}.abort", bool, False)
            if item.get("grace") not in (None, 0, "0", "0s"):
                grace = r.duration(item["grace"], f"{where}.grace")
            elif "grace" in item:
                grace = 0.0
            item = item["expr"]
        elif not isinstance(item, str):
            raise r.fail(
                where, f'expected a string like "p95(login) < 500ms" or a table {{expr, abort, grace}}, got {item!r}'
            )
        try:
            threshold = parse_threshold(item, f"{r.source}: {where}", abort=abort, grace_s=grace)
            check_targets([threshold], endpoints, streaming=streaming, where=f"{r.source}: {where}")
        except ThresholdError as exc:
            raise ScenarioError(str(exc)) from None
        explicit.append(threshold)
    defaults = default_thresholds(_latency_targets(endpoints, default_target), error_rate)
    return tuple(merge(defaults, explicit, streaming))


def _parse_spend(r: _Reader, data: dict[str, Any]) -> SpendSettings:
    t = r.table(data, "spend", "spend")
    r.unknown(t, {"model", "prices", *SPEND_NUMBERS}, "spend")
    numbers = {key: r.number(t, key, f"spend.{key}", default) for key, default in SPEND_NUMBERS.items()}
    return SpendSettings(
        model=r.get(t, "model", "spend.model", str, "gpt-4o-mini"),
        prices=r.table(t, "prices", "spend.prices"),
        numbers=numbers,
    )


def _parse_wallet(r: _Reader, data: dict[str, Any], endpoints: dict[str, Endpoint]) -> Wallet | None:
    if "wallet" not in data:
        return None
    t = r.table(data, "wallet", "wallet")
    r.unknown(
        t,
        {"route", "start_after", "prompt_start_tokens", "prompt_cap_tokens", "output_ask_tokens", "max_tokens_field"},
        "wallet",
    )
    llm = [n for n, ep in endpoints.items() if ep.stream != "none"]
    chats = [n for n in llm if endpoints[n].kind == "chat"]
    route = r.get(t, "route", "wallet.route", str, (chats or llm or [""])[0])
    if route not in llm:
        raise r.fail(
            "wallet.route",
            f"expected an endpoint with a stream format (an LLM route: "
            f"{', '.join(llm) or 'none in [endpoints]'}), got {_show(route or None)}",
        )
    start = r.whole(t, "prompt_start_tokens", "wallet.prompt_start_tokens", 1024, minimum=1)
    cap = r.whole(t, "prompt_cap_tokens", "wallet.prompt_cap_tokens", 131_072, minimum=1)
    if cap < start or cap > 2_000_000:
        raise r.fail("wallet.prompt_cap_tokens", f"expected from prompt_start_tokens ({start}) to 2000000, got {cap}")
    return Wallet(
        route=route,
        start_after_s=r.duration(t.get("start_after", 5), "wallet.start_after"),
        prompt_start_tokens=start,
        prompt_cap_tokens=cap,
        output_ask_tokens=r.whole(t, "output_ask_tokens", "wallet.output_ask_tokens", 2000, minimum=1),
        max_tokens_field=r.get(t, "max_tokens_field", "wallet.max_tokens_field", str, "max_tokens"),
    )


def _parse_breaker(r: _Reader, data: dict[str, Any]) -> Breaker:
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


def _parse_guardrails(r: _Reader, data: dict[str, Any]) -> Guardrails:
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


def _parse_http(r: _Reader, data: dict[str, Any]) -> HttpSettings:
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
