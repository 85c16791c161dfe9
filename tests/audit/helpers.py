"""Helpers shared by the audit tests: the demo API with a quick model, and an AuditContext for a target."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from harness.audit.context import AuditContext, parse_audit_settings
from harness.demo_api.config import TargetConfig
from harness.demo_api.process import RunningTarget, start_target
from harness.scenario import Scenario, load_scenario
from harness.scenario.accounts import resolve_credentials
from tests.helpers import REPO

SCENARIO = load_scenario(REPO / "scenarios" / "audit.toml")
# the same map without its sign-up route: the audit then uses the scenario's accounts for everything
WITHOUT_SIGN_UP = replace(SCENARIO, endpoints={k: v for k, v in SCENARIO.endpoints.items() if v.kind != "register"})
QUICK_MODEL = {"ttft": 5, "token_delay": 1, "output_tokens": [5, 10]}  # the audit does not time the model


@contextmanager
def quick_demo(profile: str, **settings: Any) -> Iterator[RunningTarget]:
    """The demo API in PROFILE with QUICK_MODEL and SETTINGS (TargetConfig fields), stopped on the way out."""
    with start_target(TargetConfig.from_dict({"profile": profile, **QUICK_MODEL, **settings})) as target:
        yield target


def audit_context(target: RunningTarget, scenario: Scenario = SCENARIO, **settings: Any) -> AuditContext:
    """An AuditContext for TARGET: SCENARIO's accounts, and its `[audit]` settings with SETTINGS replaced."""
    return AuditContext(
        target.url,
        scenario,
        resolve_credentials(scenario, target.url),
        replace(parse_audit_settings(scenario), **settings),
    )
