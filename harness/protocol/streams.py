"""Reading streamed chat responses and timing them ourselves.

Locust times a `stream=True` request only to its headers, so the harness reads the body as it arrives
and stamps the first byte, the first content token and the last byte itself.

Each wire format (FORMATS) says where the reply's text is, where the token usage is, how a whole stream
ends and how the server reports an error mid-stream; docs/streams.md has a table. Every format but
`text` is read line by line (`harness.protocol.bodies.LineReader`); `stream_source` picks the framing.
The caller bounds the body in bytes and time; `read_stream` stops at `max_bytes` itself as well.
"""

from __future__ import annotations

import codecs
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeGuard

from harness.protocol.bodies import BodyError, LineReader, reader_of, size_text
from harness.protocol.failures import describe_exception

__all__ = [
    "ACCEPT",
    "FORMATS",
    "JsonPaths",
    "StreamResult",
    "TokenUsage",
    "not_a_stream",
    "parse_usage",
    "read_stream",
    "stream_source",
]

# format -> what it is. The names are a contract: scenarios name them in `[endpoints.NAME] stream`.
FORMATS: dict[str, str] = {
    "sse-openai": "OpenAI chat completions: `data:` chat.completion.chunk events, then `data: [DONE]`",
    "sse": "any server-sent events: each `data:` line is one piece of text, the end is the body's end",
    "openai-responses": "OpenAI Responses API events: response.output_text.delta ... response.completed",
    "anthropic": "Anthropic Messages events: message_start, content_block_delta ... message_stop",
    "gemini": "Gemini streamGenerateContent with ?alt=sse: GenerateContentResponse events",
    "vercel-ai": 'Vercel AI SDK: the v5 UI message stream (SSE) or the v4 data stream (0:"text" lines)',
    "ndjson": "one JSON object per line; the text and usage at configurable dot paths (default: Ollama)",
    "text": "plain chunked text: every byte of the body is the reply",
}
# format -> the Accept header the request sends
ACCEPT: dict[str, str] = {
    "sse-openai": "text/event-stream",
    "sse": "text/event-stream",
    "openai-responses": "text/event-stream",
    "anthropic": "text/event-stream",
    "gemini": "text/event-stream",
    "vercel-ai": "text/event-stream, text/plain",
    "ndjson": "application/x-ndjson",
    "text": "text/plain",
}
_SERVER_ERROR = "stream: error event from the server"
_V4_PART = re.compile(rb"[0-9a-z]:")  # a Vercel AI SDK v4 data stream line: one type character, a colon


@dataclass
class StreamResult:
    ttfb_ms: float = float("nan")  # request sent -> first body byte
    ttft_ms: float = float("nan")  # request sent -> first content token
    ttlt_ms: float = float("nan")  # request sent -> last content token
    end_ms: float = float("nan")  # request sent -> last byte
    chunks: int = 0  # content chunks received
    gaps_ms: list[float] = field(default_factory=list)  # between consecutive content chunks
    text: list[str] = field(default_factory=list)  # content pieces, in order
    usage: dict[str, Any] | None = None  # the token usage as `parse_usage` reads it
    done: bool = False  # the end marker arrived
    error: str = ""  # why the stream is broken ("" when it is whole)
    bytes_read: int = 0

    @property
    def content(self) -> str:
        return "".join(self.text)


@dataclass(frozen=True)
class JsonPaths:
    """Where an `ndjson` stream keeps each thing in its objects, as dot paths ("message.content"; a number
    indexes a list). The defaults read Ollama's /api/chat. "" turns one off: `done = ""` for an API whose
    stream has no end marker, which then ends when the body does."""

    text: str = "message.content"
    input_tokens: str = "prompt_eval_count"
    output_tokens: str = "eval_count"
    done: str = "done"  # a true value here is the end of the stream
    error: str = "error"  # a value here is an error from the server


_OLLAMA = JsonPaths()


class TokenUsage(NamedTuple):
    """Token counts a response reported. `cached` is part of `input`, `reasoning` part of `output`."""

    input: int
    output: int
    cached: int = 0
    reasoning: int = 0


