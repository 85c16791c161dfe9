"""[targets] and thresholds: the latency target and error rate every route is held to, and the scenario's
own threshold expressions, checked against the API map.
"""

from __future__ import annotations

import re
from typing import Any

from harness.scenario.model import Endpoint, ScenarioError, _latency_targets
from harness.scenario.sections.reader import Reader
from harness.scenario.thresholds import (
    DEFAULT_ERROR_RATE,
    Threshold,
    ThresholdError,
    check_targets,
    default_thresholds,
    merge,
    parse_threshold,
)

__all__ = ["parse_targets"]


def parse_targets(
    r: Reader, data: dict[str, Any], endpoints: dict[str, Endpoint]
) -> tuple[float, tuple[Threshold, ...]]:
    """(the default latency target in ms, every threshold: the checklist defaults, then the file's)."""
    targets = r.table(data, "targets", "targets")
    r.unknown(targets, {"p95_ms", "error_rate"}, "targets")
    default_target = r.number(targets, "p95_ms", "targets.p95_ms", 500.0, minimum=1.0)
    return default_target, _parse_thresholds(r, data, endpoints, default_target, _error_rate(r, targets))


def _error_rate(r: Reader, targets: dict[str, Any]) -> float:
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
    r: Reader,
    data: dict[str, Any],
    endpoints: dict[str, Endpoint],
    default_target: float,
    error_rate: float,
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
