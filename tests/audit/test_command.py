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
    # 10, 11: another tenant's conversation read by id, and written to through chat
    assert "conversation:" in findings(audit, "tenant_isolation") and "chat:" in findings(audit, "tenant_isolation")
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
        assert rows[row]["status"] == "not_measurable", row
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
    assert result.stdout.strip().splitlines()[-1].startswith("audit: FAIL (0 pass, 7 fail, 6 not measurable")
