"""Sends the check's steps over plain httpx, in this process, and judges each answer.

Each role's session is a `harness.protocol.auth.Credential` (a token, an API key, its own cookie jar, a
CSRF token), read from answers and sent on requests by the same functions as a run's, so check and load
agree on what `[auth]` means. Every answer is read within `[http] timeout` and at most MAX_BODY bytes,
and no redirect is followed (a redirect to a login page is evidence). Rows come back in the order sent.
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
from harness.protocol.auth import (
    FORM,
    Credential,
    credential_headers,
    credential_params,
    read_csrf,
    read_login,
    store_cookies,
    token_request_body,
    with_params,
)
from harness.protocol.signing import PRESETS, WebhookScheme
from harness.protocol.streams import ACCEPT, JsonPaths, not_a_stream, read_stream, stream_source
from harness.scenario import Endpoint, Scenario
from harness.scenario.accounts import Credentials
from harness.scenario.callers import id_source
from harness.scenario.templates import PLACEHOLDER, render

__all__ = ["Row", "run_steps", "redact", "MAX_BODY", "check_event"]

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
    """What earlier steps learned: each role's session, the ids each list route gave."""

    sessions: dict[str, Credential] = field(default_factory=dict)  # role -> its credential
    failed_logins: set[str] = field(default_factory=set)  # roles whose login did not work
    ids: dict[str, list[str]] = field(default_factory=dict)  # list route -> ids of its items

    def secrets(self) -> list[str]:
        return [v for credential in self.sessions.values() for v in credential.secrets()]


def check_event() -> dict[str, Any]:
    """The body of the check's delivery: a new id, and marked as a test from the check on every level."""
    return {
        "id": f"evt_harness_check_{secrets.token_hex(8)}",
        "type": "harness.check.test",
        "livemode": False,
        "created": int(time.time()),
        "data": {"object": {"harness_check": True, "note": "test delivery from `harness check`; ignore it"}},
    }


