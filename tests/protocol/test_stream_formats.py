"""Each stream format read from recorded, real-shaped streams (the providers' documented examples):
the text, the first token, the usage where the format sends it, the end marker, and mid-stream errors.
Every stream is fed in chunks cut at awkward places (one byte, seven bytes, inside a UTF-8 character,
across a CRLF): the framing must give the same result whatever the reads were."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest

from harness.protocol.streams import (
    FORMATS,
    JsonPaths,
    TokenUsage,
    not_a_stream,
    parse_usage,
    read_stream,
    stream_source,
)
from harness.scenario.model import STREAM_FORMATS, STREAM_PATH_KEYS

CHUNK_SIZES = (1, 7, 4096)


def sse(*events: tuple[str, dict] | dict | str, newline: bytes = b"\n") -> bytes:
    """Server-sent events: (name, data) pairs get an `event:` line, a dict or "[DONE]" only `data:`."""
    out = b""
    for item in events:
        name, data = item if isinstance(item, tuple) else ("", item)
        if name:
            out += f"event: {name}".encode() + newline
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        out += f"data: {text}".encode() + newline + newline
    return out


def lines(*objects: object, prefix: bytes = b"") -> bytes:
    return b"".join(prefix + json.dumps(o, ensure_ascii=False).encode() + b"\n" for o in objects)


class Clock:
    """1 ms more at every reading: read_stream reads it once per line (or chunk) and once at the end."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.calls / 1000


def read(body: bytes, fmt: str, size: int, paths: JsonPaths | None = None):
    """`body` read in reads of `size` bytes (the last may be shorter)."""
    chunks: Iterator[bytes] = (body[i : i + size] for i in range(0, len(body), size))
    return read_stream(stream_source(chunks, fmt, 1 << 20), fmt, 0.0, clock=Clock(), paths=paths or JsonPaths())


def first_line_with(body: bytes, marker: bytes) -> float:
    """The clock reading (ms) at the line holding `marker`: lines are read one clock tick each."""
    index = next(i for i, line in enumerate(body.splitlines(keepends=True)) if marker in line)
    return float(index + 1)


# --- recorded streams, shaped as each provider documents them ---------------------------------------

