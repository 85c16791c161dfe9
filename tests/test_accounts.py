"""Accounts and secrets: identity keys, redaction, and the three sources (demo API, CSV file, inline)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from harness.accounts import Account, Credentials, TargetUnreachable, identity_key, resolve_credentials
from harness.scenario import ScenarioError, parse_scenario

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
    assert data["accounts"][0] == {"email": "a@x.example", "password": "pw-a", "role": "client", "tenant": "t1"}
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
    assert str(info.value) == f"{path}: line 3: expected columns email,password[,role,tenant] with values"


def test_missing_csv_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError) as info:
        resolve_credentials(scenario({"source": "file", "file": "gone.csv"}, tmp_path), host="http://127.0.0.1:9")
    assert str(info.value) == f"{tmp_path / 'gone.csv'}: cannot read accounts file: No such file or directory"


def test_inline_accounts_and_webhook_secret_from_env(monkeypatch):
    monkeypatch.setenv("HARNESS_WEBHOOK_SECRET", "whsec_from_env")
    s = scenario({"source": "inline", "inline": [{"email": "a@mail.example", "password": "pw", "tenant": "t9"},
                                                  {"email": "c@mail.example", "password": "pw2", "role": "coach"}]})
    creds = resolve_credentials(s, host="http://127.0.0.1:9")
    assert creds.accounts == [Account("a@mail.example", "pw", "client", "t9"), Account("c@mail.example", "pw2", "coach", "")]
    assert creds.webhook_secret == "whsec_from_env"
    assert creds.secrets() == ["pw", "pw2", "whsec_from_env"]


def test_no_account_with_a_wanted_role_is_an_error():
    s = scenario({"source": "inline", "roles": ["client"],
                  "inline": [{"email": "c@mail.example", "password": "pw", "role": "coach"}]})
    with pytest.raises(ScenarioError) as info:
        resolve_credentials(s, host="http://127.0.0.1:9")
    assert str(info.value) == "acc.toml: accounts.roles: no account has one of the roles ['client']"


def test_roles_only_matter_when_the_client_journey_runs():
    s = scenario({"source": "inline", "inline": [{"email": "c@mail.example", "password": "pw", "role": "coach"}]},
                 endpoints={**ENDPOINTS, "leads": {"method": "POST", "path": "/api/leads"}},
                 journeys={"visitor": 1})
    assert [a.role for a in resolve_credentials(s, host="http://127.0.0.1:9").accounts] == ["coach"]


# ---- the demo API ----

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


def test_demo_webhook_secret_from_env_wins(target_factory, monkeypatch):
    monkeypatch.setenv("HARNESS_WEBHOOK_SECRET", "whsec_mine")
    target = target_factory()
    creds = resolve_credentials(scenario({"source": "demo"}), host=target.url)
    assert creds.webhook_secret == "whsec_mine"
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


def test_demo_source_against_an_api_without_the_demo_route(target_factory):
    target = target_factory()
    with pytest.raises(ScenarioError) as info:
        resolve_credentials(scenario({"source": "demo"}), host=target.url + "/not-the-demo")
    assert str(info.value).startswith(
        f"accounts.source: \"demo\" needs the demo API, but {target.url}/not-the-demo/__demo__/accounts answered 404")
