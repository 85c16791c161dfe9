"""Sends the check's steps over plain httpx, in this process, and judges each answer.

Each role has its own client (its own cookie jar); anonymous routes and webhook deliveries go through
one without credentials. Every answer is read within `[http] timeout` and at most MAX_BODY bytes, and
no redirect is followed (a redirect to a login page is evidence). Rows come back in the order sent.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.check import diagnose
from harness.check.answers import Answer
from harness.check.plan import CHECK_MAX_TOKENS, CHECK_PROMPT, Plan, Step
from harness.host import basic_auth_header
from harness.load.webhooks import scheme_of
from harness.protocol.signing import PRESETS, WebhookScheme
from harness.protocol.streams import read_stream
from harness.scenario import Endpoint, Scenario
from harness.scenario.accounts import Credentials
from harness.scenario.templates import PLACEHOLDER, render

__all__ = ["Row", "run_steps", "redact", "MAX_BODY", "test_event"]

MAX_BODY = 1024 * 1024  # the most of one answer the check reads
_ID = re.compile(r"(?:[A-Za-z0-9]+_)?id", re.IGNORECASE)  # {id}, {conversation_id}


@dataclass(frozen=True)
class Row:
    """One line of the table: the step, how many requests it sent (0: none; a refused webhook delivery
    may be tried with other schemes), the status of the first (0: none) and the verdict."""

    step: Step
    requests: int
    status: int
    finding: diagnose.Finding

    @property
    def sent(self) -> bool:
        return self.requests > 0


Outcome = tuple[int, diagnose.Finding]  # a step's status (0: nothing sent or no answer) and verdict


@dataclass
class _State:
    """What earlier steps learned: each role's session token, the ids each list route gave."""

    tokens: dict[str, str] = field(default_factory=dict)
    failed_logins: set[str] = field(default_factory=set)  # roles whose login did not work
    ids: dict[str, list[str]] = field(default_factory=dict)  # list route -> ids of its items


def test_event() -> dict[str, Any]:
    """The body of the check's delivery: a new id, and marked as a test from the check on every level."""
    return {
        "id": f"evt_harness_check_{secrets.token_hex(8)}",
        "type": "harness.check.test",
        "livemode": False,
        "created": int(time.time()),
        "data": {"object": {"harness_check": True, "note": "test delivery from `harness check`; ignore it"}},
    }


