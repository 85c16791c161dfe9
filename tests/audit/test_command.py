"""`harness audit` end to end against the embedded demo API: every planted flaw of `vulnerable` lands
in its own row, and audit.json, audit.html and the terminal scorecard say the same thing. (That
`hardened` fails no row it gets right is asserted check by check, in each tests/test_audit_*.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import read_json

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)


@pytest.fixture
def vulnerable(vulnerable_audit: tuple) -> tuple[object, Path]:
    """The session's audit of the vulnerable demo (tests/conftest.py), whose rows the golden test checks too."""
    return vulnerable_audit


def findings(audit: dict, row: str) -> str:
    return "\n".join(audit["rows"][row]["findings"])


def test_every_planted_flaw_is_found_by_its_check(vulnerable: tuple) -> None:
    result, folder = vulnerable
    assert result.returncode == 1, result.stderr[-2000:]
    audit = read_json(folder / "audit.json")
    rows = audit["rows"]
    # 7: the admin route believes a client-sent role header
    assert "X-User-Role: admin" in findings(audit, "auth")
    # 10: another tenant's conversation read by id; 11: written to through chat, found without
    # --allow-destructive: the owner and the intruder are accounts the audit signed up, and the
    # conversation written to is one its owner made
    assert "conversation:" in findings(audit, "tenant_isolation") and "chat:" in findings(audit, "tenant_isolation")
    writes = next(c for c in rows["tenant_isolation"]["checks"] if c["check"].startswith("cross-tenant writes"))
    assert writes["status"] == "fail" and "signed up through register" in writes["note"]
    assert audit["destructive"] is False and audit["destructive_requests"] == []
    made = audit["accounts_created"]
    assert [a["purpose"].split(",")[0] for a in made[:2]] == ["the audit's owner", "the audit's intruder"]
    assert all(a["email"].endswith("@audit.invalid") and a["route"] == "register" for a in made)
    assert f"the audit signed up {len(made)} account(s) of its own" in result.stderr
    # 12: any Origin reflected with credentials
    assert "https://evil.example" in findings(audit, "cors") and "credentials" in findings(audit, "cors")
    # 13: keys in the served bundle and its source map, shown redacted
    secrets = findings(audit, "secrets")
    assert "OpenAI API key sk-proj-…" in secrets and "app.js.map" in secrets and "Stripe" in secrets
    # 14 (stack trace on bad JSON) and 8 (no prompt limit)
    validation = findings(audit, "input_validation")
    assert "leads: answers the invalid JSON probe with HTTP 500 and a Python traceback" in validation
    assert "leads" in validation and "chat" in validation
    # 15, 16: the system prompt leaks on request; context leaks across sessions and tenants
    injection = findings(audit, "prompt_injection")
    assert "canary" in injection and "another tenant" in injection
    assert rows["cache_cdn_ssl"]["status"] == "fail"  # vulnerable sends no security headers
    for row in ("logging", "monitoring", "deployment_safety", "email_auth", "rate_limiting", "performance"):
        assert rows[row]["status"] == "untested", row
    assert audit["verdict"] == "fail" and audit["profile"] == "vulnerable"


def test_the_audit_never_writes_a_secret(vulnerable: tuple) -> None:
    from harness.demo_api.static import FAKE_OPENAI_KEY, FAKE_STRIPE_SECRET_KEY  # the demo's planted keys

    result, folder = vulnerable
    everything = result.stdout + result.stderr + "".join(p.read_text() for p in folder.iterdir())
    for key in (FAKE_OPENAI_KEY, FAKE_STRIPE_SECRET_KEY):
        assert key not in everything and key[:8] in everything and key[-4:] in everything  # shown as prefix…last4


def test_terminal_json_and_html_agree(vulnerable: tuple) -> None:
    result, folder = vulnerable
    audit = read_json(folder / "audit.json")
    page = (folder / "audit.html").read_text()
    for name, row in audit["rows"].items():
        assert f'data-row="{name}" data-status="{row["status"]}"' in page
        assert row["title"] in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("audit: FAIL (0 pass, 7 fail, 6 untested)")


