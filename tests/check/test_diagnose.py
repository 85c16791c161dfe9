"""Every diagnosis rule of `harness check` on recorded answers: the problem it names and the fix, from
evidence in the answer alone. The answers are shaped like real servers' (FastAPI, Django, GitHub,
Stripe, Express sessions), kept here as data."""

from __future__ import annotations

import json

import pytest

from harness.check import diagnose
from harness.check.answers import Answer
from harness.protocol.auth import read_login, store_cookies
from harness.scenario import Auth, Endpoint
from harness.scenario.model import Csrf

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1XzEiLCJleHAiOjE5MDAwMDAwMDB9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
BEARER = Auth()
LOGIN = Endpoint(
    "login", "POST", "/api/auth/login", {"email": "{email}", "password": "{password}"}, False, kind="login"
)
ME = Endpoint("me", "GET", "/api/me", kind="read")
LIST = Endpoint("conversations", "GET", "/api/conversations", kind="list")
CHAT = Endpoint("chat", "POST", "/api/chat", {"messages": "{messages}"}, stream="sse-openai", kind="chat")
HOOK = Endpoint("webhook", "POST", "/hooks/payments", auth=False, kind="webhook")


def answer(status: int, body: object = b"", *headers: tuple[str, str]) -> Answer:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    typed = [("content-type", "application/json")] if not isinstance(body, bytes) else []
    return Answer(status, (*typed, *headers), raw)


def log_in(found: Answer, auth: Auth = BEARER) -> diagnose.Finding:
    """The login rule as the runner calls it: with what `read_login` found missing."""
    jar: dict[str, str] = {}
    store_cookies(jar, found.headers, 0.0)
    _, why = read_login(auth, found.headers, found.json(), jar, 0.0)
    return diagnose.login(found, auth, LOGIN, "client", ("email", "password"), why)


# --- login ---------------------------------------------------------------------------------------


def test_a_login_with_the_token_where_the_map_says_worked() -> None:
    finding = log_in(answer(200, {"access_token": JWT, "token_type": "bearer"}))
    assert finding.ok and 'token at auth.token_field "access_token"' in finding.note


def test_a_cookie_session_mapped_as_bearer_names_the_cookie() -> None:
    """An Express/Django-style session login: the body holds the user, the session is a cookie (a CSRF
    cookie beside it is not the session)."""
    found = answer(
        200,
        {"ok": True, "user": {"id": 3, "name": "Maya"}},
        ("set-cookie", "csrftoken=Zx81; Path=/"),
        ("set-cookie", "sid=s%3AlHk2n0yQ.abc; Path=/; HttpOnly"),
    )
    finding = log_in(found)
    assert not finding.ok
    assert finding.note == (
        'login answered 200 but no token at auth.token_field "access_token"; the answer set a cookie "sid"'
    )
    assert finding.fix == 'try [auth] style = "cookie" (session_cookie = "sid")'


def test_a_token_at_another_path_names_the_path() -> None:
    found = answer(200, {"data": {"user": {"id": "u_1", "email": "maya@example.test"}, "token": JWT}})
    finding = log_in(found)
    assert not finding.ok and "token-like string at data.token" in finding.note
    assert finding.fix == 'set [auth] token_field = "data.token"'


def test_a_token_field_is_preferred_to_other_long_strings() -> None:
    """No JWT: an opaque token, beside an opaque request id; the field named like a token wins."""
    found = answer(200, {"request_id": "req_8f14e45fceea167a5a36dedd", "auth": {"session_token": "a" * 40}})
    assert log_in(found).fix == 'set [auth] token_field = "auth.session_token"'


def test_a_token_in_a_response_header_names_the_header() -> None:
    found = answer(200, {"ok": True}, ("X-Auth-Token", "d41d8cd98f00b204e9800998ecf8427e"))
    finding = log_in(found)
    assert "X-Auth-Token header carries a token" in finding.note
    assert finding.fix == 'set [auth] token_from = "header" (token_header = "X-Auth-Token")'


def test_a_login_with_no_credential_anywhere_lists_the_fields() -> None:
    finding = log_in(answer(200, {"ok": True, "user": {"id": 3}}))
    assert not finding.ok and "the answer's fields: ok, user" in finding.note
    assert finding.fix.startswith("point [auth] at where the login answer keeps the session")


def test_a_token_expected_in_a_header_but_sent_in_the_body_names_the_body_path() -> None:
    auth = Auth(token_from="header", token_header="X-Auth-Token")
    finding = log_in(answer(200, {"token": JWT}), auth)
    assert finding.note.startswith('login answered 200 but no token in the response header "X-Auth-Token"')
    assert finding.fix == 'set [auth] token_from = "body" (token_field = "token")'