class _Checker:
    def __init__(self, scenario: Scenario, plan: Plan, credentials: Credentials, clients: dict[str, httpx.Client]):
        self.scenario = scenario
        self.plan = plan
        self.credentials = credentials
        self.clients = clients  # role -> client; "" anonymous
        self.state = _State()
        self.requests = 0  # sent so far

    # --- sending ------------------------------------------------------------------------------

    def send(self, role: str, ep: Endpoint, path: str, body: Any, headers: dict[str, str]) -> Answer:
        """One request, read within the deadline and MAX_BODY; an answer with status 0 when none came."""
        client = self.clients[role]
        self.requests += 1
        sent: dict[str, Any] = (
            {"content": body} if isinstance(body, bytes) else {"json": body} if body is not None else {}
        )
        request = client.build_request(ep.method, path, headers=headers, **sent)
        deadline = time.monotonic() + self.scenario.http.timeout_s
        try:
            response = client.send(request, stream=True)
        except httpx.HTTPError as exc:
            return Answer(0, error=_reason(exc))
        data = bytearray()
        error = ""
        try:
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) >= MAX_BODY or time.monotonic() > deadline:
                    error = "answer cut at the check's limit"
                    break
        except httpx.HTTPError as exc:
            error = _reason(exc)
        finally:
            response.close()
        return Answer(response.status_code, tuple(response.headers.multi_items()), bytes(data[:MAX_BODY]), error)

    def auth_headers(self, role: str, ep: Endpoint) -> dict[str, str]:
        token = self.state.tokens.get(role)
        if not ep.auth or token is None:
            return {}
        auth = self.scenario.auth
        return {auth.header: f"{auth.scheme} {token}" if auth.scheme else token}

    # --- the steps ----------------------------------------------------------------------------

    def run(self, step: Step) -> Row:
        """The step's row, with every secret the check holds (passwords, tokens, the webhook secret) masked."""
        before = self.requests
        status, finding = self.step(step)
        mask = [*self.credentials.secrets(), *self.state.tokens.values()]
        note, fix = (redact(text, mask) for text in (finding.note, finding.fix))
        return Row(step, self.requests - before, status, diagnose.Finding(finding.ok, note, fix))

    def step(self, step: Step) -> Outcome:
        ep = self.scenario.endpoints[step.route]
        if step.role and ep.auth and step.action != "login" and step.role in self.state.failed_logins:
            return 0, self.state_failure(step.role)
        return {"login": self.login, "get": self.get, "chat": self.chat, "webhook": self.webhook}[step.action](step, ep)

    def state_failure(self, role: str) -> diagnose.Finding:
        return diagnose.Finding(False, f"not sent: no session for {role} (its login did not work, above)")

    def login(self, step: Step, ep: Endpoint) -> Outcome:
        account = self.plan.accounts[step.role]
        values = {"email": account.email, "password": account.password}
        body = render(ep.body, values) if ep.body is not None else None
        path = render(ep.path, values, in_path=True)
        answer = self.send(step.role, ep, path, body, {})
        sent = tuple(body) if isinstance(body, dict) else ()
        finding = self.judge(answer, ep) or diagnose.login(answer, self.scenario.auth, ep, step.role, sent)
        token = diagnose.token_at(answer, self.scenario.auth.token_field) if answer.ok else None
        if finding.ok and token:
            self.state.tokens[step.role] = token
            self.clients[step.role].cookies.clear()  # bearer: the session is the token, as in a run
        else:
            self.state.failed_logins.add(step.role)
        return answer.status, finding

    def get(self, step: Step, ep: Endpoint) -> Outcome:
        values, missing = self.values(ep, step.role)
        if missing:
            return 0, missing
        path = render(ep.path, values, in_path=True)
        body = render(ep.body, values) if ep.body is not None else None
        answer = self.send(step.role, ep, path, body, self.auth_headers(step.role, ep))
        finding = self.judge(answer, ep) or diagnose.route(answer, self.scenario.auth, ep, step.role)
        if finding.ok and ep.kind == "list":
            finding, ids = diagnose.listing(answer, ep)
            self.state.ids[ep.name] = ids
        return answer.status, finding

    def chat(self, step: Step, ep: Endpoint) -> Outcome:
        values, missing = self.values(ep, step.role, chat=True)
        if missing:
            return 0, missing
        path = render(ep.path, values, in_path=True)
        body = render(ep.body, {k: v for k, v in values.items() if not _ID.fullmatch(k)}) if ep.body else None
        capped = self._cap_reply(body)
        headers = self.auth_headers(step.role, ep)
        if ep.stream.startswith("sse"):
            headers |= {"Accept": "text/event-stream", "Accept-Encoding": "identity"}
        answer = self.send(step.role, ep, path, body, headers)
        finding = self.judge(answer, ep) or diagnose.route(answer, self.scenario.auth, ep, step.role)
        if finding.ok:
            chunks, error = _read_chat(answer, ep)
            finding = diagnose.chat(answer, ep, chunks, error)
        reply = f" (prompt of {len(CHECK_PROMPT)} characters, " + (
            f"max_tokens {CHECK_MAX_TOKENS})" if capped else "no max_tokens field in the body)"
        )
        return answer.status, _with(finding, reply)

    def webhook(self, step: Step, ep: Endpoint) -> Outcome:
        secret = self.credentials.webhook_secret
        if not secret:
            env = self.scenario.webhook_secret_env
            return 0, diagnose.problem(
                "not sent: no webhook secret to sign with",
                f"export {env}=<the signing secret> ([webhook] secret_env names the variable)",
            )
        scheme = scheme_of(self.scenario.webhook_signing)
        event = test_event()
        try:
            answer = self.deliver(ep, scheme, secret, event)
        except ValueError as exc:  # a secret this scheme cannot sign with (Standard Webhooks: whsec_ + base64)
            return 0, diagnose.problem(
                f"not sent: {exc}", f"check [webhook] secret_env ({self.scenario.webhook_secret_env}) and scheme"
            )
        finding = self.judge(answer, ep)
        if finding is None:
            refused = answer.status in (400, 401, 403) and diagnose.hinted_scheme(answer) is None
            accepted_as = self.other_scheme(ep, scheme, secret, event) if refused else None
            finding = diagnose.webhook(answer, ep, scheme.name, self.scenario.webhook_secret_env, accepted_as)
        return answer.status, _with(finding, f" (event {event['id']})")

    def deliver(self, ep: Endpoint, scheme: WebhookScheme, secret: str, event: dict[str, Any]) -> Answer:
        """One delivery of `event` signed with `scheme`; ValueError when the secret does not suit it."""
        body = json.dumps(event).encode()
        signed = scheme.headers_for(secret, body, time.time(), event["id"])
        return self.send("", ep, ep.path, body, {"Content-Type": "application/json", **signed})

    def other_scheme(self, ep: Endpoint, used: WebhookScheme, secret: str, event: dict[str, Any]) -> str | None:
        """The preset scheme, other than `used`, whose signature of the same test event (under a new id)
        the route accepts: one more test delivery per preset at most, sent only when a refusal names none."""
        for name, scheme in PRESETS.items():
            if name == used.name:
                continue
            retry = {**event, "id": f"{event['id']}_{name}"}
            try:
                if self.deliver(ep, scheme, secret, retry).ok:
                    return name
            except ValueError:  # this secret cannot be that scheme's
                continue
        return None

    # --- helpers ------------------------------------------------------------------------------

    def judge(self, answer: Answer, ep: Endpoint) -> diagnose.Finding | None:
        blocked = bool(answer.status) and self.scenario.block.matches(answer.status, dict(answer.headers), answer.body)
        return diagnose.transport(answer, ep, blocked)

    def values(self, ep: Endpoint, role: str, chat: bool = False) -> tuple[dict[str, Any], diagnose.Finding | None]:
        """The values of a route's placeholders, or the finding naming the first one check cannot fill."""
        account = self.plan.accounts.get(role)
        values: dict[str, Any] = {
            "messages": [{"role": "user", "content": CHECK_PROMPT}],
            "message": CHECK_PROMPT,
            "email": account.email if account else "",
            "tenant": (self.credentials.tenants or [""])[0],
            "name": "Harness Check",
            "lead_email": "harness-check@example.test",
        }
        names = _placeholders(ep.path) + [n for n in _placeholders(ep.body) if not (chat and _ID.fullmatch(n))]
        for name in dict.fromkeys(names):
            if name in values:
                continue
            found = self.id_for(ep, name) if _ID.fullmatch(name) else None
            if found is None:
                return values, diagnose.problem(
                    f"not sent: {{{name}}} has no value", _unfilled_fix(name, self.scenario, self.state)
                )
            values[name] = found
        return values, None

    def id_for(self, ep: Endpoint, name: str) -> str | None:
        """An id for `{name}` from the list route that lists those objects, chosen as load traffic
        chooses it (harness.scenario.callers.id_source on i13-kinds): the list whose path starts this
        route's (the longest), else the one named after the placeholder, by route name or last path
        segment ({conversation_id}: `conversations`)."""
        lists = [self.scenario.endpoints[r] for r in self.state.ids]
        path = ep.path.split("?")[0]
        prefixed = [e for e in lists if path.startswith(e.path.split("?")[0].rstrip("/") + "/")]
        stem = name[:-3].lower() if name.lower().endswith("_id") else ""
        wanted = {stem, stem + "s", stem + "es"} if stem else set()
        named = [e for e in lists if e.name.lower() in wanted or _last_segment(e.path) in wanted]
        source = max(prefixed, key=lambda e: len(e.path)) if prefixed else next(iter(named), None)
        ids = self.state.ids.get(source.name) if source else None
        return ids[0] if ids else None

    def _cap_reply(self, body: Any) -> bool:
        """Set the body's reply cap to CHECK_MAX_TOKENS where it has one; True when it did."""
        wallet = self.scenario.wallet
        field_name = wallet.max_tokens_field if wallet else "max_tokens"
        if isinstance(body, dict) and field_name and field_name in body:
            body[field_name] = CHECK_MAX_TOKENS
            return True
        return False


