"""One instrumented API call: the scenario's API map in, one Locust request event (one sample) out.

Journeys and attacks say *what* to call ("login", "chat"); the API map says *how* (method, path,
body template, token header, stream format). Everything a sample needs beyond Locust's own fields
travels in the request event's `context`.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from harness.scenario import BlockRule, Endpoint, Scenario
from harness.streams import StreamResult, parse_usage, read_stream
from harness.tokens import count_tokens

__all__ = ["CallResult", "ApiClient", "render", "is_blocked"]

LIMIT_HEADERS = (
    "RateLimit", "RateLimit-Policy", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
    "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After",
)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render(template: Any, values: dict[str, Any], *, in_path: bool = False) -> Any:
    """Fill {placeholders}. A string that is exactly "{name}" takes the value itself (a list stays a list)."""
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole and not in_path:
            return values.get(whole.group(1), "")
        return _PLACEHOLDER.sub(
            lambda m: quote(str(values.get(m.group(1), "")), safe="") if in_path else str(values.get(m.group(1), "")),
            template,
        )
    if isinstance(template, dict):
        return {k: render(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, values) for v in template]
    return template


def is_blocked(rule: BlockRule, status: int, headers: Any, body: bytes | None) -> bool:
    """Does this response match the scenario's block rule (status set, body pattern, header)?"""
    if status in rule.statuses:
        return True
    if rule.header and headers and rule.header in headers:
        return True
    return bool(rule.body_pattern and body and re.search(rule.body_pattern.encode(), body))


@dataclass
class CallResult:
    status: int
    ok: bool
    blocked: bool
    error: str
    body: bytes | None = None
    stream: StreamResult | None = None

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


class ApiClient:
    """Calls endpoints of the API map through one Locust HTTP session (a user's `client`, or a probe's own)."""

    def __init__(self, client: Any, scenario: Scenario, role: str = "legit") -> None:
        self.client = client
        self.scenario = scenario
        self.role = role
        self.token: str | None = None
        self.identity = ""
        self.source_ip = ""  # for sessions without a user (probes): the address it is bound to

    def has(self, endpoint: str) -> bool:
        return endpoint in self.scenario.endpoints

    def call(
        self,
        endpoint: str,
        values: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        *,
        technique: str = "",
        path: str | None = None,
        method: str | None = None,
    ) -> CallResult:
        """Call an endpoint of the API map.

        `body` sends exact bytes (signed webhooks) instead of the template; `path` and `method` replace
        the map's (bypass probes send path variants and other methods under the same endpoint name).
        """
        ep = self.scenario.endpoints[endpoint]
        values = values or {}
        request_headers = dict(headers or {})
        if ep.auth and self.token:
            scheme = self.scenario.auth.scheme
            request_headers[self.scenario.auth.header] = f"{scheme} {self.token}" if scheme else self.token
        streamed = ep.stream in ("sse-openai", "sse")
        if streamed:
            request_headers["Accept"] = "text/event-stream"
            request_headers["Accept-Encoding"] = "identity"  # compressed events cannot be read line by line
        kwargs: dict[str, Any] = {
            "name": ep.name,
            "headers": request_headers,
            "catch_response": True,
            "stream": streamed,
            "context": {"role": self.role, "identity": self.identity, "technique": technique,
                        **({"source_ip": self.source_ip} if self.source_ip else {})},
        }
        if body is not None:
            kwargs["data"] = body
            request_headers.setdefault("Content-Type", "application/json")
        elif ep.body is not None:
            kwargs["json"] = render(ep.body, values)
        if path is None:
            path = render(ep.path, values, in_path=True)

        t0 = time.perf_counter()
        with self.client.request(method or ep.method, path, **kwargs) as response:
            return self._finish(ep, response, t0, streamed)

    def _finish(self, ep: Endpoint, response: Any, t0: float, streamed: bool) -> CallResult:
        ctx = response.request_meta["context"]
        status = response.status_code or 0
        error = ""
        body: bytes | None = None
        stream: StreamResult | None = None
        if not status:
            error = f"connection: {type(getattr(response, 'error', None)).__name__}"
        elif streamed and 200 <= status < 300:
            raw = response._response  # geventhttpclient's response: readline() hands over each line as it arrives
            stream = read_stream(iter(lambda: raw.readline(b"\n"), b""), ep.stream, t0)
            response.request_meta["response_time"] = stream.end_ms
            response.request_meta["response_length"] = stream.bytes_read
            ctx["ttfb_ms"], ctx["ttft_ms"] = stream.ttfb_ms, stream.ttft_ms
            self._count_tokens(ctx, stream.usage, stream.content)
            error = stream.error
        else:
            body = response.content or b""
            if ep.stream == "json" and 200 <= status < 300:
                self._count_tokens(ctx, _json_usage(body), _json_content(body))
        blocked = bool(status) and is_blocked(self.scenario.block, status, response.headers, body)
        if blocked:
            ctx["retry_after_s"] = _retry_after(response)
        elif not error and not (200 <= status < 400) and (self.role == "legit" or status >= 500):
            error = f"http {status}"  # for attacks and probes a 4xx is the answer hoped for, not an error
        ctx["blocked"] = blocked
        ctx["error"] = error
        if self.role != "legit" and response.headers:  # header conformance, for abuse traffic only
            ctx["limit_headers"] = ",".join(h for h in LIMIT_HEADERS if h in response.headers)
        if error:
            response.failure(error)
        else:
            response.success()
        return CallResult(status=status, ok=not error and not blocked, blocked=blocked, error=error, body=body,
                          stream=stream)

    @staticmethod
    def _count_tokens(ctx: dict[str, Any], usage: Any, content: str) -> None:
        counted = parse_usage(usage)
        if counted:
            ctx["input_tokens"], ctx["output_tokens"] = counted
            ctx["token_source"] = "usage"
        elif content:
            ctx["output_tokens"] = count_tokens(content)
            ctx["token_source"] = "estimate"


def _json_usage(body: bytes) -> Any:
    try:
        return json.loads(body).get("usage")
    except (ValueError, AttributeError):
        return None


def _json_content(body: bytes) -> str:
    try:
        return json.loads(body)["choices"][0]["message"]["content"] or ""
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def _retry_after(response: Any) -> float:
    value = (response.headers or {}).get("Retry-After") if getattr(response, "headers", None) else None
    try:
        return float(value) if value is not None else math.nan
    except ValueError:
        return math.nan
