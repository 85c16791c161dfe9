"""Every `[auth]` style end to end: a short real `harness run` (one Locust process) against the demo API
started in that style, with the figures that prove the calls were authenticated where they landed.

- cookie session + CSRF from a cookie + `lifetime`: sessions renewed before they expire, so more logins
  than users and not one failed call;
- bearer read from a response header + `relogin_on_401`: sessions expire under the run, each 401 is
  followed by a login and the same call answered;
- API key in a header (each account's, from the demo accounts), and in the query (one per role, from the
  environment, `[auth.keys]`): no login at all;
- OAuth2 client credentials (the client from the demo API) and password grant (+ CSRF from the body).

Each run also proves that no password, key, client secret or session token reached the run folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.demo_api.data import build_dataset
from harness.samples import read_samples
from tests.helpers import client_scenario, only_run_dir, read_json, run_harness

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)

USERS = 3
AUTHENTICATED = ("conversations", "conversation", "me", "chat")
DATASET = build_dataset(7, 3, 4)  # the embedded demo API's accounts: [target] seed 7, 3 tenants of 4 clients
CLIENT_KEY = next(u for u in DATASET.users if u.role == "client").api_key
JWT_HEADER = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."  # how every demo session token starts


def scenario(name: str, target: str, auth: str) -> str:
    """The client journey (login, conversations, chat, me) for 4 s, the demo API and [auth] as given."""
    text = client_scenario(name, "4s").replace("think_time = [0, 0]", "think_time = [0, 0.2]")
    text = text.replace('source = "demo"\n', "") if "[auth.keys]" in auth else text
    return text.replace("[accounts]", f"[target]\n{target}\n{auth}\n[targets]\np95_ms = 60000\n[accounts]")


def run(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> tuple[Any, Path, dict[str, Any]]:
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    out = tmp_path / "out"
    result = run_harness("run", str(path), "--workers", "0", "--out", str(out), env=env, timeout=150)
    run_dir = only_run_dir(out)
    return result, run_dir, read_json(run_dir / "summary.json")


def no_secret_in(run_dir: Path) -> None:
    """No demo password, API key, OAuth2 client secret or session token anywhere in the run folder."""
    secrets = [u.demo_password for u in DATASET.users] + [u.api_key for u in DATASET.users]
    secrets += [DATASET.oauth_client_secret, JWT_HEADER]
    texts = [p.read_bytes().decode(errors="replace") for p in run_dir.rglob("*") if p.is_file()]
    samples = read_samples(run_dir)
    texts += [" ".join(samples[c].tolist()) for c in samples.columns if pd.api.types.is_string_dtype(samples[c])]
    leaked = sorted({s for s in secrets for text in texts if s in text})
    assert leaked == [], f"secrets in the run folder: {leaked}"


def authenticated_calls_were_served(summary: dict[str, Any], run_dir: Path) -> None:
    """Every authenticated route answered, none failed, and the model really ran behind the chats."""
    endpoints = summary["endpoints"]
    for name in ("conversations", "chat"):
        assert endpoints[name]["ok"] > 0 and endpoints[name]["errors"] == 0, (name, endpoints[name])
    assert all(endpoints[n]["errors"] == 0 for n in AUTHENTICATED if n in endpoints)
    chats = read_samples(run_dir).query("endpoint == 'chat' and status == 200")
    assert (chats["token_source"] == "usage").all() and chats["output_tokens"].min() > 0  # answered by the model
    if (run_dir / "target_stats.json").exists():  # the demo API's own count (accounts from the demo API)
        stats = read_json(run_dir / "target_stats.json")
        assert stats["requests"]["chat"] >= len(chats) and stats["tokens"]["completion"] >= chats["output_tokens"].sum()


def check_cookie(result: Any, run_dir: Path, summary: dict[str, Any]) -> None:
    assert result.returncode == 0, result.stderr[-3000:]
    authenticated_calls_were_served(summary, run_dir)
    login = summary["endpoints"]["login"]
    assert login["errors"] == 0 and login["requests"] > USERS  # renewed before the 3 s sessions ended
    assert summary["endpoints"]["chat"]["status_counts"] == {"200": summary["endpoints"]["chat"]["ok"]}  # CSRF held


def check_relogin_on_401(result: Any, run_dir: Path, summary: dict[str, Any]) -> None:
    samples = read_samples(run_dir).sort_values("start_s")
    refused = samples[samples["status"] == 401]
    assert len(refused) > 0 and set(refused["endpoint"]) <= set(AUTHENTICATED)  # the 2 s sessions expired
    assert (samples[samples["status"] != 401]["error"] == "").all()  # nothing else went wrong
    logins = samples[samples["endpoint"] == "login"]
    assert (logins["status"] == 200).all() and len(logins) == USERS + len(refused) - _unfinished(samples)
    for _, calls in samples.groupby("identity"):
        rows = list(calls[["endpoint", "status"]].itertuples(index=False))
        for i, (endpoint, status) in enumerate(rows):
            if status == 401 and i + 2 < len(rows):  # logged in again, then the same call, answered
                assert rows[i + 1] == ("login", 200) and rows[i + 2].endpoint == endpoint, rows[i : i + 3]
                assert 200 <= rows[i + 2].status < 300, rows[i : i + 3]
    assert summary["endpoints"]["chat"]["ok"] > 0


def _unfinished(samples: pd.DataFrame) -> int:
    """401s that ended their user's run: the run stopped before the login they started."""
    last = samples.groupby("identity").tail(1)
    return int((last["status"] == 401).sum())


