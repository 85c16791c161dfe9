"""What `harness check` sends and how it reads the answers, against small APIs in a thread of the test
process: only GETs to read routes, nothing to write or delete routes, ids taken from the list route,
a capped chat turn, a correctly signed delivery marked as a test, and no secret in any row."""

from __future__ import annotations

import base64
import json
import secrets
import time
import tomllib

from harness.check.plan import CHECK_MAX_TOKENS, CHECK_PROMPT, plan_check
from harness.check.runner import Row, redact, run_steps
from harness.protocol.signing import STANDARD, STRIPE
from harness.scenario import Scenario, parse_scenario
from harness.scenario.accounts import Account, Credentials
from tests.check.fake_api import Reply, Request, reply, serve

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1XzEiLCJleHAiOjE5MDAwMDAwMDB9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
# Standard Webhooks' form, whsec_ + base64, made at run time: no key-shaped string in the repository
SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
PASSWORD = "correct horse battery staple"
CREDENTIALS = Credentials([Account("maya@example.test", PASSWORD)], webhook_secret=SECRET)

JWT_API = """
[scenario]
name = "jwt-api"
[accounts]
source = "inline"
inline = [{ email = "maya@example.test", password = "x" }]
[auth]
token_field = "data.token"
[endpoints.login]
method = "POST"
path = "/v1/sessions"
body = { login = "{email}", secret = "{password}" }
auth = false
[endpoints.threads]
kind = "list"
method = "GET"
path = "/v1/threads"
list_field = "items"
id_field = "uuid"
[endpoints.thread]
kind = "read"
method = "GET"
path = "/v1/threads/{conversation_id}"
[endpoints.new_thread]
kind = "write"
method = "POST"
path = "/v1/threads"
[endpoints.drop_thread]
kind = "delete"
method = "DELETE"
path = "/v1/threads/{id}"
[endpoints.verify]
kind = "read"
method = "GET"
path = "/v1/verify/{token}"
[endpoints.chat]
method = "POST"
path = "/v1/chat"
body = { model = "m", messages = "{messages}", max_tokens = 512, stream = true, conversation_id = "{conversation_id}" }
stream = "sse-openai"
[endpoints.conversations]
kind = "other"
method = "POST"
path = "/v1/search"
[endpoints.hook]
kind = "webhook"
method = "POST"
path = "/v1/hooks"
auth = false
[journeys.webhook]  # the client journey would make {token} on verify an error at parse: no load traffic fills it
weight = 1
"""


def scenario(text: str) -> Scenario:
    return parse_scenario(tomllib.loads(text), "check-test.toml")


def check(text: str, routes: dict, credentials: Credentials = CREDENTIALS) -> tuple[list[Row], list[Request]]:
    parsed = scenario(text)
    with serve(routes) as (url, seen):
        rows = list(run_steps(parsed, plan_check(parsed, credentials.accounts), credentials, url))
    return rows, seen


def signed_hook(request: Request) -> Reply:
    STRIPE.verify(SECRET, request.body, request.headers, 300, time.time())
    return reply(200, {"received": True})


def standard_hook(request: Request) -> Reply:
    """A receiver of Standard Webhooks whose refusal names no header (as the demo API's)."""
    try:
        STANDARD.verify(SECRET, request.body, request.headers, 300, time.time())
    except ValueError:
        return reply(400, {"error": "invalid signature"})
    return reply(204)


def chat_stream(request: Request) -> Reply:
    events = b'data: {"choices":[{"delta":{"content":"ok"}}]}\n\ndata: [DONE]\n\n'
    return Reply(200, events, (("content-type", "text/event-stream"),))


def jwt_routes(thread: Reply | None = None) -> dict:
    def authorized(answer: Reply) -> object:
        return lambda r: answer if r.headers.get("authorization") == f"Bearer {JWT}" else reply(401, {"e": "no"})

    return {
        "POST /v1/sessions": lambda r: reply(200, {"data": {"user": {"id": 1}, "token": JWT}}),
        "GET /v1/threads": authorized(reply(200, {"items": [{"uuid": "t_41"}, {"uuid": "t_42"}]})),
        "GET /v1/threads/t_41": authorized(thread or reply(200, {"uuid": "t_41", "messages": []})),
        "POST /v1/chat": authorized(chat_stream(None)),  # type: ignore[arg-type]
        "POST /v1/hooks": signed_hook,
    }


