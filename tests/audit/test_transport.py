"""The transport checks (HTTPS redirect, TLS versions, HSTS, security headers, cookie flags) against local
sites on 127.0.0.1 with certificates made at test time, and the demo API's two profiles."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.audit import transport
from harness.audit.context import AuditContext, AuditSettings
from harness.audit.model import FAIL, PASS, UNTESTED
from harness.scenario import load_scenario
from harness.scenario.accounts import Account, Credentials
from tests.audit.fake_site import FakeSite, Page, make_cert, tls_context
from tests.audit.helpers import audit_context, quick_demo
from tests.helpers import REPO

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)

PASSWORD = "correct-horse-battery-9"
TOKEN = "tok-SECRET-abcdef123456"
COOKIE_VALUE = "sess-SECRET-0123456789"
CSP = "default-src 'self'; frame-ancestors 'none'"
GOOD_HEADERS = {
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": CSP,
    "referrer-policy": "strict-origin-when-cross-origin",
    "content-type": "text/html; charset=utf-8",
}
HTML = b"<!doctype html><title>site</title>"


def _login(cookie: str) -> Page:
    cookies = [f"session={COOKIE_VALUE}; Path=/{cookie}", f"theme=dark; Path=/{cookie}"]
    return Page(
        200,
        {"content-type": "application/json", "x-content-type-options": "nosniff", "set-cookie": cookies},
        json.dumps({"access_token": TOKEN}).encode(),
    )


def _redirect_to(origin: str, status: int = 301, keep_path: bool = True):
    return lambda path: Page(status, {"location": f"{origin}{path if keep_path else '/'}"}, b"")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("certs")
    return {
        "trusted": make_cert(folder, "trusted"),
        "untrusted": make_cert(folder, "untrusted"),
        "expiring": make_cert(folder, "expiring", days=2),
    }


@pytest.fixture(autouse=True)
def trust(certs, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test CA is what the checks' default context trusts (as a private staging CA would be)."""
    bundle = certs["trusted"][0].with_name("bundle.pem")
    if not bundle.exists():
        bundle.write_bytes(certs["trusted"][0].read_bytes() + certs["expiring"][0].read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))


@pytest.fixture(scope="module")
def good(certs) -> Iterator[dict[str, FakeSite]]:
    https = FakeSite(
        {"POST /api/auth/login": _login("; Secure; HttpOnly; SameSite=Lax")},
        default=Page(200, GOOD_HEADERS, HTML),
        tls=tls_context(*certs["trusted"]),
    )
    http = FakeSite(default=_redirect_to(https.url))
    yield {"http": http, "https": https}
    http.close(), https.close()


@pytest.fixture(scope="module")
def bad(certs) -> Iterator[dict[str, FakeSite]]:
    https = FakeSite(
        {"POST /api/auth/login": _login("")},
        default=Page(200, {"content-type": "text/html"}, HTML),
        tls=tls_context(*certs["untrusted"], minimum=ssl.TLSVersion.TLSv1),
    )
    http = FakeSite(default=Page(200, {"content-type": "text/html"}, HTML))
    yield {"http": http, "https": https}
    http.close(), https.close()


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(REPO / "scenarios/abuse.toml")


def _ctx(scenario, base_url: str, **settings) -> AuditContext:
    credentials = Credentials([Account("coach@example.test", PASSWORD, "coach", "t1")])
    return AuditContext(base_url, scenario, credentials, AuditSettings(**settings), timeout_s=3.0)


def _by_check(results):
    assert {r.row for r in results} == {"cache_cdn_ssl"}
    return {r.check: r for r in results}


def _no_secrets(results) -> None:
    text = json.dumps([r.to_dict() for r in results])
    for secret in (PASSWORD, TOKEN, COOKIE_VALUE):
        assert secret not in text


