"""Must show (issue 14): on an API where no login ever yields a usable credential, every verdict that
needs a login is "untested" with the reason and the fix, in every output, none is absent, effective,
pass or clean, and the run exits 4 (it could not judge). One short run, one Locust process."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.helpers import only_run_dir, read_json, run_harness
from tests.no_login_api import NoLoginApi, scenario_toml

pytestmark = pytest.mark.e2e  # starts the harness (processes)


def head(message: str | None, like: str) -> str:
    """The start of `message` as long as `like`, its counts written #."""
    return re.sub(r"\d+", "#", message or "")[: len(like)]


UNTESTED = [
    "rate limit on chat is untested: no probe answer on chat was admitted or blocked",
    "attack admin_probe is untested: none of its # logins gave a usable credential",
    "attack chat_flood is untested: none of its # logins gave a usable credential",
    "denial of wallet is untested: the probe could not log in: chat refused its requests for authentication",
]


def test_no_usable_login_leaves_every_check_that_needs_one_untested_and_exits_4(tmp_path: Path) -> None:
    api = NoLoginApi().start()
    try:
        path = tmp_path / "no-login.toml"
        path.write_text(scenario_toml(api.url))
        result = run_harness("run", str(path), "--workers", "0", "--out", str(tmp_path / "out"), timeout=150)
    finally:
        api.stop()
    run_dir = only_run_dir(tmp_path / "out")
    summary = read_json(run_dir / "summary.json")
    assert result.returncode == 4, result.stdout[-3000:] + result.stderr[-3000:]
    assert summary["verdict"] == "untested"
    reasons = summary["reasons"]
    assert [r["kind"] for r in reasons] == ["untested"] * len(UNTESTED)
    assert [head(r["message"], u) for r, u in zip(reasons, UNTESTED)] == UNTESTED
    assert all("harness check" in r["message"] for r in reasons)  # each says how to fix it

    # the server never handed out a credential: the logins were refused (rejected_when), never admitted
    assert api.statuses[("/login", 200)] >= 2 and not any(s == 200 for (p, s) in api.statuses if p == "/chat")
    login = summary["endpoints"]["login"]
    assert login["requests"] >= 2
    abuse = summary["abuse"]
    for name in ("chat_flood", "admin_probe"):
        a = abuse[name]
        assert a["verdict"] == "untested" and a["findings"] == [] and a["admitted"] == 0, name
        assert a["rejected"] == a["requests"] > 0 and a["status_counts"] == {"401": a["requests"]}, name
    assert summary["abuse_verdict"] == "untested"
    chat = summary["rate_limits"]["chat"]
    assert chat["verdict"] == "untested" and chat["fix"] == [] and "the probes could not log in" in chat["note"]
    wallet = summary["spend"]["denial_of_wallet"]
    assert wallet["prompt"]["verdict"] == "untested" and wallet["output"]["verdict"] == "untested"
    assert wallet["findings"] == [] and {s["status"] for s in wallet["prompt"]["steps"]} == {401}

    # every output shows the verdict and each reason
    assert "verdict: UNTESTED" in result.stderr  # the terminal table
    messages = [r["message"] for r in reasons]
    assert all(m in result.stderr for m in messages)
    md = (run_dir / "summary.md").read_text()
    assert ": UNTESTED" in md.splitlines()[0] and "Untested because:" in md and "Failed because" not in md
    assert all(m.replace("`", "") in md.replace("`", "") for m in messages)
    assert "untested: admin\\_probe, chat\\_flood" in md or "untested: admin_probe, chat_flood" in md
    suite = ET.parse(run_dir / "junit.xml").getroot()
    failures = [f for f in suite.iter("failure")]
    assert [f.get("type") for f in failures] == ["untested"] * len(UNTESTED)
    assert [f.get("message") for f in failures] == messages
    html = (run_dir / "report.html").read_text()
    assert 'data-verdict="untested"' in html and ">UNTESTED<" in html
    assert 'id="wallet-untested"' in html and "rl-untested" in html
    for word in ("absent", "effective"):
        assert f'data-verdict="{word}"' not in html


def test_a_login_answered_200_without_a_credential_is_a_rejected_attempt_without_any_rule(tmp_path: Path) -> None:
    """Credential stuffing on a login that answers every attempt 200 with an error body and no token,
    with no `rejected_when` rule: each attempt is read as a login is read, so none counts as admitted."""
    scenario = scenario_toml("HOST").split("[[limits]]")[0]  # the API map and a legit journey, no checks
    rule = 'rejected_when = { statuses = [200], body_pattern = "invalid credentials" }\n'
    assert rule in scenario
    scenario = scenario.replace(rule, "") + '[attacks]\nstart_after = "1s"\n[attacks.credential_stuffing]\nrate = 10\n'
    api = NoLoginApi().start()
    try:
        path = tmp_path / "stuffing.toml"
        path.write_text(scenario.replace("HOST", api.url).replace('duration = "5s"', 'duration = "4s"'))
        result = run_harness("run", str(path), "--workers", "0", "--out", str(tmp_path / "out"), timeout=150)
    finally:
        api.stop()
    summary = read_json(only_run_dir(tmp_path / "out") / "summary.json")
    stuffing = summary["abuse"]["credential_stuffing"]
    answered = api.statuses[("/login", 200)]
    assert stuffing["requests"] == answered >= 10, result.stderr[-2000:]
    assert stuffing["status_counts"] == {"200": answered}
    assert stuffing["admitted"] == 0 and stuffing["rejected"] == answered
