"""The stream formats of the API map: every format a route may name, and an ndjson route's `stream_paths`."""

from __future__ import annotations

import pytest

from harness.scenario import ScenarioError, parse_scenario
from harness.scenario.model import STREAM_FORMATS
from tests.scenario.test_scenario import minimal, with_change


@pytest.mark.parametrize("fmt", [f for f in STREAM_FORMATS if f != "none"])
def test_every_format_makes_an_llm_route(fmt):
    s = parse_scenario(with_change(("endpoints", "chat", "stream"), fmt), source="x.toml")
    assert s.streaming_endpoints() == {"chat": fmt}
    assert s.latency_targets()["chat"] is None  # an LLM route has no p95 target unless it says
    assert s.endpoints["chat"].stream_paths == ()


def test_stream_paths_keep_what_the_map_sets_in_a_fixed_order():
    data = minimal()
    data["endpoints"]["chat"].update(
        stream="ndjson", stream_paths={"done": "", "text": "choices.0.delta.text", "output_tokens": "usage.out"}
    )
    s = parse_scenario(data, source="x.toml")
    assert s.endpoints["chat"].stream_paths == (
        ("text", "choices.0.delta.text"),
        ("output_tokens", "usage.out"),
        ("done", ""),
    )


@pytest.mark.parametrize(
    "stream, paths, expected",
    [
        ("sse-openai", {"text": "x"}, 'x.toml: endpoints.chat.stream_paths: only for stream = "ndjson" (this route has stream = \'sse-openai\'); remove it'),
        ("ndjson", {"txt": "x"}, "x.toml: endpoints.chat.stream_paths.txt: unknown field (expected one of: done, error, input_tokens, output_tokens, text)"),
        ("ndjson", {"text": ""}, "x.toml: endpoints.chat.stream_paths.text: expected a dot path like \"message.content\", got ''"),
        ("ndjson", {"done": "a..b"}, "x.toml: endpoints.chat.stream_paths.done: expected a dot path like \"message.content\" (or \"\" for none), got 'a..b'"),
        ("ndjson", {"error": 3}, "x.toml: endpoints.chat.stream_paths.error: expected a dot path like \"message.content\" (or \"\" for none), got 3"),
        ("ndjson", "message.content", "x.toml: endpoints.chat.stream_paths: expected a table ([endpoints.chat.stream_paths]), got str"),
    ],
)  # fmt: skip
def test_bad_stream_paths_are_one_line(stream, paths, expected):
    data = minimal()
    data["endpoints"]["chat"].update(stream=stream, stream_paths=paths)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, source="x.toml")
    assert str(info.value) == expected