def parse_usage(usage: Any) -> TokenUsage | None:
    """The counts of a `usage` object, or None when it is not one.

    Understands OpenAI chat completions (`prompt_tokens`, `completion_tokens`, `*_details`), the
    OpenAI Responses API (`input_tokens`, `output_tokens`, `*_details`), Anthropic, whose
    `input_tokens` leaves out the cache reads and writes that it bills separately, Gemini's
    `usageMetadata` and the Vercel AI SDK's usage (v5 `inputTokens`, v4 `promptTokens`).
    """
    if not isinstance(usage, dict):
        return None
    for inp, out, details in (
        ("prompt_tokens", "completion_tokens", ("prompt", "completion")),
        ("input_tokens", "output_tokens", ("input", "output")),
    ):
        prompt, completion = usage.get(inp), usage.get(out)
        if _count(prompt) and _count(completion):
            cached = _detail(usage, f"{details[0]}_tokens_details", "cached_tokens")
            reasoning = _detail(usage, f"{details[1]}_tokens_details", "reasoning_tokens")
            reads, writes = usage.get("cache_read_input_tokens"), usage.get("cache_creation_input_tokens")
            if _count(reads) or _count(writes):  # Anthropic
                reads, writes = (reads if _count(reads) else 0), (writes if _count(writes) else 0)
                prompt, cached = prompt + reads + writes, reads
            return TokenUsage(prompt, completion, min(cached, prompt), min(reasoning, completion))
    if _count(usage.get("promptTokenCount")):
        return _gemini_usage(usage)
    for inp, out in (("inputTokens", "outputTokens"), ("promptTokens", "completionTokens")):  # AI SDK v5, v4
        prompt, completion = usage.get(inp), usage.get(out)
        if _count(prompt) and _count(completion):
            cached, reasoning = _number(usage, "cachedInputTokens"), _number(usage, "reasoningTokens")
            return TokenUsage(prompt, completion, min(cached, prompt), min(reasoning, completion))
    return None


def _gemini_usage(usage: dict[str, Any]) -> TokenUsage:
    """Gemini's usageMetadata: the prompt includes its cached part; thoughts and tool-use prompts are
    counted beside candidates and prompt, and billed as output and input. Zero counts may be left out.
    (ai.google.dev API reference, GenerateContentResponse.UsageMetadata.)"""
    prompt = usage["promptTokenCount"] + _number(usage, "toolUsePromptTokenCount")
    thoughts = _number(usage, "thoughtsTokenCount")
    output = _number(usage, "candidatesTokenCount") + thoughts
    return TokenUsage(prompt, output, min(_number(usage, "cachedContentTokenCount"), prompt), thoughts)


def _count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(usage: dict[str, Any], key: str) -> int:
    value = usage.get(key)
    return value if _count(value) else 0


def _detail(usage: dict, table: str, key: str) -> int:
    details = usage.get(table)
    value = details.get(key) if isinstance(details, dict) else None
    return value if _count(value) else 0


def not_a_stream(fmt: str, content_type: str) -> str:
    """Why a 2xx answer with this media type (no parameters, lower case) is plainly not a stream of `fmt`,
    or "": an HTML page, or a JSON object where events were asked for. Other types are read: some
    servers mislabel streams, and the reader decides."""
    json_like = content_type == "application/json" or content_type.endswith("+json")
    if content_type not in ("text/html", "application/xhtml+xml") and not (json_like and fmt != "ndjson"):
        return ""
    why = f"bad response: {content_type}, expected {ACCEPT[fmt]}"
    if fmt == "gemini" and json_like:  # streamGenerateContent answers a JSON array unless asked for SSE
        why += " (add ?alt=sse to the path)"
    return why


def stream_source(chunks: Iterable[bytes], fmt: str, max_line: int) -> Iterable[bytes]:
    """What `read_stream` reads: the body's chunks as they come for plain text, else its lines."""
    return chunks if fmt == "text" else LineReader(chunks, max_line)


def read_stream(
    lines: Iterable[bytes],
    fmt: str,
    t0: float,
    clock: Callable[[], float] = time.perf_counter,
    max_bytes: int = 16 * 1024 * 1024,
    paths: JsonPaths = _OLLAMA,
) -> StreamResult:
    """Consume a stream given as lines that keep their newline (chunks for `text`), to their end.

    `t0` is the perf_counter reading taken just before the request was sent; `paths` is where an `ndjson`
    stream keeps its text and usage. The clock is read once per line and once at the end.

    A last line without its newline is a stream cut mid-event; more than `max_bytes` is cut there.
    """
    result = StreamResult()
    reader = _reader(fmt, paths)(result, t0)
    read = reader_of(lines)  # LineReader.read, Chunks.read: a plain call (harness.protocol.bodies.Chunks)
    try:
        while raw := read():
            now = clock()
            if result.bytes_read == 0:
                result.ttfb_ms = (now - t0) * 1000
            result.bytes_read += len(raw)
            if result.bytes_read > max_bytes:
                result.error = f"stream: body over {size_text(max_bytes)}: cut"
                result.bytes_read = max_bytes  # what is past the cap is dropped unread
                break
            reader.now = now
            if reader.feed(raw):
                break
        if not result.error:
            reader.close()
    except Exception as exc:  # a cut connection surfaces here as the client's own exception
        reason = str(exc) if isinstance(exc, BodyError) else describe_exception(exc, 200)
        if reason.startswith("timeout"):
            result.error = f"stream: {reason}"
        elif getattr(lines, "pending", b""):  # it broke off inside a line
            result.error = "stream: cut mid-event"
        else:
            result.error = f"stream: cut between events ({reason})"
    result.end_ms = (clock() - t0) * 1000
    if not result.error and reader.end_marker and not result.done:
        result.error = f"stream: ended without {reader.end_marker}"
    return result