def test_a_token_in_another_header_names_it() -> None:
    auth = Auth(token_from="header", token_header="X-Auth-Token")
    finding = log_in(answer(200, {"ok": True}, ("Authorization", f"Bearer {JWT}")), auth)
    assert finding.fix == 'set [auth] token_header = "Authorization"'


def test_a_session_cookie_of_another_name_names_it() -> None:
    auth = Auth(style="cookie", session_cookie="session")
    found = answer(200, {"ok": True}, ("set-cookie", "XSRF-TOKEN=abc; Path=/"), ("set-cookie", "laravel_session=x"))
    finding = log_in(found, auth)
    assert finding.note.startswith('login answered 200 but no session cookie "session"')
    assert finding.fix == 'set [auth] session_cookie = "laravel_session"'


def test_a_cookie_style_whose_login_answers_a_token_suggests_bearer() -> None:
    finding = log_in(answer(200, {"access_token": JWT}), Auth(style="cookie"))
    assert finding.note.startswith("login answered 200 but no cookie set")
    assert finding.fix == 'try [auth] style = "bearer" (token_field = "access_token")'


def test_a_cookie_session_that_worked_names_its_cookie() -> None:
    finding = log_in(answer(200, {"user": {}}, ("set-cookie", "sid=abc; HttpOnly")), Auth(style="cookie"))
    assert finding.ok and finding.note == 'logged in as client: session cookie "sid"'


def test_a_form_login_that_redirects_with_its_cookie_worked() -> None:
    found = answer(302, b"", ("location", "/app"), ("set-cookie", "sessionid=abc; HttpOnly"))
    assert log_in(found, Auth(style="cookie", session_cookie="sessionid")).ok


def test_a_csrf_token_elsewhere_names_where() -> None:
    """Django: the token comes as the csrftoken cookie; the map looked for a header."""
    auth = Auth(csrf=Csrf(source="header", name="X-CSRF-Token"))
    found = answer(200, {"access_token": JWT}, ("set-cookie", "csrftoken=Zx81; Path=/"))
    finding = log_in(found, auth)
    assert 'no CSRF token in the response header "X-CSRF-Token"' in finding.note
    assert finding.fix == 'set [auth.csrf] from = "cookie", name = "csrftoken"'


def test_refused_credentials_name_the_role_and_the_body_sent() -> None:
    finding = log_in(answer(401, {"error": "invalid_credentials"}))
    assert not finding.ok and "refused the client account (401)" in finding.note
    assert "client row of the accounts" in finding.fix and "sent email, password" in finding.fix


def test_a_validation_error_names_the_fields_the_api_wants() -> None:
    """FastAPI's 422 for a form that wants `username`."""
    error = {"detail": [{"type": "missing", "loc": ["body", "username"], "msg": "Field required", "input": None}]}
    finding = log_in(answer(422, error))
    assert finding.fix == "the API asks for username: name them in endpoints.login.body"


# --- any route -----------------------------------------------------------------------------------


def test_no_answer_asks_for_the_host() -> None:
    finding = diagnose.transport(Answer(0, error="connection refused"), ME, False)
    assert finding is not None and "no answer (connection refused)" in finding.note and "--host" in finding.fix


def test_a_blocked_answer_says_nothing_was_learned() -> None:
    finding = diagnose.transport(answer(429, {"error": "rate_limited"}, ("retry-after", "7")), ME, True)
    assert finding is not None and "Retry-After 7" in finding.note and "again" in finding.fix


def test_a_404_points_at_the_path() -> None:
    finding = diagnose.transport(answer(404, {"detail": "Not Found"}), ME, False)
    assert finding is not None and "GET /api/me answered 404" in finding.note
    assert finding.fix.startswith("check endpoints.me.path")


def test_a_405_names_the_allowed_method() -> None:
    finding = diagnose.transport(answer(405, {"detail": "Method Not Allowed"}, ("allow", "POST")), ME, False)
    assert finding is not None and "405" in finding.note and "takes POST" in finding.fix


def test_a_redirect_to_a_login_page_means_no_session() -> None:
    finding = diagnose.transport(answer(302, b"", ("location", "/accounts/login/?next=/api/me")), ME, False)
    assert finding is not None and "did not see a session" in finding.note and 'style = "cookie"' in finding.fix


def test_a_server_error_quotes_the_body() -> None:
    finding = diagnose.transport(answer(500, b"Internal Server Error"), ME, False)
    assert finding is not None and "server error 500: Internal Server Error" in finding.note


def test_a_2xx_is_for_the_kind_rules() -> None:
    assert diagnose.transport(answer(200, {"id": 1}), ME, False) is None


