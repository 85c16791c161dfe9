"""[journeys] (docs/journeys.md): the preset journeys' weights and settings, and journeys of the scenario's
own as steps (route, repeat, weight, think time, values extracted for later steps, headers).
"""

from __future__ import annotations

import re
from typing import Any

from harness.scenario.model import EXTRACT_SOURCES, JOURNEYS, KINDS, Endpoint, Extract, Journey, Step
from harness.scenario.sections.reader import COOKIE_NAME, HEADER_NAME, IDENTIFIER, Reader, show

__all__ = ["parse_journeys"]


def parse_journeys(
    r: Reader, data: dict[str, Any], endpoints: dict[str, Endpoint]
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


def _check_journey_kinds(r: Reader, name: str, endpoints: dict[str, Endpoint]) -> None:
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


def _interval(r: Reader, value: Any, where: str) -> tuple[float, float]:
    """[min, max] seconds (think time) or counts (chat turns)."""
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) and 0 <= x < 1e6 for x in value)
        and value[0] <= value[1]
    ):
        raise r.fail(where, f"expected [min, max] non-negative numbers below 1000000, got {show(value)}")
    return float(value[0]), float(value[1])


def _messages(r: Reader, value: Any, where: str) -> tuple[str, ...]:
    if not (isinstance(value, list) and value and all(isinstance(m, str) for m in value)):
        raise r.fail(where, "expected a non-empty list of strings (what clients ask the bot)")
    return tuple(value)


_NAME = re.compile(r"[A-Za-z0-9_-]+")
MAX_REPEAT = 10_000


def _parse_custom_journey(
    r: Reader, name: str, spec: dict[str, Any], endpoints: dict[str, Endpoint]
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


def _parse_step(r: Reader, item: Any, where: str, endpoints: dict[str, Endpoint]) -> Step:
    """One step: `route`, `repeat`, `weight`, `think`, `extract`, `headers`."""
    if not isinstance(item, dict):
        raise r.fail(where, f'expected a table like {{ route = "login" }}, got {show(item)}')
    r.unknown(item, {"route", "repeat", "weight", "think", "extract", "headers"}, where)
    route = r.get(item, "route", f"{where}.route", str, "")
    if route not in endpoints:
        raise r.fail(
            f"{where}.route",
            f"expected a route of the API map ({', '.join(endpoints)}), got {show(route or None)}",
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
        if not HEADER_NAME.fullmatch(header) or not isinstance(value, str) or not re.fullmatch(r"[ -~]*", value):
            raise r.fail(f"{where}.headers.{header}", 'expected a header name and a printable string like "{csrf}"')
    return Step(
        route=route,
        repeat=repeat,
        weight=weight,
        think_s=_think(r, item["think"], f"{where}.think") if "think" in item else None,
        extract=tuple(_parse_extract(r, n, v, f"{where}.extract.{n}", endpoints[route]) for n, v in extract.items()),
        headers=tuple(headers.items()),
    )


def _think(r: Reader, value: Any, where: str) -> tuple[float, float]:
    """A step's pause: 0, a duration ("1s", 1.5) or [min, max] seconds."""
    if isinstance(value, list):
        return _interval(r, value, where)
    if value == 0 and not isinstance(value, bool):
        return 0.0, 0.0
    seconds = r.duration(value, where)
    return seconds, seconds


def _parse_extract(r: Reader, name: str, value: Any, where: str, ep: Endpoint) -> Extract:
    """`NAME = "json:items.0.id"`, `"header:X-CSRF-Token"`, `"cookie:sid"` or `"regex:order-(\\d+)"`."""
    if not IDENTIFIER.fullmatch(name):
        raise r.fail(where, "a value's name is a placeholder name: letters, digits and '_', not starting with a digit")
    source, _, expr = value.partition(":") if isinstance(value, str) else ("", "", "")
    if source not in EXTRACT_SOURCES or not expr:
        raise r.fail(
            where,
            f'expected "SOURCE:WHAT" with SOURCE one of {", ".join(EXTRACT_SOURCES)} '
            f'(e.g. "json:items.0.id", "header:X-CSRF-Token", "cookie:sid", "regex:order-(\\d+)"), got {show(value)}',
        )
    if source in ("json", "regex") and ep.stream not in ("none", "json"):
        raise r.fail(
            where, f"{ep.name} streams its answer ({ep.stream}), which keeps no body to read: use header: or cookie:"
        )
    if source == "json":
        expr = _json_path(r, expr, where)
    elif source == "header" and not HEADER_NAME.fullmatch(expr):
        raise r.fail(where, f"expected a header name after header:, like X-CSRF-Token, got {show(expr)}")
    elif source == "cookie" and not COOKIE_NAME.fullmatch(expr):
        raise r.fail(where, f"expected a cookie name after cookie:, like sid, got {show(expr)}")
    elif source == "regex":
        try:
            re.compile(expr)
        except re.error as exc:
            raise r.fail(where, f"not a valid regular expression: {exc}") from None
    return Extract(name=name, source=source, expr=expr)


def _json_path(r: Reader, expr: str, where: str) -> str:
    """A JSON path as dot-separated keys: "items.0.id"; "$.items[0].id" and "items[*].id" read the same."""
    text = re.sub(r"\[(\d+|\*)\]", r".\1", expr)
    text = re.sub(r"^\$(?=\.|$)", "", text).removeprefix(".")
    keys = text.split(".") if text else []  # "$": the whole answer
    if not all(keys) or any("[" in key or "]" in key for key in keys):
        raise r.fail(where, f'expected a path of keys like "json:items.0.id" or "json:$.data[0].id", got {show(expr)}')
    return ".".join(keys)
