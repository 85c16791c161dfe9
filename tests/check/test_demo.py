"""`harness check` end to end against the demo API, deliberately mapped wrong: each run names the
problem and the fix and exits 1; the right mapping exits 0."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.helpers import CLIENT_ENDPOINTS, run_harness

pytestmark = pytest.mark.e2e  # every test here starts the harness (and the demo API) as processes

WEBHOOK = """
[endpoints.webhook]
method = "POST"
path = "/api/webhooks/stripe"
auth = false
[endpoints.health]
method = "GET"
path = "/health"
auth = false
[endpoints.admin_users]
method = "GET"
path = "/api/admin/users"
[journeys.client]
weight = 1
[journeys.webhook]
weight = 1
"""


def check(tmp_path: Path, text: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`harness check` on a scenario of `text`: its exit code and its table, each line's spaces squeezed."""
    scenario = tmp_path / "check.toml"
    scenario.write_text('[scenario]\nname = "check"\n' + text)
    result = run_harness("check", str(scenario), *args, timeout=120, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, "\n".join(" ".join(line.split()) for line in result.stdout.splitlines())


def test_the_right_mapping_of_the_embedded_demo_exits_0(tmp_path: Path) -> None:
    code, out = check(tmp_path, CLIENT_ENDPOINTS + WEBHOOK)
    assert code == 0, out
    for line in (
        'login as client login 200 ok logged in as client: token at auth.token_field "access_token"',
        "GET as admin admin_users 200 ok",
        "signed delivery webhook 200 ok accepted a signed test delivery (stripe)",
    ):
        assert line in out, out
    assert "chat as client chat 200 ok answered:" in out and "content chunks (sse-openai)" in out
    assert out.splitlines()[-1] == "check: OK: all 10 steps worked (10 requests sent)"


def test_a_wrong_token_path_names_the_right_one(tmp_path: Path, target_factory) -> None:
    target = target_factory()
    code, out = check(tmp_path, '[auth]\ntoken_field = "data.token"\n' + CLIENT_ENDPOINTS, "--host", target.url)
    assert code == 1
    assert 'no token at auth.token_field "data.token"; the body has a token-like string at access_token' in out
    assert 'fix: set [auth] token_field = "access_token"' in out
    assert "skip not sent: no session for client" in out


def test_a_cookie_session_mapped_as_bearer_names_the_cookie_style(tmp_path: Path) -> None:
    code, out = check(tmp_path, '[target]\nauth = "cookie"\n' + CLIENT_ENDPOINTS)
    assert code == 1
    assert (
        'login as client login 200 FAIL login answered 200 but no token at auth.token_field "access_token"; '
        'the answer set a cookie "sid"' in out
    )
    assert 'fix: try [auth] style = "cookie" (session_cookie = "sid")' in out


def test_the_cookie_style_with_csrf_mapped_right_exits_0(tmp_path: Path) -> None:
    """The fix above, applied, on a demo that also wants its CSRF token echoed on the chat's POST."""
    auth = '[auth]\nstyle = "cookie"\nsession_cookie = "sid"\n[auth.csrf]\nfrom = "cookie"\nname = "csrf_token"\n'
    code, out = check(tmp_path, '[target]\nauth = "cookie"\ncsrf = true\n' + auth + CLIENT_ENDPOINTS)
    assert code == 0, out
    assert 'login as client login 200 ok logged in as client: session cookie "sid"' in out
    assert "chat as client chat 200 ok answered:" in out


def test_a_missing_api_key_names_the_role_and_the_fix(tmp_path: Path, target_factory) -> None:
    """An API-key demo; the client has its key, the admin none. (A role the journeys use without a key is
    refused before anything is sent, exit 2, by the accounts check `harness run` shares.)"""
    target = target_factory({"auth": "api_key"})
    demo = httpx.get(f"{target.url}/__demo__/accounts", timeout=10).json()["accounts"]
    client_key = next(a["api_key"] for a in demo if a["role"] == "client")
    accounts = (
        '[accounts]\nsource = "inline"\ninline = [{ email = "maya@example.test", api_key = "KEY" }, '
        '{ email = "root@example.test", role = "admin" }]\n'
    ).replace("KEY", client_key)
    endpoints = "[endpoints.conversations]" + CLIENT_ENDPOINTS.split("[endpoints.conversations]")[1]
    admin = '[endpoints.admin_users]\nmethod = "GET"\npath = "/api/admin/users"\n'
    text = '[auth]\nstyle = "api_key"\n[auth.keys]\ncoach = "CHECK_COACH_KEY"\n' + accounts + endpoints + admin
    code, out = check(tmp_path, text, "--host", target.url, env={"CHECK_COACH_KEY": "sk-demo-not-a-key"})
    assert code == 1
    assert "GET as client me 200 ok" in out
    assert (
        "GET as admin admin_users 401 FAIL refused (401) without an API key: the scenario has none for role admin"
        in out
    )
    assert 'fix: no API key for role admin: add an api_key column or [auth.keys] admin = "ENV"' in out
    assert client_key not in out and "sk-demo-not-a-key" not in out


def test_a_webhook_scheme_mismatch_names_the_scheme(tmp_path: Path) -> None:
    code, out = check(tmp_path, '[target]\nwebhook_scheme = "standard"\n' + CLIENT_ENDPOINTS + WEBHOOK)
    assert code == 1
    assert "the stripe-signed test delivery was refused" in out
    assert 'fix: the same test event signed as standard was accepted: set [webhook] scheme = "standard"' in out