RESPONSES = sse(
    ("response.created", {"type": "response.created", "sequence_number": 0, "response": {"id": "resp_1", "status": "in_progress", "usage": None}}),
    ("response.in_progress", {"type": "response.in_progress", "sequence_number": 1, "response": {"id": "resp_1"}}),
    ("response.output_item.added", {"type": "response.output_item.added", "sequence_number": 2, "output_index": 0, "item": {"id": "msg_1", "type": "message", "role": "assistant", "content": []}}),
    ("response.content_part.added", {"type": "response.content_part.added", "sequence_number": 3, "item_id": "msg_1", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": ""}}),
    ("response.output_text.delta", {"type": "response.output_text.delta", "sequence_number": 4, "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hi"}),
    ("response.output_text.delta", {"type": "response.output_text.delta", "sequence_number": 5, "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": " thére"}),
    ("response.output_text.done", {"type": "response.output_text.done", "sequence_number": 6, "item_id": "msg_1", "output_index": 0, "content_index": 0, "text": "Hi thére"}),
    ("response.completed", {"type": "response.completed", "sequence_number": 7, "response": {"id": "resp_1", "status": "completed", "usage": {"input_tokens": 37, "input_tokens_details": {"cached_tokens": 32}, "output_tokens": 11, "output_tokens_details": {"reasoning_tokens": 8}, "total_tokens": 48}}}),
)  # fmt: skip

ANTHROPIC = sse(
    ("message_start", {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-5", "stop_reason": None, "usage": {"input_tokens": 25, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 0, "output_tokens": 1}}}),
    ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me think"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("ping", {"type": "ping"}),
    ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": " thére"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 15}}),
    ("message_stop", {"type": "message_stop"}),
)  # fmt: skip

GEMINI = sse(
    {"candidates": [{"content": {"parts": [{"text": "Planning the answer", "thought": True}], "role": "model"}, "index": 0}], "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8}, "modelVersion": "gemini-2.5-flash"},
    {"candidates": [{"content": {"parts": [{"text": "Hi"}], "role": "model"}, "index": 0}], "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8}, "modelVersion": "gemini-2.5-flash"},
    {"candidates": [{"content": {"parts": [{"text": " thére"}], "role": "model"}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 5, "thoughtsTokenCount": 20, "cachedContentTokenCount": 4, "totalTokenCount": 33}, "modelVersion": "gemini-2.5-flash"},
    newline=b"\r\n",
)  # fmt: skip

VERCEL_UI = sse(
    {"type": "start", "messageId": "msg_1"},
    {"type": "start-step"},
    {"type": "reasoning-delta", "id": "r1", "delta": "Let me think"},
    {"type": "text-start", "id": "txt_1"},
    {"type": "text-delta", "id": "txt_1", "delta": "Hi"},
    {"type": "text-delta", "id": "txt_1", "delta": " thére"},
    {"type": "text-end", "id": "txt_1"},
    {"type": "finish-step"},
    {"type": "finish", "messageMetadata": {"totalUsage": {"inputTokens": 12, "outputTokens": 7, "totalTokens": 19, "reasoningTokens": 3, "cachedInputTokens": 2}}},
    "[DONE]",
)  # fmt: skip

VERCEL_V4 = (
    b'f:{"messageId":"msg_1"}\n'
    b'g:"Let me think"\n'
    b'0:"Hi"\n'
    b'0:" th\xc3\xa9re"\n'
    b'e:{"finishReason":"stop","usage":{"promptTokens":10,"completionTokens":20},"isContinued":false}\n'
    b'd:{"finishReason":"stop","usage":{"promptTokens":10,"completionTokens":20}}\n'
)

OLLAMA = lines(
    {"model": "llama3.2", "created_at": "2023-08-04T08:52:19.385406455-07:00", "message": {"role": "assistant", "content": "Hi", "images": None}, "done": False},
    {"model": "llama3.2", "created_at": "2023-08-04T08:52:19.385406455-07:00", "message": {"role": "assistant", "content": " thére"}, "done": False},
    {"model": "llama3.2", "created_at": "2023-08-04T19:22:45.499127Z", "done": True, "total_duration": 4883583458, "prompt_eval_count": 26, "eval_count": 282},
)  # fmt: skip

WHOLE = [
    ("openai-responses", RESPONSES, b'"Hi"', TokenUsage(37, 11, 32, 8)),
    ("anthropic", ANTHROPIC, b'"Hi"', TokenUsage(125, 15, 100, 0)),
    ("gemini", GEMINI, b'"Hi"', TokenUsage(8, 25, 4, 20)),  # thoughts are output tokens, never the reply
    ("vercel-ai", VERCEL_UI, b'"Hi"', TokenUsage(12, 7, 2, 3)),
    ("vercel-ai", VERCEL_V4, b'0:"Hi"', TokenUsage(10, 20)),
    ("ndjson", OLLAMA, b'"Hi"', TokenUsage(26, 282)),
]


@pytest.mark.parametrize("size", CHUNK_SIZES)
@pytest.mark.parametrize("fmt, body, first, usage", WHOLE, ids=[f"{w[0]}-{i}" for i, w in enumerate(WHOLE)])
def test_a_whole_stream_gives_its_text_first_token_and_usage(fmt, body, first, usage, size):
    result = read(body, fmt, size)
    assert result.error == "" and result.done
    assert result.text == ["Hi", " thére"]  # thinking and reasoning are not the reply
    assert result.ttft_ms == pytest.approx(first_line_with(body, first))  # the first text, not the first byte
    assert result.gaps_ms == pytest.approx([first_line_with(body, "thére".encode()) - result.ttft_ms])
    assert parse_usage(result.usage) == usage
    assert 0 <= len(body) - result.bytes_read <= 2  # all of it, or all but the blank line after the end event


@pytest.mark.parametrize("size", CHUNK_SIZES)
def test_plain_text_is_every_byte_even_a_character_cut_between_reads(size):
    body = "Hi thére, 👋".encode()
    result = read(body, "text", size)
    assert result.error == "" and result.content == "Hi thére, 👋"
    assert result.usage is None  # plain text carries no usage: the caller estimates it
    assert result.ttft_ms == pytest.approx(1.0)
    if size == 1:  # 'é' is two bytes and '👋' four: the bytes that start one are no text yet
        assert result.chunks == len("Hi thére, 👋")


def test_plain_text_cut_inside_a_character_keeps_a_replacement_mark():
    assert read("thé".encode()[:-1], "text", 64).content == "th\ufffd"


def test_ndjson_reads_the_paths_a_scenario_gives():
    paths = JsonPaths(text="delta.text", input_tokens="usage.in", output_tokens="usage.out", done="finished", error="")
    body = lines(
        {"delta": {"text": "Hi"}},
        {"delta": {"text": " thére"}},
        {"finished": "stop", "usage": {"in": 4, "out": 2}, "error": "not an error here: the path is off"},
    )
    result = read(body, "ndjson", 5, paths)
    assert result.error == "" and result.done and result.content == "Hi thére"
    assert parse_usage(result.usage) == TokenUsage(4, 2)


def test_ndjson_list_indexes_and_no_end_marker():
    paths = JsonPaths(text="choices.0.text", done="")
    body = lines({"choices": [{"text": "Hi"}]}, {"choices": []}, {"choices": [{"text": " thére"}]})
    result = read(body, "ndjson", 3, paths)
    assert result.error == "" and not result.done and result.content == "Hi thére"
    assert result.usage is None


@pytest.mark.parametrize(
    "fmt, body",
    [
        ("openai-responses", RESPONSES.replace(b'"usage": {"input_tokens": 37', b'"usage": null, "x": {"input_tokens": 37')),
        ("gemini", GEMINI.replace(b'"usageMetadata"', b'"otherMetadata"')),
        ("vercel-ai", VERCEL_UI.replace(b'"messageMetadata"', b'"otherMetadata"')),
        ("vercel-ai", VERCEL_V4.replace(b'"usage"', b'"other"')),
        ("ndjson", OLLAMA.replace(b'"prompt_eval_count"', b'"other"')),
    ],
)  # fmt: skip
def test_a_stream_without_usage_is_whole_and_leaves_the_counting_to_the_estimate(fmt, body):
    result = read(body, fmt, 7)
    assert result.error == "" and result.content == "Hi thére"
    assert parse_usage(result.usage) is None


SERVER_ERROR = "stream: error event from the server"


@pytest.mark.parametrize(
    "fmt, body, error",
    [
        ("openai-responses", sse(("error", {"type": "error", "code": "server_error", "message": "The server had an error", "param": None, "sequence_number": 5})), f"{SERVER_ERROR} (server_error)"),
        ("openai-responses", sse(("response.failed", {"type": "response.failed", "response": {"status": "failed", "error": {"code": "rate_limit_exceeded", "message": "Slow down"}}})), f"{SERVER_ERROR} (rate_limit_exceeded)"),
        ("anthropic", sse(("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})), f"{SERVER_ERROR} (overloaded_error)"),
        ("gemini", sse({"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}}), f"{SERVER_ERROR} (RESOURCE_EXHAUSTED)"),
        ("vercel-ai", sse({"type": "error", "errorText": "Rate   limit\nreached"}), f"{SERVER_ERROR} (Rate limit reached)"),
        ("vercel-ai", sse({"type": "abort"}), "stream: aborted by the server"),
        ("vercel-ai", b'3:"An error occurred."\n', f"{SERVER_ERROR} (An error occurred.)"),
        ("ndjson", lines({"error": "model 'llama9' not found"}), f"{SERVER_ERROR} (model 'llama9' not found)"),
        ("sse-openai", sse({"error": {"message": "overloaded", "type": "server_error"}}), f"{SERVER_ERROR} (server_error)"),
    ],
)  # fmt: skip
def test_an_error_event_mid_stream_is_an_error_with_its_reason_and_keeps_what_came(fmt, body, error):
    head = {
        "openai-responses": RESPONSES.split(b"event: response.output_text.done")[0],
        "anthropic": ANTHROPIC.split(b'event: content_block_stop\ndata: {"type": "content_block_stop", "index": 1')[0],
        "gemini": GEMINI.split(b'data: {"candidates": [{"content": {"parts": [{"text": " th')[0],
        "vercel-ai": VERCEL_UI.split(b'data: {"type": "text-end"')[0],
        "ndjson": OLLAMA.split(b"\n")[0] + b"\n",
        "sse-openai": b"",
    }[fmt]
    result = read(head + body + b"data: never read\n\n", fmt, 7)
    assert result.error == error
    assert not result.done
    came = {"gemini": "Hi", "ndjson": "Hi", "sse-openai": ""}.get(fmt, "Hi thére")
    assert result.content == came


def test_an_error_message_is_never_the_reason_of_an_error_object():
    # an error object's message may quote the request; its type, status or code say enough
    body = sse(("error", {"type": "error", "error": {"message": "key sk-live-123 is invalid"}}))
    assert read(body, "anthropic", 64).error == SERVER_ERROR


@pytest.mark.parametrize(
    "fmt, body, error",
    [
        ("openai-responses", RESPONSES.split(b"event: response.completed")[0], "stream: ended without response.completed"),
        ("anthropic", ANTHROPIC.split(b"event: message_stop")[0], "stream: ended without message_stop"),
        ("gemini", GEMINI.replace(b'"finishReason": "STOP", ', b""), "stream: ended without a finishReason"),
        ("vercel-ai", VERCEL_UI.split(b'data: {"type": "finish"')[0], "stream: ended without a finish part"),
        ("vercel-ai", VERCEL_V4.split(b"d:")[0], "stream: ended without a finish part"),
        ("ndjson", OLLAMA.rsplit(b"{", 1)[0], "stream: ended without done"),
    ],
)  # fmt: skip
def test_a_stream_that_ends_before_its_end_marker_is_broken(fmt, body, error):
    result = read(body, fmt, 7)
    assert result.error == error
    assert result.content == "Hi thére"  # what arrived is kept


def test_vercel_ui_stream_ends_at_its_finish_part_even_without_done():
    result = read(VERCEL_UI.replace(b"data: [DONE]\n\n", b""), "vercel-ai", 7)
    assert result.error == "" and result.done


@pytest.mark.parametrize(
    "fmt, body",
    [
        ("openai-responses", RESPONSES[:-30]),
        ("anthropic", ANTHROPIC[:-12]),
        ("gemini", GEMINI[:-20]),
        ("vercel-ai", VERCEL_V4[:-5]),
        ("ndjson", OLLAMA[:-5]),
    ],
)
def test_a_body_that_stops_inside_an_event_is_cut_mid_event(fmt, body):
    assert read(body, fmt, 7).error == "stream: cut mid-event"


def test_a_last_ndjson_line_without_its_newline_is_read_when_whole():
    result = read(OLLAMA.rstrip(b"\n"), "ndjson", 7)
    assert result.error == "" and result.done and parse_usage(result.usage) == TokenUsage(26, 282)


@pytest.mark.parametrize(
    "fmt, body",
    [
        ("anthropic", b"data: {not json}\n\n"),
        ("gemini", b"data: [1, 2]\n\n"),
        ("ndjson", b"[1, 2]\n"),
        ("vercel-ai", b"0:Hi\n"),
    ],
)
def test_malformed_events_are_errors(fmt, body):
    assert read(body, fmt, 64).error.startswith("stream: malformed event")


def test_every_format_is_capped_at_max_bytes():
    for fmt, body, *_ in WHOLE:
        result = read_stream(stream_source(iter([body]), fmt, 1 << 20), fmt, 0.0, clock=Clock(), max_bytes=100)
        assert result.error == "stream: body over 100 bytes: cut" and result.bytes_read == 100


def test_gemini_counts_tool_use_prompts_as_input_and_leaves_out_zero_counts():
    assert parse_usage({"promptTokenCount": 10, "toolUsePromptTokenCount": 5}) == TokenUsage(15, 0)


@pytest.mark.parametrize(
    "fmt, content_type, error",
    [
        ("sse-openai", "text/event-stream", ""),
        ("sse-openai", "", ""),
        ("sse-openai", "text/plain", ""),  # some servers mislabel streams; the events decide
        ("sse-openai", "text/html", "bad response: text/html, expected text/event-stream"),
        ("sse-openai", "application/json", "bad response: application/json, expected text/event-stream"),
        ("anthropic", "application/problem+json", "bad response: application/problem+json, expected text/event-stream"),
        ("gemini", "application/json", "bad response: application/json, expected text/event-stream (add ?alt=sse to the path)"),
        ("ndjson", "application/json", ""),  # some NDJSON servers say JSON
        ("ndjson", "text/html", "bad response: text/html, expected application/x-ndjson"),
        ("text", "text/plain", ""),
        ("text", "application/json", "bad response: application/json, expected text/plain"),
        ("vercel-ai", "text/plain", ""),  # the v4 data stream
    ],
)  # fmt: skip
def test_an_answer_that_is_plainly_no_stream_of_the_format(fmt, content_type, error):
    assert not_a_stream(fmt, content_type) == error


def test_the_scenario_and_the_readers_know_the_same_formats_and_paths():
    assert set(STREAM_FORMATS) - {"none", "json"} == set(FORMATS)
    assert STREAM_PATH_KEYS == tuple(f.name for f in dataclasses.fields(JsonPaths))
