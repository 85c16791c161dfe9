"""The `cors` row: foreign, null and look-alike origins against the demo API (flaw 12 in vulnerable, an
allow-list in hardened) and against mock servers with the other classic mistakes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from harness.audit import cors
from harness.audit.context import AuditContext, AuditSettings
from harness.audit.model import FAIL, PASS, UNTESTED
from harness.demo_api.process import RunningTarget
from harness.scenario.accounts import Credentials
from tests.audit.helpers import SCENARIO, audit_context, quick_demo

APP = "https://app.example"


@pytest.fixture(scope="module")
def vulnerable() -> Iterator[RunningTarget]:
    with quick_demo("vulnerable") as target:
        yield target


@pytest.fixture(scope="module")
def hardened() -> Iterator[RunningTarget]:
    with quick_demo("hardened", cors_origins=[APP]) as target:
        yield target


class MockContext(AuditContext):
    """An AuditContext whose client talks to an in-process handler instead of a server."""

    handler: Callable[[httpx.Request], httpx.Response]

    def client(self, **kwargs: Any) -> httpx.Client:
        return super().client(transport=httpx.MockTransport(self.handler), **kwargs)


def mock(handler: Callable[[httpx.Request], httpx.Response], origins: tuple[str, ...] = ()) -> MockContext:
    ctx = MockContext("http://api.example", SCENARIO, Credentials(), AuditSettings(origins=origins))
    ctx.handler = handler
    return ctx


def test_look_alikes_come_from_the_targets_own_origin_and_every_allowed_one():
    values = [o.value for o in cors.probe_origins("http://127.0.0.1:8000/", [APP])]
    assert values[:2] == ["https://evil.example", "null"]
    assert {
        "http://127.0.0.1.evil.example",
        "http://evil127.0.0.1",
        "https://127.0.0.1:8000",
        "http://127.0.0.1:8001",
    } <= set(values)
    assert {
        "https://app.example.evil.example",
        "https://evilapp.example",
        "http://app.example",
        "https://app.example:444",
    } <= set(values)
    assert APP not in values and "http://127.0.0.1:8000" not in values  # trusted origins are never "untrusted"
    why = {o.value: o.why for o in cors.probe_origins("http://127.0.0.1:8000", [APP])}
    assert why["https://evilapp.example"] == "a look-alike of https://app.example with a prefix"


@pytest.mark.e2e
def test_flaw_12_any_origin_is_reflected_with_credentials(vulnerable: RunningTarget):
    ctx = audit_context(vulnerable)
    [result] = cors.run(ctx)
    assert result.row == "cors" and result.status == FAIL
    foreign = next(f for f in result.findings if f.startswith("Origin https://evil.example "))
    assert "WITH credentials" in foreign and "/api/me" in foreign and "preflight" in foreign
    assert any(f.startswith("Origin null ") for f in result.findings)
    assert any("with a suffix" in f for f in result.findings)
    assert (
        "OPTIONS /api/me Origin: https://evil.example -> 200, ACAO: https://evil.example, ACAC: true" in result.evidence
    )
    assert "methods the API map never uses: DELETE, PATCH, PUT" in result.note  # allow_methods=["*"]: a note
    text = json.dumps(result.to_dict())
    for secret in [*ctx.credentials.secrets(), *(t for t in ctx._tokens.values() if t)]:
        assert secret not in text


@pytest.mark.e2e
def test_hardened_allows_its_allow_list_and_no_look_alike(hardened: RunningTarget):
    [result] = cors.run(audit_context(hardened, origins=(APP,)))
    assert result.status == PASS and result.findings == [] and result.note == ""
    assert f"OPTIONS /api/me Origin: {APP} (allowed) -> 200, ACAO: {APP}" in result.evidence  # the control
    tried = result.evidence[0]
    assert tried.startswith("tried 10 untrusted origins on /health, /api/me")
    assert "https://app.example.evil.example" in tried and "https://evilapp.example" in tried
    assert "OPTIONS /health Origin: https://evil.example -> 400, ACAO: (none)" in result.evidence


@pytest.mark.e2e
def test_preflights_and_static_files_leave_the_demo_counters_alone(hardened: RunningTarget):
    with httpx.Client(base_url=hardened.url, timeout=10) as client:
        client.post("/__demo__/stats/reset")
        preflight = client.options(
            "/api/chat",
            headers={
                "Origin": APP,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == APP
        assert "access-control-allow-credentials" not in preflight.headers  # bearer tokens: no cookies needed
        for path in ("/", "/static/app.js", "/static/app.js.map"):
            assert client.get(path).status_code == 200
        stats = client.get("/__demo__/stats").json()
    assert stats["requests"] == {} and stats["blocked"] == {}


def allow_list(match: Callable[[str], bool], credentials: bool = True, wildcard: bool = False):
    def handler(request: httpx.Request) -> httpx.Response:
        origin = request.headers.get("origin", "")
        headers = {}
        if wildcard:
            headers["access-control-allow-origin"] = "*"
        elif match(origin):
            headers["access-control-allow-origin"] = origin
        if credentials:
            headers["access-control-allow-credentials"] = "true"
        return httpx.Response(200 if request.method == "OPTIONS" else 401, headers=headers, json={})

    return handler


def test_an_allow_list_matched_with_endswith_lets_a_look_alike_in():
    [result] = cors.run(mock(allow_list(lambda o: o.endswith("app.example")), origins=(APP,)))
    assert result.status == FAIL
    assert [f.split(" (")[0] for f in result.findings] == [
        "Origin https://evilapp.example",
        "Origin http://app.example",
    ]
    assert "a look-alike of https://app.example with a prefix" in result.findings[0]


def test_wildcards():
    [result] = cors.run(mock(allow_list(lambda o: False, wildcard=True)))
    assert result.status == FAIL
    assert any(
        "Access-Control-Allow-Origin: * together with Access-Control-Allow-Credentials: true" in f
        for f in result.findings
    )
    [public] = cors.run(mock(allow_list(lambda o: False, credentials=False, wildcard=True)))
    assert public.status == PASS and "allows every origin (Access-Control-Allow-Origin: *)" in public.note


def test_an_unreachable_target_is_not_measurable():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    [result] = cors.run(mock(refuse))
    assert result.status == UNTESTED and "answered none" in result.note
