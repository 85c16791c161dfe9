"""The audit's sessions (AuditContext.token and auth_headers) in each `[auth]` style, against a fake site on
loopback in a thread: what it logs in with, what it then sends, and that redaction covers every session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from harness.audit.context import AuditContext
from harness.scenario import parse_scenario
from harness.scenario.accounts import Account, Credentials
from tests.audit.fake_site import FakeSite, Page

JSON = {"content-type": "application/json"}
ACCOUNT = Account("maya@x.example", "pw-maya-123", api_key="sk-maya-456")


def context(site: FakeSite, auth: dict[str, Any], credentials: Credentials | None = None) -> AuditContext:
    scenario = parse_scenario(
        {
            "endpoints": {
                "login": {
                    "method": "POST",
                    "path": "/api/auth/login",
                    "auth": False,
                    "body": {"email": "{email}", "password": "{password}"},
                },
                "me": {"path": "/api/me"},
                "chat": {"method": "POST", "path": "/api/chat", "stream": "sse-openai"},
                "conversations": {"path": "/api/conversations"},
            },
            "auth": auth,
            "accounts": {"source": "inline", "inline": [{"email": ACCOUNT.email, "password": "pw", "api_key": "k"}]},
        }
    )
    return AuditContext(site.url, scenario, credentials or Credentials(accounts=[ACCOUNT]))


@pytest.fixture
def sites() -> Iterator[list[FakeSite]]:
    made: list[FakeSite] = []
    yield made
    for site in made:
        site.close()


def site(sites: list[FakeSite], pages: dict[str, Page]) -> FakeSite:
    made = FakeSite({**pages, "GET /api/me": Page(200, JSON, b"{}"), "POST /api/chat": Page(200, JSON, b"{}")})
    sites.append(made)
    return made


def sent(fake: FakeSite, method: str, path: str) -> dict[str, str]:
    return next(headers for m, p, headers in reversed(fake.requests) if m == method and p.split("?")[0] == path)


def test_a_cookie_session_and_its_csrf_token_go_with_every_call(sites):
    cookies = ["sid=S3SS10N-abc; HttpOnly; Path=/", "csrf_token=CSRF-xyz; Path=/"]
    fake = site(sites, {"POST /api/auth/login": Page(303, {"set-cookie": cookies, "location": "/app"}, b"")})
    ctx = context(fake, {"style": "cookie", "session_cookie": "sid", "csrf": {"from": "cookie", "name": "csrf_token"}})
    token = ctx.token(ACCOUNT)
    assert token == "sid=S3SS10N-abc; csrf_token=CSRF-xyz"  # a login that redirects still counts
    assert ctx.auth_headers(token) == {"Cookie": token, "X-CSRF-Token": "CSRF-xyz"}
    with ctx.client() as client:
        assert ctx.call(client, "chat", token=token).status_code == 200
    assert sent(fake, "POST", "/api/chat")["Cookie"] == token and sent(fake, "POST", "/api/chat")["X-CSRF-Token"]
    assert ctx.redact("saw S3SS10N-abc and CSRF-xyz") == "saw [redacted] and [redacted]"
    assert ctx.token(ACCOUNT) == token and len([r for r in fake.requests if r[1] == "/api/auth/login"]) == 1


def test_a_login_without_the_session_cookie_is_no_session_and_is_tried_again(sites):
    fake = site(sites, {"POST /api/auth/login": Page(200, {"set-cookie": "theme=dark", **JSON}, b"{}")})
    ctx = context(fake, {"style": "cookie", "session_cookie": "sid"})
    assert ctx.token(ACCOUNT) is None and ctx.token(ACCOUNT) is None
    assert len([r for r in fake.requests if r[1] == "/api/auth/login"]) == 2


def test_an_api_key_in_the_query_needs_no_login(sites):
    fake = site(sites, {})
    ctx = context(fake, {"style": "api_key", "key_in": "query", "query_param": "key"})
    token = ctx.token(ACCOUNT)
    assert token == "sk-maya-456" and ctx.auth_headers(token) == {}
    with ctx.client() as client:
        assert ctx.call(client, "me", token=token).status_code == 200
    assert [p for m, p, _ in fake.requests] == ["/api/me?key=sk-maya-456"]
    header = context(fake, {"style": "api_key", "header": "x-api-key", "scheme": ""})
    assert header.auth_headers(header.token(ACCOUNT)) == {"x-api-key": "sk-maya-456"}


def test_an_oauth2_password_grant_and_a_bare_token_passed_along(sites):
    fake = site(sites, {"POST /oauth/token": Page(200, JSON, b'{"access_token": "AT-123", "token_type": "bearer"}')})
    credentials = Credentials(accounts=[ACCOUNT], oauth_client=("app", "app-secret"))
    ctx = context(fake, {"style": "oauth2", "oauth2": {"grant": "password"}}, credentials)
    assert ctx.token(ACCOUNT) == "AT-123"
    assert sent(fake, "POST", "/oauth/token")["content-type"] == "application/x-www-form-urlencoded"
    assert ctx.auth_headers("forged.jwt.value") == {"Authorization": "Bearer forged.jwt.value"}  # not a session


def test_bearer_is_as_before(sites):
    fake = site(sites, {"POST /api/auth/login": Page(200, JSON, b'{"access_token": "tok-1"}')})
    ctx = context(fake, {})
    assert ctx.token(ACCOUNT) == "tok-1" and ctx.auth_headers("tok-1") == {"Authorization": "Bearer tok-1"}


def test_an_anonymous_request_after_a_login_carries_no_cookie_of_it(sites):
    """The audit's clients keep no cookie jar: a cookie a login set rides on no later request but the
    ones its session is given to (a shared jar once made 13 anonymous requests look let in)."""
    fake = site(sites, {"POST /api/auth/login": Page(200, {"set-cookie": "sid=S1D-xyz; HttpOnly", **JSON}, b"{}")})
    ctx = context(fake, {"style": "cookie", "session_cookie": "sid"})
    with ctx.client() as client:
        ctx.call(client, "login", ACCOUNT.values())  # a login through the same client a check uses
        token = ctx.token(ACCOUNT)
        ctx.call(client, "me")  # anonymous
        ctx.call(client, "chat", token=token)
    assert "cookie" not in {k.lower() for k in sent(fake, "GET", "/api/me")}
    assert sent(fake, "POST", "/api/chat")["Cookie"] == "sid=S1D-xyz"


def test_a_session_past_its_lifetime_is_renewed_under_the_same_handle(sites):
    logins = iter(range(100))

    def login(path: str) -> Page:
        return Page(200, JSON, json.dumps({"access_token": f"tok-{next(logins)}"}).encode())

    fake = site(sites, {"POST /api/auth/login": login})
    ctx = context(fake, {"lifetime": "1s"})
    handle = ctx.token(ACCOUNT)
    assert handle == "tok-0" and ctx.auth_headers(handle) == {"Authorization": "Bearer tok-0"}
    ctx._sessions[handle].obtained_at -= 2  # as if two seconds had passed
    assert ctx.auth_headers(handle) == {"Authorization": "Bearer tok-1"}  # logged in again, handle kept
    assert ctx.redact("tok-0 tok-1") == "[redacted] [redacted]"
