"""Stage 1 of the pipeline: scenario files and the API map, read, checked and typed.

`load_scenario` turns a TOML file into a frozen `Scenario` or raises `ScenarioError` with one line
naming the file, the field and the fix; nothing here sends a request or imports Locust.
"""

from harness.scenario.model import (ACCOUNT_SOURCES, ATTACKS, AUDIT_PLACEHOLDERS, JOURNEYS, LIMIT_KEYS, METHODS,
                                    PLACEHOLDERS, SPEND_NUMBERS, STREAM_FORMATS, TECHNIQUES, Accounts, Attack, Auth,
                                    BlockRule, Breaker, Endpoint, Guardrails, HttpSettings, LimitRule, Load, Probes,
                                    Scenario, ScenarioError, SpendSettings, Stage, Wallet)
from harness.scenario.parse import (SHIPPED_SCENARIOS, check_load_caps, load_scenario, parse_duration, parse_scenario,
                                    read_toml, scenario_path, shipped_scenarios)
from harness.scenario.redaction import redacted_copy, redacted_raw

__all__ = [
    "ACCOUNT_SOURCES", "ATTACKS", "AUDIT_PLACEHOLDERS", "JOURNEYS", "LIMIT_KEYS", "METHODS", "PLACEHOLDERS",
    "SPEND_NUMBERS", "STREAM_FORMATS", "TECHNIQUES", "Accounts", "Attack", "Auth", "BlockRule", "Breaker",
    "Endpoint", "Guardrails", "HttpSettings", "LimitRule", "Load", "Probes", "Scenario", "ScenarioError",
    "SpendSettings", "Stage", "Wallet", "check_load_caps", "load_scenario", "parse_duration", "parse_scenario",
    "read_toml", "redacted_copy", "redacted_raw", "scenario_path", "shipped_scenarios", "SHIPPED_SCENARIOS",
]
