"""Accounts and secrets: identity keys, redaction, and the three sources (demo API, CSV file, inline)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.scenario import ScenarioError, parse_scenario
from harness.scenario.accounts import Account, Credentials, TargetUnreachable, identity_key, resolve_credentials
from tests.audit.fake_site import FakeSite, Page
from tests.helpers import run_harness

ENDPOINTS = {
    "login": {"method": "POST", "path": "/api/auth/login", "auth": False},
    "conversations": {"path": "/api/conversations"},
    "chat": {"method": "POST", "path": "/api/chat", "stream": "sse-openai"},
}


def scenario(accounts: dict[str, Any], folder: Path | None = None, **extra: Any):
    data = {"scenario": {"name": "acc"}, "endpoints": ENDPOINTS, "accounts": accounts, **extra}
    if folder is None:
        return parse_scenario(data, source="acc.toml")
    return parse_scenario(data, source=str(folder / "acc.toml"), base_dir=folder)


@pytest.fixture(autouse=True)
def no_webhook_secret_from_env(monkeypatch):
    monkeypatch.delenv("HARNESS_WEBHOOK_SECRET", raising=False)


# ---- identity keys and redaction ----


def test_identity_key_is_stable_short_and_hides_the_email():
    email = "maya.okafor@mail.example"
    key = identity_key(email)
    assert key == identity_key(email)
    assert len(key) == 12 and all(c in "0123456789abcdef" for c in key)
    assert "maya" not in key and "okafor" not in key
    assert identity_key("jonas.raman@mail.example") != key


def test_account_repr_hides_the_password():
    account = Account("maya@mail.example", "hunter2-very-secret", "client", "northstar")
    assert "hunter2-very-secret" not in repr(account)
    assert "hunter2-very-secret" not in f"{[account]}"
    assert repr(account) == "Account('maya@mail.example', role='client')"


def test_credentials_round_trip_and_secrets():
    creds = Credentials(
        accounts=[Account("a@x.example", "pw-a", "client", "t1"), Account("b@x.example", "pw-b", "coach", "")],
        tenants=["t1", "t2"],
        webhook_secret="whsec_abc",
    )
    data = creds.to_dict()
    assert data["accounts"][0] == {
        "email": "a@x.example",
        "password": "pw-a",
        "role": "client",
        "tenant": "t1",
        "username": "",
        "api_key": "",
        "extra": [],
    }
    assert Credentials.from_dict(data) == creds
    assert creds.secrets() == ["pw-a", "pw-b", "whsec_abc"]


def test_secrets_skip_empty_values():
    creds = Credentials(accounts=[Account("a@x.example", "")], webhook_secret=None)
    assert creds.secrets() == []
    assert Credentials.from_dict({}) == Credentials()


# ---- CSV file and inline ----


def test_accounts_from_a_csv_next_to_the_scenario(tmp_path):
    (tmp_path / "accounts.csv").write_text(
        "email,password,role,tenant\n"
        "maya@mail.example,pw1,client,northstar\n"
        "coach@northstar.example,pw2,coach,northstar\n"
        "jonas@mail.example,pw3,,\n"
    )
    s = scenario({"source": "file", "file": "accounts.csv"}, tmp_path)
    creds = resolve_credentials(s, host="http://127.0.0.1:9")  # no network for file accounts
    assert creds.accounts == [
        Account("maya@mail.example", "pw1", "client", "northstar"),
        Account("coach@northstar.example", "pw2", "coach", "northstar"),
        Account("jonas@mail.example", "pw3", "client", ""),  # empty role: client
    ]
    assert creds.webhook_secret is None


def test_csv_with_only_email_and_password(tmp_path):
    (tmp_path / "a.csv").write_text("email,password\nx@mail.example,pw\n")
    creds = resolve_credentials(scenario({"source": "file", "file": "a.csv"}, tmp_path), host="http://127.0.0.1:9")
    assert creds.accounts == [Account("x@mail.example", "pw", "client", "")]


def test_csv_row_without_password_names_file_and_line(tmp_path):
    path = tmp_path / "accounts.csv"
    path.write_text("email,password,role\na@mail.example,pw,client\nb@mail.example,,client\n")
    with pytest.raises(ScenarioError) as info:
        resolve_credentials(scenario({"source": "file", "file": "accounts.csv"}, tmp_path), host="http://127.0.0.1:9")
    assert str(info.value) == (
        f'{path}: line 3: no password (auth.style = "bearer" logs each account in): give every account a password'
    )


def test_missing_csv_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError) as info:
        resolve_credentials(scenario({"source": "file", "file": "gone.csv"}, tmp_path), host="http://127.0.0.1:9")
    assert str(info.value) == (
        f"{tmp_path / 'gone.csv'}: accounts file not found (accounts.file is relative to the "
        "scenario's folder): create it or fix the path"
    )


def test_inline_accounts_and_webhook_secret_from_env(monkeypatch):
    monkeypatch.setenv("HARNESS_WEBHOOK_SECRET", "whsec_from_env")
    s = scenario(
        {
            "source": "inline",
            "inline": [
                {"email": "a@mail.example", "password": "pw", "tenant": "t9"},
                {"email": "c@mail.example", "password": "pw2", "role": "coach"},
            ],
        }
    )
    creds = resolve_credentials(s, host="http://127.0.0.1:9")
    assert creds.accounts == [
        Account("a@mail.example", "pw", "client", "t9"),
        Account("c@mail.example", "pw2", "coach", ""),
    ]
    assert creds.webhook_secret == "whsec_from_env"
    assert creds.secrets() == ["pw", "pw2", "whsec_from_env"]


def test_no_account_with_a_wanted_role_is_an_error():
    s = scenario(
        {
            "source": "inline",
            "roles": ["client"],
            "inline": [{"email": "c@mail.example", "password": "pw", "role": "coach"}],
        }
    )
    with pytest.raises(ScenarioError) as info:
        resolve_credentials(s, host="http://127.0.0.1:9")
    assert str(info.value) == (
        "acc.toml: accounts.roles: no account has one of the roles ['client'] "
        "(the accounts have: coach); add one, or change accounts.roles"
    )


def test_roles_only_matter_when_the_client_journey_runs():
    s = scenario(
        {"source": "inline", "inline": [{"email": "c@mail.example", "password": "pw", "role": "coach"}]},
        endpoints={**ENDPOINTS, "leads": {"method": "POST", "path": "/api/leads"}},
        journeys={"visitor": 1},
    )
    assert [a.role for a in resolve_credentials(s, host="http://127.0.0.1:9").accounts] == ["coach"]


# ---- the demo API ----


@pytest.mark.e2e
def test_demo_source_asks_the_demo_api(target_factory):
    target = target_factory({"tenants": 2, "clients_per_tenant": 3})
    creds = resolve_credentials(scenario({"source": "demo"}), host=target.url + "/")
    roles = sorted(a.role for a in creds.accounts)
    assert roles == ["admin"] + ["client"] * 6 + ["coach"] * 2
    assert len(creds.tenants) == 2 and len(set(creds.tenants)) == 2
    clients = [a for a in creds.accounts if a.role == "client"]
    assert {a.tenant for a in clients} == set(creds.tenants)  # tenant ids became slugs
    assert all(a.email.endswith("@mail.example") and a.password for a in clients)
    admin = next(a for a in creds.accounts if a.role == "admin")
    assert admin.tenant == ""
    assert creds.webhook_secret is not None and creds.webhook_secret.startswith("whsec_")
    assert len(creds.webhook_secret) == len("whsec_") + 32


@pytest.mark.e2e
def test_demo_webhook_secret_wins_over_the_environment(target_factory, monkeypatch):
    # a secret left in the environment for a real API would make every demo delivery fail its signature
    monkeypatch.setenv("HARNESS_WEBHOOK_SECRET", "whsec_mine")
    target = target_factory()
    creds = resolve_credentials(scenario({"source": "demo"}), host=target.url)
    assert creds.webhook_secret == httpx.get(target.url + "/__demo__/accounts").json()["webhook_secret"]
    assert creds.webhook_secret != "whsec_mine" and "whsec_mine" not in creds.secrets()
    assert len([a for a in creds.accounts if a.role == "client"]) == 12  # 3 tenants x 4 clients by default


def free_closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_closed_port_is_target_unreachable():
    host = f"http://127.0.0.1:{free_closed_port()}"
    with pytest.raises(TargetUnreachable) as info:
        resolve_credentials(scenario({"source": "demo"}), host=host, timeout_s=2)
    assert str(info.value).startswith(f"target {host} did not answer (ConnectError")


def test_demo_source_against_an_api_without_the_demo_route():
    site = FakeSite()  # a 404 for every path
    try:
        with pytest.raises(ScenarioError) as info:
            resolve_credentials(scenario({"source": "demo"}), host=site.url + "/not-the-demo")
    finally:
        site.close()
    assert str(info.value).startswith(
        f'acc.toml: accounts.source: "demo" needs the demo API, but {site.url}/not-the-demo/__demo__/accounts answered 404'
    )


# ---- accounts files as people save them, and hosts that are not the demo API ----


def test_csv_with_a_byte_order_mark_is_read(tmp_path):
    """Excel's "CSV UTF-8" starts with a byte-order mark, which made the header `\\ufeffemail`."""
    (tmp_path / "a.csv").write_bytes(b"\xef\xbb\xbfemail,password\nx@mail.example,pw\n")
    creds = resolve_credentials(scenario({"source": "file", "file": "a.csv"}, tmp_path), host="http://127.0.0.1:9")
    assert creds.accounts == [Account("x@mail.example", "pw", "client", "")]


