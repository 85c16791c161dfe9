"""Row `input_validation`: what the API does with bad, huge and malformed bodies.

Every JSON route of the API map (a route with a body template) gets six bodies, as an account its
matrix allows (so the answer is about the body, not the login):

| probe | sent | a finding when |
|---|---|---|
| invalid JSON | `{"email": ` cut short | 2xx |
| wrong types | every field of the template with a value of the wrong type | 2xx |
| not an object | `[]` | 2xx |
| deeply nested | the template plus a field nested 10,000 arrays deep | (crashes only) |
| huge body | the template plus a 3 MiB string field | 2xx |
| wrong content type | the template as `text/plain` | (crashes only; 2xx is a note: a cross-site form can post it) |

On every probe, a 5xx, no answer, or a stack trace / debug page / SQL error in the body
(`harness.audit.errorpages`) is a finding. A rate-limited answer is retried after its Retry-After,
within a small budget, and left unjudged if it stays blocked.

Templates are filled with the sample values below (a wrong e-mail and password: no real account is
tried), the columns of the account a logged-in route is called as, and, for an object id in the path,
an id that account lists. A route left with a placeholder without a value is not called (the note
says which and why): an empty path segment would measure another route. A logged-in route is called
as one of the audit's own accounts when it could sign them up (harness.audit.signup), so a bad body a
lax API takes lands in an account of the audit's; a sign-up route (kind register) gets a new
account's values, and a probe it answers with a 2xx may have made that account: it is listed in
audit.json with the accounts the audit signed up.

Each chat route (`[audit] chat_route`, else every route of kind chat) also gets the denial-of-wallet
probe's prompt-size ladder
(harness.load.wallet): prompts of `[wallet] prompt_start_tokens` doubling up to `prompt_cap_tokens`
(1,024 to 131,072 by default), each asking for a one-token reply. As in harness.analysis.wallet, a refusal with
400, 413 or 422 before the cap is the pass; the cap accepted, or a 5xx on the way, is a finding.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from harness.analysis.wallet import REFUSALS
from harness.audit.context import AuditContext
from harness.audit.errorpages import error_page
from harness.audit.keys import mask
from harness.audit.model import FAIL, NOT_APPLICABLE, PASS, UNTESTED, CheckResult
from harness.audit.routes import ObjectIds, Sender, id_placeholders
from harness.audit.signup import new_account_values, own_accounts, record
from harness.audit.values import account_values, unfilled, unfilled_note
from harness.scenario import Endpoint, Wallet
from harness.scenario.accounts import Account
from harness.scenario.templates import render

__all__ = ["run", "probes", "wrong_types", "filler"]

CHECK = "malformed, oversized and huge-prompt bodies"
HUGE_BYTES = 3 * 1024 * 1024
NEST_DEPTH = 10_000
MAX_ROUTES = 8
READ_BYTES = 64 * 1024  # of each answer: enough for an error page, and a long reply is not waited for
BLOCKED_BUDGET_S = 20.0  # the most the whole check waits out rate limits
MAX_RETRY_AFTER_S = 10.0
MAX_BLOCKED_RETRIES = 3  # per body
FILLER_WORD = " coach"  # as harness.load.wallet: one cl100k_base token, so n of them are n tokens
SAMPLE_VALUES: dict[str, Any] = {
    "email": "audit-probe@example.invalid",
    "lead_email": "audit-probe@example.invalid",
    "password": "not-the-password-1",
    "new_password": "not-the-password-2",
    "token": "audit-probe",
    "name": "Audit Probe",
    "message": "Hello from the launch audit.",
    "conversation_id": "",
    "messages": [{"role": "user", "content": "Say hello."}],
}
# probes whose 2xx means the body was taken as it was
MUST_REFUSE = ("invalid JSON", "wrong types", "not an object", "huge body")


def filler(tokens: int) -> str:
    """A prompt of exactly `tokens` cl100k_base tokens (harness.load.wallet.filler)."""
    return FILLER_WORD * tokens


def wrong_types(body: Mapping[str, Any]) -> dict[str, Any]:
    """`body` with every field's value replaced by one of another type (an operator object for strings)."""

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            return {"$gt": ""}
        if isinstance(value, bool) or isinstance(value, (int, float)):
            return "not-a-number"
        if isinstance(value, list):
            return "not-a-list"
        return [1, 2, 3]

    return {key: swap(value) for key, value in body.items()}