def test_good_https_site_passes_every_transport_check(scenario, good) -> None:
    results = transport.run(_ctx(scenario, good["http"].url, https_url=good["https"].url))
    checks = _by_check(results)
    assert {name: r.status for name, r in checks.items()} == {
        "HTTPS redirect": PASS,
        "TLS": PASS,
        "HSTS": PASS,
        "security headers": PASS,
        "cookie flags": PASS,
    }, checks
    tls = checks["TLS"]
    assert "TLSv1.3" in tls.evidence[0] and "certificate trusted" in tls.evidence[0]
    assert "TLSv1.3 alone: accepted" in tls.evidence and not tls.note
    old = [e for e in tls.evidence if e.startswith(("TLSv1.0", "TLSv1.1"))]
    assert old and all("refused" in e or "not checked" in e for e in old)
    assert any("Location: https://127.0.0.1" in e for e in checks["HTTPS redirect"].evidence)
    assert any("session=… (secure, httponly, SameSite=Lax)" in e for e in checks["cookie flags"].evidence)
    assert not checks["HSTS"].note  # includeSubDomains is there
    _no_secrets(results)


def test_bad_https_site_fails_tls_hsts_redirect_headers_and_cookies(scenario, bad) -> None:
    results = transport.run(_ctx(scenario, bad["http"].url, https_url=bad["https"].url))
    checks = _by_check(results)
    assert all(r.status == FAIL for r in checks.values()), checks
    assert any("without redirecting to https://" in f for f in checks["HTTPS redirect"].findings)
    tls = checks["TLS"]
    assert any("not trusted" in f for f in tls.findings)
    for version in ("TLSv1.0", "TLSv1.1"):
        if f"cannot offer {version}" in tls.note:  # an OpenSSL built without it: said, never passed silently
            assert f"{version} alone: not checked" in " ".join(tls.evidence)
        else:
            assert any(f"accepts {version}" in f for f in tls.findings), tls
    assert "no Strict-Transport-Security" in checks["HSTS"].findings[0]
    headers = " | ".join(checks["security headers"].findings)
    assert "nosniff" in headers and "Content-Security-Policy" in headers and "Referrer-Policy" in headers
    cookies = " | ".join(checks["cookie flags"].findings)
    assert (
        "session (from POST /api/auth/login) is not Secure" in cookies
        and "not HttpOnly" in cookies
        and "no SameSite" in cookies
    )
    _no_secrets(results)


def test_temporary_redirect_that_drops_the_path_is_a_finding(scenario, good) -> None:
    http = FakeSite(default=_redirect_to(good["https"].url, status=302, keep_path=False))
    try:
        redirect = _by_check(transport.run(_ctx(scenario, http.url, https_url=good["https"].url)))["HTTPS redirect"]
    finally:
        http.close()
    text = " | ".join(redirect.findings)
    assert redirect.status == FAIL and "302, not a permanent redirect" in text and "path or query is lost" in text


def test_short_hsts_is_a_finding(scenario, certs) -> None:
    https = FakeSite(
        default=Page(200, {**GOOD_HEADERS, "strict-transport-security": "max-age=86400"}, HTML),
        tls=tls_context(*certs["trusted"]),
    )
    try:
        checks = _by_check(transport.run(_ctx(scenario, https.url)))  # an https:// target is its own HTTPS URL
    finally:
        https.close()
    assert checks["HSTS"].status == FAIL and "max-age=86400 is under 180 days" in checks["HSTS"].findings[0]
    assert "includeSubDomains" in checks["HSTS"].note
    assert checks["HTTPS redirect"].status == FAIL  # nothing listens on http://127.0.0.1:80 here


def test_certificate_about_to_expire_is_a_finding(scenario, certs) -> None:
    https = FakeSite(default=Page(200, GOOD_HEADERS, HTML), tls=tls_context(*certs["expiring"]))
    try:
        tls = _by_check(transport.run(_ctx(scenario, https.url)))["TLS"]
    finally:
        https.close()
    assert tls.status == FAIL and "expires in 2 days" in tls.findings[0], tls


def test_versions_this_openssl_cannot_offer_are_not_checked(scenario, good, monkeypatch) -> None:
    """An OpenSSL that refuses to offer TLS 1.0/1.1 (as many builds do) must say so, not report a refusal."""
    real = transport._unverified_context

    def strict(version=None):
        context = real(version)
        if version is not None and version < ssl.TLSVersion.TLSv1_2:
            context.minimum_version = ssl.TLSVersion.TLSv1_2  # as a build without them: nothing left to offer
        return context

    monkeypatch.setattr(transport, "_unverified_context", strict)
    tls = _by_check(transport.run(_ctx(scenario, good["http"].url, https_url=good["https"].url)))["TLS"]
    assert tls.status == PASS
    assert "cannot offer TLSv1.1" in tls.note and "cannot offer TLSv1.0" in tls.note
    assert "TLSv1.0 alone: not checked (OpenSSL here cannot offer it)" in tls.evidence


