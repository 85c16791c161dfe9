"""The `tenant_isolation` row: tenant A's conversation IDs replayed as tenant B's client and coach, in
the path, the query string and the JSON body, reads and writes. Against the demo API's two profiles
(flaws 10 and 11 are found, each naming its route and how the ID was sent) and a few targets that
cannot be measured."""

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
from tests.audit.helpers import SCENARIO, audit_context, quick_demo


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
def test_vulnerable_cross_tenant_read_and_write_are_found(vulnerable: RunningTarget) -> None:
    ctx = audit_context(vulnerable)
    (result,) = tenancy.run(ctx)
    assert result.row == "tenant_isolation" and result.status == FAIL
    reads = [f for f in result.findings if f.startswith("conversation: 200")]  # flaw 10
    assert len(reads) == 2  # as B's client and as B's coach
    assert all("conversation_id in the path" in f and "it read another tenant's object" in f for f in reads)
    assert all("the owner's canary in the answer" in f for f in reads)
    writes = [f for f in result.findings if f.startswith("chat: 200")]  # flaw 11
    assert len(writes) == 2 and all(
        "conversation_id in the JSON body" in f and "accepted a write to" in f for f in writes
    )
    landed = [f for f in result.findings if "landed in that tenant's object" in f]
    assert len(landed) == 2 and all(f.startswith("chat: text a ") and "JSON body" in f for f in landed)
    # only where the target takes the ID: the query string and a second ID in the body change nothing here
    assert not any("query string" in f or "(its own in the path)" in f for f in result.findings)
    assert scorecard([result])["rows"]["tenant_isolation"]["status"] == FAIL
    # what the owner reads back: the intruders' turns, next to the owner's own canary
    text = owner_conversation(ctx)
    assert "audit-canary-" in text and text.count("-w") >= 2
    secrets = [*ctx.credentials.secrets(), *(t for t in ctx._tokens.values() if t)]
    assert not any(s in json.dumps(result.to_dict()) for s in secrets)


@pytest.mark.e2e
def test_hardened_isolates_tenants(hardened: RunningTarget) -> None:
    ctx = audit_context(hardened)
    (result,) = tenancy.run(ctx)
    assert result.status == PASS, result.findings
    assert not result.note  # the canary was written and read back: reads are judged by content too
    assert any("/api/conversations/" in e and "-> 404" in e and "in the path" in e for e in result.evidence)
    assert any("POST /api/chat -> 404" in e and "in the JSON body" in e for e in result.evidence)
    assert any("POST /api/chat?conversation_id=" in e for e in result.evidence)
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
    (result,) = tenancy.run(AuditContext(hardened.url, SCENARIO, one_tenant, AuditSettings()))
    assert result.status == UNTESTED and "two tenants" in result.note
    no_ids = replace(
        SCENARIO, endpoints={k: v for k, v in SCENARIO.endpoints.items() if k not in ("conversation", "chat")}
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

    (result,) = tenancy.run(Down("http://down.test", SCENARIO, creds, AuditSettings()))
    assert result.status == UNTESTED and "could not log in" in result.note