def test_a_route_asking_for_an_api_key_suggests_the_api_key_style() -> None:
    found = answer(401, {"error": {"message": "Missing API key. Pass it in the x-api-key header."}})
    finding = diagnose.route(found, BEARER, ME, "client", True)
    assert not finding.ok and finding.fix.startswith('try [auth] style = "api_key"')


def test_a_challenge_for_another_scheme_names_it() -> None:
    """Django REST framework's TokenAuthentication answers `WWW-Authenticate: Token`."""
    found = answer(401, {"detail": "Invalid token."}, ("www-authenticate", 'Token realm="api"'))
    finding = diagnose.route(found, BEARER, ME, "client", True)
    assert finding.fix == 'set [auth] scheme = "Token"'


def test_a_refused_bearer_token_points_at_header_and_scheme() -> None:
    found = answer(401, {"error": "invalid_token"}, ("www-authenticate", 'Bearer error="invalid_token"'))
    finding = diagnose.route(found, BEARER, ME, "client", True)
    assert "not accepted (401, WWW-Authenticate: Bearer" in finding.note and "header and scheme" in finding.fix


def test_a_missing_api_key_names_the_role_and_where_a_key_goes() -> None:
    found = answer(401, {"error": "missing_token"}, ("www-authenticate", "Bearer"))
    finding = diagnose.route(found, Auth(style="api_key", keys={"coach": "COACH_KEY"}), ME, "client", False)
    assert finding.note == "refused (401) without an API key: the scenario has none for role client"
    assert finding.fix == 'no API key for role client: add an api_key column or [auth.keys] client = "ENV"'


def test_a_key_refused_by_a_server_reading_x_api_key_names_the_header() -> None:
    """Anthropic-style gateways read the key from X-Api-Key, not Authorization."""
    found = answer(401, {"error": {"type": "authentication_error", "message": "x-api-key header is required"}})
    finding = diagnose.route(found, Auth(style="api_key"), ME, "client", True)
    assert finding.fix == '[auth] key_in = "header", header = "X-Api-Key", scheme = ""'


def test_a_403_for_want_of_a_csrf_token_asks_for_auth_csrf() -> None:
    found = answer(403, {"error": "csrf_failed", "detail": "unsafe requests must echo the CSRF token"})
    finding = diagnose.route(found, Auth(style="cookie"), ME, "client", True)
    assert "for want of a CSRF token" in finding.note and finding.fix.startswith("add [auth.csrf]")


def test_a_route_wanting_credentials_under_style_none_says_so() -> None:
    finding = diagnose.route(answer(401, {"error": "unauthorized"}), Auth(style="none"), ME, "", False)
    assert 'style is "none"' in finding.note and finding.fix.startswith("set [auth] style")


def test_a_refused_cookie_session_points_at_the_cookie() -> None:
    found = answer(401, {"error": "missing_token"}, ("www-authenticate", "Bearer"))
    finding = diagnose.route(found, Auth(style="cookie"), ME, "client", True)
    assert finding.note.startswith("the session cookie was not accepted (401")


def test_a_403_names_the_role() -> None:
    finding = diagnose.route(answer(403, {"error": "forbidden"}), BEARER, ME, "client", True)
    assert "forbidden (403) for role client" in finding.note and "another role" in finding.fix


# --- lists ---------------------------------------------------------------------------------------


def test_a_list_at_the_map_s_field_gives_its_ids() -> None:
    finding, ids = diagnose.listing(answer(200, [{"id": "c_1"}, {"id": "c_2"}]), LIST)
    assert finding.ok and finding.note == "2 items at the top level" and ids == ["c_1", "c_2"]


def test_a_list_under_another_field_names_it() -> None:
    finding, ids = diagnose.listing(answer(200, {"meta": {"total": 1}, "data": [{"id": "c_1"}]}), LIST)
    assert not finding.ok and finding.fix == 'set endpoints.conversations.list_field = "data"' and ids == []


def test_items_without_the_id_field_name_the_id_they_have() -> None:
    finding, ids = diagnose.listing(answer(200, [{"uuid": "0b5e", "title": "Week 1"}]), LIST)
    assert not finding.ok and finding.fix == 'set endpoints.conversations.id_field = "uuid"' and ids == []


# --- chat ----------------------------------------------------------------------------------------


def test_a_json_answer_where_a_stream_is_mapped_names_the_stream_format() -> None:
    found = answer(200, {"choices": [{"message": {"role": "assistant", "content": "ok"}}]})
    finding = diagnose.chat(found, CHAT, 0, "")
    assert (
        finding.note == 'stream = "sse-openai" but the answer is not one (application/json, expected text/event-stream)'
    )
    assert 'stream = "json"' in finding.fix