def _reader(fmt: str, paths: JsonPaths) -> Callable[[StreamResult, float], _Reader]:
    if fmt == "ndjson":
        return lambda result, t0: _Ndjson(result, t0, paths)
    return _READERS[fmt]


def _add_content(result: StreamResult, piece: str, now: float, t0: float) -> None:
    at_ms = (now - t0) * 1000
    if result.chunks == 0:
        result.ttft_ms = at_ms
    else:
        result.gaps_ms.append(at_ms - result.ttlt_ms)
    result.ttlt_ms = at_ms
    result.chunks += 1
    result.text.append(piece)


def _server_error(error: Any) -> str:
    """The reason of an error the server sent mid-stream: its type, status or code (an error object's
    message may carry request details), or the text of a bare error string, on one short line."""
    kind = ""
    if isinstance(error, dict):
        for key in ("type", "status", "code"):
            value = error.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) not in ("", "error"):
                kind = str(value)
                break
    elif isinstance(error, str):
        kind = error
    kind = " ".join(kind.split())[:80]
    return f"{_SERVER_ERROR} ({kind})" if kind else _SERVER_ERROR


def _json_object(data: bytes) -> dict[str, Any] | str:
    """The event as a JSON object, or why it is not one."""
    try:
        event = json.loads(data)
    except ValueError:
        return "stream: malformed event (not JSON)"
    return event if isinstance(event, dict) else "stream: malformed event (not an object)"


def _at(obj: Any, path: str) -> Any:
    """The value at a dot path ("message.content", "candidates.0.text"), or None."""
    for key in path.split("."):
        if isinstance(obj, dict):
            obj = obj.get(key)
        elif isinstance(obj, list) and key.isdigit() and int(key) < len(obj):
            obj = obj[int(key)]
        else:
            return None
    return obj


class _Reader:
    """One stream's reading: each line in turn, with the clock reading `now` it arrived at."""

    end_marker = ""  # what a whole stream ends with ("" = the body's end is the stream's end)

    def __init__(self, result: StreamResult, t0: float) -> None:
        self.result = result
        self.t0 = t0
        self.now = t0

    def feed(self, raw: bytes) -> bool:
        """Read one line (newline kept); True stops the reading: the end arrived, or an error."""
        raise NotImplementedError

    def close(self) -> None:
        """The body ended with no error."""

    def text(self, piece: Any) -> None:
        if isinstance(piece, str) and piece:
            _add_content(self.result, piece, self.now, self.t0)

    def fail(self, why: str) -> bool:
        self.result.error = why
        return True

    def finish(self) -> bool:
        self.result.done = True
        return True


class _Sse(_Reader):
    """Server-sent events read as each `data:` line is one event; comments, `event:`, `id:`, `retry:` and
    blank lines are skipped (every format here repeats the event name in its data, or has none)."""

    sentinel_ends = False  # `data: [DONE]` is this format's end marker

    def feed(self, raw: bytes) -> bool:
        line = raw.rstrip(b"\r\n")
        if not raw.endswith(b"\n") and line.replace(b" ", b"") != b"data:[DONE]":  # [DONE] needs no newline
            return self.fail("stream: cut mid-event")
        return self.data(line[5:].strip()) if line.startswith(b"data:") else False

    def data(self, data: bytes) -> bool:
        """One event's data: a JSON object, or `[DONE]`, which ends the reading."""
        if data == b"[DONE]":
            self.result.done = self.result.done or self.sentinel_ends
            return True
        event = _json_object(data)
        return self.fail(event) if isinstance(event, str) else self.event(event)

    def event(self, event: dict[str, Any]) -> bool:
        raise NotImplementedError