def test_server_speaking_only_tls_1_0(scenario, certs) -> None:
    old = ssl.TLSVersion.TLSv1
    https = FakeSite(
        default=Page(200, GOOD_HEADERS, HTML), tls=tls_context(*certs["trusted"], minimum=old, maximum=old)
    )
    try:
        checks = _by_check(transport.run(_ctx(scenario, https.url)))
    finally:
        https.close()
    tls = checks["TLS"]
    if "cannot offer TLSv1.0" in tls.note:
        pytest.skip("this machine's OpenSSL cannot offer TLS 1.0 at all")
    text = " | ".join(tls.findings)
    assert tls.status == FAIL and "as a modern client" in text and "accepts TLSv1.0" in text
    assert "accepts neither TLS 1.2 nor 1.3" in text
    assert checks["HSTS"].status == UNTESTED  # a modern client cannot fetch it


def test_loopback_plain_http_is_not_measurable(scenario, bad) -> None:
    before = len(bad["https"].requests)
    checks = _by_check(transport.run(_ctx(scenario, bad["http"].url)))
    assert checks["HTTPS"].status == UNTESTED and checks["HTTPS"].note == transport.LOOPBACK_NOTE
    assert "TLS" not in checks and "HSTS" not in checks and len(bad["https"].requests) == before
    assert checks["security headers"].status == FAIL  # the headers are still read on the target itself


def test_public_plain_http_without_redirect_is_no_https(scenario, bad, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "is_loopback", lambda host: False)  # as if the same server were public
    checks = _by_check(transport.run(_ctx(scenario, bad["http"].url)))
    assert checks["HTTPS"].status == FAIL and checks["HTTPS"].findings[0].startswith("no HTTPS")
    assert checks["HTTPS redirect"].status == FAIL


def test_public_plain_http_redirecting_to_https_finds_the_tls(scenario, good, monkeypatch) -> None:
    monkeypatch.setattr(transport, "is_loopback", lambda host: False)
    checks = _by_check(transport.run(_ctx(scenario, good["http"].url)))  # no https_url: taken from the redirect
    assert checks["HTTPS redirect"].status == PASS and checks["TLS"].status == PASS and checks["HSTS"].status == PASS


def test_https_that_does_not_answer(scenario, bad) -> None:
    import socket

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    checks = _by_check(transport.run(_ctx(scenario, bad["http"].url, https_url=f"https://127.0.0.1:{port}")))
    assert checks["TLS"].status == FAIL and "no TLS handshake" in checks["TLS"].findings[0]
    assert checks["HSTS"].status == UNTESTED


@pytest.fixture(scope="module")
def demos() -> Iterator[dict[str, object]]:
    with quick_demo("hardened") as hardened, quick_demo("vulnerable") as vulnerable:
        yield {"hardened": hardened, "vulnerable": vulnerable}


@pytest.mark.parametrize("profile", ["hardened", "vulnerable"])
def test_demo_security_headers(demos, profile: str) -> None:
    checks = _by_check(transport.run(audit_context(demos[profile])))
    assert checks["HTTPS"].status == UNTESTED  # plain HTTP on loopback
    assert checks["cookie flags"].status == PASS  # bearer tokens, no cookies
    headers = checks["security headers"]
    if profile == "hardened":
        assert headers.status == PASS, headers
    else:
        assert headers.status == FAIL and any("Content-Security-Policy missing on GET /" in f for f in headers.findings)


def test_parsers() -> None:
    assert transport.parse_hsts("max-age=31536000; includeSubDomains; preload") == (31536000, True, True)
    assert transport.parse_hsts('max-age="abc"') == (None, False, False)
    assert transport.parse_cookie("sid=xyz; Path=/; Secure; HttpOnly; SameSite=Strict") == (
        "sid",
        {"path": "/", "secure": "", "httponly": "", "samesite": "Strict"},
    )
    assert transport.is_loopback("127.0.0.5") and transport.is_loopback("[::1]") and transport.is_loopback("localhost")
    assert not transport.is_loopback("example.com") and not transport.is_loopback("10.0.0.1")