def check_no_login(result: Any, run_dir: Path, summary: dict[str, Any], identities: int) -> None:
    assert result.returncode == 0, result.stderr[-3000:]
    authenticated_calls_were_served(summary, run_dir)
    samples = read_samples(run_dir)
    assert "login" not in set(samples["endpoint"]) and samples["identity"].nunique() == identities


def check_oauth2(result: Any, run_dir: Path, summary: dict[str, Any]) -> None:
    assert result.returncode == 0, result.stderr[-3000:]
    authenticated_calls_were_served(summary, run_dir)
    token = summary["endpoints"]["oauth2_token"]
    assert token["requests"] == token["ok"] == USERS and "login" not in read_samples(run_dir)["endpoint"].unique()


CASES: dict[str, tuple[str, str, dict[str, str], Callable[..., None]]] = {
    "cookie+csrf+lifetime": (
        'auth = "cookie"\ncsrf = true\ntoken_lifetime = "3s"',
        '[auth]\nstyle = "cookie"\nsession_cookie = "sid"\nlifetime = "2s"\n'
        '[auth.csrf]\nfrom = "cookie"\nname = "csrf_token"\nheader = "X-CSRF-Token"',
        {},
        check_cookie,
    ),
    "bearer-header+relogin": (
        'token_lifetime = "2s"',
        '[auth]\ntoken_from = "header"\ntoken_header = "X-Auth-Token"',
        {},
        check_relogin_on_401,
    ),
    "api_key-header": (
        'auth = "api_key"',
        '[auth]\nstyle = "api_key"\nheader = "X-Api-Key"\nscheme = ""',
        {},
        lambda *a: check_no_login(*a, identities=USERS),
    ),
    "api_key-query": (
        'auth = "api_key"',
        '[auth]\nstyle = "api_key"\nkey_in = "query"\n[auth.keys]\nclient = "DEMO_CLIENT_KEY"',
        {"DEMO_CLIENT_KEY": CLIENT_KEY},
        lambda *a: check_no_login(*a, identities=1),  # one account per role of [auth.keys]
    ),
    "oauth2-client_credentials": (
        'auth = "oauth2"',
        '[auth]\nstyle = "oauth2"\n[auth.oauth2]\ngrant = "client_credentials"\ntoken_path = "/oauth/token"\n'
        'client_id_env = "DEMO_CLIENT_ID"\nclient_secret_env = "DEMO_CLIENT_SECRET"\nscope = "chat"',
        {},
        check_oauth2,
    ),
    "oauth2-password+csrf-body": (
        'auth = "oauth2"\ncsrf = true',
        '[auth]\nstyle = "oauth2"\n[auth.oauth2]\ngrant = "password"\n[auth.csrf]\nfrom = "body"\nname = "csrf_token"',
        {},
        check_oauth2,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_auth_style_end_to_end(tmp_path: Path, case: str) -> None:
    target, auth, env, check = CASES[case]
    result, run_dir, summary = run(tmp_path, scenario(case.replace("+", "-"), target, auth), env)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    check(result, run_dir, summary)
    no_secret_in(run_dir)
