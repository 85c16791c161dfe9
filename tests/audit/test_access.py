"""The `auth` row: forged, revoked and expired tokens on every closed route, and admin routes as
anonymous callers and normal roles with client-sent role headers. Against the demo API's two profiles
(flaw 7 is found and its header named), against fake targets for the failures the demo does not plant,
and the token-forging helpers alone."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest

from harness.audit import access
from harness.audit.context import AuditContext, AuditSettings, parse_audit_settings
from harness.audit.forge import encode_jwt, escalate, forgeries, parse_jwt
from harness.audit.model import FAIL, PASS, UNTESTED, CheckResult, scorecard
from harness.audit.routes import Sender, id_placeholders, list_route, placeholders
from harness.demo_api import auth as demo_auth
from harness.demo_api.process import RunningTarget
from harness.scenario import ScenarioError, parse_scenario
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


def by_check(results: list[CheckResult]) -> dict[str, CheckResult]:
    assert all(r.row == "auth" for r in results)
    return {r.check: r for r in results}


def assert_no_secrets(ctx: AuditContext, results: list[CheckResult]) -> None:
    text = json.dumps([r.to_dict() for r in results])
    for secret in [*ctx.credentials.secrets(), *(t for t in ctx._tokens.values() if t)]:
        assert secret not in text


# --- the demo API ---------------------------------------------------------------------------------


@pytest.mark.e2e
def test_vulnerable_admin_role_header_is_found_and_named(vulnerable: RunningTarget) -> None:
    ctx = audit_context(vulnerable)
    results = access.run(ctx)
    checks = by_check(results)
    level = checks["function-level auth"]
    assert level.status == FAIL
    anonymous = [f for f in level.findings if "anonymous caller" in f]
    assert len(anonymous) == 1 and anonymous[0].startswith("admin_users: 200")
    assert "X-User-Role: admin" in anonymous[0] and "X-Role: admin" in anonymous[0]
    assert "X-Admin" not in anonymous[0]  # only the headers that open it on their own are named
    assert any("logged-in client" in f and "X-User-Role" in f for f in level.findings)
    # no token is forged, revoked or replayed into a 2xx there: flaw 7 needs the header
    assert checks["auth on every route"].status == PASS
    assert any("revoked by logout" in e and "-> 401" in e for e in checks["auth on every route"].evidence)
    assert checks["expired token"].status == UNTESTED and "expiry_wait_s" in checks["expired token"].note
    assert scorecard(results)["rows"]["auth"]["status"] == FAIL
    assert_no_secrets(ctx, results)


@pytest.mark.e2e
def test_hardened_passes_every_auth_check(hardened: RunningTarget) -> None:
    ctx = audit_context(hardened)
    results = access.run(ctx)
    checks = by_check(results)
    assert checks["auth on every route"].status == PASS, checks["auth on every route"].findings
    assert checks["function-level auth"].status == PASS, checks["function-level auth"].findings
    evidence = checks["auth on every route"].evidence
    for case in ("logged out", "alg none", "wrong key", "payload edited", "revoked by logout"):
        assert any(case in e and "/api/me -> 401" in e for e in evidence), case
    assert any(
        "/api/admin/users -> 403 as client with X-User-Role" in e for e in checks["function-level auth"].evidence
    )
    assert not checks["function-level auth"].note  # the admin itself was let in: the denials are about roles
    assert scorecard(results)["rows"]["auth"]["status"] == PASS
    assert_no_secrets(ctx, results)


@pytest.mark.e2e
def test_an_expired_token_is_waited_out_when_tokens_live_seconds() -> None:
    with quick_demo("hardened", token_ttl_s=2) as target:
        ctx = audit_context(target)
        with ctx.client() as client:
            audit = access._Audit(ctx, Sender(ctx, client))
            expiring = access.start_expiry(audit)
            assert isinstance(expiring, access._Expiring) and expiring.lifetime_s <= 2
            result = access.expired_token(audit, expiring)
        assert result.status == PASS, (result.findings, result.note)
        assert any("/api/me -> 401 with an expired token" in e and "invalid_token" in e for e in result.evidence)
        assert all("admin/users" not in e for e in result.evidence)  # a client's token says nothing there


# --- fake targets: what the demo does not plant ------------------------------------------------------

FAKE_SCENARIO = parse_scenario(
    {
        "scenario": {"name": "fake"},
        "journeys": {"webhook": {"weight": 1}},
        "accounts": {"source": "demo"},  # unused: the tests hand over their accounts
        "endpoints": {
            "webhook": {"method": "POST", "path": "/hook", "auth": False},
            "login": {
                "method": "POST",
                "path": "/login",
                "body": {"email": "{email}", "password": "{password}"},
                "auth": False,
            },
            "me": {"method": "GET", "path": "/me"},
            "admin_stats": {"method": "GET", "path": "/admin/stats"},
        },
    }
)
FAKE_ACCOUNTS = Credentials(
    [
        Account("ana@client.example", "pw-ana-123456", "client", "t1"),
        Account("ops@admin.example", "pw-ops-123456", "admin", ""),
    ]
)


@dataclass
class FakeContext(AuditContext):
    transport: httpx.BaseTransport | None = None

    def client(self, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault("transport", self.transport)
        return super().client(**kwargs)


def fake(handler: Callable[[httpx.Request], httpx.Response], **settings: Any) -> FakeContext:
    return FakeContext(
        "http://fake.test",
        FAKE_SCENARIO,
        FAKE_ACCOUNTS,
        AuditSettings(**settings),
        transport=httpx.MockTransport(handler),
    )


def fake_api(*, ttl_s: int = 3600, accept: Callable[[dict, dict, float], bool]) -> Callable:
    """A target issuing HS256 tokens; `accept(header, claims, now)` decides what a bearer token is worth."""
    key = b"k" * 32

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            email = json.loads(request.content)["email"]
            role = "admin" if email.startswith("ops") else "client"
            claims = {"sub": email, "role": role, "exp": int(time.time()) + ttl_s, "jti": str(time.time())}
            return httpx.Response(200, json={"access_token": demo_auth.encode(claims, key)})
        parsed = parse_jwt(request.headers.get("authorization", "").removeprefix("Bearer "))
        if parsed is None or not accept(*parsed, time.time()):
            return httpx.Response(401, json={"error": "unauthorized"})
        if request.url.path == "/admin/stats" and parsed[1].get("role") != "admin":
            return httpx.Response(403, json={"error": "forbidden"})
        return httpx.Response(200, json={"email": parsed[1]["sub"]})

    return handler


def test_a_server_that_trusts_alg_none_is_a_finding_on_every_route() -> None:
    ctx = fake(fake_api(accept=lambda header, claims, now: header["alg"] in ("none", "HS256")))
    result = access.auth_on_every_route(access._Audit(ctx, Sender(ctx, ctx.client())))
    assert result.status == FAIL
    assert "me: 200 with other users' data to a request with a forged token (alg none)" in result.findings
    assert any(f.startswith("admin_stats: 200") and "alg none" in f for f in result.findings)
    # the HS256 forgeries pass here only because this fake checks no signature at all
    assert any("wrong key" in f for f in result.findings) and any("payload edited" in f for f in result.findings)
    assert "the API map has no logout route" in result.note


def test_an_expired_token_that_is_still_accepted_is_a_finding() -> None:
    ctx = fake(fake_api(ttl_s=1, accept=lambda header, claims, now: header["alg"] == "HS256"), expiry_wait_s=5)
    audit = access._Audit(ctx, Sender(ctx, ctx.client()))
    started = time.monotonic()
    result = access.expired_token(audit, access.start_expiry(audit))
    assert time.monotonic() - started >= 1.0  # it waited for the token to expire before replaying it
    assert result.status == FAIL and result.findings[0].startswith("me: 200 to a request with an expired token")


def test_a_token_that_lives_long_makes_expiry_not_measurable() -> None:
    ctx = fake(fake_api(accept=lambda header, claims, now: claims["exp"] > now))
    result = access.start_expiry(access._Audit(ctx, Sender(ctx, ctx.client())))
    assert isinstance(result, CheckResult) and result.status == UNTESTED
    assert "tokens live 3," in result.note and "signing key" in result.note


def test_a_role_check_missing_for_a_logged_in_user_is_a_finding() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            return httpx.Response(
                200, json={"access_token": "opaque-session-id-" + json.loads(request.content)["email"]}
            )
        if not request.headers.get("authorization"):
            return httpx.Response(401)
        return httpx.Response(200, json={"users": 2})  # any session opens the admin route

    ctx = fake(handler)
    result = access.function_level(access._Audit(ctx, Sender(ctx, ctx.client())))
    assert result.status == FAIL
    assert result.findings == ["admin_stats: 200 for a logged-in client (no role check)"]


def test_a_rate_limited_answer_is_waited_out_never_taken_for_a_denial() -> None:
    answers = iter([httpx.Response(429, headers={"retry-after": "0"}), httpx.Response(200, json={})])
    ctx = fake(lambda request: next(answers))
    sender = Sender(ctx, ctx.client())
    attempt = sender.call("me")
    assert attempt.ok and sender.waited_s == pytest.approx(0.2)
    ctx = fake(lambda request: httpx.Response(429, headers={"retry-after": "3600"}))
    attempt = Sender(ctx, ctx.client()).call("me")
    assert attempt.blocked and not attempt.decided and "Retry-After 3600" in attempt.error
    ctx = fake(lambda request: (_ for _ in ()).throw(httpx.ConnectError("refused")))
    attempt = Sender(ctx, ctx.client()).call("me")
    assert attempt.response is None and attempt.error.startswith("ConnectError")


def test_an_unreachable_target_is_not_measurable_never_a_crash() -> None:
    ctx = fake(lambda request: (_ for _ in ()).throw(httpx.ConnectError("refused")))
    results = access.run(ctx)
    assert {r.status for r in results} == {UNTESTED}


FREE_SCENARIO = parse_scenario(
    {
        "scenario": {"name": "free"},
        "journeys": {"webhook": {"weight": 1}},
        "accounts": {"source": "demo"},
        "endpoints": {
            "webhook": {"method": "POST", "path": "/hook", "auth": False},
            "sign_in": {
                "kind": "login",
                "method": "POST",
                "path": "/session",
                "body": {"user": "{email}", "secret": "{password}"},
                "auth": False,
            },
            "sign_out": {"kind": "logout", "method": "DELETE", "path": "/session"},
            "my_notes": {"kind": "list", "method": "GET", "path": "/notes"},
            "note": {"method": "GET", "path": "/notes/{noteId}"},
            "user_email": {"method": "GET", "path": "/users/{user_id}/email"},
            "staff": {"kind": "admin", "method": "GET", "path": "/staff"},
            "admin_help": {"kind": "read", "method": "GET", "path": "/help"},  # admin* name, but says its kind
        },
    }
)


def test_free_route_names_are_found_by_kind_and_no_placeholder_is_sent_empty() -> None:
    sessions: dict[str, str] = {}  # token -> role
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(f"{request.method} {request.url.path}")
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if request.url.path == "/session" and request.method == "POST":
            body = json.loads(request.content)
            account = next(a for a in FAKE_ACCOUNTS.accounts if a.email == body["user"])
            assert body["secret"] == account.password  # {password} filled from the account
            new = f"opaque-{len(sessions)}"
            sessions[new] = account.role
            return httpx.Response(200, json={"access_token": new})
        if token not in sessions:
            return httpx.Response(401)
        if request.method == "DELETE":
            sessions.pop(token)
            return httpx.Response(204)
        if request.url.path == "/staff" and sessions[token] != "admin":
            return httpx.Response(403)
        return httpx.Response(200, json=[{"id": "n-1"}] if request.url.path == "/notes" else {})

    ctx = FakeContext(
        "http://fake.test", FREE_SCENARIO, FAKE_ACCOUNTS, AuditSettings(), transport=httpx.MockTransport(handler)
    )
    assert ctx.expected("staff", "client") == "deny" and ctx.expected("admin_help", "client") == "allow"
    audit = access._Audit(ctx, Sender(ctx, ctx.client()))
    every = access.auth_on_every_route(audit)
    assert every.status == PASS, (every.findings, every.note)
    assert "user_email: not called: no value for {user_id} (an object id: no route of the map lists" in every.note
    assert any("/notes/n-1 -> 401 with no token" in e for e in every.evidence)  # the listed id, by its kind
    assert any("with a token revoked by logout" in e for e in every.evidence)  # the logout route, by its kind
    level = access.function_level(audit)
    assert level.status == PASS and any(e.startswith("GET /staff -> 403 as client") for e in level.evidence)
    assert not any("/help" in e for e in level.evidence)
    assert not any("//" in p or "/users/" in p for p in paths)


# --- the helpers alone ---------------------------------------------------------------------------


def test_forged_tokens_are_refused_by_a_server_that_checks_signatures() -> None:
    key = b"s" * 32
    now = 1_750_000_000.0
    real = demo_auth.encode({"sub": "usr_client", "tid": "ten_1", "role": "client", "exp": now + 60, "jti": "a"}, key)
    victim = demo_auth.encode({"sub": "usr_admin", "tid": None, "role": "admin", "exp": now + 60, "jti": "b"}, key)
    made, note = forgeries(real, victim, now)
    assert note == "" and [f.technique for f in made] == [
        "alg none",
        "re-signed with a wrong key",
        "payload edited to another user and admin, old signature kept",
    ]
    reasons = []
    for forged in made:
        header, claims = parse_jwt(forged.token)
        assert claims["sub"] == "usr_admin" and claims["role"] == "admin" and claims["tid"] is None
        assert claims["jti"] == "a" and claims["exp"] == now + 60  # the attacker's own token, edited
        with pytest.raises(demo_auth.TokenError) as refused:
            demo_auth.decode(forged.token, key, now)
        reasons.append(refused.value.reason)
    assert reasons == ["unsupported_alg", "bad_signature", "bad_signature"]
    assert made[0].token.endswith(".") and parse_jwt(made[0].token)[0]["alg"] == "none"
    assert made[2].token.split(".")[0] == real.split(".")[0] and made[2].token.split(".")[2] == real.split(".")[2]


def test_forgeries_without_a_real_jwt_use_generic_claims() -> None:
    made, note = forgeries("opaque-session-id", None, 1000.0)
    assert [f.technique for f in made] == ["alg none", "re-signed with a wrong key"]
    assert "not a JWT" in note
    assert parse_jwt(made[0].token)[1] == {"sub": "1", "iat": 1000, "exp": 4600, "role": "admin"}
    assert "no session token" in forgeries(None, None, 1000.0)[1]


def test_escalate_and_encode() -> None:
    assert escalate({"sub": "u1", "roles": ["user"], "is_admin": False}, {"sub": "u2", "email": "x@y", "n": 1}) == {
        "sub": "u2",
        "email": "x@y",
        "roles": ["admin"],
        "is_admin": True,
    }
    assert escalate({"sub": "u1"}) == {"sub": "u1", "role": "admin"}
    token = encode_jwt({"a": 1}, key=b"k")
    assert demo_auth.decode(encode_jwt({"sub": "s", "exp": 10, "jti": "j"}, key=b"k"), b"k", 5)["sub"] == "s"
    assert parse_jwt(token) == ({"alg": "HS256", "typ": "JWT"}, {"a": 1})
    for not_a_jwt in ("", "a.b", "a.b.c", "x" * 40):
        assert parse_jwt(not_a_jwt) is None


def test_role_headers_claim_the_role_or_the_user() -> None:
    headers = access.role_headers("admin", "ops@coachpilot.example")
    assert headers["X-User-Role"] == headers["X-Role"] == "admin" and headers["X-Admin"] == "true"
    assert headers["X-Forwarded-User"] == "ops@coachpilot.example"
    assert list(headers) == list(access.ROLE_HEADERS)


def test_route_helpers_find_ids_and_where_they_are_listed() -> None:
    endpoints = SCENARIO.endpoints
    assert placeholders({"a": "{x}", "b": ["{y} {x}"], "c": 3}) == ["x", "y"]
    assert id_placeholders(endpoints["conversation"]) == ["conversation_id"]
    assert id_placeholders(endpoints["chat"]) == ["conversation_id"]  # in the body
    assert id_placeholders(endpoints["leads"]) == [] and id_placeholders(endpoints["me"]) == []
    assert list_route(SCENARIO, "conversation", "conversation_id") == "conversations"  # the path above {id}
    assert list_route(SCENARIO, "chat", "conversation_id") == "conversations"  # named after the id
    assert list_route(SCENARIO, "me", "thing_id") is None


def test_expiry_wait_is_an_audit_setting() -> None:
    raw = dict(SCENARIO.raw, audit={**SCENARIO.raw["audit"], "expiry_wait_s": 30})
    assert parse_audit_settings(replace(SCENARIO, raw=raw)).expiry_wait_s == 30.0
    assert parse_audit_settings(SCENARIO).expiry_wait_s == 10.0
    with pytest.raises(ScenarioError, match="audit.expiry_wait_s: expected seconds"):
        parse_audit_settings(replace(SCENARIO, raw=dict(raw, audit={"expiry_wait_s": "long"})))


@pytest.mark.parametrize(
    "key, status", [(b"your-256-bit-secret", FAIL), (b"secret", FAIL), (b"k" * 8 + b"-random-9f3a1c77e2b4", PASS)]
)
def test_a_token_signed_with_a_well_known_key_is_found_offline(key: bytes, status: str) -> None:
    token = encode_jwt({"sub": "u1", "role": "client", "exp": int(time.time()) + 600}, key=key)
    logins: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        logins.append(request.url.path)
        return httpx.Response(200, json={"access_token": token})

    ctx = fake(handler)
    result = access.signing_key(access._Audit(ctx, Sender(ctx, ctx.client())))
    assert result.status == status and logins == ["/login"]  # one login; the guessing sends nothing
    if status == FAIL:
        assert "well-known HS256 key" in result.findings[0] and f"({len(key)} characters" in result.findings[0]


def test_an_opaque_token_has_no_key_to_guess_and_no_login_is_untested() -> None:
    ctx = fake(lambda request: httpx.Response(200, json={"access_token": "opaque-session-id"}))
    assert access.signing_key(access._Audit(ctx, Sender(ctx, ctx.client()))).status == "not_applicable"
    ctx = fake(lambda request: httpx.Response(200, json={"ok": True}))  # a 200 login with no token
    result = access.signing_key(access._Audit(ctx, Sender(ctx, ctx.client())))
    assert result.status == UNTESTED and result.gate and result.fix
