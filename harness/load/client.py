"""One instrumented API call: the scenario's API map in, one Locust request event (one sample) out.

Journeys and attacks say *what* to call (a route of the API map, found by its kind); the API map says
*how* (method, path, body template, token header, stream format). Everything a sample needs beyond
Locust's own fields travels in the request event's `context`. A template the caller has no value for
is not sent: the call is a failed sample that names the placeholder.

An ApiClient speaks for one identity at a time: its credential (token, API key, cookie jar, CSRF token,
see harness.protocol.auth) goes with every authenticated call, and it logs in again on its own when the
session expires (a 401, or `[auth] lifetime`). Without a credential it is anonymous: no cookies either.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.analysis.outcomes import call_ok
from harness.host import basic_auth_header
from harness.load.inflight import IN_FLIGHT
from harness.load.vocabulary import wait_until_loaded
from harness.protocol.auth import (
    FORM,
    Credential,
    cookie_header,
    credential_headers,
    credential_params,
    csrf_missing,
    read_csrf,
    read_login,
    store_cookies,
    token_request_body,
    with_params,
)
from harness.protocol.bodies import BodyError, Chunks, read_body
from harness.protocol.failures import RequestDeadline, describe_exception
from harness.protocol.streams import (
    ACCEPT,
    JsonPaths,
    StreamResult,
    not_a_stream,
    parse_usage,
    read_stream,
    stream_source,
)
from harness.protocol.tokens import TokenCounter, counter_for_model
from harness.scenario import Endpoint, Scenario
from harness.scenario.accounts import Account, Credentials
from harness.scenario.templates import Unfilled, render

__all__ = ["CallResult", "ApiClient", "prompt_texts", "LEGIT_MAX_REDIRECTS", "token_endpoint"]

LIMIT_HEADERS = (
    "RateLimit",
    "RateLimit-Policy",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
)
# Redirects legit traffic follows, as a browser would; a loop then costs the target at most 6 requests per
# sample ("too many redirects"). Abuse traffic follows none (see ApiClient.call).
LEGIT_MAX_REDIRECTS = 5


_UNPARSED = object()


@dataclass
class CallResult:
    status: int
    ok: bool
    blocked: bool
    error: str
    body: bytes | None = None
    stream: StreamResult | None = None
    parsed: Any = field(default=_UNPARSED, repr=False)  # the body as JSON, when it was already parsed
    retry_after_s: float = math.nan  # a blocked response's Retry-After
    headers: Any = field(default=None, repr=False)  # the response headers (geventhttpclient's; None: no response)
    rejected: bool = False  # refused by the route's `rejected_when` rule, whatever its status

    def json(self) -> Any:
        if self.parsed is _UNPARSED:
            self.parsed = _loads(self.body) if self.body else None
        return self.parsed

    def header_pairs(self) -> list[tuple[str, str]]:
        """Every header line, repeats included (one Set-Cookie per cookie)."""
        return list(self.headers.items()) if self.headers is not None else []


@dataclass(frozen=True, slots=True)
class _Request:
    """A call as it goes out: Locust's `request(method, path, **kwargs)`, and how its body is read."""

    endpoint: Endpoint
    method: str
    path: str
    kwargs: dict[str, Any]
    streamed: bool


def token_endpoint(scenario: Scenario) -> Endpoint:
    """The OAuth2 token request as a route of its own (its samples are named `oauth2_token`): a path of
    the target (the parser refuses any other host), sent without credentials."""
    assert scenario.auth.oauth2 is not None
    return Endpoint(name="oauth2_token", method="POST", path=scenario.auth.oauth2.token_path, auth=False, kind="login")