def test_a_right_mapping_works_and_only_reads_are_sent() -> None:
    rows, seen = check(JWT_API, jwt_routes())
    by_route = {r.step.route: r for r in rows}
    assert [r.step.label for r in rows] == [
        "login as client",
        "GET as client",
        "GET as client",
        "GET as client",
        "chat as client",
        "signed delivery",
    ]
    assert all(by_route[n].finding.ok for n in ("login", "threads", "thread", "chat", "hook")), rows
    assert by_route["threads"].finding.note == '2 items at list_field "items"'
    # the read route got the first listed id; the write, delete and other routes got nothing
    assert [(r.method, r.path) for r in seen] == [
        ("POST", "/v1/sessions"),
        ("GET", "/v1/threads"),
        ("GET", "/v1/threads/t_41"),
        ("POST", "/v1/chat"),
        ("POST", "/v1/hooks"),
    ]
    # the login body's own field names; the chat turn: the tiny prompt, capped, a new conversation
    assert seen[0].json() == {"login": "maya@example.test", "secret": PASSWORD}
    assert seen[3].json() == {
        "model": "m",
        "messages": [{"role": "user", "content": CHECK_PROMPT}],
        "max_tokens": CHECK_MAX_TOKENS,
        "stream": True,
        "conversation_id": "",
    }
    assert "1 content chunks (sse-openai)" in by_route["chat"].finding.note
    assert f"max_tokens {CHECK_MAX_TOKENS}" in by_route["chat"].finding.note
    # one delivery, correctly signed (signed_hook verifies it), marked as the check's test on every level
    event = seen[4].json()
    assert event["id"].startswith("evt_harness_check_") and event["type"] == "harness.check.test"
    assert event["livemode"] is False and event["data"]["object"]["harness_check"] is True
    # a placeholder check cannot fill is named, and nothing is sent for it
    verify_row = by_route["verify"]
    assert not verify_row.sent and verify_row.finding.note == "not sent: {token} has no value"
    assert verify_row.finding.fix.startswith("check fills no {token}")


def test_the_plan_says_what_it_never_sends() -> None:
    plan = plan_check(scenario(JWT_API), CREDENTIALS.accounts)
    assert dict(plan.not_sent) == {
        "new_thread": "kind write: check never calls it",
        "drop_thread": "kind delete: check never calls it",
        "conversations": "kind other: check never calls it",
    }


def test_a_cookie_session_mapped_as_bearer_stops_at_the_login() -> None:
    routes = {
        "POST /v1/sessions": lambda r: reply(
            200, {"ok": True, "user": {"id": 1}}, ("set-cookie", "connect.sid=s%3Aabc.def; Path=/; HttpOnly")
        ),
    }
    rows, seen = check(JWT_API, routes)
    login = rows[0]
    assert not login.finding.ok and login.finding.fix == 'try [auth] style = "cookie" (session_cookie = "connect.sid")'
    # the routes that need the session are not sent without one; only the login and the webhook went out
    assert [r.path for r in seen] == ["/v1/sessions", "/v1/hooks"]
    assert all(not r.sent and "no session for client" in r.finding.note for r in rows[1:4])


def test_no_secret_reaches_a_row() -> None:
    """A hostile 403 that echoes the password and the session token back: both masked in the row."""
    echo = reply(403, {"error": "forbidden", "you_sent": f"Bearer {JWT}", "password": PASSWORD, "hint": SECRET})
    rows, _ = check(JWT_API, {**jwt_routes(thread=echo), "POST /v1/hooks": lambda r: reply(400, {"e": SECRET})})
    text = json.dumps([[r.finding.note, r.finding.fix] for r in rows])
    assert "forbidden (403) for role client" in text
    for secret in (JWT, PASSWORD, SECRET):
        assert secret not in text
    assert "[redacted]" in text


def test_a_missing_webhook_secret_is_named_and_nothing_is_sent() -> None:
    rows, seen = check(JWT_API, jwt_routes(), Credentials(CREDENTIALS.accounts))
    hook = rows[-1]
    assert not hook.sent and hook.finding.fix.startswith("export HARNESS_WEBHOOK_SECRET=")
    assert "/v1/hooks" not in [r.path for r in seen]


def test_a_refusal_naming_no_scheme_is_retried_with_the_others_until_one_is_accepted() -> None:
    rows, seen = check(JWT_API, {**jwt_routes(), "POST /v1/hooks": standard_hook})
    hook = rows[-1]
    assert not hook.finding.ok and "the stripe-signed test delivery was refused (400)" in hook.finding.note
    assert hook.finding.fix == 'the same test event signed as standard was accepted: set [webhook] scheme = "standard"'
    deliveries = [r for r in seen if r.path == "/v1/hooks"]  # stripe, then github, then standard: accepted
    assert [sorted(h for h in r.headers if "sig" in h) for r in deliveries] == [
        ["stripe-signature"],
        ["x-hub-signature-256"],
        ["webhook-signature"],
    ]
    ids = [r.json()["id"] for r in deliveries]
    assert len(set(ids)) == 3 and all(i.startswith("evt_harness_check_") for i in ids)


