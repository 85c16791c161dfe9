"""The demo API's auth styles (`[target] auth`, `csrf`): each accepts its own credential and nothing else,
so a scenario mapped in the wrong style fails visibly. In-process (ASGI), no server started."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from harness.demo_api.app import create_app
from harness.demo_api.config import TargetConfig

FORM = {"content-type": "application/x-www-form-urlencoded"}


class Client:
    """A synchronous face on an httpx client over ASGI (no socket, no server), its cookie jar included."""

    def __init__(self, config: TargetConfig) -> None:
        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=create_app(config))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
        self.cookies = self.client.cookies

    def _run(self, call: Callable[..., Awaitable[httpx.Response]], *args: Any, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(call(*args, **kwargs))

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._run(self.client.get, path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._run(self.client.post, path, **kwargs)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@pytest.fixture
def clients() -> Any:
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


def demo(clients: list[Client], **settings: Any) -> tuple[Client, dict[str, Any]]:
    client = Client(TargetConfig(**{"limits": {}, **settings}))
    clients.append(client)
    return client, client.get("/__demo__/accounts").json()


def first_client(accounts: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in accounts["accounts"] if a["role"] == "client")


def log_in(client: Client, account: dict[str, Any]) -> Any:
    return client.post("/api/auth/login", json={"email": account["email"], "password": account["password"]})


def test_bearer_is_todays_answer_plus_the_token_in_a_header(clients):
    client, accounts = demo(clients)
    answer = log_in(client, first_client(accounts))
    token = answer.json()["access_token"]
    assert answer.headers["x-auth-token"] == token and "set-cookie" not in answer.headers
    assert "auth" not in accounts and "api_key" not in accounts["accounts"][0]  # the default answer, unchanged
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_cookie_sessions_take_the_cookie_and_nothing_else(clients):
    client, accounts = demo(clients, auth="cookie")
    answer = log_in(client, first_client(accounts))
    assert (
        answer.status_code == 200 and "access_token" not in answer.json() and answer.json()["user"]["role"] == "client"
    )
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("sid=") and "HttpOnly" in cookie and "Max-Age=3600" in cookie
    sid = client.cookies["sid"]
    assert client.get("/api/me").status_code == 200  # the client's jar sends it
    client.cookies.clear()
    assert client.get("/api/me").status_code == 401
    assert client.get("/api/me", headers={"Authorization": f"Bearer {sid}"}).status_code == 401  # mapped as bearer
    client.cookies.set("sid", sid)
    logout = client.post("/api/auth/logout")
    assert logout.status_code == 204 and 'sid=""' in logout.headers["set-cookie"]
    client.cookies.set("sid", sid)
    assert client.get("/api/me").status_code == 401  # revoked


def test_csrf_is_given_three_ways_and_required_on_unsafe_methods(clients):
    client, accounts = demo(clients, auth="cookie", csrf=True)
    answer = log_in(client, first_client(accounts))
    csrf = answer.json()["csrf_token"]
    assert answer.headers["x-csrf-token"] == csrf == client.cookies["csrf_token"]
    assert client.get("/api/auth/csrf").json() == {"csrf_token": csrf}
    chat = {"messages": [{"role": "user", "content": "hi"}], "stream": False}
    refused = client.post("/api/chat", json=chat)
    assert refused.status_code == 403 and refused.json()["error"] == "csrf_failed"
    assert client.post("/api/chat", json=chat, headers={"X-CSRF-Token": "guess"}).status_code == 403
    assert client.post("/api/chat", json=chat, headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/api/conversations").status_code == 200  # a safe method needs none
    bearer, accounts = demo(clients)
    token = log_in(bearer, first_client(accounts)).json()["access_token"]
    assert bearer.get("/api/auth/csrf", headers={"Authorization": f"Bearer {token}"}).status_code == 404


@pytest.mark.parametrize(
    ("where", "request_args"),
    [
        ("x-api-key", lambda key: {"headers": {"X-Api-Key": key}}),
        ("bearer", lambda key: {"headers": {"Authorization": f"Bearer {key}"}}),
        ("query", lambda key: {"params": {"api_key": key}}),
    ],
)
def test_api_keys_in_a_header_or_the_query_and_no_login(clients, where, request_args):
    client, accounts = demo(clients, auth="api_key")
    account = first_client(accounts)
    key = account["api_key"]
    assert key.startswith("sk-demo-") and len({a["api_key"] for a in accounts["accounts"]}) == len(accounts["accounts"])
    me = client.get("/api/me", **request_args(key))
    assert me.status_code == 200 and me.json()["email"] == account["email"]
    assert client.get("/api/me", **request_args("sk-demo-guess")).status_code == 401
    assert log_in(client, account).status_code == 404


def test_oauth2_grants_client_credentials_and_password(clients):
    client, accounts = demo(clients, auth="oauth2")
    app = accounts["oauth_client"]
    assert app["client_id"] == "coachpilot-demo" and len(app["client_secret"]) == 32
    secret = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
    granted = client.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "chat", **secret})
    assert granted.status_code == 200 and granted.json()["scope"] == "chat"
    me = client.get("/api/me", headers={"Authorization": f"Bearer {granted.json()['access_token']}"})
    assert me.json()["email"] == first_client(accounts)["email"]  # the client acts as the first client account
    coach = next(a for a in accounts["accounts"] if a["role"] == "coach")
    password = {"grant_type": "password", "username": coach["email"], "password": coach["password"]}
    basic = base64.b64encode(f"{app['client_id']}:{app['client_secret']}".encode()).decode()
    granted = client.post("/oauth/token", data=password, headers={"Authorization": f"Basic {basic}"})
    token = granted.json()["access_token"]
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["role"] == "coach"
    wrong = client.post("/oauth/token", data={**password, "password": "nope", **secret})
    assert (wrong.status_code, wrong.json()) == (400, {"error": "invalid_grant"})
    bad_client = client.post("/oauth/token", data={**password, "client_id": "coachpilot-demo", "client_secret": "x"})
    assert (bad_client.status_code, bad_client.json()) == (401, {"error": "invalid_client"})
    odd = client.post("/oauth/token", data={"grant_type": "implicit", **secret})
    assert (odd.status_code, odd.json()) == (400, {"error": "unsupported_grant_type"})
    assert client.post("/oauth/token", content=b"%zz=\xff", headers=FORM).status_code == 400
    assert demo(clients)[0].post("/oauth/token", data=password).status_code == 404  # bearer: no token endpoint


def test_the_per_user_limit_counts_each_styles_caller(clients):
    limits = {"me": [{"quota": 1, "window_s": 60, "key": "user"}]}
    client, _ = demo(clients, auth="api_key", limits=limits)
    keys = [a["api_key"] for a in client.get("/__demo__/accounts").json()["accounts"][:2]]
    statuses = [client.get("/api/me", headers={"X-Api-Key": key}).status_code for key in (keys[0], keys[0], keys[1])]
    assert statuses == [200, 429, 200]


def test_config_refuses_an_unknown_style():
    with pytest.raises(ValueError, match="auth: expected one of bearer, cookie, api_key, oauth2, got 'saml'"):
        TargetConfig(auth="saml")
    assert TargetConfig.from_dict(TargetConfig(auth="cookie", csrf=True).to_dict()).csrf is True
