"""What the audit fills placeholders with, which placeholders are object ids, and the rule that none is
ever sent empty."""

from __future__ import annotations

from dataclasses import replace

from harness.audit.routes import list_route, probe_values
from harness.audit.values import account_values, is_object_id, unfilled, unfilled_note
from harness.scenario import Endpoint
from harness.scenario.accounts import Account
from tests.audit.helpers import SCENARIO


def test_an_account_fills_every_column_it_has() -> None:
    account = Account("ana@client.example", "pw-ana-123456", "coach", "acme")
    assert account_values(account) == {
        "email": "ana@client.example",
        "password": "pw-ana-123456",
        "role": "coach",
        "tenant": "acme",
    }
    assert account_values(None) == {}
    # an account with more columns: a username, a key, the file's own columns; an empty one is no value
    wider = Account("b@x.example", "", username="bee", api_key="sk-test-1", extra=(("org", "o-9"), ("team", "")))
    assert account_values(wider) == {
        "email": "b@x.example",
        "username": "bee",
        "role": "client",
        "api_key": "sk-test-1",
        "org": "o-9",
    }
    # the audit's probe values carry them, the caller's own password among them
    assert probe_values(account)["password"] == "pw-ana-123456" and probe_values(account)["tenant"] == "acme"


def test_object_ids_are_id_name_id_and_name_id_in_camel_case() -> None:
    for name in ("id", "ID", "conversation_id", "user_ID", "userId", "orderID", "item2_id"):
        assert is_object_id(name), name
    for name in ("paid", "valid", "ids", "guid", "UUID", "idx", "identity", "user_idx"):
        assert not is_object_id(name), name


def test_a_placeholder_is_unfilled_when_absent_or_empty_in_the_path() -> None:
    ep = Endpoint(
        "email", "PUT", "/users/{user_id}/email", {"email": "{email}", "conversation_id": "{conversation_id}"}
    )
    assert unfilled(ep, {"email": "a@x", "conversation_id": ""}) == ["user_id"]
    assert unfilled(ep, {"user_id": "", "email": "a@x", "conversation_id": ""}) == ["user_id"]  # never /users//email
    assert unfilled(ep, {"user_id": "u-1", "conversation_id": ""}) == ["email"]
    assert unfilled(ep, {"user_id": "u-1", "email": "", "conversation_id": ""}) == []  # an empty body field is meant
    assert unfilled(ep, {}, path=False) == ["email", "conversation_id"]
    note = unfilled_note("email", ["user_id", "username"], {})
    assert note.startswith("email: not called: no value for {user_id} (an object id: no route of the map lists")
    assert "no value for {username} (not a column of the accounts" in note
    assert unfilled_note("email", ["user_id"], {"user_id": "why not"}) == "email: not called: why not"


def test_the_list_route_of_an_id_by_path_name_kind_or_setting() -> None:
    endpoints = {
        **SCENARIO.endpoints,
        "threads": Endpoint("threads", "GET", "/api/threads", kind="list"),
        "thread": Endpoint("thread", "GET", "/api/threads/{threadId}", kind="read"),
        "reply": Endpoint("reply", "POST", "/api/reply", {"thread": "{thread_id}"}, kind="write"),
        "orders_page": Endpoint("orders_page", "GET", "/api/v2/orders", kind="list"),
        "order": Endpoint("order", "GET", "/api/order/{order_id}", kind="read"),
        "audit_log": Endpoint("audit_log", "GET", "/api/audit", kind="list"),
    }
    scenario = replace(SCENARIO, endpoints=endpoints)
    assert list_route(scenario, "thread", "threadId") == "threads"  # the path above {threadId}
    assert list_route(scenario, "reply", "thread_id") == "threads"  # named after the id
    assert list_route(scenario, "order", "order_id") == "orders_page"  # its path ends with the plural
    assert list_route(scenario, "order", "order_id", {"order_id": "audit_log"}) == "audit_log"  # [audit] id_lists
    assert list_route(scenario, "conversation", "conversation_id") == "conversations"
