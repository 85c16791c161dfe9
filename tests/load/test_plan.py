"""The run plan: what the master hands every worker survives encode/decode intact."""

from __future__ import annotations

import json

from harness.load.plan import RunPlan
from harness.scenario import load_scenario, parse_scenario
from harness.scenario.accounts import Account, Credentials
from tests.helpers import REPO

CREDS = Credentials(
    accounts=[
        Account("maya@mail.example", "pw-1", "client", "northstar-coaching"),
        Account("coach@northstar.example", "pw-2", "coach", "northstar-coaching"),
    ],
    tenants=["northstar-coaching", "summit-leadership"],
    webhook_secret="whsec_" + "test-secret-built-at-run-time",
)


def round_trip(plan: RunPlan) -> RunPlan:
    return RunPlan.decode(plan.encode())


def test_shipped_scenario_round_trips():
    scenario = load_scenario(REPO / "scenarios" / "load-day.toml")
    decoded = round_trip(RunPlan("20261130-190000-load-day", scenario, CREDS))
    assert decoded.run_id == "20261130-190000-load-day"
    assert decoded.scenario.name == "load-day"
    assert decoded.scenario.endpoints == scenario.endpoints
    assert decoded.scenario.load == scenario.load
    assert decoded.scenario.load.planned_duration_s == 420
    assert decoded.scenario.journeys == scenario.journeys == {"client": 8, "webhook": 1, "visitor": 1}
    assert decoded.scenario.journey_settings == scenario.journey_settings
    assert decoded.scenario.target == scenario.target
    assert decoded.scenario.latency_targets() == scenario.latency_targets()
    assert decoded.scenario.path == scenario.path
    assert decoded.credentials == CREDS


def test_round_trip_keeps_custom_endpoints_load_and_journeys():
    data = {
        "scenario": {"name": "custom"},
        "target": {"host": "http://127.0.0.1:8123"},
        "endpoints": {
            "login": {
                "method": "POST",
                "path": "/v1/login",
                "auth": False,
                "body": {"user": "{email}", "pass": "{password}"},
            },
            "conversations": {"path": "/v1/threads", "list_field": "data.items", "id_field": "thread_id"},
            "chat": {
                "method": "POST",
                "path": "/v1/threads/{conversation_id}/reply",
                "stream": "sse",
                "latency_target_ms": 3000,
                "body": {"messages": "{messages}"},
            },
        },
        "load": {
            "users": 30,
            "spawn_rate": 5,
            "stages": [{"duration": "30s", "users": 10}, {"duration": "1m30s", "users": 30}],
        },
        "journeys": {"client": {"weight": 3, "think_time": [0, 2], "messages": ["hi", "help"]}},
        "auth": {"header": "X-Api-Key", "scheme": ""},
    }
    scenario = parse_scenario(data, source="custom.toml")
    decoded = round_trip(RunPlan("r1", scenario, Credentials())).scenario
    assert decoded.host == "http://127.0.0.1:8123"
    assert decoded.endpoints == scenario.endpoints
    assert decoded.endpoints["chat"].latency_target_ms == 3000
    assert decoded.endpoints["conversations"].list_field == "data.items"
    assert decoded.load.stages == scenario.load.stages
    assert [st.duration_s for st in decoded.load.stages] == [30, 90]
    assert decoded.journey_settings == {"client": {"think_time": [0.0, 2.0], "messages": ["hi", "help"]}}
    assert decoded.auth == scenario.auth
    assert decoded.path is not None and decoded.path.name == "custom.toml"


def test_encoded_plan_is_one_json_string():
    scenario = load_scenario(REPO / "scenarios" / "smoke.toml")
    text = RunPlan("r2", scenario, CREDS).encode()
    data = json.loads(text)
    assert set(data) == {"run_id", "scenario", "source", "credentials"}
    assert data["credentials"]["webhook_secret"] == "whsec_" + "test-secret-built-at-run-time"
    assert data["scenario"]["load"]["duration"] == "45s"


def test_plan_without_a_scenario_path():
    scenario = parse_scenario(
        {"endpoints": {"webhook": {"method": "POST", "path": "/hook"}}, "journeys": {"webhook": 1}}
    )
    decoded = round_trip(RunPlan("r3", scenario, Credentials(webhook_secret="s")))
    assert decoded.scenario.path is None
    assert decoded.scenario.name == "scenario"
    assert decoded.scenario.journeys == {"webhook": 1.0}
    assert decoded.credentials.webhook_secret == "s"
