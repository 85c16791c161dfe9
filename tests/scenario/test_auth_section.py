"""`[auth]`, `[accounts]` and the accounts file: every style parses to what the load client and the audit
need, and every bad combination is one line naming the field and the fix (docs/auth.md)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from harness.commands.validate import run_validate
from harness.scenario import ScenarioError, parse_scenario
from harness.scenario.accounts import Account, resolve_credentials
from harness.scenario.callers import client_routes
from harness.scenario.model import Csrf, OAuth2
from harness.scenario.preflight import check_scenario

SOURCE = "x.toml"
NOWHERE = "http://127.0.0.1:9"  # file, inline and key accounts need no network
ENDPOINTS = {
    "login": {
        "method": "POST",
        "path": "/api/auth/login",
        "auth": False,
        "body": {"email": "{email}", "password": "{password}"},
    },
    "conversations": {"path": "/api/conversations"},
    "chat": {"method": "POST", "path": "/api/chat", "stream": "sse-openai", "body": {"messages": "{messages}"}},
}


def data(auth: dict[str, Any] | None = None, accounts: dict[str, Any] | None = None, **sections: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"scenario": {"name": "auth"}, "endpoints": copy.deepcopy(ENDPOINTS), **sections}
    if auth is not None:
        d["auth"] = auth
    if accounts is not None:
        d["accounts"] = accounts
    return d


def error_of(d: dict[str, Any]) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(d, source=SOURCE)
    assert "\n" not in str(info.value)
    return str(info.value)


def file_scenario(folder: Path, csv: str, auth: dict[str, Any] | None = None, login: Any = None, **accounts: Any):
    (folder / "accounts.csv").write_text(csv)
    d = data(auth, {"source": "file", "file": "accounts.csv", **accounts})
    if login is not None:
        d["endpoints"]["login"]["body"] = login
    return parse_scenario(d, source=str(folder / "x.toml"), base_dir=folder)


# ---- the styles ----


def test_without_an_auth_table_it_is_todays_bearer_token_from_the_login_body():
    auth = parse_scenario(data()).auth
    assert (auth.style, auth.token_from, auth.token_field, auth.header, auth.scheme) == (
        "bearer",
        "body",
        "access_token",
        "Authorization",
        "Bearer",
    )
    assert auth.relogin_on_401 and auth.lifetime_s is None and auth.csrf is None and auth.uses_login_route


def test_each_style_parses_to_its_settings():
    header = parse_scenario(data({"token_from": "header", "token_header": "X-Auth-Token", "lifetime": "15m"})).auth
    assert (header.token_from, header.token_header, header.lifetime_s) == ("header", "X-Auth-Token", 900.0)
    cookie = parse_scenario(
        data({"style": "cookie", "session_cookie": "sid", "csrf": {"from": "cookie", "name": "csrftoken"}})
    ).auth
    assert cookie.session_cookie == "sid" and cookie.csrf == Csrf("cookie", "csrftoken", "X-CSRF-Token", "")
    key = parse_scenario(
        data({"style": "api_key", "key_in": "query", "query_param": "key", "keys": {"client": "CLIENT_KEY"}})
    ).auth
    assert (key.key_in, key.query_param, key.keys, key.uses_login_route) == (
        "query",
        "key",
        {"client": "CLIENT_KEY"},
        False,
    )
    oauth = {
        "grant": "client_credentials",
        "token_path": "/oauth/token",
        "client_id_env": "ID",
        "client_secret_env": "S",
    }
    parsed = parse_scenario(data({"style": "oauth2", "oauth2": {**oauth, "scope": "chat"}, "relogin_on_401": False}))
    assert parsed.auth.oauth2 == OAuth2("client_credentials", "/oauth/token", "ID", "S", "chat")
    assert not parsed.auth.relogin_on_401
    assert parsed.accounts.needs == ()  # the client's own credentials: nothing from the accounts


def test_styles_without_a_login_route_need_none():
    endpoints = {k: v for k, v in ENDPOINTS.items() if k != "login"}
    for auth in (
        {"style": "api_key"},
        {"style": "none"},
        {"style": "oauth2", "oauth2": {"grant": "password"}},
    ):
        d = {**data(auth, {"source": "inline", "inline": [{"email": "a@x.example", "password": "pw", "api_key": "k"}]})}
        d["endpoints"] = endpoints
        d["attacks"] = {"chat_flood": {}}
        assert "login" not in parse_scenario(d).endpoints
    d = data()
    d["endpoints"] = endpoints  # bearer without a login route: the client journey calls as it is (journeys.md)
    assert client_routes(parse_scenario(d).endpoints, parse_scenario(d).auth).login is None


@pytest.mark.parametrize(
    ("auth", "error"),
    [
        ({"style": "jwt"}, "x.toml: auth.style: expected one of bearer, cookie, api_key, oauth2, none, got 'jwt'"),
        (
            {"session_cookie": "sid"},
            "x.toml: auth.session_cookie: not used with style = \"bearer\" (it goes with style = 'cookie'): remove it",
        ),
        (
            {"style": "api_key", "token_field": "data.token"},
            "x.toml: auth.token_field: not used with style = \"api_key\" (it goes with style = 'bearer' or 'oauth2'): "
            "remove it",
        ),
        (
            {"token_from": "header"},
            'x.toml: auth.token_header: token_from = "header" needs the response header that holds the token, like '
            "X-Auth-Token, got ''",
        ),
        ({"token_from": "cookie"}, "x.toml: auth.token_from: expected 'body' or 'header', got 'cookie'"),
        ({"style": "api_key", "key_in": "body"}, "x.toml: auth.key_in: expected 'header' or 'query', got 'body'"),
        (
            {"style": "api_key", "keys": {"client": "sk-live-123"}},
            "x.toml: auth.keys.client: expected the name of the environment variable that holds the key, like "
            "CLIENT_API_KEY, got 'sk-live-123' (never the key itself in the file)",
        ),
        (
            {"style": "oauth2"},
            'x.toml: auth.oauth2: style = "oauth2" needs [auth.oauth2] with grant, token_path and client_id_env',
        ),
        (
            {"style": "oauth2", "oauth2": {"grant": "password", "token_path": "https://idp.example/token"}},
            "x.toml: auth.oauth2.token_path: expected a path on the target like /oauth/token, got "
            "'https://idp.example/token': the token request only ever goes to the target host (the guardrail); an "
            "identity provider elsewhere cannot be used",
        ),
        (
            {"style": "oauth2", "oauth2": {"grant": "password", "token_path": "//idp.example/token"}},
            "x.toml: auth.oauth2.token_path: expected a path on the target like /oauth/token, got '//idp.example/token'",
        ),
        (
            {"style": "oauth2", "oauth2": {"grant": "client_credentials"}},
            'x.toml: auth.oauth2.client_id_env: required with grant = "client_credentials": the name of the '
            "environment variable that holds it",
        ),
        (
            {"style": "oauth2", "oauth2": {"grant": "implicit"}},
            "x.toml: auth.oauth2.grant: expected 'client_credentials' or 'password', got 'implicit'",
        ),
        (
            {"csrf": {"from": "meta", "name": "x"}},
            "x.toml: auth.csrf.from: expected 'cookie' or 'header' or 'body', got 'meta'",
        ),
        (
            {"csrf": {"from": "cookie"}},
            "x.toml: auth.csrf.name: required with from = \"cookie\": the cookie's name, like csrftoken, got ''",
        ),
        (
            {"csrf": {"from": "body", "name": "csrf_token", "fetch": "csrf"}},
            "x.toml: auth.csrf.fetch: expected an endpoint of the API map whose answer holds the token, got 'csrf'",
        ),
        (
            {"lifetime": "soon"},
            'x.toml: auth.lifetime: expected a duration like 90, "90s", "2m" or "1m30s", got \'soon\'',
        ),
        ({"relogin_on_401": "yes"}, "x.toml: auth.relogin_on_401: expected true or false, got 'yes'"),
    ],
)
def test_a_bad_auth_table_is_one_line_naming_the_field_and_the_fix(auth, error):
    assert error_of(data(auth)).startswith(error)


def test_the_accounts_must_fill_what_the_style_and_the_login_route_need():
    inline = {"source": "inline", "inline": [{"email": "a@x.example", "password": "pw"}]}
    assert error_of(data({"style": "api_key"}, inline)) == (
        'x.toml: accounts.inline[0]: no api_key (auth.style = "api_key" sends each account\'s key (or add '
        "[auth.keys])): give every account a api_key"
    )
    assert parse_scenario(data({"style": "api_key", "keys": {"client": "K"}}, inline)).accounts.needs == ()
    username = data(None, {"source": "inline", "inline": [{"username": "maya", "password": "pw"}]})
    username["endpoints"]["login"]["body"] = {"user": "{username}", "pass": "{password}"}
    assert parse_scenario(username).accounts.inline[0]["username"] == "maya"
    assert error_of(data(None, {"source": "inline", "inline": [{"password": "pw"}]})).startswith(
        'x.toml: accounts.inline[0]: no email or username (auth.style = "bearer" logs each account in)'
    )
    oauth = {"style": "oauth2", "oauth2": {"grant": "password"}}
    assert error_of(data(oauth, {"source": "inline", "inline": [{"email": "a@x.example"}]})).startswith(
        'x.toml: accounts.inline[0]: no password (auth.oauth2.grant = "password" sends it)'
    )
    assert error_of(data(None, {"source": "keys"})) == (
        'x.toml: accounts.source: "keys" makes one account per role of [auth.keys]: add [auth.keys]'
    )
    assert error_of(data(None, {"columns": ["email", "password"]})) == (
        'x.toml: accounts.columns: only with accounts.source = "file" (the columns of a file without header)'
    )


def test_account_columns_are_placeholders_of_every_template():
    d = data(None, {"source": "inline", "inline": [{"email": "a@x.example", "password": "pw", "org": "acme"}]})
    d["endpoints"]["chat"]["path"] = "/api/{org}/chat"
    assert parse_scenario(d).endpoints["chat"].path == "/api/{org}/chat"
    d["endpoints"]["chat"]["path"] = "/api/{orgg}/chat"
    assert error_of(d).startswith(
        "x.toml: endpoints.chat.path: unknown placeholder {orgg} (known: conversation_id, email, lead_email, message, "
        "messages, name, password, tenant; account columns: org)"
    )
    account = Account.from_columns({"email": "a@x.example", "password": "pw", "org": "acme", "role": ""})
    assert account.role == "client" and account.values()["org"] == "acme" and account.extra == (("org", "acme"),)


def test_target_auth_options_go_to_the_demo_api():
    target = parse_scenario(data(target={"auth": "cookie", "csrf": True, "token_lifetime": "2.5s"})).target
    assert (target["auth"], target["csrf"], target["token_ttl_s"]) == ("cookie", True, 3)
    assert "auth" not in parse_scenario(data()).target  # the default: the demo API as before
    assert error_of(data(target={"auth": "saml"})) == (
        "x.toml: target.auth: expected 'bearer' or 'cookie' or 'api_key' or 'oauth2', got 'saml'"
    )


# ---- the accounts file ----


def test_a_file_with_its_own_columns_fills_them(tmp_path):
    s = file_scenario(
        tmp_path,
        "username,password,role,tenant,org_id\nmaya,pw-1,client,t1,o-9\nops,pw-2,admin,,o-1\n",
        login={"user": "{username}", "secret": "{password}", "org": "{org_id}"},
    )
    accounts = resolve_credentials(s, NOWHERE).accounts
    assert accounts[0] == Account("", "pw-1", "client", "t1", username="maya", extra=(("org_id", "o-9"),))
    assert accounts[0].key == "maya" and accounts[1].role == "admin"


def test_a_file_without_header_row_with_declared_columns(tmp_path):
    s = file_scenario(
        tmp_path, "maya@x.example,pw-1,client\njonas@x.example,pw-2,coach\n", columns=["email", "password", "role"]
    )
    assert [(a.email, a.role) for a in resolve_credentials(s, NOWHERE).accounts] == [
        ("maya@x.example", "client"),
        ("jonas@x.example", "coach"),
    ]
    again = file_scenario(
        tmp_path, "email,password,role\nmaya@x.example,pw-1,client\n", columns=["email", "password", "role"]
    )
    assert [a.email for a in resolve_credentials(again, NOWHERE).accounts] == ["maya@x.example"]  # a header anyway


def test_the_file_is_checked_against_what_the_scenario_uses(tmp_path):
    path = tmp_path / "accounts.csv"
    key_style = {"style": "api_key", "header": "x-api-key", "scheme": ""}
    with pytest.raises(ScenarioError) as info:
        check_scenario(file_scenario(tmp_path, "email,password\nmaya@x.example,pw\n", key_style))
    assert str(info.value) == (
        f'{path}: line 1: no column api_key (auth.style = "api_key" sends each account\'s key (or add '
        "[auth.keys])): add it to the header row"
    )
    with pytest.raises(ScenarioError) as info:
        check_scenario(file_scenario(tmp_path, "maya@x.example,pw\n", key_style, columns=["email", "password"]))
    assert str(info.value).endswith("): declare it in [accounts] columns")
    with pytest.raises(ScenarioError) as info:
        check_scenario(file_scenario(tmp_path, "api_key,role\nsk-1,client\n,client\n", key_style))
    assert str(info.value).startswith(f"{path}: line 3: no api_key (")
    with pytest.raises(ScenarioError) as info:
        check_scenario(file_scenario(tmp_path, "email,password,role\nmaya@x.example,pw\n"))
    assert str(info.value) == f"{path}: line 2: 2 values, expected 3 (email,password,role)"


def test_a_placeholder_of_a_file_with_a_header_is_checked_when_the_file_is_read(tmp_path):
    (tmp_path / "accounts.csv").write_text("email,password,org_id\nmaya@x.example,pw,o-1\n")
    d = data(None, {"source": "file", "file": "accounts.csv"})
    d["endpoints"]["chat"]["path"] = "/api/orgs/{org_id}/chat"
    s = parse_scenario(d, source=str(tmp_path / "x.toml"), base_dir=tmp_path)
    assert resolve_credentials(s, NOWHERE).accounts[0].values()["org_id"] == "o-1"
    d["endpoints"]["chat"]["path"] = "/api/orgs/{org}/chat"
    s = parse_scenario(d, source=str(tmp_path / "x.toml"), base_dir=tmp_path)
    with pytest.raises(ScenarioError) as info:
        check_scenario(s)
    assert str(info.value) == (
        f"{tmp_path / 'accounts.csv'}: line 1: no column org (endpoints.chat.path uses {{org}}): add it to the header row"
    )


def test_validate_opens_the_accounts_file(tmp_path, capsys):
    scenario = tmp_path / "x.toml"
    scenario.write_text('[accounts]\nsource = "file"\nfile = "gone.csv"\n' + _toml_endpoints())
    with pytest.raises(ScenarioError, match="accounts file not found"):
        run_validate(scenario)
    (tmp_path / "gone.csv").write_text("email,password\n")
    with pytest.raises(ScenarioError, match="no accounts: expected one account per line after the header row"):
        run_validate(scenario)
    (tmp_path / "gone.csv").write_text("email,password\nmaya@x.example,pw\n")
    assert run_validate(scenario) == 0


def _toml_endpoints() -> str:
    return (
        '[endpoints.login]\nmethod = "POST"\npath = "/api/auth/login"\nauth = false\n'
        'body = { email = "{email}", password = "{password}" }\n'
        '[endpoints.conversations]\npath = "/api/conversations"\n'
        '[endpoints.chat]\nmethod = "POST"\npath = "/api/chat"\nstream = "sse-openai"\n'
    )


# ---- secrets from the environment ----


def test_keys_per_role_and_the_oauth2_client_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CLIENT_KEY", "sk-client-123")
    s = parse_scenario(data({"style": "api_key", "keys": {"client": "CLIENT_KEY"}}), source=SOURCE)
    creds = resolve_credentials(s, NOWHERE)
    assert [(a.role, a.api_key) for a in creds.accounts] == [("client", "sk-client-123")]
    assert creds.api_key(creds.accounts[0]) == "sk-client-123" and "sk-client-123" in creds.secrets()
    monkeypatch.delenv("CLIENT_KEY")
    with pytest.raises(ScenarioError) as info:
        resolve_credentials(s, NOWHERE)
    assert (
        str(info.value)
        == "x.toml: auth.keys.client: the environment variable CLIENT_KEY is not set: export it before the run"
    )

    oauth = {"grant": "client_credentials", "client_id_env": "APP_ID", "client_secret_env": "APP_SECRET"}
    inline = {"source": "inline", "inline": [{"email": "a@x.example"}]}
    s = parse_scenario(data({"style": "oauth2", "oauth2": oauth}, inline), source=SOURCE)
    monkeypatch.setenv("APP_ID", "app")
    with pytest.raises(ScenarioError, match="auth.oauth2.client_secret_env: the environment variable APP_SECRET"):
        resolve_credentials(s, NOWHERE)
    monkeypatch.setenv("APP_SECRET", "app-secret-456")
    creds = resolve_credentials(s, NOWHERE)
    assert creds.oauth_client == ("app", "app-secret-456") and "app-secret-456" in creds.secrets()
    assert type(creds).from_dict(creds.to_dict()) == creds  # what the workers get


def test_every_account_the_journeys_use_has_a_key(tmp_path, monkeypatch):
    monkeypatch.setenv("ADMIN_KEY", "sk-admin-789")
    key_style = {"style": "api_key", "keys": {"admin": "ADMIN_KEY"}}
    s = file_scenario(tmp_path, "email,role,api_key\nmaya@x.example,client,sk-own-1\nops@x.example,admin,\n", key_style)
    creds = resolve_credentials(s, NOWHERE)
    assert [creds.api_key(a) for a in creds.accounts] == ["sk-own-1", "sk-admin-789"]
    s = file_scenario(tmp_path, "email,role\nmaya@x.example,client\n", key_style)
    with pytest.raises(ScenarioError) as info:
        resolve_credentials(s, NOWHERE)
    assert str(info.value) == (
        f"{tmp_path / 'x.toml'}: auth.keys: accounts of the role 'client' have no API key (no api_key column "
        "value, no [auth.keys] client entry): add one"
    )