def run_steps(
    scenario: Scenario, plan: Plan, credentials: Credentials, base_url: str, host_auth: str | None = None
) -> Iterator[Row]:
    """Send each step of `plan` to `base_url`, yielding its row as soon as it is judged."""
    headers = {"Authorization": basic_auth_header(host_auth)} if host_auth else {}
    timeout = httpx.Timeout(scenario.http.timeout_s, connect=scenario.http.connect_timeout_s)
    with httpx.HTTPTransport() as transport:  # one TLS context and pool; a cookie jar per role
        clients = {
            role: httpx.Client(
                base_url=base_url, timeout=timeout, follow_redirects=False, headers=headers, transport=transport
            )
            for role in ["", *plan.accounts]
        }
        checker = _Checker(scenario, plan, credentials, clients)
        for step in plan.steps:
            yield checker.run(step)


def _read_chat(answer: Answer, ep: Endpoint) -> tuple[int, str]:
    """(content chunks, stream error) of a chat answer read in its map's stream format."""
    if not ep.stream.startswith("sse") or answer.content_type != "text/event-stream":
        return 0, ""
    lines = [*answer.body.splitlines(keepends=True), b""]
    result = read_stream(lines, ep.stream, time.perf_counter())
    return result.chunks, result.error


_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{16,}")  # a credential, not the word


