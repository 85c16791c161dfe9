"""Checks of a parsed scenario that need more than the file: the accounts file, the price table, the
demo API's own limits, the guardrails. `harness validate` and `harness run` share them, so what
validate passes, run does not reject; none of them sends a request.

`scenario_warnings` tells what would run but not as the author likely meant (a ramp that cannot
finish within its stage, a run too short for the bypass matrix its windows need).
"""

from __future__ import annotations

from collections.abc import Callable

from harness.host import is_loopback
from harness.scenario.accounts import check_roles, offline_accounts
from harness.scenario.guardrails import abuse_refusal
from harness.scenario.model import Load, Scenario, ScenarioError, Stage
from harness.scenario.pricing import PriceError, PriceTable, load_prices
from harness.scenario.probeplan import probe_warnings

__all__ = ["check_scenario", "scenario_warnings", "spend_prices"]

_MODEL_KEYS = ("ttft", "token_delay", "output_tokens", "usage")  # [target.model] in the scenario


def check_scenario(scenario: Scenario) -> None:
    """Raise ScenarioError (one line: `file: field: what is wrong; the fix`) for what a run would refuse."""
    accounts = offline_accounts(scenario)  # the demo API's are asked at run time
    if accounts is not None:
        check_roles(scenario, accounts)
    spend_prices(scenario)
    _check_target(scenario)
    refusal = abuse_refusal(scenario, scenario.host or "http://127.0.0.1")  # no host: the embedded API on loopback
    if refusal:
        raise ScenarioError(refusal)


def spend_prices(scenario: Scenario) -> PriceTable:
    """The price table with `[spend.prices]` applied, after checking that it prices `[spend] model`."""
    try:
        table = load_prices(overrides=scenario.spend.prices)
        table.get(scenario.spend.model)
    except PriceError as exc:
        message = str(exc)
        field = "" if message.startswith("spend.") else "spend.model: "
        raise ScenarioError(f"{_source(scenario)}{field}{message}") from None
    return table


def _check_target(scenario: Scenario) -> None:
    """The embedded demo API's settings, through its own limits (unknown latency routes, processes...)."""
    from harness.demo_api.config import TargetConfig

    try:
        TargetConfig.from_dict(scenario.target)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        table = "target.model" if message.split(":")[0].split(".")[0] in _MODEL_KEYS else "target"
        raise ScenarioError(f"{_source(scenario)}{table}.{message}") from None


def _source(scenario: Scenario) -> str:
    return f"{scenario.path}: " if scenario.path else ""


def scenario_warnings(
    scenario: Scenario, users: int | None = None, spawn_rate: float | None = None, duration_s: float | None = None
) -> list[str]:
    """What would run, but likely not as meant: a ramp longer than its stage (or than the run), a plan
    longer than the guardrail's max_duration. `users`, `spawn_rate` and `duration_s` are the command
    line's --users, --spawn-rate and --duration, which replace the scenario's as `harness run` does."""
    load = scenario.load
    warnings: list[str] = []
    if not load.open_model:
        flat = users is not None or spawn_rate is not None
        if flat or not load.stages:
            where = "load (with the command line's options)" if flat or duration_s is not None else "load"
            stages = [Stage(duration_s or load.planned_duration_s, users or load.users, spawn_rate or load.spawn_rate)]
            warnings += _ramp_warnings(stages, lambda _: where, "run")
        else:
            warnings += _ramp_warnings(_cut(load, duration_s), lambda i: f"load.stages[{i}]", "stage")
    planned = duration_s or load.planned_duration_s
    warnings += probe_warnings(scenario, planned, is_loopback(scenario.host) if scenario.host else True)
    cap = scenario.guardrails.max_duration_s
    if cap is not None and planned > cap:
        warnings.append(
            f"guardrails.max_duration: the {planned:g} s planned are longer than max_duration "
            f"({cap:g} s): the run will stop there as aborted; raise it or shorten the load"
        )
    return [f"{_source(scenario)}{w}" for w in warnings]


def _cut(load: Load, duration_s: float | None) -> list[Stage]:
    """The stages as a run of `duration_s` plays them: cut short, or the last one held longer."""
    if duration_s is None:
        return list(load.stages)
    stages, left = [], duration_s
    for stage in load.stages:
        if left <= 0:
            break
        stages.append(Stage(min(stage.duration_s, left), stage.users, stage.spawn_rate))
        left -= stage.duration_s
    if left > 0:
        last = stages[-1]
        stages[-1] = Stage(last.duration_s + left, last.users, last.spawn_rate)
    return stages


def _ramp_warnings(stages: list[Stage], where: Callable[[int], str], span: str) -> list[str]:
    """A stage whose users cannot all start at its spawn rate before it ends. Stopping users is quick."""
    warnings, running = [], 0.0
    for i, stage in enumerate(stages):
        start = running
        running = float(stage.users)
        if stage.users <= start or not stage.spawn_rate > 0:  # a rate the command line left unchecked: no guess
            continue
        ramp_s = (stage.users - start) / stage.spawn_rate
        if ramp_s <= stage.duration_s:
            continue
        running = start + stage.spawn_rate * stage.duration_s
        origin = f"from {int(start)} " if start else ""
        warnings.append(
            f"{where(i)}: ramping {origin}to {stage.users} users at {stage.spawn_rate:g}/s takes "
            f"{ramp_s:g} s, longer than the {stage.duration_s:g} s {span}: about {int(running)} users "
            "will have started when it ends"
        )
    return warnings