def probes(body: Mapping[str, Any]) -> list[tuple[str, bytes, str]]:
    """(name, body bytes, content type) of the malformed bodies for a route whose valid body is `body`."""
    valid = json.dumps(body).encode()
    first = next(iter(body), "email")
    nested = (
        json.dumps({**body, "metadata": None})
        .encode()
        .replace(b'"metadata": null', b'"metadata": ' + b"[" * NEST_DEPTH + b"]" * NEST_DEPTH)
    )
    huge = json.dumps({**body, "padding": "a" * HUGE_BYTES}).encode()
    return [
        ("invalid JSON", f'{{"{first}": '.encode(), "application/json"),
        ("wrong types", json.dumps(wrong_types(body)).encode(), "application/json"),
        ("not an object", b"[]", "application/json"),
        ("deeply nested", nested, "application/json"),
        ("huge body", huge, "application/json"),
        ("wrong content type", valid, "text/plain"),
    ]


@dataclass(frozen=True)
class _Answer:
    status: int | None  # None: no answer
    text: str = ""
    error: str = ""  # the transport error's name
    blocked: bool = False


class _Sender:
    """Sends one body, reads the start of the answer, waits out rate limits within a shared budget."""

    def __init__(self, ctx: AuditContext, client: httpx.Client) -> None:
        self.ctx = ctx
        self.client = client
        self.waited_s = 0.0

    def send(self, endpoint: Endpoint, path: str, content: bytes, content_type: str, token: str | None) -> _Answer:
        headers = {**self.ctx.auth_headers(token), "content-type": content_type}
        reconnected = False
        for _ in range(MAX_BLOCKED_RETRIES + 2):
            answer, retry_after = self._once(endpoint.method, path, content, headers)
            if answer.status is None and not answer.error.endswith("Timeout") and not reconnected:
                reconnected = True  # a kept-alive connection the server closed after its last answer: once more
                continue
            if not answer.blocked or self.waited_s >= BLOCKED_BUDGET_S:
                break
            wait = min(retry_after, MAX_RETRY_AFTER_S, BLOCKED_BUDGET_S - self.waited_s)
            time.sleep(wait)
            self.waited_s += wait
        return answer

    def _once(self, method: str, path: str, content: bytes, headers: dict[str, str]) -> tuple[_Answer, float]:
        try:
            with self.client.stream(method, path, content=content, headers=headers) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) >= READ_BYTES:
                        break
        except httpx.HTTPError as exc:
            return _Answer(None, error=type(exc).__name__), 0.0
        text = bytes(body).decode("utf-8", "replace")
        blocked = self.ctx.scenario.block.matches(response.status_code, response.headers, bytes(body))
        try:
            retry_after = float(response.headers.get("retry-after", "1"))
        except ValueError:
            retry_after = 1.0
        return _Answer(response.status_code, text, blocked=blocked), max(retry_after, 0.1)


def _account_for(ctx: AuditContext, route: str, skip: Account | None = None) -> Account | None:
    """An account the matrix allows on `route`, other than `skip` when there is one: the audit's own
    (signed up) first, else the scenario's, a client first."""
    own = [a for a in own_accounts(ctx).accounts if ctx.expected(route, a.role) == "allow"]
    others = [a for a in own if skip is None or a.key != skip.key]
    if others:
        return others[0]
    for role in ("client", "coach", "admin"):
        if ctx.expected(route, role) != "allow":
            continue
        accounts = [a for a in ctx.accounts(role) if skip is None or a.email != skip.email]
        if accounts:
            return accounts[-1] if skip is not None else accounts[0]
    return skip