NO_CHAT = """
[scenario]
name = "no-chat"

[target]
host = ""                # the embedded demo API, hardened
profile = "hardened"

[accounts]
source = "demo"

[endpoints.login]        # the audit's own login finds this route by its name (harness.audit.context.token)
method = "POST"
path = "/api/auth/login"
body = { email = "{email}", password = "{password}" }
auth = false

[endpoints.profile]
kind = "read"
method = "GET"
path = "/api/me"

[endpoints.sign_out]
kind = "logout"
method = "POST"
path = "/api/auth/logout"

[endpoints.thread]       # no route lists conversations: no id to fill it with
kind = "read"
method = "GET"
path = "/api/conversations/{conversation_id}"

[endpoints.user_email]   # the issue's /users//email: never sent with an empty segment
kind = "read"
method = "GET"
path = "/api/users/{user_id}/email"

[endpoints.staff]
kind = "admin"
method = "GET"
path = "/api/admin/users"

[endpoints.forgot]
kind = "reset"
method = "POST"
path = "/api/auth/password-reset"
body = { email = "{email}" }
auth = false

[endpoints.leads]
kind = "lead"
method = "POST"
path = "/api/leads"
body = { tenant = "{tenant}", name = "{name}", email = "{lead_email}", message = "{message}" }
auth = false

[journeys.visitor]
weight = 1
"""


def test_an_api_without_chat_or_conversation_list_is_audited_on_what_it_has(tmp_path: Path) -> None:
    """Routes under free names with kinds, no chat route and no conversation list: the chat checks are
    not applicable, a route whose placeholder has no value is not called (the note says why), and the
    rest is judged on evidence."""
    from tests.helpers import only_run_dir, run_harness

    scenario = tmp_path / "no-chat.toml"
    scenario.write_text(NO_CHAT)
    checks = [a for c in ("access", "tenancy", "validation", "injection") for a in ("--check", c)]
    result = run_harness("audit", str(scenario), *checks, "--out", str(tmp_path / "out"), timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_json(only_run_dir(tmp_path / "out") / "audit.json")["rows"]
    injection = rows["prompt_injection"]
    assert injection["status"] == "not_applicable"
    assert [(c["check"], c["status"]) for c in injection["checks"]] == [
        ("system prompt extraction", "not_applicable"),
        ("cross-session leakage", "not_applicable"),
    ]
    assert 'no chat route (kind "chat")' in injection["note"]
    auth = rows["auth"]
    assert auth["status"] == "pass"
    every = next(c for c in auth["checks"] if c["check"] == "auth on every route")
    assert "user_email: not called: no value for {user_id} (an object id: no route of the map lists" in every["note"]
    assert "thread: not called: no value for {conversation_id}" in every["note"]
    assert any(e.startswith("GET /api/me -> 401") for e in every["evidence"])  # found as kind read
    assert any("with a token revoked by logout" in e for e in every["evidence"])  # sign_out, kind logout
    level = next(c for c in auth["checks"] if c["check"] == "function-level auth")
    assert any(e.startswith("GET /api/admin/users -> 403 as client") for e in level["evidence"])  # staff, kind admin
    assert not any("/api/users/" in e or "/api/conversations/" in e for c in auth["checks"] for e in c["evidence"])
    tenancy = rows["tenant_isolation"]
    assert tenancy["status"] == "untested" and "no conversation_id of tenant" in tenancy["note"]
    validation = rows["input_validation"]
    assert (
        validation["status"] == "pass"
        and "POST /api/leads -> invalid JSON: 422" in validation["checks"][0]["evidence"][-1]
    )
    assert "no chat route" in validation["note"] and "prompt-size ladder" in validation["note"]
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("audit: PASS (2 pass, 0 fail, ") and last.endswith(", 1 not applicable)")
