"""The `input_validation` row: malformed, huge and deeply nested bodies and the prompt-size ladder
against the demo API (flaw 14's traceback and flaw 8's unlimited prompt in vulnerable; 4xx answers in
hardened) and against a mock server with other frameworks' crash pages."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from harness.audit import validation
from harness.audit.context import AuditContext, AuditSettings
from harness.audit.errorpages import error_page
from harness.audit.model import FAIL, PASS, UNTESTED
from harness.demo_api.process import RunningTarget
from harness.scenario import Endpoint, Scenario
from harness.scenario.accounts import Account, Credentials
from tests.audit.helpers import SCENARIO, audit_context, quick_demo

PYTHON = (
    'Traceback (most recent call last):\n  File "/srv/app/api.py", line 88, in leads\n    body = json.loads(raw)\n'
    "json.decoder.JSONDecodeError: Expecting value: line 1 column 12 (char 11)\n"
)
EXPRESS = (
    "<!DOCTYPE html><html><body><pre>SyntaxError: Unexpected end of JSON input<br> &nbsp; &nbsp;at JSON.parse "
    "(&lt;anonymous&gt;)</pre></body></html>"
)
NODE = "SyntaxError: Unexpected token\n    at parse (/app/node_modules/body-parser/lib/types/json.js:92:19)\n"
JAVA = "java.lang.NullPointerException\n\tat com.coach.api.LeadController.create(LeadController.java:42)\n"
SQL = '{"error": "ERROR: syntax error at or near \\"$gt\\" LINE 1: SELECT * FROM users WHERE email = $gt"}'
DJANGO = "<p>You're seeing this error because you have <code>DEBUG = True</code> in your Django settings file.</p>"


@pytest.mark.parametrize(
    "text, kind, line",
    [
        (PYTHON, "Python traceback", "json.decoder.JSONDecodeError: Expecting value: line 1 column 12 (char 11)"),
        (
            '  File "/srv/app/api.py", line 88, in leads',
            "Python stack frame",
            'File "/srv/app/api.py", line 88, in leads',
        ),
        (EXPRESS, "Express error page", None),
        (NODE, "Node.js stack trace", "at parse (/app/node_modules/body-parser/lib/types/json.js:92:19)"),
        (JAVA, "Java stack trace", "java.lang.NullPointerException"),
        (SQL, "SQL error", None),
        (DJANGO, "Django debug page", None),
        ("goroutine 1 [running]:\nmain.main()", "Go panic", "goroutine 1 [running]:"),
    ],
)
def test_stack_traces_and_debug_pages_are_recognised(text: str, kind: str, line: str | None):
    found = error_page(text)
    assert found is not None and found[0] == kind
    if line is not None:
        assert found[1] == line


@pytest.mark.parametrize(
    "text",
    [
        '{"error": "invalid_json", "detail": "body is not valid JSON"}',
        '{"error": {"message": "Exception: the prompt is too long at line 3", "type": "invalid_request_error"}}',
        "Internal Server Error",
        '{"detail": [{"loc": ["body", "email"], "msg": "field required", "type": "value_error.missing"}]}',
        "Error: the file you asked for was not found",
    ],
)
def test_ordinary_error_answers_are_not_stack_traces(text: str):
    assert error_page(text) is None


def test_the_malformed_bodies():
    body = {"email": "a@b.example", "messages": [{"role": "user", "content": "hi"}], "stream": True, "n": 2, "meta": {}}
    assert validation.wrong_types(body) == {
        "email": {"$gt": ""},
        "messages": "not-a-list",
        "stream": "not-a-number",
        "n": "not-a-number",
        "meta": [1, 2, 3],
    }
    sent = {name: (content, kind) for name, content, kind in validation.probes(body)}
    assert list(sent) == [
        "invalid JSON",
        "wrong types",
        "not an object",
        "deeply nested",
        "huge body",
        "wrong content type",
    ]
    assert sent["invalid JSON"][0] == b'{"email": '
    with pytest.raises(RecursionError):
        json.loads(sent["deeply nested"][0])
    assert sent["deeply nested"][0].count(b"[") == validation.NEST_DEPTH + 1  # and the messages list
    assert len(sent["huge body"][0]) > 3 * 1024 * 1024 and json.loads(sent["huge body"][0])["email"] == "a@b.example"
    assert sent["wrong content type"] == (json.dumps(body).encode(), "text/plain")
    assert len(validation.filler(1000).split()) == 1000


# --- the demo API ---------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["vulnerable", "hardened"])
def demo(request: pytest.FixtureRequest) -> Iterator[RunningTarget]:
    with quick_demo(request.param) as target:
        yield target


@pytest.mark.e2e
def test_flaw_14_a_traceback_for_malformed_json_and_flaw_8_an_unlimited_prompt(demo: RunningTarget):
    ctx = audit_context(demo)
    [result] = validation.run(ctx)
    assert result.row == "input_validation"
    routes = [e.split(" -> ")[0] for e in result.evidence[:6]]
    assert routes == [
        "POST /api/auth/login",
        "POST /api/auth/register",
        "POST /api/conversations",
        "POST /api/chat",
        "POST /api/auth/password-reset",
        "POST /api/leads",
    ]
    text = json.dumps(result.to_dict())
    for secret in [*ctx.credentials.secrets(), *ctx._made_up, *(t for t in ctx._tokens.values() if t)]:
        assert secret not in text
    # the sign-up got a new account's values: the text/plain probe made that account, which is listed;
    # the logged-in routes were sent as the audit's own accounts
    assert result.evidence[1].startswith(
        "POST /api/auth/register -> invalid JSON: 400, wrong types: 400, not an object: 400, deeply nested: 400, "
        "huge body: 413, wrong content type: 201"
    )
    made = {a.purpose.split(",")[0]: a for a in ctx.accounts_created}
    assert set(made) == {
        "the audit's owner",
        "the audit's intruder",
        "input validation: its wrong content type probe was taken",
    }
    probed = made["input validation: its wrong content type probe was taken"]
    assert probed.email.endswith("@audit.invalid") and probed.id.startswith("usr_")
    assert ctx.signup is not None and len(ctx.signup.accounts) == 2
    if demo.config.profile == "hardened":
        assert result.status == PASS and result.findings == []
        assert "deeply nested: 422" in result.evidence[0]  # the login limiter parses the body too
        assert (
            "POST /api/leads -> invalid JSON: 422, wrong types: 422, not an object: 422, deeply nested: 422, "
            "huge body: 413" in result.evidence[5]
        )
        assert "chat: refuses a 16,384-token prompt with HTTP 413 before any model spend" in result.evidence
        assert "parse(s) a JSON body sent as text/plain" in result.note  # a note, not a failure
        return
    assert result.status == FAIL
    assert result.findings == [
        "chat: accepts a 3 MiB body (HTTP 200) instead of refusing it with 4xx",
        "leads: answers the invalid JSON probe with HTTP 500 and a Python traceback: json.decoder.JSONDecodeError: "
        "Expecting value: line 1 column 12 (char 11)",
        "leads: answers the deeply nested probe with HTTP 500 and a Python traceback: RecursionError: maximum "
        "recursion depth exceeded while decoding a JSON array from a unicode string",
        "chat: accepts a 131,072-token prompt (the probe's cap) with no size limit before the model: one request can "
        "cost as much as thousands of normal ones",
    ]
    assert result.evidence[-1].endswith("65,536: 200, 131,072: 200")


# --- a mock server --------------------------------------------------------------------------------


class MockContext(AuditContext):
    handler: Callable[[httpx.Request], httpx.Response]

    def client(self, **kwargs: Any) -> httpx.Client:
        return super().client(transport=httpx.MockTransport(self.handler), **kwargs)


def mock(
    handler: Callable[[httpx.Request], httpx.Response],
    scenario: Scenario = SCENARIO,
    credentials: Credentials | None = None,
) -> MockContext:
    ctx = MockContext("http://api.example", scenario, credentials or Credentials(tenants=["acme"]), AuditSettings())
    ctx.handler = handler
    return ctx


def express_like(blocked_first: int = 0) -> Callable[[httpx.Request], httpx.Response]:
    """Crash pages for invalid JSON and wrong types, any body taken, the huge one dropped mid-upload,
    prompts over 4,096 tokens refused; the first `blocked_first` requests rate limited."""
    seen = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["n"] += 1
        if seen["n"] <= blocked_first:
            return httpx.Response(429, headers={"retry-after": "0"}, json={"error": "slow down"})
        raw = request.read()
        if len(raw) > 2 * 1024 * 1024:
            raise httpx.RemoteProtocolError("peer closed connection", request=request)
        try:
            body = json.loads(raw)
        except ValueError:
            return httpx.Response(400, html=EXPRESS)
        except RecursionError:
            return httpx.Response(500, text="Internal Server Error")
        if isinstance(body, dict) and any(isinstance(v, dict) and "$gt" in v for v in body.values()):
            return httpx.Response(500, text=SQL)
        content = json.dumps(body.get("messages") if isinstance(body, dict) else None)
        if content.count(validation.FILLER_WORD) > 4096:
            return httpx.Response(413, json={"error": "prompt_too_large"})
        return httpx.Response(200, json={"ok": True})

    return handler


def test_crash_pages_500s_and_accepted_junk_are_findings_a_dropped_upload_and_text_plain_are_notes():
    [result] = validation.run(mock(express_like(blocked_first=3)))
    assert result.status == FAIL
    leads = [f for f in result.findings if f.startswith("leads:")]
    assert leads == [
        "leads: answers the invalid JSON probe with HTTP 400 and an Express error page: <!DOCTYPE html><html><body>"
        "<pre>SyntaxError: Unexpected end of JSON input<br> &nbsp; &nbsp;at JSON.parse (&lt;anonymous&gt;)</pre></body></h",
        'leads: answers the wrong types probe with HTTP 500 and a SQL error: {"error": "ERROR: syntax error at or near '
        '\\"$gt\\" LINE 1: SELECT * FROM users WHERE email = $gt"}',
        "leads: accepts the not an object probe's body (HTTP 200) instead of refusing it with 4xx",
        "leads: answers the deeply nested probe with HTTP 500 (a crash, not a refusal)",
    ]
    assert "leads: the connection was closed on a 3 MiB body (RemoteProtocolError); counted as refused" in result.note
    assert "login, register, new_conversation, chat, reset_request, leads parse(s) a JSON body" in result.note
    assert "chat: refuses a 8,192-token prompt with HTTP 413 before any model spend" in result.evidence
    assert not any("429" in e for e in result.evidence)  # the rate-limited answers were retried, not judged


def test_an_unreachable_target_is_not_measurable():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    [result] = validation.run(mock(refuse))
    assert result.status == UNTESTED and result.note == "the target answered none of the probes"


def test_a_placeholder_without_a_value_is_never_sent_empty():
    """{tenant} with no tenant known, {item_id} with no route listing items: those routes are not called
    (the note names the placeholder); an id listed (not created by the audit) is not written to."""
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if request.url.path == "/api/notes":
            return httpx.Response(200, json=[{"id": "n-7"}])
        return httpx.Response(422, json={"error": "invalid"})

    endpoints = {
        "login": SCENARIO.endpoints["login"],
        "leads": SCENARIO.endpoints["leads"],
        "notes": Endpoint("notes", "GET", "/api/notes", kind="list"),
        "note": Endpoint("note", "PUT", "/api/notes/{note_id}", {"text": "{message}"}, kind="write"),
        "item": Endpoint("item", "PUT", "/api/items/{item_id}", {"text": "{message}"}, kind="write"),
    }
    scenario = replace(SCENARIO, endpoints=endpoints)
    ctx = mock(handler, scenario, Credentials([Account("a@x.example", "pw-123456789", "client")]))
    ctx._tokens["a@x.example"] = "tok"  # logged in already (how the audit logs in is not under test here)
    [result] = validation.run(ctx)
    assert result.status == PASS  # login and note refused every bad body
    assert "leads: not called: no value for {tenant}" in result.note
    assert "item: not called: no value for {item_id} (an object id: no route of the map lists them" in result.note
    assert not any(p.startswith("/api/leads") or p.startswith("/api/items") for p in paths)
    # the listed id is a note the audit did not create: bad bodies a lax API takes would overwrite it
    assert "note: not sent: PUT would write to an object the audit did not create (n-7)" in result.note
    assert "/api/notes/n-7" not in paths and "/api/notes/" not in paths  # nor an empty id
    assert "no chat route" in result.note and "prompt-size ladder" in result.note
