"""Reading streamed responses: timings from the clock we hand in, chunks, usage and broken streams."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import pytest

from harness.streams import TokenUsage, parse_usage, read_stream

T0 = 100.0


class FakeClock:
    """Returns the given readings one by one; read_stream reads it once per line and once at the end."""

    def __init__(self, *readings: float) -> None:
        self.readings = list(readings)
        self.calls = 0

    def __call__(self) -> float:
        value = self.readings[self.calls]
        self.calls += 1
        return value


def event(obj) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n"


def chunk(content=None, role=None, finish=None) -> bytes:
    delta = {}
    if role:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    return event({"object": "chat.completion.chunk", "usage": None,
                  "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


USAGE = {"prompt_tokens": 31, "completion_tokens": 3, "total_tokens": 34}
OPENAI_STREAM = [
    chunk(role="assistant", content=""),   # 100.050: first byte, no content yet
    b"\n",
    chunk("Hel"),                           # 100.200: first token
    b"\n",
    chunk("lo"),                            # 100.210
    b"\n",
    chunk(" there"),                        # 100.230
    b"\n",
    chunk(finish="stop"),                   # 100.240
    b"\n",
    event({"object": "chat.completion.chunk", "choices": [], "usage": USAGE}),  # 100.250
    b"\n",
    b"data: [DONE]\n",                      # 100.260
]


def openai_clock() -> FakeClock:
    # one reading per line read (13 lines), then the end reading
    per_line = [100.050, 100.060, 100.200, 100.205, 100.210, 100.215, 100.230, 100.235,
                100.240, 100.245, 100.250, 100.255, 100.260]
    return FakeClock(*per_line, 100.300)


def test_openai_stream_timings_come_from_the_clock():
    clock = openai_clock()
    result = read_stream(iter(OPENAI_STREAM), "sse-openai", T0, clock=clock)
    assert result.ttfb_ms == pytest.approx(50.0)
    assert result.ttft_ms == pytest.approx(200.0)  # the role chunk carries no content: not the first token
    assert result.end_ms == pytest.approx(300.0)
    assert clock.calls == 14


def test_openai_stream_chunks_content_and_usage():
    result = read_stream(iter(OPENAI_STREAM), "sse-openai", T0, clock=openai_clock())
    assert result.error == ""
    assert result.done is True
    assert result.chunks == 3
    assert result.text == ["Hel", "lo", " there"]
    assert result.content == "Hello there"
    assert result.usage == USAGE
    assert parse_usage(result.usage) == TokenUsage(31, 3)
    assert result.bytes_read == sum(len(line) for line in OPENAI_STREAM)


def test_lines_after_done_are_not_read():
    lines = [chunk("a"), b"data: [DONE]\n", chunk("never")]
    clock = FakeClock(1.0, 1.1, 1.2)
    result = read_stream(iter(lines), "sse-openai", 1.0, clock=clock)
    assert result.content == "a"
    assert result.end_ms == pytest.approx(200.0)
    assert clock.calls == 3


def test_malformed_event_is_an_error_keeping_the_chunks_that_arrived():
    lines = [chunk("one"), chunk("two"), b"data: {not json\n", chunk("three"), b"data: [DONE]\n"]
    result = read_stream(iter(lines), "sse-openai", T0, clock=FakeClock(100.1, 100.2, 100.3, 100.4))
    assert result.error == "stream: malformed event (not JSON)"
    assert result.chunks == 2
    assert result.content == "onetwo"
    assert result.done is False
    assert result.end_ms == pytest.approx(400.0)


def test_event_that_is_not_an_object_is_an_error():
    result = read_stream(iter([chunk("x"), b"data: [1, 2]\n"]), "sse-openai", T0, clock=FakeClock(100.1, 100.2, 100.3))
    assert result.error == "stream: malformed event (not an object)"
    assert result.content == "x"


def test_error_event_from_the_server_is_an_error():
    lines = [chunk("partial"), event({"error": {"message": "overloaded"}}), b"data: [DONE]\n"]
    result = read_stream(iter(lines), "sse-openai", T0, clock=FakeClock(100.1, 100.2, 100.3))
    assert result.error == "stream: error event from the server"
    assert result.content == "partial"


def test_stream_without_done_is_an_error():
    lines = [chunk("Hi"), b"\n", chunk(finish="stop"), b"\n"]
    result = read_stream(iter(lines), "sse-openai", T0, clock=FakeClock(100.1, 100.15, 100.2, 100.25, 100.5))
    assert result.error == "stream: ended without [DONE]"
    assert result.content == "Hi"
    assert result.done is False
    assert result.end_ms == pytest.approx(500.0)


def broken(lines: list[bytes], exc: BaseException) -> Iterator[bytes]:
    yield from lines
    raise exc


def test_connection_cut_mid_stream_keeps_what_arrived():
    lines = [chunk("Hel"), b"\n", chunk("lo"), b"\n"]
    clock = FakeClock(100.1, 100.11, 100.2, 100.21, 100.9)
    result = read_stream(broken(lines, ConnectionResetError(104, "Connection reset by peer")), "sse-openai", T0,
                         clock=clock)
    assert result.error == "stream: connection broken (ConnectionResetError)"
    assert "reset by peer" not in result.error
    assert result.content == "Hello"
    assert result.chunks == 2
    assert result.ttft_ms == pytest.approx(100.0)
    assert result.end_ms == pytest.approx(900.0)  # the end is still stamped when the connection breaks


def test_connection_cut_before_any_byte_leaves_first_byte_unset():
    result = read_stream(broken([], TimeoutError()), "sse-openai", T0, clock=FakeClock(102.0))
    assert result.error == "stream: connection broken (TimeoutError)"
    assert math.isnan(result.ttfb_ms) and math.isnan(result.ttft_ms)
    assert result.end_ms == pytest.approx(2000.0)
    assert result.bytes_read == 0


def test_plain_sse_counts_every_data_line():
    lines = [b": keep-alive\n", b"event: token\n", b"data: Hello\n", b"\n", b"id: 2\n", b"data:  world \r\n", b"\r\n",
             b"data: [DONE]\n"]
    clock = FakeClock(10.0, 10.1, 10.2, 10.3, 10.4, 10.5, 10.6, 10.7, 11.0)
    result = read_stream(iter(lines), "sse", 9.9, clock=clock)
    assert result.error == ""  # plain SSE ends when the server closes; no [DONE] needed
    assert result.chunks == 3  # every data line, "[DONE]" included: it has no special meaning here
    assert result.text == ["Hello", "world", "[DONE]"]
    assert result.ttfb_ms == pytest.approx(100.0)  # the comment line is the first byte
    assert result.ttft_ms == pytest.approx(300.0)  # the first data line
    assert result.end_ms == pytest.approx(1100.0)


def test_comments_and_other_fields_are_ignored_in_openai_streams():
    lines = [b": ping\n", b"\n", b"event: message\n", b"id: 7\n", b"retry: 1000\n", chunk("ok"), b"\r\n",
             b"data: [DONE]\r\n"]
    result = read_stream(iter(lines), "sse-openai", 0.0, clock=FakeClock(*[0.01 * i for i in range(1, 10)]))
    assert result.error == ""
    assert result.done is True
    assert result.text == ["ok"]
    assert result.ttfb_ms == pytest.approx(10.0)
    assert result.ttft_ms == pytest.approx(60.0)


def test_body_over_max_bytes_is_cut():
    line = chunk("x" * 50)
    lines = [line] * 10 + [b"data: [DONE]\n"]
    result = read_stream(iter(lines), "sse-openai", 0.0, clock=FakeClock(*[0.01 * i for i in range(1, 20)]),
                         max_bytes=len(line) * 3 + 1)
    assert result.error == f"stream: body over {len(line) * 3 + 1} bytes"
    assert result.chunks == 3  # the line that crosses the cap is not parsed
    assert result.bytes_read == len(line) * 4
    assert result.done is False


def test_usage_that_arrives_with_the_last_content_chunk():
    last = event({"choices": [{"delta": {"content": "!"}, "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 5, "completion_tokens": 1}})
    result = read_stream(iter([last, b"data: [DONE]\n"]), "sse-openai", 0.0, clock=FakeClock(0.1, 0.2, 0.3))
    assert result.content == "!"
    assert parse_usage(result.usage) == TokenUsage(5, 1)


@pytest.mark.parametrize(
    "usage, expected",
    [
        ({"prompt_tokens": 12, "completion_tokens": 40, "total_tokens": 52}, TokenUsage(12, 40)),
        ({"prompt_tokens": 0, "completion_tokens": 0}, TokenUsage(0, 0)),
        ({"prompt_tokens": 12}, None),
        ({"prompt_tokens": "12", "completion_tokens": 40}, None),
        ({"prompt_tokens": True, "completion_tokens": 40}, None),
        (None, None),
        ([12, 40], None),
        # OpenAI chat completions with a prompt-cache hit and reasoning tokens: both are subsets
        ({"prompt_tokens": 2006, "completion_tokens": 300, "prompt_tokens_details": {"cached_tokens": 1920},
          "completion_tokens_details": {"reasoning_tokens": 192}}, TokenUsage(2006, 300, 1920, 192)),
        # the Responses API names them input/output
        ({"input_tokens": 12, "output_tokens": 40, "input_tokens_details": {"cached_tokens": 8},
          "output_tokens_details": {"reasoning_tokens": 30}}, TokenUsage(12, 40, 8, 30)),
        # Anthropic bills cache reads and writes beside input_tokens: the prompt is all three
        ({"input_tokens": 50, "output_tokens": 40, "cache_read_input_tokens": 1000,
          "cache_creation_input_tokens": 200}, TokenUsage(1250, 40, 1000, 0)),
        # a cached count above the prompt cannot be billed twice
        ({"prompt_tokens": 10, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 99}},
         TokenUsage(10, 1, 10, 0)),
    ],
)
def test_parse_usage(usage, expected):
    assert parse_usage(usage) == expected


def test_last_token_time_and_gaps_between_content_chunks():
    result = read_stream(iter(OPENAI_STREAM), "sse-openai", T0, clock=openai_clock())
    assert result.ttlt_ms == pytest.approx(230.0)  # " there" at 100.230; the usage and [DONE] come later
    assert result.gaps_ms == pytest.approx([10.0, 20.0])  # 200 -> 210 -> 230: chunks - 1 gaps
    assert result.end_ms == pytest.approx(300.0)