class _PlainSse(_Sse):
    """fmt "sse": any `data:` line is one content chunk ("[DONE]" too); the stream ends when the server
    closes it."""

    def data(self, data: bytes) -> bool:
        self.text(data.decode("utf-8", "replace"))
        return False


class _OpenAIChat(_Sse):
    """OpenAI chat completions: `choices[].delta.content`; `usage` in a chunk of its own at the end (with
    stream_options.include_usage); `data: [DONE]` ends it. (platform.openai.com API reference, "The chat
    completion chunk object".)"""

    end_marker = "[DONE]"
    sentinel_ends = True

    def event(self, event: dict[str, Any]) -> bool:
        if event.get("usage"):
            self.result.usage = event["usage"]
        if isinstance(event.get("error"), (dict, str)):
            return self.fail(_server_error(event["error"]))
        for choice in event.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            self.text(delta.get("content") if isinstance(delta, dict) else None)
        return False


class _OpenAIResponses(_Sse):
    """OpenAI Responses API: text in `response.output_text.delta` (and `response.refusal.delta`) events'
    `delta`; `usage` in the final response of `response.completed` (or `.incomplete`, cut at
    max_output_tokens); `response.failed` and `error` events are errors; no [DONE]. (platform.openai.com
    API reference, "Streaming events" of the Responses API.)"""

    end_marker = "response.completed"

    def event(self, event: dict[str, Any]) -> bool:
        kind = event.get("type")
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            self.text(event.get("delta"))
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            response = event.get("response")
            response = response if isinstance(response, dict) else {}
            if isinstance(response.get("usage"), dict):
                self.result.usage = response["usage"]
            return self.fail(_server_error(response.get("error"))) if kind == "response.failed" else self.finish()
        elif kind == "error":
            return self.fail(_server_error(event))
        return False


class _Anthropic(_Sse):
    """Anthropic Messages: text in `content_block_delta` events whose delta is a `text_delta` (thinking
    is not the reply); `input_tokens` (and the cache counts) in `message_start`'s message usage, the
    cumulative `output_tokens` in `message_delta`'s usage; `message_stop` ends it; an `error` event
    (overloaded_error ...) is an error. (docs.anthropic.com, "Streaming Messages".)"""

    end_marker = "message_stop"

    def event(self, event: dict[str, Any]) -> bool:
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event.get("delta")
            if isinstance(delta, dict) and delta.get("type") == "text_delta":
                self.text(delta.get("text"))
        elif kind == "message_start":
            message = event.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
            if isinstance(usage, dict):
                self.result.usage = dict(usage)
        elif kind == "message_delta":
            usage = event.get("usage")
            if isinstance(usage, dict):  # counts so far: the later ones replace the earlier
                self.result.usage = {**(self.result.usage or {}), **{k: v for k, v in usage.items() if v is not None}}
        elif kind == "message_stop":
            return self.finish()
        elif kind == "error":
            return self.fail(_server_error(event.get("error")))
        return False


class _Gemini(_Sse):
    """Gemini streamGenerateContent?alt=sse: each event is a GenerateContentResponse; the text is in the
    first candidate's `content.parts[].text` (parts marked `thought` are not the reply); `usageMetadata`
    (promptTokenCount, candidatesTokenCount, ...) comes with the last events; a `finishReason` (or a
    blocked prompt) marks the last one, and the body ends there; an `{"error": ...}` event is an error.
    (ai.google.dev API reference, models.streamGenerateContent.)"""

    end_marker = "a finishReason"

    def event(self, event: dict[str, Any]) -> bool:
        if isinstance(event.get("error"), (dict, str)):
            return self.fail(_server_error(event["error"]))
        if isinstance(event.get("usageMetadata"), dict):
            self.result.usage = event["usageMetadata"]
        candidates = event.get("candidates")
        first = candidates[0] if isinstance(candidates, list) and candidates else None
        first = first if isinstance(first, dict) else {}
        for part in _at(first, "content.parts") or ():
            if isinstance(part, dict) and not part.get("thought"):
                self.text(part.get("text"))
        if first.get("finishReason") or _at(event, "promptFeedback.blockReason"):
            self.result.done = True
        return False


