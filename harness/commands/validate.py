"""`harness validate SCENARIO`: what `harness run` would refuse, refused here, before anything is sent."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.errors import ExitCode
from harness.scenario import load_scenario

__all__ = ["run_validate"]


def run_validate(path: Path) -> int:
    """What `harness run` would refuse is an error here too (exit 2); what it would run, but likely
    not as meant, is a warning (exit 0). Sends nothing."""
    from harness.scenario.preflight import check_scenario, scenario_warnings

    scenario = load_scenario(path)
    check_scenario(scenario)
    for warning in scenario_warnings(scenario):
        print(f"harness: warning: {warning}", file=sys.stderr)
    print(
        f"{path}: ok: scenario {scenario.name!r}, {len(scenario.endpoints)} endpoints, "
        f"journeys {', '.join(scenario.journeys)}, {scenario.load.planned_duration_s:g} s planned, "
        f"target {scenario.host or 'embedded demo API'}"
    )
    return ExitCode.PASS
