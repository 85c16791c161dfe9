"""The demo API's chat in every wire format (/api/chat/{format}), over real HTTP from a server in a thread
of the test process, read by the harness's own stream readers: each format gives the reply's text, its
first token no sooner than the simulated model's, and usage that matches the tiktoken estimate exactly
(the demo's tokens are single tokens of its model's vocabulary; the prompt adds the hidden 62-token system prompt)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from harness.demo_api.app import create_app
from harness.demo_api.config import TargetConfig
from harness.demo_api.distributions import Distribution
from harness.demo_api.formats import FORMATS
from harness.demo_api.model import SYSTEM_PROMPT, count_tokens
from harness.load.client import prompt_texts
from harness.protocol.streams import ACCEPT, not_a_stream, parse_usage, read_stream, stream_source

TTFT_MS = 20
HIDDEN = count_tokens(SYSTEM_PROMPT)
ASK = "How do I price a coaching package?"
# path segment -> (the harness's stream format, a request body in that provider's own shape)
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "sse-openai": ("sse-openai", {"model": "m", "messages": [{"role": "user", "content": ASK}], "stream": True}),
    "openai-responses": ("openai-responses", {"model": "m", "input": [{"role": "user", "content": [{"type": "input_text", "text": ASK}]}], "stream": True}),
    "anthropic": ("anthropic", {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": [{"type": "text", "text": ASK}]}], "stream": True}),
    "gemini?alt=sse": ("gemini", {"contents": [{"role": "user", "parts": [{"text": ASK}]}]}),
    "vercel-ai": ("vercel-ai", {"messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": ASK}]}]}),
    "vercel-ai-v4": ("vercel-ai", {"messages": [{"role": "user", "content": ASK}]}),
    "ndjson": ("ndjson", {"model": "m", "messages": [{"role": "user", "content": ASK}]}),
    "text": ("text", {"prompt": ASK}),
}  # fmt: skip


@contextmanager
def serve(config: TargetConfig) -> Iterator[str]:
    """The demo API in a thread on a free loopback port; stopped on the way out."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="demo-api", daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "the demo API did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def config(usage: bool) -> TargetConfig:
    return TargetConfig(
        limits={},
        usage=usage,
        ttft=Distribution("constant", {"ms": TTFT_MS}),
        token_delay=Distribution("constant", {"ms": 1}),
        output_tokens=(8, 16),
    )


@pytest.fixture(scope="module", params=[True, False], ids=["usage", "no-usage"])
def api(request: pytest.FixtureRequest) -> Iterator[tuple[httpx.Client, bool]]:
    """A logged-in client of a demo API that sends token usage, or one that leaves it out."""
    with serve(config(request.param)) as url, httpx.Client(base_url=url, timeout=10) as client:
        account = next(a for a in client.get("/__demo__/accounts").json()["accounts"] if a["role"] == "client")
        login = client.post("/api/auth/login", json={"email": account["email"], "password": account["password"]})
        client.headers["Authorization"] = "Bearer " + login.json()["access_token"]
        yield client, request.param


@pytest.mark.parametrize("path", list(CASES))
def test_each_format_is_read_whole_with_its_first_token_and_usage(api, path):
    client, usage = api
    fmt, body = CASES[path]
    headers = {"Accept": ACCEPT[fmt], "Accept-Encoding": "identity"}
    t0 = time.perf_counter()
    with client.stream("POST", f"/api/chat/{path}", json=body, headers=headers) as response:
        assert response.status_code == 200
        assert not_a_stream(fmt, response.headers["content-type"].split(";")[0]) == ""
        result = read_stream(stream_source(response.iter_raw(), fmt, 1 << 20), fmt, t0)
    assert result.error == "", result.error
    output = count_tokens(result.content)
    assert 8 <= output <= 16
    assert result.ttft_ms >= TTFT_MS - 1  # the model's first token is due TTFT_MS after the request
    assert result.ttft_ms <= result.ttlt_ms <= result.end_ms
    if fmt != "text":  # one event per token; plain text may arrive several tokens to a read
        assert result.chunks == output and len(result.gaps_ms) == output - 1
    counted = parse_usage(result.usage)
    if usage and fmt != "text":
        assert counted is not None
        assert counted.output == output  # usage read == the tiktoken estimate of the text received
        assert counted.input == HIDDEN + sum(map(count_tokens, prompt_texts(body)))
    else:
        assert counted is None  # the harness falls back to the estimate


def test_gemini_without_alt_sse_answers_a_json_array_the_harness_refuses_with_the_fix(api):
    client, _ = api
    body = CASES["gemini?alt=sse"][1]
    response = client.post("/api/chat/gemini", json=body, headers={"Accept-Encoding": "identity"})
    assert response.headers["content-type"] == "application/json"
    chunks = json.loads(response.content)
    text = "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks)
    assert count_tokens(text) >= 8 and chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    error = not_a_stream("gemini", "application/json")
    assert error == "bad response: application/json, expected text/event-stream (add ?alt=sse to the path)"


def test_an_unknown_format_or_a_body_without_text_is_refused(api):
    client, _ = api
    unknown = client.post("/api/chat/websocket", json=CASES["ndjson"][1])
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_format"
    assert unknown.json()["detail"] == "expected one of " + ", ".join(FORMATS)
    empty = client.post("/api/chat/anthropic", json={"messages": [{"role": "user", "content": [{"type": "image"}]}]})
    assert empty.status_code == 400 and empty.json()["error"] == "invalid_request"
    assert client.post("/api/chat/anthropic", json=CASES["anthropic"][1] | {"max_tokens": 0}).status_code == 400
