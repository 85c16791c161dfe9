"""harness.protocol.auth: what a login answer yields and what an authenticated request carries, for every
`[auth]` style, as pure functions of the scenario's settings and plain data."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from harness.protocol.auth import (
    Credential,
    credential_headers,
    credential_params,
    parse_set_cookie,
    read_csrf,
    read_login,
    store_cookies,
    token_request_body,
    value_at,
    with_params,
)
from harness.scenario.model import Auth, Csrf, OAuth2

NOW = 1_800_000_000.0
PAST = "Thu, 01 Jan 1970 00:00:00 GMT"
FUTURE = "Fri, 01 Jan 2100 00:00:00 GMT"


def login(auth: Auth, body=None, headers=(), cookies=None):
    return read_login(auth, list(headers), body, cookies or {}, NOW)


def test_a_token_is_a_non_empty_string_at_the_path():
    assert value_at({"data": {"session": {"jwt": "t"}}}, "data.session.jwt") == "t"
    assert value_at({"access_token": "t"}, "data.token") is None
    assert value_at({"access_token": ""}, "access_token") is None
    assert value_at({"access_token": {"value": "t"}}, "access_token") is None
    assert value_at(None, "access_token") is None


def test_bearer_from_the_body_at_any_path_or_a_reason_naming_it():
    credential, why = login(Auth(token_field="data.session.jwt"), {"data": {"session": {"jwt": "abc"}}})
    assert (credential.token, why, credential.obtained_at) == ("abc", "", NOW)
    credential, why = login(Auth(token_field="data.token"), {"access_token": "abc"})
    assert credential is None and why == 'login: no token at auth.token_field "data.token"'
    # a session cookie instead of a token: the reason says which style would fit
    _, why = login(Auth(), {"ok": True}, cookies={"sid": "s3cr3t"})
    assert why == 'login: no token at auth.token_field "access_token" (it set cookies: sid; try auth.style = "cookie")'
    assert "s3cr3t" not in why


def test_bearer_from_a_response_header_with_or_without_its_scheme():
    auth = Auth(token_from="header", token_header="X-Auth-Token")
    assert login(auth, None, [("x-auth-token", "abc")])[0].token == "abc"
    assert login(auth, None, [("X-Auth-Token", "Bearer abc")])[0].token == "abc"
    assert login(auth, {"access_token": "body"}, [("Other", "x")]) == (
        None,
        'login: no token in the response header "X-Auth-Token" (auth.token_header)',
    )


def test_cookie_session_needs_a_cookie_and_the_named_one_when_set():
    credential, why = login(Auth(style="cookie"), {"user": {}}, cookies={"sid": "v1", "theme": "dark"})
    assert why == "" and credential.cookies == {"sid": "v1", "theme": "dark"} and credential.token == ""
    assert login(Auth(style="cookie"), {"user": {}}) == (
        None,
        'login: the answer set no cookie (auth.style = "cookie")',
    )
    assert login(Auth(style="cookie", session_cookie="sid"), None, cookies={"csrftoken": "x"}) == (
        None,
        'login: no session cookie "sid" (auth.session_cookie) in the answer (it set: csrftoken)',
    )


def test_oauth2_reads_the_access_token():
    auth = Auth(style="oauth2", oauth2=OAuth2())
    assert login(auth, {"access_token": "at", "token_type": "bearer"})[0].token == "at"
    assert login(auth, {"error": "invalid_grant"})[1] == 'login: no token at auth.token_field "access_token"'


@pytest.mark.parametrize(
    ("source", "name", "headers", "body", "cookies"),
    [
        ("cookie", "csrftoken", [], None, {"sid": "s", "csrftoken": "C"}),
        ("header", "X-CSRF-Token", [("x-csrf-token", "C")], None, {}),
        ("body", "meta.csrf", [], {"access_token": "t", "meta": {"csrf": "C"}}, {}),
    ],
)
def test_csrf_token_from_a_cookie_a_header_or_the_body(source, name, headers, body, cookies):
    auth = Auth(style="bearer", csrf=Csrf(source, name))
    assert read_csrf(auth, headers, body, cookies) == "C"
    credential, why = read_login(auth, headers, body or {"access_token": "t"}, cookies, NOW)
    assert why == "" and credential.csrf == "C"
    credential, why = read_login(auth, [], {"access_token": "t"}, {"sid": "s"}, NOW)
    assert credential is None and why.startswith(f"login: no CSRF token {'in the' if source != 'body' else 'at the'}")


def test_csrf_from_a_fetch_route_is_not_looked_for_in_the_login_answer():
    auth = Auth(style="cookie", csrf=Csrf("body", "csrf_token", fetch="csrf"))
    credential, why = login(auth, {"user": {}}, cookies={"sid": "s"})
    assert why == "" and credential.csrf == ""


def test_what_each_style_sends():
    bearer = Credential(token="abc", cookies={"sid": "s", "lb": "1"}, csrf="C")
    assert credential_headers(Auth(), bearer, "GET") == {"Authorization": "Bearer abc", "Cookie": "sid=s; lb=1"}
    assert credential_headers(Auth(), bearer, "GET", cookies=False) == {"Authorization": "Bearer abc"}
    key = Auth(style="api_key", header="x-api-key", scheme="")
    assert credential_headers(key, Credential(token="sk-1"), "POST") == {"x-api-key": "sk-1"}
    query = Auth(style="api_key", key_in="query", query_param="key")
    assert credential_headers(query, Credential(token="sk-1"), "GET") == {}
    assert credential_params(query, Credential(token="sk-1")) == {"key": "sk-1"}
    assert credential_params(key, Credential(token="sk-1")) == {}
    assert credential_headers(Auth(), None, "POST") == {} and credential_params(query, None) == {}  # anonymous


def test_the_csrf_token_goes_on_unsafe_methods_only_and_follows_a_rolled_cookie():
    auth = Auth(style="cookie", csrf=Csrf("cookie", "csrftoken", header="X-CSRFToken"))
    credential = Credential(cookies={"sid": "s", "csrftoken": "C1"}, csrf="C1")
    for method in ("POST", "put", "PATCH", "DELETE"):
        assert credential_headers(auth, credential, method, cookies=False) == {"X-CSRFToken": "C1"}
    for method in ("GET", "HEAD", "OPTIONS"):
        assert credential_headers(auth, credential, method, cookies=False) == {}
    store_cookies(credential.cookies, [("Set-Cookie", "csrftoken=C2; Path=/")], NOW)
    assert credential_headers(auth, credential, "POST", cookies=False) == {"X-CSRFToken": "C2"}


def test_set_cookie_lines_set_replace_and_delete():
    assert parse_set_cookie("sid=abc; Path=/; HttpOnly; SameSite=Lax", NOW) == ("sid", "abc")
    assert parse_set_cookie("sid=; Max-Age=0; Path=/", NOW) == ("sid", None)
    assert parse_set_cookie(f"sid=x; Expires={PAST}", NOW) == ("sid", None)
    assert parse_set_cookie(f"sid=x; Expires={FUTURE}", NOW) == ("sid", "x")
    assert parse_set_cookie(f"sid=x; Max-Age=60; Expires={PAST}", NOW) == ("sid", "x")  # Max-Age wins
    assert parse_set_cookie("sid=x; Expires=not a date", NOW) == ("sid", "x")
    assert parse_set_cookie("no equals sign", NOW) is None and parse_set_cookie("=x", NOW) is None
    jar = {"sid": "old", "theme": "dark"}
    store_cookies(jar, [("set-cookie", "sid=new"), ("Content-Type", "x"), ("Set-Cookie", "theme=; Max-Age=0")], NOW)
    assert jar == {"sid": "new"}


def test_secrets_of_a_session_are_its_values_not_its_cookie_names():
    credential = Credential(token="t", cookies={"sid": "s"}, csrf="c")
    assert sorted(credential.secrets()) == ["c", "s", "t"]
    assert Credential(obtained_at=10).older_than(5, 15) and not Credential(obtained_at=10).older_than(5, 14.9)
    assert not Credential(obtained_at=0).older_than(None, 1e9)


def test_token_requests_are_form_encoded_per_grant():
    cc = Auth(style="oauth2", oauth2=OAuth2(grant="client_credentials", scope="chat read"))
    form = parse_qs(token_request_body(cc, {}, ("app", "s3cret")).decode())
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": ["app"],
        "client_secret": ["s3cret"],
        "scope": ["chat read"],
    }
    password = Auth(style="oauth2", oauth2=OAuth2(grant="password"))
    account = {"email": "maya@mail.example", "username": "", "password": "p&w=1"}
    form = parse_qs(token_request_body(password, account, ("app", "")).decode())
    assert form == {
        "grant_type": ["password"],
        "username": ["maya@mail.example"],
        "password": ["p&w=1"],
        "client_id": ["app"],
    }
    form = parse_qs(token_request_body(password, {**account, "username": "maya"}, ("", "")).decode())
    assert form["username"] == ["maya"] and "client_id" not in form


def test_query_parameters_join_an_existing_query():
    assert with_params("/v1/chat", {}) == "/v1/chat"
    assert with_params("/v1/chat", {"api_key": "sk 1"}) == "/v1/chat?api_key=sk+1"
    assert with_params("/v1/chat?stream=1", {"api_key": "k"}) == "/v1/chat?stream=1&api_key=k"
