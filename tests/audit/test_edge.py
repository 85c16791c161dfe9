"""The edge checks (CDN/WAF, compression, static caching, no-store on authenticated answers) against local
sites on 127.0.0.1 and the demo API's two profiles; and hardened's SSE stays uncompressed and streamed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from harness.audit import edge
from harness.audit.context import AuditContext, AuditSettings
from harness.audit.model import FAIL, PASS, UNTESTED
from harness.scenario import load_scenario
from harness.scenario.accounts import Account, Credentials
from tests.audit.fake_site import FakeSite, Page
from tests.audit.helpers import audit_context, quick_demo
from tests.helpers import REPO

TOKEN = "tok-SECRET-edge-0123456789"
BIG_JSON = json.dumps([{"id": i, "title": "a conversation about onboarding"} for i in range(60)]).encode()
LOGIN = Page(200, {"content-type": "application/json"}, json.dumps({"access_token": TOKEN}).encode())


@pytest.fixture(scope="module")
def demos() -> Iterator[dict[str, object]]:
    with quick_demo("hardened") as hardened, quick_demo("vulnerable") as vulnerable:
        yield {"hardened": hardened, "vulnerable": vulnerable}


@pytest.fixture(scope="module")
def abuse_scenario():
    return load_scenario(REPO / "scenarios/abuse.toml")


def _site_ctx(scenario, url: str, **settings) -> AuditContext:
    credentials = Credentials([Account("coach@example.test", "pw-SECRET-123456", "coach", "t1")])
    return AuditContext(url, scenario, credentials, AuditSettings(**settings), timeout_s=3.0)


def _by_check(results):
    assert {r.row for r in results} == {"cache_cdn_ssl"}
    return {r.check: r for r in results}


@pytest.mark.e2e
def test_hardened_demo_compresses_and_keeps_api_answers_out_of_caches(demos) -> None:
    checks = _by_check(edge.run(audit_context(demos["hardened"])))
    assert checks["compression"].status == PASS, checks["compression"]
    assert any("Content-Encoding: gzip" in e for e in checks["compression"].evidence)
    assert checks["static asset caching"].status == PASS
    assert checks["authenticated API caching"].status == PASS and not checks["authenticated API caching"].note
    assert all("no-store" in e for e in checks["authenticated API caching"].evidence)
    cdn = checks["CDN/WAF in front"]
    assert cdn.status == UNTESTED and "loopback" in cdn.note


@pytest.mark.e2e
def test_vulnerable_demo_sends_json_uncompressed(demos) -> None:
    checks = _by_check(edge.run(audit_context(demos["vulnerable"])))
    compression = checks["compression"]
    assert compression.status == FAIL and any("sent uncompressed" in f for f in compression.findings)
    api = checks["authenticated API caching"]
    assert api.status == PASS and "no-store" in api.note  # no Cache-Control at all: a note, not a leak


@pytest.mark.e2e
def test_hardened_sse_is_neither_compressed_nor_buffered(demos) -> None:
    target = demos["hardened"]
    ctx = audit_context(target)
    token = ctx.token(ctx.account("client"))
    body = {
        "model": "coachpilot-1",
        "stream": True,
        "max_tokens": 30,
        "messages": [{"role": "user", "content": "Give me three onboarding tips."}],
    }
    headers = {**ctx.auth_headers(token), "accept-encoding": "gzip, br"}
    with httpx.Client(base_url=target.url, timeout=10) as client:
        with client.stream("POST", "/api/chat", json=body, headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert "content-encoding" not in response.headers
            chunks = [chunk for chunk in response.iter_raw()]
    assert len(chunks) > 3  # tokens arrive as they are made, not in one buffered piece
    assert b"data: [DONE]" in b"".join(chunks)


def test_cdn_headers_are_evidence(abuse_scenario) -> None:
    site = FakeSite(
        default=Page(
            200, {"cf-ray": "8a1b2c3d4e5f-AMS", "server": "cloudflare", "content-type": "text/html"}, b"<p>hi</p>"
        )
    )
    try:
        cdn = _by_check(edge.run(_site_ctx(abuse_scenario, site.url)))["CDN/WAF in front"]
    finally:
        site.close()
    assert cdn.status == PASS and any("Cloudflare (cf-ray: 8a1b2c3d4e5f-AMS)" in e for e in cdn.evidence)


def test_no_cdn_on_a_public_target_is_a_finding(abuse_scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge, "is_loopback", lambda host: False)  # as if this server were the public one
    site = FakeSite(default=Page(200, {"server": "nginx", "content-type": "text/html"}, b"<p>hi</p>"))
    try:
        cdn = _by_check(edge.run(_site_ctx(abuse_scenario, site.url)))["CDN/WAF in front"]
    finally:
        site.close()
    assert cdn.status == FAIL and "no CDN/WAF detected" in cdn.findings[0] and "nginx" in cdn.evidence[0]


def test_uncacheable_assets_and_cacheable_private_answers_fail(abuse_scenario) -> None:
    js = {"content-type": "application/javascript"}
    site = FakeSite(
        {
            "GET /": Page(200, {"content-type": "text/html"}, b"<p>shell</p>"),
            "GET /app.js": Page(200, js, b"console.log(1)"),
            "GET /app.css": Page(200, {"content-type": "text/css", "cache-control": "no-store"}, b"p{}"),
            "GET /logo.svg": Page(200, {"content-type": "image/svg+xml", "etag": '"v1"'}, b"<svg/>"),
            "POST /api/auth/login": LOGIN,
            "GET /api/me": Page(
                200, {"content-type": "application/json", "cache-control": "public, max-age=600"}, b"{}"
            ),
            "GET /api/conversations": Page(
                200,
                {"content-type": "application/json", "content-encoding": "br", "cache-control": "private, max-age=60"},
                b"\x8b\x00fake-br",
            ),
        }
    )
    try:
        checks = _by_check(
            edge.run(_site_ctx(abuse_scenario, site.url, static_paths=("/", "/app.js", "/app.css", "/logo.svg")))
        )
    finally:
        site.close()
    static = checks["static asset caching"]
    text = " | ".join(static.findings)
    assert (
        static.status == FAIL
        and "GET /app.js: no Cache-Control" in text
        and "GET /app.css: Cache-Control no-store" in text
    )
    assert "/logo.svg" not in text and "GET / " not in text  # an ETag is enough; pages are not judged
    assert any("If-None-Match -> 200 (ETag not honoured" in e for e in static.evidence)
    api = checks["authenticated API caching"]
    assert api.status == FAIL and len(api.findings) == 1 and "GET /api/me as coach" in api.findings[0]
    assert checks["compression"].status == PASS  # the one big text answer came with Content-Encoding: br
    assert TOKEN not in json.dumps([r.to_dict() for r in checks.values()])


def test_big_uncompressed_json_fails_and_nothing_to_judge_is_not_measurable(abuse_scenario) -> None:
    site = FakeSite(
        {
            "POST /api/auth/login": LOGIN,
            "GET /api/conversations": Page(200, {"content-type": "application/json"}, BIG_JSON),
        }
    )
    try:
        checks = _by_check(edge.run(_site_ctx(abuse_scenario, site.url, static_paths=("/missing.js",))))
    finally:
        site.close()
    assert checks["compression"].status == FAIL
    assert f"{len(BIG_JSON)} bytes" in checks["compression"].findings[0]
    assert checks["static asset caching"].status == UNTESTED


def test_unreachable_target_is_not_measurable(abuse_scenario) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    checks = _by_check(edge.run(_site_ctx(abuse_scenario, f"http://127.0.0.1:{port}")))
    assert all(r.status == UNTESTED for r in checks.values()), checks


def test_cache_directives() -> None:
    assert edge.cache_directives('public, max-age=3600, immutable, s-maxage="60"') == {
        "public": "",
        "max-age": "3600",
        "immutable": "",
        "s-maxage": "60",
    }
    assert edge.detect_cdn(httpx.Headers({"x-served-by": "cache-ams21030-AMS"})) == [
        "Fastly (x-served-by: cache-ams21030-AMS)"
    ]
    assert edge.detect_cdn(httpx.Headers({"server": "uvicorn"})) == []
