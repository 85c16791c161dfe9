"""The scorecard: how check results add up to the checklist's rows, the rows a load run fills, the
terminal and HTML forms, and the command's usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.audit.context import AuditContext, AuditSettings, parse_audit_settings
from harness.audit.html import audit_page, audit_section
from harness.audit.model import FAIL, NOT_APPLICABLE, PASS, ROWS, UNTESTED, CheckResult, scorecard
from harness.audit.runner import LIMITED_KINDS, audit, format_scorecard, from_load_run
from harness.documents import Summary
from harness.documents.audit import AuditReport
from harness.scenario import ScenarioError, load_scenario, parse_scenario
from harness.scenario.accounts import Credentials
from tests.helpers import REPO, run_cli

SCENARIO = load_scenario(REPO / "scenarios" / "audit.toml")


def test_a_row_fails_on_any_failing_check_and_passes_on_one_pass():
    card = scorecard(
        [
            CheckResult("auth", "logged out", PASS, evidence=["GET /api/me -> 401"]),
            CheckResult("auth", "admin as a client", FAIL, ["admin_users: 200 with X-User-Role: admin"]),
            CheckResult("cors", "foreign origin", PASS),
            CheckResult("email_auth", "SPF", UNTESTED, note="no [audit] domain"),
        ]
    )
    rows = card["rows"]
    assert list(rows) == list(ROWS)  # every row, in the checklist's order
    assert rows["auth"]["status"] == FAIL and rows["auth"]["findings"] == ["admin_users: 200 with X-User-Role: admin"]
    assert rows["cors"]["status"] == PASS and rows["email_auth"]["status"] == UNTESTED
    assert rows["email_auth"]["note"] == "no [audit] domain"
    assert rows["logging"]["status"] == UNTESTED and "cannot be seen from outside" in rows["logging"]["note"]
    assert rows["auth"]["why"] and rows["auth"]["fix"] and len(rows["auth"]["checks"]) == 2
    assert card["verdict"] == "fail" and card["failed_rows"] == ["auth"]
    assert scorecard([CheckResult("cors", "x", PASS)])["verdict"] == "pass"
    with pytest.raises(ValueError, match="unknown checklist row"):
        CheckResult("speed", "x", PASS)


def test_a_row_is_not_applicable_only_when_every_check_is():
    card = scorecard(
        [
            CheckResult("prompt_injection", "system prompt extraction", NOT_APPLICABLE, note="no chat route"),
            CheckResult("prompt_injection", "cross-session leakage", NOT_APPLICABLE, note="no chat route"),
            CheckResult("cors", "x", PASS),
            CheckResult("tenant_isolation", "a", NOT_APPLICABLE, note="nothing"),
            CheckResult("tenant_isolation", "b", UNTESTED, note="no second tenant"),
            CheckResult("auth", "a", NOT_APPLICABLE, note="nothing"),
            CheckResult("auth", "b", PASS),
        ]
    )
    rows = card["rows"]
    assert rows["prompt_injection"]["status"] == NOT_APPLICABLE and rows["prompt_injection"]["note"]
    assert rows["tenant_isolation"]["status"] == UNTESTED and rows["auth"]["status"] == PASS
    assert card["verdict"] == "pass"
    with pytest.raises(ValueError, match="does not apply says why"):
        CheckResult("cors", "x", NOT_APPLICABLE)
    report = AuditReport.load({**card, "target": "http://t"})[0]
    text = format_scorecard(report)
    assert any(line.startswith("Prompt injection") and " n/a " in line for line in text.splitlines())
    assert text.splitlines()[-1].endswith("(2 pass, 0 fail, 10 untested, 1 not applicable)")
    assert 'data-row="prompt_injection" data-status="not_applicable"' in audit_page(report.to_dict())
    assert "not applicable" in audit_page(report.to_dict())


def test_the_limited_routes_are_found_by_kind():
    raw = {
        "scenario": {"name": "free"},
        "journeys": {"webhook": 1},
        "endpoints": {
            "webhook": {"method": "POST", "path": "/hook", "auth": False},
            "ask": {"kind": "chat", "method": "POST", "path": "/ask", "body": {"q": "{message}"}},
            "me": {"method": "GET", "path": "/me"},
        },
    }
    scenario = parse_scenario(raw, source="x.toml")
    limits, _ = from_load_run(summary({"ask": {"verdict": "absent"}, "webhook": {"verdict": "effective"}}), scenario)
    assert limits.status == FAIL and limits.findings == ["ask: rate limit absent"]
    raw["endpoints"] = {"profile": {"method": "GET", "path": "/me"}}
    raw["journeys"] = {"client": 1}
    none = parse_scenario(raw, source="x.toml")
    limits, _ = from_load_run(summary({}), none)
    assert limits.status == NOT_APPLICABLE and limits.note.endswith(", ".join(LIMITED_KINDS))


def summary(limits: dict, p95: float = 120.0) -> Summary:
    return Summary.load(
        {
            "rate_limits": limits,
            "endpoints": {
                "me": {"target_p95_ms": 500, "p95_ms": p95, "latency_samples": 400},
                "chat": {"target_p95_ms": None, "p95_ms": 900.0},
            },
        }
    )[0]


def test_rate_limit_and_performance_rows_come_from_a_load_run():
    assert [r.status for r in from_load_run(None, SCENARIO)] == [UNTESTED, UNTESTED]
    good = {r: {"verdict": "effective"} for r in ("chat", "login", "reset_request", "webhook", "admin_users")}
    limits, perf = from_load_run(summary(good), SCENARIO)
    assert (limits.status, perf.status) == (PASS, PASS)
    assert perf.evidence == ["me: p95 120.0 ms (target 500 ms, 400 samples)"]
    bad = {
        **good,
        "login": {
            "verdict": "bypassable",
            "worst_technique": "ip-headers:X-Forwarded-For",
            "fix": ["key on the TCP peer"],
        },
        "reset_request": {"verdict": "absent"},
    }
    limits, perf = from_load_run(summary(bad, p95=612.0), SCENARIO)
    assert limits.status == FAIL and limits.findings == [
        "login: rate limit bypassable through ip-headers:X-Forwarded-For; fix: key on the TCP peer",
        "reset_request: rate limit absent",
    ]
    assert perf.status == FAIL and perf.findings == ["me: p95 612.0 ms is over the 500 ms target"]
    untested = from_load_run(summary({"chat": {"verdict": "untested"}}), SCENARIO)[0]
    assert untested.status == UNTESTED


def context() -> AuditContext:
    return AuditContext("http://127.0.0.1:9", SCENARIO, Credentials(), AuditSettings())


def test_a_check_that_breaks_makes_the_audit_incomplete_never_a_pass():
    report = audit(context(), names=("no_such_check",))
    assert report.verdict == "fail" and "no_such_check" in report.incomplete[0]
    assert "incomplete: the no_such_check check stopped" in format_scorecard(report)


def test_terminal_and_html_forms_show_every_row():
    report = AuditReport.load(
        {
            **scorecard(
                [
                    CheckResult(
                        "cors",
                        "foreign origin",
                        FAIL,
                        ["reflects https://evil.example"],
                        ["OPTIONS /api/me -> 200 <b>"],
                    )
                ]
            ),
            "target": "http://t",
            "harness_version": "x",
        }
    )[0]
    text = format_scorecard(report)
    assert "CORS" in text and "FAIL" in text and "reflects https://evil.example" in text
    assert text.splitlines()[-1].startswith("audit: FAIL (0 pass, 1 fail, 12 untested")
    assert audit_section(report.to_dict()).id == "audit"
    page = audit_page(report.to_dict())
    assert page.startswith("<!doctype html>") and page.count("<tr data-row=") == len(ROWS)
    assert 'data-row="cors" data-status="fail"' in page and "&lt;b&gt;" in page  # escaped


def test_audit_settings_and_the_authorization_matrix():
    settings = parse_audit_settings(SCENARIO)
    assert settings.id_routes == ("conversation", "chat") and settings.static_paths == ("/", "/static/app.js")
    ctx = AuditContext("http://t", SCENARIO, Credentials(), settings)
    assert ctx.expected("admin_users", "coach") == "deny" and ctx.expected("admin_users", "admin") == "allow"
    assert ctx.expected("me", "anonymous") == "deny" and ctx.expected("me", "client") == "allow"
    assert ctx.expected("health", "anonymous") == "allow"
    bad = dict(SCENARIO.raw, audit={"matrix": {"me": {"anonymous": "maybe"}}})
    with pytest.raises(ScenarioError, match=r"audit.matrix.me.anonymous: expected a role in .* got 'maybe'"):
        parse_audit_settings(parse_scenario(bad, source="x.toml"))
    unknown = dict(SCENARIO.raw, audit={"id_route": []})
    with pytest.raises(ScenarioError, match=r"audit.id_route: unknown field"):
        parse_audit_settings(parse_scenario(unknown, source="x.toml"))
    for table, error in (
        ({"chat_route": "ask"}, "audit.chat_route: 'ask' is not an endpoint of the API map"),
        ({"id_lists": {"user_id": "users"}}, "audit.id_lists.user_id: 'users' is not an endpoint of the API map"),
        ({"id_lists": ["users"]}, "audit.id_lists: expected a table like"),
    ):
        with pytest.raises(ScenarioError, match=error):
            parse_audit_settings(parse_scenario(dict(SCENARIO.raw, audit=table), source="x.toml"))
    listed = parse_audit_settings(parse_scenario(dict(SCENARIO.raw, audit={"id_lists": {"cid": "conversations"}})))
    assert listed.id_lists == {"cid": "conversations"} and listed.chat_route == ""
    assert [ep.name for ep in AuditContext("http://t", SCENARIO, Credentials(), listed).chat_routes()] == ["chat"]


def test_usage_errors_are_one_line_with_exit_2(tmp_path: Path):
    result = run_cli("audit", "--run", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "not a run folder" in result.stderr and "Traceback" not in result.stderr
    scenario = tmp_path / "a.toml"
    scenario.write_text(
        (REPO / "scenarios" / "audit.toml")
        .read_text()
        .replace('id_routes = ["conversation", "chat"]', 'id_routes = ["conversations_x"]')
    )
    result = run_cli("audit", str(scenario), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"harness: {scenario}: audit.id_routes: 'conversations_x' is not an endpoint of the API map"
    )
    result = run_cli("audit", "--host", "https://staging.example.com", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "allowed_hosts" in result.stderr  # forged requests stay on loopback
    assert not (tmp_path / "out").exists()
