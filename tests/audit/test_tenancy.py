"""The `tenant_isolation` row: tenant A's conversation IDs replayed as tenant B's client and coach, in
the path, the query string and the JSON body, reads and writes. Against the demo API's two profiles
(flaws 10 and 11 are found, each naming its route and how the ID was sent) and a few targets that
cannot be measured. With the shipped map's sign-up route, A and B are accounts the audit signed up,
and B's writes go into a conversation A made: measured without the opt-in; without that route (the
tests up to the sign-up section), A and B are the scenario's accounts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from harness.audit import tenancy
from harness.audit.context import AuditContext, AuditSettings
from harness.audit.model import FAIL, PASS, UNTESTED, scorecard
from harness.demo_api.process import RunningTarget
from harness.scenario.accounts import Account, Credentials
from tests.audit.helpers import SCENARIO, WITHOUT_SIGN_UP, audit_context, quick_demo


@pytest.fixture(scope="module")
def vulnerable() -> Iterator[RunningTarget]:
    with quick_demo("vulnerable") as target:
        yield target


@pytest.fixture(scope="module")
def hardened() -> Iterator[RunningTarget]:
    with quick_demo("hardened") as target:
        yield target


def owner_conversation(ctx: AuditContext) -> str:
    """The owner's conversation as the owner reads it (the check writes into their first one)."""
    owner = next(a for a in ctx.accounts("client") if a.tenant)
    with ctx.client() as client:
        listed = ctx.call(client, "conversations", token=ctx.token(owner)).json()
        return ctx.call(client, "conversation", {"conversation_id": listed[0]["id"]}, token=ctx.token(owner)).text


@pytest.mark.e2e
def test_vulnerable_cross_tenant_reads_are_found_and_writes_need_the_opt_in(vulnerable: RunningTarget) -> None:
    ctx = audit_context(vulnerable, WITHOUT_SIGN_UP)
    reads, writes = tenancy.run(ctx)
    assert reads.row == "tenant_isolation" and reads.status == FAIL
    assert len(reads.findings) == 2  # flaw 10, as B's client and as B's coach
    assert all(f.startswith("conversation: 200") and "conversation_id in the path" in f for f in reads.findings)
    assert all("the same object its owner reads" in f for f in reads.findings)  # by content, not by the 200
    # the owner's conversation predates the audit: no canary, no intruder's turn written into it
    assert writes.status == UNTESTED and "--allow-destructive" in writes.fix
    assert "chat: not sent: POST would write to an object the audit did not create" in writes.note
    assert "audit-canary-" not in owner_conversation(ctx)
    assert scorecard([reads, writes])["rows"]["tenant_isolation"]["status"] == FAIL


@pytest.mark.e2e
def test_with_the_opt_in_a_write_counts_only_when_the_owner_reads_it_back(vulnerable: RunningTarget) -> None:
    ctx = audit_context(vulnerable, WITHOUT_SIGN_UP, destructive=True)
    reads, writes = tenancy.run(ctx)
    assert all("the owner's canary in the answer" in f for f in reads.findings)  # the canary could be planted
    assert writes.status == FAIL and len(writes.findings) == 2  # flaw 11: B's client's and coach's turns
    assert all(f.startswith("chat: text a ") and "landed in that tenant's object" in f for f in writes.findings)
    # only where the target takes the ID: the query string and a second ID in the body change nothing here
    assert not any("query string" in f or "(its own in the path)" in f for f in reads.findings + writes.findings)
    assert ctx.destructive_requests and all(r == "POST /api/chat" for r in ctx.destructive_requests)
    text = owner_conversation(ctx)
    assert "audit-canary-" in text and text.count("-w") >= 2
    secrets = [*ctx.credentials.secrets(), *(t for t in ctx._tokens.values() if t)]
    assert not any(s in json.dumps(reads.to_dict()) + json.dumps(writes.to_dict()) for s in secrets)


@pytest.mark.e2e
def test_hardened_isolates_tenants(hardened: RunningTarget) -> None:
    ctx = audit_context(hardened, WITHOUT_SIGN_UP, destructive=True)
    reads, writes = tenancy.run(ctx)
    assert reads.status == PASS and writes.status == PASS, (reads.findings, writes.findings)
    assert not reads.note  # the canary was written and read back: reads are judged by content too
    assert any("/api/conversations/" in e and "-> 404" in e and "in the path" in e for e in reads.evidence)
    assert any("POST /api/chat -> 404" in e and "in the JSON body" in e for e in reads.evidence)
    assert any("POST /api/chat?conversation_id=" in e for e in reads.evidence)
    text = owner_conversation(ctx)
    assert "-owner" in text and "-w0" not in text and "-w1" not in text


@pytest.mark.e2e
def test_default_id_routes_take_ids_in_the_path_or_the_body(hardened: RunningTarget) -> None:
    ctx = audit_context(hardened, id_routes=())  # the default: every route with an id
    assert tenancy.id_routes(ctx) == ["conversation", "chat"]  # reads before writes
    ctx = audit_context(hardened, id_routes=("chat", "conversation"))
    assert tenancy.id_routes(ctx) == ["conversation", "chat"]