class _CookieJar:
    """geventhttpclient's cookie hooks on the calling identity's jar, so that its cookies go out on every
    request of a call (redirects on the same origin included) and every answer's Set-Cookie comes back in."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    def add_cookie_header(self, request: Any) -> None:
        credential = self.api.credential
        url = request.url_split
        if credential and credential.cookies and (url.scheme, url.host, url.port) == request.original_origin:
            request.add_unredirected_header("Cookie", cookie_header(credential.cookies))

    def extract_cookies(self, response: Any, request: Any) -> None:
        if self.api.credential is not None:  # anonymous traffic keeps no cookies
            store_cookies(self.api.credential.cookies, response.headers.items(), time.time())


class ApiClient:
    """Calls endpoints of the API map through one Locust HTTP session (a user's `client`, or a probe's own).

    Sessions shared by several ApiClients (the probes') serve them one after the other, never at once:
    the session's cookie hooks follow whichever identity calls."""

    def __init__(
        self, client: Any, scenario: Scenario, role: str = "legit", credentials: Credentials | None = None
    ) -> None:
        self.client = client
        self.scenario = scenario
        self.role = role
        self.credentials = credentials or Credentials()  # the run's: [auth.keys], the OAuth2 client
        # a host behind basic auth ("user:password", see harness.host): sent with every request
        # whose own Authorization header (the API's session token) does not replace it
        host_auth = self.credentials.host_auth
        self.basic_auth = basic_auth_header(host_auth) if host_auth else None
        self.credential: Credential | None = None  # None: anonymous, nothing identifies the caller
        self.account: Account | None = None  # whose session it is: its columns fill templates; it logs in again
        self.login_route: Endpoint | None = None  # the route its bearer or cookie session came from
        self.relogin = role != "probe"  # a probe's experiment never logs in on its own
        self._jar = _CookieJar(self)
        self._logging_in = False
        self.identity = ""
        self.source_ip = ""  # for sessions without a user (probes): the address it is bound to
        self.timeout_s = scenario.http.timeout_s  # connect to last byte; the wallet probe allows longer
        # open model: how late this journey started; each request's intended start is its send time
        # minus this, so its latency can be measured from when it should have gone out
        self.schedule_delay_s: float | None = None

    def call(
        self,
        endpoint: str | Endpoint,
        values: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        *,
        technique: str = "",
        path: str | None = None,
        method: str | None = None,
        conversation: str = "",
        extra: dict[str, Any] | None = None,
        check: Callable[[CallResult], str] | None = None,
        refused: Callable[[CallResult], bool] | None = None,
    ) -> CallResult:
        """Call an endpoint of the API map (by name, or a route of the harness's own: the OAuth2 token request).

        `body` sends exact bytes (signed webhooks) instead of the template; `path` and `method` replace
        the map's (bypass probes send path variants and other methods under the same endpoint name);
        `extra` adds top-level fields to a JSON body (a probe's `max_tokens`). `conversation` names
        the legit conversation a chat turn belongs to, so spend can be priced per conversation.
        `check` says why a success is not one for the caller (a login without a token): the sample
        then fails with that error. `refused` says when a success was a refusal in disguise (an
        attack's login answered 2xx without a credential): the sample is then rejected, as a
        `rejected_when` rule would make it. The account's columns fill what `values` leave out.

        An authenticated call logs in again first when the session reached `[auth] lifetime`, and once
        after a 401 (`relogin_on_401`), then is sent once more: bounded, never a loop.
        """
        ep = endpoint if isinstance(endpoint, Endpoint) else self.scenario.endpoints[endpoint]
        if self.account is not None:
            values = {**self.account.values(), **(values or {})}
        args = (ep, values or {}, headers, body, technique, path, method, conversation, extra)
        if ep.auth and self._session_due():
            self._renew()
        result = self._send(self._prepare(*args), check, refused)
        if result.status == 401 and ep.auth and self.scenario.auth.relogin_on_401 and self._may_log_in_again():
            assert self.account is not None
            if self.log_in(self.account)[0] is not None:
                result = self._send(self._prepare(*args), check, refused)  # with the new credential
        return result

    def log_in(
        self,
        account: Account,
        route: Endpoint | None = None,
        values: dict[str, Any] | None = None,
        check: Callable[[CallResult], str] | None = None,
    ) -> tuple[Credential | None, CallResult | None]:
        """Log `account` in as `[auth]` says; its credential becomes this client's (None: the login failed,
        the client is anonymous). An API key or no auth at all sends nothing (the result is None); a login
        or token answer without a usable credential is a failed sample that names what was looked at.

        Bearer and cookie sessions come from `route` (a journey's own login step), else the route this
        client logged in with before, else the API map's first of kind login; `values` fill the rest of
        its templates (the account's columns fill what they leave out); `check` may fail the sample for
        another reason (see `call`)."""
        auth = self.scenario.auth
        self.account = account
        if auth.style in ("api_key", "none"):
            key = self.credentials.api_key(account) if auth.style == "api_key" else ""
            self.credential = Credential(token=key, obtained_at=time.monotonic())
            return self.credential, None
        self.credential = Credential()  # collects the cookies the answer sets, redirects included
        found: Credential | None = None

        def usable(result: CallResult) -> str:
            nonlocal found
            assert self.credential is not None
            found, why = read_login(
                auth, result.header_pairs(), result.json(), self.credential.cookies, time.monotonic()
            )
            return why or (check(result) if check is not None else "")

        self._logging_in = True
        try:
            if auth.style == "oauth2":
                result = self.call(
                    token_endpoint(self.scenario),
                    headers={"Content-Type": FORM},
                    body=token_request_body(auth, account.values(), self.credentials.oauth_client),
                    check=usable,
                )
            else:
                self.login_route = route or self.login_route or self.scenario.route("login")
                assert self.login_route is not None, "no login route: the callers log in only where there is one"
                result = self.call(self.login_route, values, check=usable)
            self.credential = found if result.ok and not result.rejected else None
            if self.credential is not None and auth.csrf is not None and auth.csrf.fetch:
                result = self._fetch_csrf(auth.csrf.fetch)
        finally:
            self._logging_in = False
        return self.credential, result

    def attempt_login(self, route: str, values: dict[str, Any]) -> CallResult:
        """An attack's login attempt, its session thrown away. A 2xx that carries no usable credential
        (read as a legit login reads it) was a refusal: its sample counts as rejected, never admitted,
        as a failed login answered 200 with an error body must. With `[auth] style = "api_key"` or
        "none" an answer has no credential to look for: only the route's `rejected_when` tells."""
        saved, self.credential = self.credential, Credential()  # collects the cookies this answer sets

        def no_credential(result: CallResult) -> bool:
            assert self.credential is not None
            if not 200 <= result.status < 300 or self.scenario.auth.style in ("api_key", "none"):
                return False
            found, _ = read_login(
                self.scenario.auth, result.header_pairs(), result.json(), self.credential.cookies, time.monotonic()
            )
            return found is None

        try:
            return self.call(route, values, refused=no_credential)
        finally:
            self.credential = saved

    def _fetch_csrf(self, route: str) -> CallResult:
        """After a login: the route that hands out the CSRF token, called as the new session."""

        def found(result: CallResult) -> str:
            assert self.credential is not None
            token = read_csrf(self.scenario.auth, result.header_pairs(), result.json(), self.credential.cookies)
            if token:
                self.credential.csrf = token
                return ""
            return f"{route}: {csrf_missing(self.scenario.auth)}"

        result = self.call(route, check=found)
        if not result.ok:
            self.credential = None
        return result

    def _may_log_in_again(self) -> bool:
        return (
            self.relogin
            and not self._logging_in
            and self.account is not None
            and self.credential is not None
            and self.scenario.auth.style in ("bearer", "cookie", "oauth2")
        )

    def _session_due(self) -> bool:
        """Whether the session reached `[auth] lifetime`: it is renewed before the next authenticated call."""
        credential = self.credential
        lifetime = self.scenario.auth.lifetime_s
        return credential is not None and credential.older_than(lifetime, time.monotonic()) and self._may_log_in_again()

    def _renew(self) -> None:
        """Log in again before the session expires; if that fails, keep the old one (it may still work) and
        try again only a lifetime later, so a refused login is not hammered."""
        old, account = self.credential, self.account
        assert old is not None and account is not None
        if self.log_in(account)[0] is None:
            old.obtained_at = time.monotonic()
            self.credential = old

    def _prepare(
        self,
        ep: Endpoint,
        values: dict[str, Any],
        headers: dict[str, str] | None,
        body: bytes | None,
        technique: str,
        path: str | None,
        method: str | None,
        conversation: str,
        extra: dict[str, Any] | None,
    ) -> _Request | CallResult:
        """The request as it will go out, with this identity's credential; a CallResult when it cannot be
        sent (a placeholder without a value). Apart from `_send`, so that none of this call's locals stay
        in the frames of a request that waits on its socket: each greenlet keeps every page of frames it
        ever touched, and its deepest call, the connect under `_send`, is a few dozen locals short of a second
        page (docs/benchmarks.md)."""
        auth = self.scenario.auth
        request_headers = dict(headers or {})
        if self.basic_auth:
            request_headers.setdefault("Authorization", self.basic_auth)
        if ep.auth:  # the cookie jar goes out through the session's cookie hooks (_CookieJar)
            request_headers.update(credential_headers(auth, self.credential, method or ep.method, cookies=False))
        streamed = ep.stream in ACCEPT
        if streamed:
            request_headers["Accept"] = ACCEPT[ep.stream]
            request_headers["Accept-Encoding"] = "identity"  # compressed events cannot be read as they come
        else:
            request_headers.setdefault("Accept-Encoding", "gzip, deflate")  # what harness.protocol.bodies decodes
        kwargs: dict[str, Any] = {
            "name": ep.name,
            "headers": request_headers,
            "catch_response": True,
            "stream": True,  # Locust would buffer the whole body: harness.protocol.bodies reads it, bounded
            # Abuse traffic never follows a redirect: the 3xx is its answer, and where it points may be a
            # host the guardrail refuses. Per request (geventhttpclient's urlopen), not Locust's
            # allow_redirects, which swaps a setting of the whole session under a probe's concurrent greenlets.
            "max_redirects": LEGIT_MAX_REDIRECTS if self.role == "legit" else 0,
            "context": {
                "role": self.role,
                "identity": self.identity,
                "technique": technique,
                "conversation": conversation,
                **({"source_ip": self.source_ip} if self.source_ip else {}),
            },
        }
        sent: Any = None
        try:
            if body is not None:
                kwargs["data"] = body
                request_headers.setdefault("Content-Type", "application/json")
            elif ep.body is not None:
                sent = render(ep.body, values, strict=True)
                if extra and isinstance(sent, dict):
                    sent.update(extra)
                kwargs["json"] = sent
            if path is None:
                path = render(ep.path, values, in_path=True, strict=True)
        except Unfilled as exc:
            return self.unsent(method or ep.method, ep.name, f"template: {exc}", kwargs["context"])
        if ep.auth:
            path = with_params(path, credential_params(auth, self.credential))
        if ep.stream != "none":
            texts = prompt_texts(sent if body is None else _loads(body))
            kwargs["context"]["input_tokens_estimate"] = sum(map(self.tokens.count, texts))
        return _Request(ep, method or ep.method, path, kwargs, streamed)

    def _send(
        self,
        request: _Request | CallResult,
        check: Callable[[CallResult], str] | None,
        refused: Callable[[CallResult], bool] | None,
    ) -> CallResult:
        """Send the prepared request and read its answer into one sample (see `call` for `check`, `refused`)."""
        if isinstance(request, CallResult):
            return request  # not sent: its sample is already reported
        if self.schedule_delay_s is not None:
            request.kwargs["context"]["intended_s"] = time.time() - self.schedule_delay_s
        # this identity's jar, not the session's own: set here, as sessions are shared in turn (see the class)
        self.client.client.cookiejar = self._jar
        with IN_FLIGHT.request(request.endpoint.name):  # awaited at the stop, or counted as cut off
            t0 = time.perf_counter()
            with _deadline(self.timeout_s):  # up to the headers; the body reader keeps the same deadline
                response = self.client.request(request.method, request.path, **request.kwargs)
            with response:
                result = self._finish(request.endpoint, response, t0, request.streamed)
                result.retry_after_s = response.request_meta["context"].get("retry_after_s", math.nan)
                if check is not None and result.ok and (why := check(result)):
                    result.ok, result.error = False, why
                    response.request_meta["context"]["error"] = why
                    response.failure(why)
                elif refused is not None and result.ok and not result.blocked and refused(result):
                    result.rejected = response.request_meta["context"]["rejected"] = True
                return result

    def unsent(self, method: str, name: str, why: str, context: dict[str, Any] | None = None) -> CallResult:
        """A call that could not be made (a placeholder without a value): a failed sample, nothing sent."""
        user = getattr(self.client, "user", None)
        context = {
            **(user.context() if user is not None else {}),
            "role": self.role,
            "identity": self.identity,
            **(context or {}),
            "error": why,
            "blocked": False,
        }
        self.client.request_event.fire(
            request_type=method,
            name=name,
            response_time=0.0,
            response_length=0,
            response=None,
            context=context,
            exception=RuntimeError(why),
            start_time=time.time(),
            url="",
        )
        return CallResult(status=0, ok=False, blocked=False, error=why)

    @property
    def tokens(self) -> TokenCounter:
        """The model's counter, once its vocabulary is loaded (a worker may still be loading it: this
        greenlet waits, the others go on; harness.load.vocabulary)."""
        wait_until_loaded(self.scenario.spend.model)
        return counter_for_model(self.scenario.spend.model)

    def _finish(self, ep: Endpoint, response: Any, t0: float, streamed: bool) -> CallResult:
        """Read the body (bounded in bytes and time), judge it, and report the request as one sample."""
        ctx = response.request_meta["context"]
        status = response.status_code or 0
        http = self.scenario.http
        error = ""
        body: bytes | None = None
        parsed: Any = _UNPARSED
        stream: StreamResult | None = None
        raw = response._response  # geventhttpclient's response: its parser and socket
        source = Chunks(raw, t0 + self.timeout_s, self.timeout_s) if status else iter(())
        if not status:
            error = (
                describe_exception(
                    getattr(response, "error", None),
                    0,
                    timeout_s=self.timeout_s,
                    connect_timeout_s=http.connect_timeout_s,
                )
                or "connection: no response"
            )
        elif streamed and 200 <= status < 300:
            # an HTML page or a JSON object is not read at all
            error = not_a_stream(ep.stream, _content_type(response.headers))
            if not error:
                stream = read_stream(
                    stream_source(source, ep.stream, http.max_body_bytes),
                    ep.stream,
                    t0,
                    max_bytes=http.max_body_bytes,
                    paths=JsonPaths(**dict(ep.stream_paths)),
                )
                response.request_meta["response_time"] = stream.end_ms
                response.request_meta["response_length"] = stream.bytes_read
                ctx.update(
                    ttfb_ms=stream.ttfb_ms,
                    ttft_ms=stream.ttft_ms,
                    ttlt_ms=stream.ttlt_ms,
                    chunks=stream.chunks,
                    chunk_gaps_ms=stream.gaps_ms,
                )
                self._count_tokens(ctx, stream.usage, stream.content)
                error = stream.error
        else:
            encoding = response.headers.get("content-encoding") if response.headers else None
            try:
                body, error, _ = read_body(source, http.max_body_bytes, encoding if isinstance(encoding, str) else "")
            except BodyError as exc:
                body, error = b"", str(exc)
            except Exception as exc:  # the connection broke mid-body: the parser's or the socket's error
                body, error = b"", describe_exception(exc, status, timeout_s=self.timeout_s)
            response.request_meta["response_time"] = (time.perf_counter() - t0) * 1000
            response.request_meta["response_length"] = len(body)
            if not error and 200 <= status < 300:
                error, parsed = _check_body(ep, response.headers, body)
            if ep.stream == "json" and 200 <= status < 300 and not error:
                self._count_tokens(ctx, _json_usage(parsed), _json_content(parsed))
        if status:
            raw.release()  # a body left unread (cut, refused) closes the connection rather than poison the pool
        blocked = bool(status) and self.scenario.block.matches(status, response.headers, body)
        if blocked:
            ctx["retry_after_s"] = _retry_after(response)
            error = ""  # the block is the answer; what its body did after is beside the point
        elif not error and not (200 <= status < 400) and (self.role == "legit" or status >= 500):
            error = f"http {status}"  # for attacks and probes a 4xx is the answer hoped for, not an error
        rule = ep.rejected_when
        rejected = bool(rule is not None and not blocked and not error and rule.matches(status, response.headers, body))
        if rejected and self.role == "legit":
            error = f"rejected: the answer matches endpoints.{ep.name}.rejected_when"
        ctx["blocked"] = blocked
        ctx["rejected"] = rejected
        ctx["error"] = error
        if self.role != "legit" and response.headers:  # header conformance, for abuse traffic only
            ctx["limit_headers"] = ",".join(h for h in LIMIT_HEADERS if h in response.headers)
        if error:
            response.failure(error)
        else:
            response.success()
        return CallResult(
            status=status,
            ok=call_ok(status, error, blocked, legit=self.role == "legit"),
            blocked=blocked,
            error=error,
            body=body,
            stream=stream,
            parsed=parsed,
            headers=response.headers if status else None,
            rejected=rejected,
        )

    def _count_tokens(self, ctx: dict[str, Any], usage: Any, content: str) -> None:
        """`usage` when the response has it, else the tiktoken estimates; both kept to compare them."""
        ctx["output_tokens_estimate"] = self.tokens.count(content)
        counted = parse_usage(usage)
        if counted:
            ctx.update(
                input_tokens=counted.input,
                output_tokens=counted.output,
                cached_tokens=counted.cached,
                reasoning_tokens=counted.reasoning,
                token_source="usage",
            )
        else:
            ctx.update(
                input_tokens=ctx.get("input_tokens_estimate", 0),
                output_tokens=ctx["output_tokens_estimate"],
                token_source="estimate",
            )


def prompt_texts(body: Any) -> list[str]:
    """What a model reads from a request body: the instructions (Anthropic `system`, Responses
    `instructions`, Gemini `systemInstruction`), then each message's text (`messages`, Gemini `contents`),
    else the `prompt`, `input` (a string, or the Responses API's list of messages) or `message`.

    Counted piece by piece, without the few tokens per message a provider adds for the chat format."""
    if not isinstance(body, dict):
        return []
    texts = [text for key in ("system", "instructions", "systemInstruction") for text in _texts(body.get(key))]
    for key in ("messages", "contents"):
        if isinstance(body.get(key), list):
            return texts + _texts(body[key])
    for key in ("prompt", "input", "message"):
        if key in body:
            return texts + _texts(body[key])
    return texts


def _texts(content: Any) -> list[str]:
    """The text of a content: a string; a part's `text`; a message's `content` or `parts` (Gemini, the
    Vercel AI SDK's UI messages); a list of any of these. Images and other parts are not counted."""
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [text for item in content for text in _texts(item)]
    if isinstance(content, dict):
        if isinstance(content.get("text"), str):
            return [content["text"]]
        return _texts(content.get("content")) or _texts(content.get("parts"))
    return []


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _json_usage(parsed: Any) -> Any:
    return parsed.get("usage") if isinstance(parsed, dict) else None


def _json_content(parsed: Any) -> str:
    try:
        return parsed["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError):
        return ""


def _deadline(seconds: float) -> Any:
    """A gevent timer that ends a request still waiting for its headers at the deadline (a hang, a drip).

    It raises RequestDeadline, an OSError that geventhttpclient does not retry and Locust turns into a
    failed response, so the request still becomes a sample. Only ever used inside Locust's processes.
    """
    import gevent

    return gevent.Timeout(seconds, RequestDeadline())


def _content_type(headers: Any) -> str:
    value = headers.get("content-type") if headers else None
    return value.split(";")[0].strip().lower() if isinstance(value, str) else ""


def _check_body(ep: Endpoint, headers: Any, body: bytes) -> tuple[str, Any]:
    """(error, parsed JSON) for a 2xx body: an HTML page from an API route, or JSON that does not parse."""
    if not body:
        return "", _UNPARSED
    kind = _content_type(headers)
    if kind in ("text/html", "application/xhtml+xml"):
        return f"bad response: {kind}, expected JSON", _UNPARSED
    if ep.stream == "json" or kind == "application/json" or kind.endswith("+json"):
        try:
            return "", json.loads(body)
        except ValueError:
            return "bad response: invalid JSON", _UNPARSED
    return "", _UNPARSED


def _retry_after(response: Any) -> float:
    value = (response.headers or {}).get("Retry-After") if getattr(response, "headers", None) else None
    try:
        return float(value) if value is not None else math.nan
    except ValueError:
        return math.nan