class _VercelAi(_Sse):
    """The Vercel AI SDK's streams, either one:

    v5 UI message stream (SSE, header x-vercel-ai-ui-message-stream: v1): text in `text-delta` parts'
    `delta`; a `finish` part (then `data: [DONE]`) ends it; `error` parts (`errorText`) and `abort` are
    errors. It carries no usage unless the server puts it in message metadata: a start, finish or
    message-metadata part's `messageMetadata.totalUsage`, `.usage`, or the metadata itself (inputTokens,
    outputTokens).

    v4 data stream (lines `TYPE:JSON`, header x-vercel-ai-data-stream: v1): text in `0:"..."` parts;
    usage (promptTokens, completionTokens) in the `e:` finish-step and `d:` finish-message parts; `d:`
    ends it; `3:"..."` is an error.

    (ai-sdk.dev, "Stream Protocols", v5 and v4.)"""

    end_marker = "a finish part"
    sentinel_ends = True

    def feed(self, raw: bytes) -> bool:
        return self.part(raw) if _V4_PART.match(raw) else super().feed(raw)

    def event(self, event: dict[str, Any]) -> bool:
        kind = event.get("type")
        if kind == "text-delta":
            self.text(event.get("delta"))
        elif kind == "error":
            return self.fail(_server_error(event.get("errorText")))
        elif kind == "abort":
            return self.fail("stream: aborted by the server")
        elif kind in ("start", "finish", "message-metadata"):
            metadata = event.get("messageMetadata")
            if isinstance(metadata, dict):
                for usage in (metadata.get("totalUsage"), metadata.get("usage"), metadata):
                    if parse_usage(usage) is not None:
                        self.result.usage = usage
                        break
            self.result.done = self.result.done or kind == "finish"
        return False

    def part(self, raw: bytes) -> bool:
        """One v4 data stream line: a type character, a colon, a JSON value."""
        try:
            value = json.loads(raw[2:])
        except ValueError:
            return self.fail("stream: malformed event (not JSON)" if raw.endswith(b"\n") else "stream: cut mid-event")
        code = raw[:1]
        if code == b"0":
            self.text(value)
        elif code == b"3":
            return self.fail(_server_error(value))
        elif code in (b"e", b"d") and isinstance(value, dict) and isinstance(value.get("usage"), dict):
            self.result.usage = value["usage"]
        return self.finish() if code == b"d" else False


class _Ndjson(_Reader):
    """One JSON object per line, read at `paths` (Ollama's /api/chat by default: `message.content`, and
    `prompt_eval_count` / `eval_count` in the last object, whose `done` is true; a mid-stream failure is
    an `{"error": "..."}` line). (github.com/ollama/ollama docs/api.md, "Generate a chat completion", and
    docs/api/errors.mdx, "Errors that occur while streaming".)
    A last line without its newline is read if it is a whole object."""

    def __init__(self, result: StreamResult, t0: float, paths: JsonPaths) -> None:
        super().__init__(result, t0)
        self.paths = paths
        self.end_marker = paths.done
        self.tokens: dict[str, int] = {}

    def feed(self, raw: bytes) -> bool:
        line = raw.strip()
        if not line:
            return False
        event = _json_object(line)
        if isinstance(event, str):
            return self.fail(event if raw.endswith(b"\n") else "stream: cut mid-event")
        paths = self.paths
        error = _at(event, paths.error) if paths.error else None
        if error not in (None, "", False):
            return self.fail(_server_error(error))
        if paths.text:
            self.text(_at(event, paths.text))
        for key, path in (("input_tokens", paths.input_tokens), ("output_tokens", paths.output_tokens)):
            value = _at(event, path) if path else None
            if _count(value):
                self.tokens[key] = value
        if len(self.tokens) == 2:
            self.result.usage = dict(self.tokens)
        return self.finish() if paths.done and _at(event, paths.done) else False


class _Text(_Reader):
    """Plain chunked text (the Vercel AI SDK's text stream protocol too): every chunk is content, decoded as
    UTF-8 across chunk boundaries; no usage; the body's end is the stream's end."""

    def __init__(self, result: StreamResult, t0: float) -> None:
        super().__init__(result, t0)
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, raw: bytes) -> bool:
        self.text(self.decoder.decode(raw))
        return False

    def close(self) -> None:
        self.text(self.decoder.decode(b"", final=True))  # a character cut at the end reads as U+FFFD


_READERS: dict[str, Callable[[StreamResult, float], _Reader]] = {
    "sse-openai": _OpenAIChat,
    "sse": _PlainSse,
    "openai-responses": _OpenAIResponses,
    "anthropic": _Anthropic,
    "gemini": _Gemini,
    "vercel-ai": _VercelAi,
    "text": _Text,
}