def test_a_refusal_that_names_the_scheme_is_not_retried() -> None:
    named = {"POST /v1/hooks": lambda r: reply(400, {"error": "missing webhook-signature header"})}
    rows, seen = check(JWT_API, {**jwt_routes(), **named})
    assert rows[-1].finding.fix == 'the answer names the standard scheme: set [webhook] scheme = "standard"'
    assert [r.path for r in seen].count("/v1/hooks") == 1


def test_a_short_secret_is_masked_where_it_stands_alone_only() -> None:
    assert redact("fix it first; the key x was refused", ["x"]) == "fix it first; the key [redacted] was refused"
    assert redact(f"echo: {PASSWORD}!", [PASSWORD]) == "echo: [redacted]!"
    assert redact(f"Authorization: Bearer {JWT}", []) == "Authorization: Bearer [redacted]"


OAUTH_API = """
[scenario]
name = "oauth"
[accounts]
source = "inline"
inline = [{ email = "maya@example.test", password = "x" }, { email = "root@example.test", password = "y", role = "admin" }]
[auth]
style = "oauth2"
[auth.oauth2]
grant = "client_credentials"
token_path = "/oauth/token"
client_id_env = "CHECK_CLIENT_ID"
client_secret_env = "CHECK_CLIENT_SECRET"
[endpoints.me]
method = "GET"
path = "/v1/me"
[endpoints.users]
kind = "admin"
method = "GET"
path = "/v1/admin/users"
[journeys.client]
weight = 0
[journeys.webhook]
weight = 1
[endpoints.webhook]
method = "POST"
path = "/v1/hooks"
auth = false
"""


def test_an_oauth2_client_gets_one_token_and_uses_it() -> None:
    """client_credentials: one identity whatever the account, so one token request, and no admin session."""
    routes = {
        "POST /oauth/token": lambda r: reply(200, {"access_token": JWT, "token_type": "bearer"}),
        "GET /v1/me": lambda r: (
            reply(200, {"id": 1}) if r.headers.get("authorization") == f"Bearer {JWT}" else reply(401)
        ),
        "POST /v1/hooks": signed_hook,
    }
    credentials = Credentials(
        CREDENTIALS.accounts, webhook_secret=SECRET, oauth_client=("check-client", "s3cret-client")
    )
    rows, seen = check(OAUTH_API, routes, credentials)
    assert [(r.step.label, r.step.route, r.finding.ok) for r in rows] == [
        ("login as client", "oauth2_token", True),
        ("GET as client", "me", True),
        ("signed delivery", "webhook", True),
    ]
    assert seen[0].headers["content-type"] == "application/x-www-form-urlencoded"
    assert b"grant_type=client_credentials" in seen[0].body and b"client_id=check-client" in seen[0].body
    assert dict(plan_check(scenario(OAUTH_API), credentials.accounts).not_sent)["users"] == (
        "kind admin: no session has the role admin"
    )


def test_an_api_key_goes_in_the_query_when_the_map_says_so() -> None:
    text = JWT_API.replace('[auth]\ntoken_field = "data.token"', '[auth]\nstyle = "api_key"\nkey_in = "query"').replace(
        'password = "x" }', 'password = "x", api_key = "sk-check-0123456789" }'
    )
    keyed = Credentials([Account("maya@example.test", PASSWORD, api_key="sk-check-0123456789")], webhook_secret=SECRET)
    routes = {"GET /v1/threads": lambda r: reply(200, {"items": []})}
    rows, seen = check(text, routes, keyed)
    assert "login" not in [r.step.action for r in rows]  # a key needs no login
    assert (seen[0].path, seen[0].query) == ("/v1/threads", "api_key=sk-check-0123456789") and rows[0].finding.ok
    assert "sk-check-0123456789" not in json.dumps([r.finding.note for r in rows])


SHOP = """
[scenario]
name = "shop"
[accounts]
source = "inline"
inline = [{ email = "maya@example.test", password = "x" }]
[endpoints.login]
method = "POST"
path = "/login"
body = { email = "{email}", password = "{password}" }
auth = false
[endpoints.new_order]
kind = "write"
method = "POST"
path = "/orders"
[endpoints.order]
kind = "read"
method = "GET"
path = "/orders/{order_id}"
[journeys.shop]
weight = 1
steps = [{ route = "login" }, { route = "new_order", extract = { order_id = "json:id" } }, { route = "order" }]
"""


def test_a_route_only_a_toml_journey_can_fill_is_listed_as_not_sent() -> None:
    """{order_id} comes from an order the journey creates: check, which creates nothing, leaves the route out."""
    plan = plan_check(scenario(SHOP), CREDENTIALS.accounts)
    assert [s.route for s in plan.steps] == ["login"]
    assert dict(plan.not_sent) == {
        "order": "{order_id} is extracted by journey shop (step new_order); check runs no journeys",
        "new_order": "kind write: check never calls it",
    }