def _judge(
    route: str, probe: str, answer: _Answer, findings: list[str], notes: list[str], plain_text: list[str]
) -> str:
    """Adds what `answer` to `probe` says to `findings`/`notes`; returns a short outcome for the evidence."""
    if answer.status is None:
        if probe == "huge body" and "Timeout" not in answer.error:
            notes.append(
                f"{route}: the connection was closed on a {HUGE_BYTES // 1024 // 1024} MiB body "
                f"({answer.error}); counted as refused"
            )
            return f"closed ({answer.error})"
        findings.append(f"{route}: no answer to the {probe} probe ({answer.error})")
        return f"no answer ({answer.error})"
    page = error_page(answer.text)
    if page is not None:
        article = "an" if page[0][0] in "AEIOU" else "a"
        findings.append(
            f"{route}: answers the {probe} probe with HTTP {answer.status} and {article} {page[0]}: {page[1]}"
        )
    elif answer.status >= 500:
        findings.append(f"{route}: answers the {probe} probe with HTTP {answer.status} (a crash, not a refusal)")
    elif answer.blocked:
        notes.append(f"{route}: the {probe} probe stayed rate limited: not judged")
    elif 200 <= answer.status < 300 and probe in MUST_REFUSE:
        what = f"a {HUGE_BYTES // 1024 // 1024} MiB body" if probe == "huge body" else f"the {probe} probe's body"
        findings.append(f"{route}: accepts {what} (HTTP {answer.status}) instead of refusing it with 4xx")
    elif 200 <= answer.status < 300 and probe == "wrong content type":
        plain_text.append(route)
    return str(answer.status)


def _prompt_ladder(
    ctx: AuditContext,
    sender: _Sender,
    endpoint: Endpoint,
    values: dict[str, Any],
    token: str | None,
    findings: list[str],
    notes: list[str],
    evidence: list[str],
) -> int:
    """Doubling prompt sizes up to the cap: the first refusal (400/413/422) before it is the pass.
    Returns how many prompts were answered."""
    wallet = ctx.scenario.wallet or Wallet(route=endpoint.name)
    size, cap = wallet.prompt_start_tokens, wallet.prompt_cap_tokens
    steps: list[str] = []
    answered = 0
    while True:
        prompt = filler(size)
        body = render(endpoint.body, {**values, "message": prompt, "messages": [{"role": "user", "content": prompt}]})
        if isinstance(body, dict) and wallet.max_tokens_field:
            body[wallet.max_tokens_field] = 1  # a one-token reply: probing costs little even where nothing is refused
        path = render(endpoint.path, values, in_path=True)
        answer = sender.send(endpoint, path, json.dumps(body).encode(), "application/json", token)
        answered += answer.status is not None
        outcome = answer.error if answer.status is None else str(answer.status)
        steps.append(f"{size:,}: {outcome}")
        route = endpoint.name
        page = error_page(answer.text) if answer.status is not None else None
        if answer.status is None or answer.status >= 500 or page is not None:
            what = f"HTTP {answer.status}" if answer.status is not None else f"no answer ({answer.error})"
            findings.append(
                f"{route}: fails with {what} on a {size:,}-token prompt instead of refusing it with 413"
                + (f" ({page[0]}: {page[1]})" if page else "")
            )
            break
        if answer.blocked:
            notes.append(f"{route}: the prompt-size probe stayed rate limited at {size:,} tokens: not judged")
            break
        if 200 <= answer.status < 300:
            if size >= cap:
                findings.append(
                    f"{route}: accepts a {cap:,}-token prompt (the probe's cap) with no size limit "
                    "before the model: one request can cost as much as thousands of normal ones"
                )
                break
            size = min(2 * size, cap)
            continue
        if answer.status in REFUSALS and len(steps) > 1:
            evidence.append(
                f"{route}: refuses a {size:,}-token prompt with HTTP {answer.status} before any model spend"
            )
        elif answer.status in REFUSALS:
            notes.append(
                f"{route}: refused even a {size:,}-token prompt (HTTP {answer.status}); its size limit "
                "cannot be told from a rejected body"
            )
        else:
            notes.append(f"{route}: answered a {size:,}-token prompt with HTTP {answer.status}: not judged")
        break
    evidence.append(f"{endpoint.method} {endpoint.path} prompt sizes (tokens: status): {', '.join(steps)}")
    return answered


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _values(
    ctx: AuditContext, client: httpx.Client, endpoint: Endpoint, account: Account | None, token: str | None
) -> tuple[dict[str, Any], str]:
    """The values to fill `endpoint` with as `account`, and why it cannot be called ("" when it can)."""
    # a real tenant for the lead form (the demo's), else the account's own
    tenants = [*ctx.credentials.tenants, *(a.tenant for a in ctx.credentials.accounts if a.tenant)]
    values = {**account_values(account), **SAMPLE_VALUES}
    if tenants:
        values["tenant"] = tenants[0]
    if endpoint.kind == "register":  # a sign-up: a new account's values, never a user's
        values.update(new_account_values(ctx, "(input validation)"))
    in_path = [n for n in id_placeholders(endpoint) if "{" + n + "}" in endpoint.path]
    listed = ObjectIds()
    if in_path:  # an object of the account's own: an empty id would measure another route
        listed.find(Sender(ctx, client), endpoint.name, account, token)
        values.update({n: i for n, i in listed.first().items() if n in in_path})
    missing = unfilled(endpoint, values)
    return values, unfilled_note(endpoint.name, missing, listed.why) if missing else ""


