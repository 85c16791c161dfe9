"""Every stream format in one real `harness run` (a Locust master and a worker) against the demo API,
which answers each at its own path (/api/chat/{format}). The scenario maps one chat route per format;
a locustfile of the test's own sends the client journey's chat turns round all of them, so each
format goes through the load generator's real client (bounded reader, Accept header, sample fields).

Each route must show: no errors, a time to first token no shorter than the simulated model's, usage
read where the format sends it (equal to the tiktoken estimate of the text received, the prompt's
estimate plus the demo's hidden system prompt), the estimate where it does not (plain text)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.demo_api.model import SYSTEM_PROMPT, count_tokens
from harness.samples import read_samples
from tests.helpers import only_run_dir, read_json, run_with_locustfile

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)

TTFT_MS = 30
# route -> (stream format, demo path, body template): each body in that provider's own shape
ROUTES = {
    "chat_responses": ("openai-responses", "/api/chat/openai-responses", '{ model = "coachpilot-1", input = "{messages}", stream = true }'),
    "chat_anthropic": ("anthropic", "/api/chat/anthropic", '{ model = "coachpilot-1", max_tokens = 64, messages = "{messages}", stream = true }'),
    "chat_gemini": ("gemini", "/api/chat/gemini?alt=sse", '{ contents = [{ role = "user", parts = [{ text = "{message}" }] }] }'),
    "chat_vercel": ("vercel-ai", "/api/chat/vercel-ai", '{ messages = [{ id = "m1", role = "user", parts = [{ type = "text", text = "{message}" }] }] }'),
    "chat_vercel_v4": ("vercel-ai", "/api/chat/vercel-ai-v4", '{ messages = "{messages}" }'),
    "chat_ollama": ("ndjson", "/api/chat/ndjson", '{ model = "llama3.2", messages = "{messages}" }'),
    "chat_text": ("text", "/api/chat/text", '{ prompt = "{message}" }'),
}  # fmt: skip

SCENARIO = (
    f"""
[scenario]
name = "stream-formats"

[target.model]
ttft = {TTFT_MS}
token_delay = 2
output_tokens = [8, 16]

[accounts]
source = "demo"

[endpoints.login]
method = "POST"
path = "/api/auth/login"
body = {{ email = "{{email}}", password = "{{password}}" }}
auth = false
latency_target_ms = 10000  # the demo hashes passwords slowly; the run is about the chat routes

[endpoints.conversations]
path = "/api/conversations"

[endpoints.chat]
method = "POST"
path = "/api/chat"
body = {{ messages = "{{messages}}", stream = true }}
stream = "sse-openai"
"""
    + "".join(
        f'\n[endpoints.{name}]\nkind = "chat"\nmethod = "POST"\npath = "{path}"\nbody = {body}\nstream = "{fmt}"\n'
        for name, (fmt, path, body) in ROUTES.items()
    )
    + """
[load]
users = 3
spawn_rate = 3
duration = "15s"  # 8 chat routes, each at least 3 turns: a machine busy with the parallel suite once gave one only 2 in 5 s

[journeys.client]
weight = 1
think_time = [0, 0]
chat_turns = [1, 1]
reset_probability = 0
"""
)

# The client journey chats on "chat"; here each turn takes the next route of kind chat instead.
ROUND_ROBIN = """
import itertools

from harness.load.client import ApiClient
from locustfiles.journeys import *  # noqa: F401,F403  (the harness's journeys and its plugin)

_call = ApiClient.call
_turns = itertools.count()


def _every_chat_route(self, endpoint, *args, **kwargs):
    if endpoint == "chat":
        endpoint = self.scenario.routes("chat")[next(_turns) % len(self.scenario.routes("chat"))].name
    return _call(self, endpoint, *args, **kwargs)


ApiClient.call = _every_chat_route
"""


def test_every_stream_format_in_one_run(tmp_path: Path) -> None:
    scenario = tmp_path / "stream-formats.toml"
    scenario.write_text(SCENARIO)
    locustfile = tmp_path / "round_robin.py"
    locustfile.write_text(ROUND_ROBIN)
    result = run_with_locustfile(scenario, locustfile, tmp_path / "out", workers=1)
    run_dir = only_run_dir(tmp_path / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = read_json(run_dir / "summary.json")
    samples = read_samples(run_dir)
    hidden = count_tokens(SYSTEM_PROMPT)
    for name, fmt in {"chat": "sse-openai", **{n: f for n, (f, _, _) in ROUTES.items()}}.items():
        endpoint, llm = summary["endpoints"][name], summary["llm"][name]
        assert endpoint["requests"] >= 3 and endpoint["errors"] == 0, (name, endpoint)
        assert llm["ttft_p50_ms"] >= TTFT_MS - 1, (name, llm)
        rows = samples[(samples["endpoint"] == name) & (samples["status"] == 200)]
        assert len(rows) >= 3 and (rows["error"] == "").all(), name
        assert (rows["ttft_ms"] >= TTFT_MS - 1).all() and (rows["ttft_ms"] <= rows["latency_ms"]).all(), name
        # the demo's words are single tokens of its vocabulary: tiktoken over what arrived is the exact count
        assert (rows["output_tokens"] == rows["output_tokens_estimate"]).all(), name
        assert (rows["output_tokens"] >= 8).all(), name
        if fmt == "text":  # plain text sends no usage: the estimate is all there is
            assert llm["token_source"] == "estimate" and (rows["token_source"] == "estimate").all()
            assert (rows["input_tokens"] == rows["input_tokens_estimate"]).all()
        else:
            assert llm["token_source"] == "usage" and (rows["token_source"] == "usage").all(), name
            # usage read from the stream: the prompt's estimate plus the demo's hidden system prompt
            assert (rows["input_tokens"] == rows["input_tokens_estimate"] + hidden).all(), name
            assert (rows["chunks"] == rows["output_tokens"]).all(), name  # one event per token
