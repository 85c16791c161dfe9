"""Routes by kind: what a route is for comes from its `kind`, else its legacy name, else its method."""

from __future__ import annotations

import pytest

from harness.scenario import KINDS, ScenarioError, infer_kind, load_scenario, parse_scenario, shipped_scenarios
from tests.scenario.test_scenario import minimal


def test_every_route_of_the_shipped_scenarios_has_the_kind_its_name_implies() -> None:
    """Or the one its table sets (the audit scenario's sign-up and create routes say theirs)."""
    for name in shipped_scenarios():
        scenario = load_scenario(name)
        for ep in scenario.endpoints.values():
            table = scenario.raw["endpoints"][ep.name]
            assert ep.kind == table.get("kind", infer_kind(ep.name, ep.method)), (name, ep.name)
    audit = load_scenario("audit")
    assert audit.route("register").name == "register" and audit.route("write").name == "new_conversation"
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


SIGN_UP = {
    "method": "POST",
    "path": "/api/auth/register",
    "auth": False,
    "kind": "register",
    "body": {"email": "{email}", "password": "{password}", "name": "{name}", "org": "{tenant}"},
}


def test_a_register_route_takes_the_new_accounts_values() -> None:
    """A sign-up is the audit's own (no journey calls it): it may take {username} although no account has
    that column, and a route named register without a kind stays what its method says."""
    data = minimal()
    data["endpoints"]["sign_up"] = SIGN_UP
    data["endpoints"]["join"] = {**SIGN_UP, "body": {"username": "{username}", "password": "{password}"}}
    data["endpoints"]["register"] = {"method": "POST", "path": "/api/register", "body": {"email": "{email}"}}
    scenario = parse_scenario(data, "x.toml")
    assert [ep.name for ep in scenario.routes("register")] == ["sign_up", "join"]
    assert scenario.endpoints["sign_up"].auth is False and scenario.endpoints["register"].kind == "other"
    assert "register" in KINDS and "sign-up" in KINDS["register"] and "sign-up" not in KINDS["lead"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"method": "GET"}, "method", "expected POST or PUT, got GET"),
        ({"auth": True}, "auth", "called without a session: set auth = false"),
        ({"body": {"email": "{email}", "password": "{password}", "code": "{invite_code}"}}, "body", "{invite_code}"),
        ({"path": "/api/{org_id}/register"}, "path", "unknown placeholder {org_id}"),
        ({"body": {"email": "{email}", "name": "{name}"}}, "body", "must send {password} and {email} or {username}"),
        ({"body": {"password": "{password}"}}, "body", "must send {password} and {email} or {username}"),
    ],
)
def test_a_register_route_the_audit_cannot_use_is_one_line_naming_the_field(
    change: dict, field: str, words: str
) -> None:
    data = minimal()
    data["endpoints"]["sign_up"] = {**SIGN_UP, **change}
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data, "x.toml")
    message = str(err.value)
    assert message.startswith(f"x.toml: endpoints.sign_up.{field}: ") and words in message and "\n" not in message