def redact(text: str, secrets: list[str]) -> str:
    """`text` with each of `secrets`, and any long credential after Bearer or Basic, masked."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return _CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)


def _placeholders(template: Any) -> list[str]:
    if isinstance(template, str):
        return PLACEHOLDER.findall(template)
    if isinstance(template, dict):
        return [n for v in template.values() for n in _placeholders(v)]
    if isinstance(template, list):
        return [n for v in template for n in _placeholders(v)]
    return []


def _last_segment(path: str) -> str:
    segments = [s for s in path.split("?")[0].split("/") if s and "{" not in s]
    return segments[-1].lower() if segments else ""


def _unfilled_fix(name: str, scenario: Scenario, state: _State) -> str:
    """Why check has no value for `{name}`, as the fix."""
    if not _ID.fullmatch(name):
        return f"check fills no {{{name}}}: remove it from the route, or write the value itself"
    if not scenario.routes("list"):
        return f'{{{name}}} takes an id from a list route: map one (kind = "list") whose items carry it'
    if not state.ids:
        return "the list route did not work (above): fix it first"
    if not any(state.ids.values()):
        return "the list routes gave no items to take an id from (an account with none?)"
    return f"no list route lists the objects of {{{name}}}: map one at the path above it, or named after them"


def _with(finding: diagnose.Finding, more: str) -> diagnose.Finding:
    return diagnose.Finding(finding.ok, finding.note + more, finding.fix) if finding.ok else finding


def _reason(exc: httpx.HTTPError) -> str:
    """Why a request got no (whole) answer, in a few words, never the URL."""
    if isinstance(exc, httpx.TimeoutException):
        return f"timeout ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        return "connection refused" if "refused" in text else "could not connect"
    return type(exc).__name__