class _Checker:
    def __init__(self, scenario: Scenario, plan: Plan, credentials: Credentials, client: httpx.Client):
        self.scenario = scenario
        self.auth = scenario.auth
        self.plan = plan
        self.credentials = credentials
        self.client = client
        self.state = _State()
        self.requests = 0  # sent so far
        if self.auth.style == "api_key":  # a key is a session with no login
            for role, account in plan.accounts.items():
                key = credentials.api_key(account)
                if key:
                    self.state.sessions[role] = Credential(token=key)

    # --- sending ------------------------------------------------------------------------------

    def send(self, role: str, ep: Endpoint, path: str, body: Any, headers: dict[str, str]) -> Answer:
        """One request as `role` (its credential on an authenticated route; "" none), read within the
        deadline and MAX_BODY; an answer with status 0 when none came. The cookies an answer sets go to
        that role's jar, never to the HTTP client's."""
        credential = self.state.sessions.get(role) if ep.auth else None
        headers = {**credential_headers(self.auth, credential, ep.method), **headers}
        path = with_params(path, credential_params(self.auth, credential))
        self.requests += 1
        sent: dict[str, Any] = (
            {"content": body} if isinstance(body, bytes) else {"json": body} if body is not None else {}
        )
        request = self.client.build_request(ep.method, path, headers=headers, **sent)
        deadline = time.monotonic() + self.scenario.http.timeout_s
        try:
            response = self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            return Answer(0, error=_reason(exc))
        finally:
            self.client.cookies.clear()
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
        answer = Answer(response.status_code, tuple(response.headers.multi_items()), bytes(data[:MAX_BODY]), error)
        if credential is not None:  # a server may roll its cookies on any answer
            store_cookies(credential.cookies, answer.headers, time.time())
        return answer

    # --- the steps ----------------------------------------------------------------------------

    def run(self, step: Step) -> Row:
        """The step's row, with every secret the check holds (passwords, keys, tokens, cookies, the
        webhook secret) masked."""
        before = self.requests
        status, finding = self.step(step)
        mask = [*self.credentials.secrets(), *self.state.secrets()]
        note, fix = (redact(text, mask) for text in (finding.note, finding.fix))
        return Row(step, self.requests - before, status, diagnose.Finding(finding.ok, note, fix))

    def step(self, step: Step) -> Outcome:
        ep = self.plan.routes[step.route]
        if step.role and ep.auth and step.action != "login" and step.role in self.state.failed_logins:
            return 0, diagnose.Finding(False, f"not sent: no session for {step.role} (its login did not work, above)")
        return {"login": self.login, "get": self.get, "chat": self.chat, "webhook": self.webhook}[step.action](step, ep)

    def login(self, step: Step, ep: Endpoint) -> Outcome:
        """A login (or OAuth2 token request) as the role's account, read as `[auth]` says."""
        account = self.plan.accounts[step.role]
        if self.auth.oauth2 is not None:
            body: Any = token_request_body(self.auth, account.values(), self.credentials.oauth_client)
            answer = self.send(step.role, ep, ep.path, body, {"Content-Type": FORM})
            sent: tuple[str, ...] = ()
        else:
            body = render(ep.body, account.values()) if ep.body is not None else None
            answer = self.send(step.role, ep, render(ep.path, account.values(), in_path=True), body, {})
            sent = tuple(body) if isinstance(body, dict) else ()
        jar: dict[str, str] = {}
        store_cookies(jar, answer.headers, time.time())
        credential, why = read_login(self.auth, answer.headers, answer.json(), jar, time.monotonic())
        redirected_in = 300 <= answer.status < 400 and bool(jar)  # a form login may redirect with its cookie
        finding = (None if redirected_in else self.judge(answer, ep)) or diagnose.login(
            answer, self.auth, ep, step.role, sent, why
        )
        if finding.ok and credential is not None and self.auth.csrf is not None and self.auth.csrf.fetch:
            self.state.sessions[step.role] = credential
            finding = self.fetch_csrf(step.role, credential, self.auth.csrf.fetch) or finding
        if finding.ok and credential is not None:
            self.state.sessions[step.role] = credential
        else:
            self.state.sessions.pop(step.role, None)
            self.state.failed_logins.add(step.role)
        return answer.status, finding

    def fetch_csrf(self, role: str, credential: Credential, route: str) -> diagnose.Finding | None:
        """After a login: the route that hands out the CSRF token, as the new session; a finding when it
        did not give one."""
        ep = self.plan.routes[route]
        answer = self.send(role, ep, ep.path, None, {})
        credential.csrf = read_csrf(self.auth, answer.headers, answer.json(), credential.cookies) or ""
        return None if credential.csrf else diagnose.csrf_fetch(answer, self.auth, route)

    def get(self, step: Step, ep: Endpoint) -> Outcome:
        values, missing = self.values(ep, step.role)
        if missing:
            return 0, missing
        path = render(ep.path, values, in_path=True)
        body = render(ep.body, values) if ep.body is not None else None
        answer = self.send(step.role, ep, path, body, {})
        finding = self.judge(answer, ep) or diagnose.route(
            answer, self.auth, ep, step.role, step.role in self.state.sessions
        )
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
        streamed = ep.stream in ACCEPT  # what the reply is read as, asked for as a run asks
        headers = {"Accept": ACCEPT[ep.stream], "Accept-Encoding": "identity"} if streamed else {}
        answer = self.send(step.role, ep, path, body, headers)
        finding = self.judge(answer, ep) or diagnose.route(
            answer, self.auth, ep, step.role, step.role in self.state.sessions
        )
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
        event = check_event()
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
            "tenant": (self.credentials.tenants or [""])[0],
            **{k: v for k, v in (account.values() if account else {}).items() if v},
            "messages": [{"role": "user", "content": CHECK_PROMPT}],
            "message": CHECK_PROMPT,
            "name": "Harness Check",
            "lead_email": "harness-check@example.test",
        }
        names = _placeholders(ep.path) + [n for n in _placeholders(ep.body) if not (chat and _ID.fullmatch(n))]
        for name in dict.fromkeys(names):
            if name in values:
                continue
            found = self.id_for(ep) if _ID.fullmatch(name) else None
            if found is None:
                return values, diagnose.problem(
                    f"not sent: {{{name}}} has no value", _unfilled_fix(name, self.scenario, self.state)
                )
            values[name] = found
        return values, None

    def id_for(self, ep: Endpoint) -> str | None:
        """An id for the route's one id placeholder: the first item of the list route load traffic takes
        it from (harness.scenario.callers.id_source), when that route answered with items."""
        source = id_source(self.scenario.endpoints, ep)
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
    with httpx.Client(base_url=base_url, timeout=timeout, follow_redirects=False, headers=headers) as client:
        checker = _Checker(scenario, plan, credentials, client)
        for step in plan.steps:
            yield checker.run(step)


def _read_chat(answer: Answer, ep: Endpoint) -> tuple[int, str]:
    """(content chunks, stream error) of a chat answer read in its map's stream format, as a run reads it."""
    if ep.stream not in ACCEPT or not_a_stream(ep.stream, answer.content_type):
        return 0, ""
    source = stream_source(iter([answer.body]), ep.stream, MAX_BODY)
    result = read_stream(source, ep.stream, time.perf_counter(), paths=JsonPaths(**dict(ep.stream_paths)))
    return result.chunks, result.error


_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{16,}")  # a credential, not the word


def redact(text: str, secrets: list[str]) -> str:
    """`text` with each of `secrets`, and any long credential after Bearer or Basic, masked. A short
    secret (under 8 characters) is masked where it stands alone, not inside a longer word."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        if len(secret) >= 8:
            text = text.replace(secret, "[redacted]")
        else:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "[redacted]", text)
    return _CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)


def _placeholders(template: Any) -> list[str]:
    if isinstance(template, str):
        return PLACEHOLDER.findall(template)
    if isinstance(template, dict):
        return [n for v in template.values() for n in _placeholders(v)]
    if isinstance(template, list):
        return [n for v in template for n in _placeholders(v)]
    return []


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
