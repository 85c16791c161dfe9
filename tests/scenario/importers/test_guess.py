"""Kinds, names, id placeholders and body placeholders, as both importers guess them."""

from __future__ import annotations

import re

import pytest

from harness.scenario import KINDS
from harness.scenario.importers.draft import toml_key
from harness.scenario.importers.guess import (
    REDACTED,
    body_template,
    guess_kind,
    id_placeholder,
    is_secret_field,
    route_name,
    unique_name,
)

AUDIT_ID = re.compile(r"\{(?:[A-Za-z0-9]+_)?id\}")  # what harness.scenario.parse takes as an object id


@pytest.mark.parametrize(
    ("method", "path", "operation_id", "lists", "kind"),
    [
        ("POST", "/api/auth/login", "", False, "login"),
        ("POST", "/oauth/token", "", False, "login"),
        ("POST", "/v1/sessions", "", False, "login"),
        ("POST", "/auth", "signIn", False, "login"),
        ("POST", "/auth/sign-in", "", False, "login"),
        ("GET", "/session", "", False, "read"),  # reading the session changes nothing
        ("POST", "/auth/token/refresh", "", False, "write"),  # a refresh is not a login with a password
        ("POST", "/api/auth/logout", "", False, "logout"),
        ("POST", "/auth", "logOut", False, "logout"),
        ("POST", "/api/auth/password-reset", "", False, "reset"),
        ("POST", "/auth/forgot-password", "", False, "reset"),
        ("POST", "/api/auth/password-reset/confirm", "", False, "write"),
        ("GET", "/health", "", False, "health"),
        ("GET", "/healthz", "", False, "health"),
        ("GET", "/readyz", "", False, "health"),
        ("HEAD", "/livez", "", False, "health"),
        ("POST", "/api/webhooks/stripe", "", False, "webhook"),
        ("POST", "/v1/chat/completions", "", False, "chat"),
        ("POST", "/v1/messages", "", False, "chat"),
        ("POST", "/v1/responses", "", False, "chat"),
        ("POST", "/api/chat", "", False, "chat"),
        ("POST", "/v1/generate", "createCompletion", False, "chat"),
        ("GET", "/v1/chat/completions", "", True, "list"),  # only a POST sends messages
        ("GET", "/api/admin/users", "", True, "admin"),
        ("DELETE", "/api/admin/users/{id}", "", False, "delete"),  # never handed to the admin probe
        ("POST", "/api/admin/users", "", False, "write"),
        ("POST", "/api/leads", "", False, "lead"),
        ("GET", "/pets", "findPets", True, "list"),
        ("GET", "/pets", "findPets", False, "read"),  # no array answer: no list
        ("GET", "/pets/{id}", "", True, "read"),
        ("GET", "/api/me", "", False, "read"),
        ("POST", "/pets", "addPet", False, "write"),
        ("PUT", "/pets/{id}", "", False, "write"),
        ("PATCH", "/pets/{id}", "", False, "write"),
        ("DELETE", "/pets/{id}", "", False, "delete"),
        ("OPTIONS", "/pets", "", False, "other"),
    ],
)
def test_the_kind_of_a_route(method: str, path: str, operation_id: str, lists: bool, kind: str) -> None:
    guessed, why = guess_kind(method, path, operation_id, lists=lists)
    assert guessed == kind
    assert guessed in KINDS
    assert path in why  # the review comment says which route it judged


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("findPetById", "find_pet_by_id"),
        ("find pet by id", "find_pet_by_id"),
        ("get-board", "get_board"),
        ("GET /pets/{pet_id}", "get_pets_pet_id"),
        ("HTTPRequestLog", "http_request_log"),
        ("2fa.verify", "r_2fa_verify"),
        ("", "route"),
        ('\'; DROP TABLE "x" --\n', "drop_table_x"),
        ("ключ", "route"),
    ],
)
def test_a_route_name_is_a_snake_case_bare_key(text: str, name: str) -> None:
    assert route_name(text) == name
    assert toml_key(name) == name


def test_a_taken_name_gets_a_number() -> None:
    taken: set[str] = set()
    assert [unique_name("a", taken) for _ in range(3)] == ["a", "a_2", "a_3"]


@pytest.mark.parametrize(
    ("param", "collection", "placeholder"),
    [
        ("id", "pets", "{pet_id}"),
        ("petId", "pets", "{pet_id}"),
        ("conversation_id", "conversations", "{conversation_id}"),
        ("row", "board", "{row_id}"),
        ("userProfileId", "users", "{userprofile_id}"),
        ("id", "entries", "{entry_id}"),
        ("id", "", "{id}"),
        ("uuid", "", "{id}"),
    ],
)
def test_a_path_parameter_becomes_an_id_placeholder_the_audit_takes(
    param: str, collection: str, placeholder: str
) -> None:
    assert id_placeholder(param, collection) == placeholder
    assert AUDIT_ID.fullmatch(placeholder)


def test_body_fields_the_harness_fills_become_placeholders() -> None:
    login, _ = body_template({"email": "a@b.c", "password": "pw", "remember": True}, "login")
    assert login == {"email": "{email}", "password": "{password}", "remember": True}
    chat, _ = body_template(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "stream": True}, "chat"
    )
    assert chat == {"model": "m", "messages": "{messages}", "max_tokens": 5, "stream": True}
    assert body_template({"prompt": "hi"}, "chat")[0] == {"prompt": "{message}"}
    lead, _ = body_template({"name": "Ada", "email": "a@b.c", "message": "hello", "tenant": "t"}, "lead")
    assert lead == {"name": "{name}", "email": "{lead_email}", "message": "{message}", "tenant": "{tenant}"}
    assert body_template({"username": "ada"}, "login")[0] == {"username": "{username}"}


def test_secret_fields_of_a_body_are_redacted_and_named_for_review() -> None:
    body, notes = body_template(
        {
            "refresh_token": "r-123",
            "client": {"client_secret": "s3", "api_key": "k"},
            "otp": "123456",
            "max_tokens": 50,  # a count of tokens, not a token
            "token_count": 3,
            "tokens": ["a"],
        },
        "write",
    )
    assert body == {
        "refresh_token": REDACTED,
        "client": {"client_secret": REDACTED, "api_key": "{api_key}"},
        "otp": REDACTED,
        "max_tokens": 50,
        "token_count": 3,
        "tokens": ["a"],
    }
    assert [n.split(" ")[0] for n in notes] == ["body.refresh_token", "body.client.client_secret", "body.otp"]


@pytest.mark.parametrize(
    ("field", "secret"),
    [
        ("password", True),
        ("newPassword", True),
        ("access_token", True),
        ("X-Api-Key", True),
        ("apikey", True),
        ("key", True),
        ("sid", True),
        ("client_secret", True),
        ("Authorization", True),
        ("max_tokens", False),
        ("monkey", False),
        ("keyboard_layout", False),
        ("session_count", False),
        ("name", False),
    ],
)
def test_which_fields_hold_a_secret(field: str, secret: bool) -> None:
    assert is_secret_field(field) is secret
