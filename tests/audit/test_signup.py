"""The audit's own accounts (harness.audit.signup): signed up once per audit through the route of kind
register, or not, and why; `[audit] register_domain`. What the checks do with them is in
tests/audit/test_safety.py (a recording API) and tests/audit/test_tenancy.py (the demo API)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.audit.context import AuditContext, parse_audit_settings
from harness.audit.signup import new_account_values, own_accounts
from harness.scenario import ScenarioError, parse_scenario
from harness.scenario.accounts import resolve_credentials
from harness.scenario.templates import render
from tests.audit.test_safety import SCENARIO, SIGN_UP, Recorder

WITH_SIGN_UP = {**SCENARIO, "endpoints": {**SCENARIO["endpoints"], "register": SIGN_UP}}
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers there


def context(url: str, data: dict[str, Any]) -> AuditContext:
    scenario = parse_scenario(data)
    return AuditContext(url, scenario, resolve_credentials(scenario, url), parse_audit_settings(scenario))


def test_new_accounts_are_on_the_reserved_domain_with_a_password_that_is_redacted() -> None:
    ctx = context(NOWHERE, {**WITH_SIGN_UP, "audit": {"register_domain": "qa.example.com"}})
    one, two = new_account_values(ctx, "owner"), new_account_values(ctx, "intruder")
    assert one["email"].endswith("@qa.example.com") and one["email"] != two["email"]
    assert one["username"] == one["email"].partition("@")[0] == one["tenant"]
    assert one["password"] != two["password"] and len(one["password"]) >= 20
    assert ctx.redact(f"sent {one['password']} and {two['password']}") == "sent [redacted] and [redacted]"
    assert parse_audit_settings(parse_scenario(WITH_SIGN_UP)).register_domain == "audit.invalid"


@pytest.mark.parametrize("domain", ["", "me@audit.invalid", "https://audit.invalid", "audit", 7])
def test_a_register_domain_that_is_no_domain_is_one_line(domain: object) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_audit_settings(parse_scenario({**WITH_SIGN_UP, "audit": {"register_domain": domain}}, "x.toml"))
    assert str(err.value).startswith("x.toml: audit.register_domain: expected a domain like")


def test_without_a_sign_up_route_or_a_session_for_a_new_account_nothing_is_signed_up() -> None:
    """Decided before any request (nothing answers at NOWHERE): no register route, or an API whose
    sessions a new account could not get (a static key per account or role)."""
    plain = context(NOWHERE, SCENARIO)
    assert own_accounts(plain).accounts == () and own_accounts(plain).note == ""
    accounts = {"source": "inline", "inline": [{"email": "a@a.example", "api_key": "k-1234567890", "tenant": "a"}]}
    keys = {**WITH_SIGN_UP, "auth": {"style": "api_key"}, "accounts": accounts}
    keyed = context(NOWHERE, keys)
    signup = own_accounts(keyed)
    assert signup.accounts == () and keyed.accounts_created == []
    assert signup.note.startswith("register (kind register) not used: the API takes static keys")
    assert signup.note.endswith("the scenario's accounts were used")


@pytest.mark.e2e
def test_a_new_account_that_cannot_log_in_is_listed_and_not_used() -> None:
    """The sign-up answered 201, so the account exists and is listed; the login gave no credential."""
    api = Recorder(broken_login=True)
    try:
        ctx = context(api.url, WITH_SIGN_UP)
        signup = own_accounts(ctx)
        assert own_accounts(ctx) is signup  # once per audit
    finally:
        api.stop()
    assert signup.accounts == () and len(api.signed_up) == 1
    [made] = ctx.accounts_created
    assert made.email in api.signed_up and made.route == "register" and made.id.startswith("usr-")
    assert signup.note == (
        f"the account the audit signed up through register ({made.email}) could not log in: "
        "the scenario's accounts were used"
    )
    assert [m for m, p, _ in api.requests if p == "/register"] == ["POST"]


def test_a_sign_up_is_never_held_back_as_a_write_to_an_object_the_audit_did_not_create() -> None:
    """An id-named field of a sign-up body ({tenant} as `org_id`) names the new account's own tenant."""
    body = {"email": "{email}", "password": "{password}", "org_id": "{tenant}"}
    ctx = context(NOWHERE, {**SCENARIO, "endpoints": {**SCENARIO["endpoints"], "register": {**SIGN_UP, "body": body}}})
    values = new_account_values(ctx, "owner")
    assert ctx.guard("register", "POST", values, "/register", render(body, values)) == ""
    assert "would write to an object the audit did not create" in ctx.guard(
        "new_item", "POST", values, "/items", {"text": "x", "org_id": values["tenant"]}
    )