def test_gemini_without_alt_sse_is_told_to_add_it() -> None:
    """streamGenerateContent answers one JSON array unless the path asks for ?alt=sse."""
    gemini = Endpoint("chat", "POST", "/v1beta/models/m:streamGenerateContent", stream="gemini", kind="chat")
    finding = diagnose.chat(answer(200, [{"candidates": []}]), gemini, 0, "")
    assert "(add ?alt=sse to the path)" in finding.note


def test_an_event_stream_where_none_is_mapped_names_sse() -> None:
    events = b'data: {"choices":[{"delta":{"content":"ok"}}]}\n\ndata: [DONE]\n\n'
    found = Answer(200, (("content-type", "text/event-stream"),), events)
    plain = Endpoint("chat", "POST", "/api/chat", stream="json", kind="chat")
    assert diagnose.chat(found, plain, 0, "").fix == 'set endpoints.chat.stream = "sse-openai"'


def test_a_stream_in_another_format_quotes_its_first_event() -> None:
    events = b'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"ok"}}\n\n'
    found = Answer(200, (("content-type", "text/event-stream"),), events)
    finding = diagnose.chat(found, CHAT, 0, "stream: ended without [DONE]")
    assert finding.note == 'read as "sse-openai": stream: ended without [DONE]; it begins: event: content_block_delta'
    assert finding.fix == 'the events look like anthropic\'s: set endpoints.chat.stream = "anthropic"'


@pytest.mark.parametrize(
    ("body", "content_type", "fmt"),
    [
        (
            b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"ok"}\n\n',
            "text/event-stream",
            "openai-responses",
        ),
        (b'data: {"candidates":[{"content":{"parts":[{"text":"ok"}]}}]}\n\n', "text/event-stream", "gemini"),
        (b'data: {"type":"text-delta","id":"0","delta":"ok"}\n\n', "text/event-stream", "vercel-ai"),
        (b'{"message":{"content":"ok"},"done":false}\n', "application/x-ndjson", "ndjson"),
        (b"data: ok\n\n", "text/event-stream", "sse"),
    ],
)
def test_a_stream_read_as_json_names_the_format_it_looks_like(body: bytes, content_type: str, fmt: str) -> None:
    plain = Endpoint("chat", "POST", "/api/chat", stream="json", kind="chat")
    finding = diagnose.chat(Answer(200, (("content-type", content_type),), body), plain, 0, "")
    assert finding.fix == f'set endpoints.chat.stream = "{fmt}"'


def test_a_whole_stream_worked() -> None:
    found = Answer(200, (("content-type", "text/event-stream"),), b"data: [DONE]\n\n")
    assert diagnose.chat(found, CHAT, 3, "") == diagnose.worked("answered: 3 content chunks (sse-openai)")


# --- webhooks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("refusal", "scheme"),
    [
        (answer(400, {"error": "missing webhook-signature header"}), "standard"),
        (answer(401, b"X-Hub-Signature-256 header is missing"), "github"),
        (answer(403, {"error": "invalid_request", "detail": "no X-Slack-Signature"}), "slack"),
        (answer(400, {"error": "no Stripe-Signature header"}, ("x-request-id", "1")), "stripe"),
    ],
)
def test_a_refused_delivery_names_the_scheme_the_answer_hints(refusal: Answer, scheme: str) -> None:
    used = "github" if scheme == "stripe" else "stripe"
    finding = diagnose.webhook(refusal, HOOK, used, "HARNESS_WEBHOOK_SECRET")
    assert not finding.ok and f"the {used}-signed test delivery was refused ({refusal.status})" in finding.note
    assert finding.fix == f'the answer names the {scheme} scheme: set [webhook] scheme = "{scheme}"'


def test_a_scheme_that_was_accepted_is_the_fix() -> None:
    finding = diagnose.webhook(answer(400, {"error": "bad_signature"}), HOOK, "stripe", "X", accepted_as="slack")
    assert finding.fix == 'the same test event signed as slack was accepted: set [webhook] scheme = "slack"'


def test_a_refusal_without_a_hint_points_at_the_secret_and_scheme() -> None:
    finding = diagnose.webhook(answer(400, {"error": "bad_signature"}), HOOK, "stripe", "PAY_SECRET")
    assert finding.fix == 'check [webhook] secret_env (PAY_SECRET: the signing secret) and scheme ("stripe")'


def test_an_accepted_delivery_worked() -> None:
    assert diagnose.webhook(answer(200, {"received": True}), HOOK, "stripe", "X").ok


# --- evidence ------------------------------------------------------------------------------------


def test_an_excerpt_never_shows_a_token() -> None:
    text = diagnose.excerpt(answer(401, {"error": "expired", "token": JWT}))
    assert JWT not in text and "[token]" in text