def run(ctx: AuditContext) -> list[CheckResult]:
    routes = [
        e
        for e in ctx.scenario.endpoints.values()
        if isinstance(e.body, dict) and e.method in ("POST", "PUT", "PATCH", "DELETE")
    ][:MAX_ROUTES]
    chats = [e for e in ctx.chat_routes() if isinstance(e.body, dict)]
    if not routes and not chats:
        return [
            CheckResult(
                "input_validation",
                CHECK,
                NOT_APPLICABLE,
                note="the API map has no route with a JSON body template to send bad bodies to",
            )
        ]
    findings: list[str] = []
    notes: list[str] = []
    evidence: list[str] = []
    plain_text: list[str] = []  # routes that parse JSON sent as text/plain
    answered = 0
    with ctx.client() as client:
        sender = _Sender(ctx, client)
        for endpoint in routes:
            account = _account_for(ctx, endpoint.name) if endpoint.auth else None
            token = ctx.token(account) if account is not None else None
            if endpoint.auth and token is None:
                notes.append(f"{endpoint.name}: no account could log in; only crashes and stack traces judged")
            values, skipped = _values(ctx, client, endpoint, account, token)
            if skipped:
                notes.append(skipped)
                continue
            unlisted = endpoint.kind == "register"  # a 2xx may have made an account: listed once
            path = render(endpoint.path, values, in_path=True)
            refused = ctx.guard(endpoint.name, endpoint.method, values, path, render(endpoint.body, values))
            if refused:  # a bad body a lax API takes would overwrite an object the audit did not create
                notes.append(refused)
                continue
            outcomes = []
            for probe, content, content_type in probes(render(endpoint.body, values)):
                answer = sender.send(endpoint, path, content, content_type, token)
                answered += answer.status is not None
                if unlisted and answer.status is not None and 200 <= answer.status < 300:
                    record(ctx, endpoint, values, f"input validation: its {probe} probe was taken", _json(answer.text))
                    unlisted = False
                outcomes.append(f"{probe}: {_judge(endpoint.name, probe, answer, findings, notes, plain_text)}")
            evidence.append(f"{endpoint.method} {endpoint.path} -> {', '.join(outcomes)}")
        for chat in chats:
            first = _account_for(ctx, chat.name) if chat.auth else None
            # another account than the malformed bodies used: a per-user chat limit is not under test here
            account = _account_for(ctx, chat.name, skip=first) if chat.auth else None
            token = ctx.token(account) if account is not None else None
            values, skipped = _values(ctx, client, chat, account, token)
            if skipped:
                notes.append(f"{skipped} (the prompt-size ladder)")
                continue
            answered += _prompt_ladder(ctx, sender, chat, values, token, findings, notes, evidence)
    if not chats:
        notes.append('no chat route (kind "chat"): the prompt-size ladder (denial of wallet) does not apply')
    if plain_text:
        notes.append(
            f"{', '.join(plain_text)} parse(s) a JSON body sent as text/plain, which a form on any site can "
            "post without a CORS preflight: require Content-Type: application/json"
        )
    if not answered:
        return [
            CheckResult(
                "input_validation",
                CHECK,
                UNTESTED,
                evidence=[ctx.redact(e) for e in evidence],
                note="the target answered none of the probes",
            )
        ]
    status = FAIL if findings else PASS

    def clean(text: str) -> str:  # an excerpt of a traceback may show a key
        return mask(ctx.redact(text))

    return [
        CheckResult(
            "input_validation",
            CHECK,
            status,
            [clean(f) for f in dict.fromkeys(findings)],
            [clean(e) for e in evidence],
            clean("; ".join(dict.fromkeys(notes))),
        )
    ]