@pytest.mark.e2e
def test_one_tenant_or_no_id_route_is_not_measurable(hardened: RunningTarget) -> None:
    one_tenant = Credentials(
        [
            Account("a@x.example", "pw-1234567890", "client", "t1"),
            Account("b@x.example", "pw-1234567890", "coach", "t1"),
        ]
    )
    (result,) = tenancy.run(AuditContext(hardened.url, WITHOUT_SIGN_UP, one_tenant, AuditSettings()))
    assert result.status == UNTESTED and "two tenants" in result.note
    no_ids = replace(
        SCENARIO, endpoints={k: v for k, v in WITHOUT_SIGN_UP.endpoints.items() if k not in ("conversation", "chat")}
    )
    (result,) = tenancy.run(AuditContext(hardened.url, no_ids, one_tenant, AuditSettings()))
    assert result.status == UNTESTED and "takes an object ID" in result.note


def test_an_unreachable_target_is_not_measurable() -> None:
    creds = Credentials(
        [
            Account("a@x.example", "pw-1234567890", "client", "t1"),
            Account("b@y.example", "pw-1234567890", "client", "t2"),
        ]
    )

    class Down(AuditContext):
        def client(self, **kwargs):  # type: ignore[no-untyped-def]
            def refuse(request: httpx.Request) -> httpx.Response:
                raise httpx.ConnectError("refused")

            return super().client(transport=httpx.MockTransport(refuse), **kwargs)

    (result,) = tenancy.run(Down("http://down.test", WITHOUT_SIGN_UP, creds, AuditSettings()))
    assert result.status == UNTESTED and "could not log in" in result.note


# --- the audit's own accounts (the shipped map's sign-up route) ------------------------------------------


def own_conversation(ctx: AuditContext) -> str:
    """The conversation the audit's owner made, as the owner reads it."""
    assert ctx.signup is not None
    owner = ctx.signup.accounts[0]
    with ctx.client() as client:
        [listed] = ctx.call(client, "conversations", token=ctx.token(owner)).json()
        return ctx.call(client, "conversation", {"conversation_id": listed["id"]}, token=ctx.token(owner)).text


@pytest.mark.e2e
def test_with_its_own_accounts_the_vulnerable_cross_tenant_write_is_found_without_the_opt_in(
    vulnerable: RunningTarget,
) -> None:
    """Flaw 11, safe by default: the intruder's turn lands in a conversation the audit's owner made."""
    ctx = audit_context(vulnerable)
    reads, writes = tenancy.run(ctx)
    assert ctx.signup is not None and [a.tenant for a in ctx.signup.accounts] == ["audit-owner", "audit-intruder"]
    assert [a.purpose for a in ctx.accounts_created] == [
        "the audit's owner, for the checks that write data",
        "the audit's intruder, for the checks that write data",
    ]
    assert writes.status == FAIL and writes.findings == [
        "chat: text a client of tenant audit-intruder sent with tenant audit-owner's conversation_id in the JSON body "
        "landed in that tenant's object (read back by its owner)"
    ]
    assert reads.status == FAIL and len(reads.findings) == 1  # flaw 10: a sign-up makes clients, no coach
    assert "conversation_id in the path" in reads.findings[0] and "the owner's canary" in reads.findings[0]
    assert ctx.destructive_requests == [] and not ctx.settings.destructive
    text = own_conversation(ctx)
    assert "-owner" in text and "-w0" in text  # the canary, and the intruder's first write
    made = {a.email for a in ctx.accounts_created}
    assert "signed up through register" in writes.note and all(e in writes.note for e in made)
    passwords = [a.password for a in ctx.signup.accounts]
    assert not any(p in json.dumps(reads.to_dict()) + json.dumps(writes.to_dict()) for p in passwords)


@pytest.mark.e2e
def test_with_its_own_accounts_hardened_isolates_tenants_reads_and_writes(hardened: RunningTarget) -> None:
    ctx = audit_context(hardened)
    reads, writes = tenancy.run(ctx)
    assert reads.status == PASS and writes.status == PASS, (reads.findings, writes.findings, writes.note)
    assert any(
        "POST /api/chat -> 404" in e and "audit-owner's conversation_id in the JSON body" in e for e in reads.evidence
    )
    text = own_conversation(ctx)
    assert "-owner" in text and "-w0" not in text and "-w1" not in text
    assert len(ctx.accounts_created) == 2 and ctx.destructive_requests == []


@pytest.mark.e2e
def test_own_accounts_with_no_route_that_creates_an_object_fall_back_to_the_scenarios(hardened: RunningTarget) -> None:
    """A sign-up but no create route: the new accounts own nothing to replay, so reads are judged on the
    scenario's accounts as before, and the note says why."""
    no_create = replace(SCENARIO, endpoints={k: v for k, v in SCENARIO.endpoints.items() if v.kind != "write"})
    ctx = audit_context(hardened, no_create)
    reads, writes = tenancy.run(ctx)
    assert reads.status == PASS and writes.status == UNTESTED
    assert "the accounts the audit signed up own no object to replay" in reads.note
    assert "no route creates them" in reads.note and "the scenario's accounts were used" in writes.note
    assert any("as client of tenant" in e and "audit-" not in e for e in reads.evidence)
