"""Routes by kind: what a route is for comes from its `kind`, else its legacy name, else its method."""

from __future__ import annotations

import pytest

from harness.scenario import KINDS, ScenarioError, infer_kind, load_scenario, parse_scenario, shipped_scenarios
from tests.scenario.test_scenario import minimal


def test_every_route_of_the_shipped_scenarios_has_the_kind_its_name_implies() -> None:
    for name in shipped_scenarios():
        scenario = load_scenario(name)
        for ep in scenario.endpoints.values():
            assert ep.kind == infer_kind(ep.name, ep.method), (name, ep.name)
    abuse = load_scenario("abuse")
    assert [ep.name for ep in abuse.routes("read")] == ["me", "conversation"]
    assert abuse.route("chat").name == "chat"
    assert abuse.route("admin").name == "admin_users"


@pytest.mark.parametrize(
    ("name", "method", "kind"),
    [
        ("profile", "GET", "read"),
        ("items", "HEAD", "read"),
        ("create_item", "POST", "other"),
        ("drop", "DELETE", "other"),
        ("leads", "POST", "lead"),
        ("conversations", "GET", "list"),
    ],
)
def test_a_route_without_a_kind_gets_one_from_its_name_or_its_method(name: str, method: str, kind: str) -> None:
    assert infer_kind(name, method) == kind


def test_a_free_route_name_takes_any_kind() -> None:
    data = minimal()
    data["endpoints"]["ask_bot"] = {"method": "POST", "path": "/v1/ask", "kind": "chat"}
    data["endpoints"]["kill_user"] = {"method": "DELETE", "path": "/v1/users/{id}", "kind": "delete"}
    scenario = parse_scenario(data, "x.toml")
    assert [ep.name for ep in scenario.routes("chat")] == ["chat", "ask_bot"]
    assert scenario.route("delete").name == "kill_user"
    assert scenario.route("webhook") is None


def test_an_unknown_kind_is_one_line_naming_the_field_and_the_kinds() -> None:
    data = minimal()
    data["endpoints"]["chat"]["kind"] = "llm"
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data, "x.toml")
    assert str(err.value).startswith("x.toml: endpoints.chat.kind: expected one of login, logout, chat")
    assert "'llm'" in str(err.value) and "\n" not in str(err.value)
    assert set(KINDS) >= {"login", "chat", "read", "list", "write", "delete", "webhook", "admin", "lead", "health"}