def test_csv_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("email,password\nren\u00e9@mail.example,pw\n".encode("latin-1"))
    with pytest.raises(ScenarioError) as info:
        resolve_credentials(scenario({"source": "file", "file": "a.csv"}, tmp_path), host="http://127.0.0.1:9")
    assert str(info.value) == f"{path}: not UTF-8 text: save the accounts file as UTF-8"


@pytest.mark.parametrize("text", ["maya@mail.example,first-row-secret\njonas@mail.example,pw2\n", "", "\n"])
def test_csv_without_its_header_row_says_so_without_showing_the_row(tmp_path, text):
    path = tmp_path / "a.csv"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        resolve_credentials(scenario({"source": "file", "file": "a.csv"}, tmp_path), host="http://127.0.0.1:9")
    assert str(info.value) == (
        f"{path}: line 1: expected a first row naming the columns, like email,password,role,tenant, then one "
        "account per line; or declare the columns in [accounts] columns for a file without that row"
    )


def test_csv_with_a_header_and_no_account(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("email,password,role\n")
    with pytest.raises(ScenarioError) as info:
        resolve_credentials(scenario({"source": "file", "file": "a.csv"}, tmp_path), host="http://127.0.0.1:9")
    assert str(info.value) == f"{path}: no accounts: expected one account per line after the header row"


@pytest.mark.parametrize(
    "page",
    [
        Page(200, {"content-type": "text/html; charset=utf-8"}, b"<!doctype html><h1>Welcome</h1>"),
        Page(200, {"content-type": "application/json"}, b'{"accounts": "see the admin"}'),
        Page(200, {"content-type": "application/json"}, b'[{"email": "a@b.example"}]'),
        Page(200, {"content-type": "application/json"}, b'{"accounts": [{"email": "a@b.example"}], "tenants": []}'),
    ],
    ids=["html", "json-other-shape", "json-list", "account-without-password"],
)
def test_demo_source_against_a_host_that_is_not_the_demo_api(page):
    site = FakeSite({"GET /__demo__/accounts": page})
    try:
        with pytest.raises(ScenarioError) as info:
            resolve_credentials(scenario({"source": "demo"}), host=site.url)
    finally:
        site.close()
    kind = page.headers["content-type"].split(";")[0]
    assert str(info.value) == (
        f'acc.toml: accounts.source: "demo" needs the demo API, but {site.url}/__demo__/accounts answered {kind}, '
        'not the demo accounts: this is not the demo API; for your own API use accounts.source = "file"'
    )


@pytest.mark.e2e
def test_run_against_an_html_site_with_demo_accounts_is_exit_2_in_one_line(tmp_path):
    """Bug: `response.json()` raised inside the master, a traceback in its log and exit 1. A start the
    master refuses leaves no run folder either (each answer that is not the demo accounts, a status
    among them, is refused in one line: the tests above)."""
    site = FakeSite(default=Page(200, {"content-type": "text/html"}, b"<html><body>our product</body></html>"))
    try:
        result = run_harness(
            "run",
            "scenarios/smoke.toml",
            "--host",
            site.url,
            "--workers",
            "1",
            "--duration",
            "5s",
            "--out",
            str(tmp_path / "out"),
            timeout=120,
        )
    finally:
        site.close()
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("harness: ") and "accounts.source" in last and "this is not the demo API" in last
    assert not list((tmp_path / "out").iterdir())
    assert all(method == "GET" and path == "/__demo__/accounts" for method, path, _ in site.requests)  # no load


def test_offline_accounts_are_checked_before_a_run(tmp_path):
    from harness.scenario.accounts import offline_accounts
    from harness.scenario.preflight import check_scenario

    assert offline_accounts(scenario({"source": "demo"})) is None  # asked from the demo API at run time
    with pytest.raises(ScenarioError, match="accounts file not found"):
        check_scenario(scenario({"source": "file", "file": "gone.csv"}, tmp_path))
    coaches = scenario({"source": "inline", "inline": [{"email": "c@mail.example", "password": "pw", "role": "coach"}]})
    with pytest.raises(ScenarioError, match=r"^acc\.toml: accounts\.roles: no account has one of the roles"):
        check_scenario(coaches)
