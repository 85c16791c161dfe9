"""Reading streamed chat responses and timing them ourselves.

Locust times a `stream=True` request only to its headers, so the harness reads the body line by
line and stamps the first byte, the first content token and the last byte itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeGuard

from harness.protocol.bodies import BodyError, size_text
from harness.protocol.failures import describe_exception

__all__ = ["StreamResult", "TokenUsage", "read_stream", "parse_usage"]


@dataclass
class StreamResult:
    ttfb_ms: float = float("nan")  # request sent -> first body byte
    ttft_ms: float = float("nan")  # request sent -> first content token
    ttlt_ms: float = float("nan")  # request sent -> last content token
    end_ms: float = float("nan")  # request sent -> last byte
    chunks: int = 0  # content chunks received
    gaps_ms: list[float] = field(default_factory=list)  # between consecutive content chunks
    text: list[str] = field(default_factory=list)  # content pieces, in order
    usage: dict[str, Any] | None = None
    done: bool = False  # the end marker arrived
    error: str = ""  # why the stream is broken ("" when it is whole)
    bytes_read: int = 0

    @property
    def content(self) -> str:
        return "".join(self.text)


class TokenUsage(NamedTuple):
    """Token counts a response reported. `cached` is part of `input`, `reasoning` part of `output`."""

    input: int
    output: int
    cached: int = 0
    reasoning: int = 0


def parse_usage(usage: Any) -> TokenUsage | None:
    """The counts of a `usage` object, or None when it is not one.

    Understands OpenAI chat completions (`prompt_tokens`, `completion_tokens`, `*_details`), the
    OpenAI Responses API (`input_tokens`, `output_tokens`, `*_details`) and Anthropic, whose
    `input_tokens` leaves out the cache reads and writes that it bills separately.
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
    return None


def _count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _detail(usage: dict, table: str, key: str) -> int:
    details = usage.get(table)
    value = details.get(key) if isinstance(details, dict) else None
    return value if _count(value) else 0


def read_stream(
    lines: Iterable[bytes],
    fmt: str,
    t0: float,
    clock: Callable[[], float] = time.perf_counter,
    max_bytes: int = 16 * 1024 * 1024,
) -> StreamResult:
    """Consume an event stream given as lines that keep their newline (b"" means the body ended).

    `t0` is the perf_counter reading taken just before the request was sent.

    fmt "sse-openai": `data: {chat.completion.chunk}` events ending in `data: [DONE]`;
    fmt "sse": any `data:` event is one content chunk, the stream ends when the server closes it.

    A last line without its newline is a stream cut mid-event; more than `max_bytes` is cut there.
    """
    result = StreamResult()
    try:
        for raw in lines:
            if not raw:
                break
            now = clock()
            if result.bytes_read == 0:
                result.ttfb_ms = (now - t0) * 1000
            result.bytes_read += len(raw)
            if result.bytes_read > max_bytes:
                result.error = f"stream: body over {size_text(max_bytes)}: cut"
                result.bytes_read = max_bytes  # what is past the cap is dropped unread
                break
            line = raw.rstrip(b"\r\n")
            if not raw.endswith(b"\n") and line.replace(b" ", b"") != b"data:[DONE]":  # [DONE] needs no newline
                result.error = "stream: cut mid-event"
                break
            if not line.startswith(b"data:"):
                continue  # comments, event:, id:, retry: and blank separators
            data = line[5:].strip()
            if fmt == "sse":
                _add_content(result, data.decode("utf-8", "replace"), now, t0)
                continue
            if data == b"[DONE]":
                result.done = True
                break
            try:
                event = json.loads(data)
            except ValueError:
                result.error = "stream: malformed event (not JSON)"
                break
            if not isinstance(event, dict):
                result.error = "stream: malformed event (not an object)"
                break
            if event.get("usage"):
                result.usage = event["usage"]
            if isinstance(event.get("error"), (dict, str)):
                result.error = "stream: error event from the server"
                break
            for choice in event.get("choices") or ():
                delta = choice.get("delta") if isinstance(choice, dict) else None
                piece = delta.get("content") if isinstance(delta, dict) else None
                if piece:
                    _add_content(result, piece, now, t0)
    except Exception as exc:  # a cut connection surfaces here as the client's own exception
        reason = str(exc) if isinstance(exc, BodyError) else describe_exception(exc, 200)
        if reason.startswith("timeout"):
            result.error = f"stream: {reason}"
        elif getattr(lines, "pending", b""):  # it broke off inside a line
            result.error = "stream: cut mid-event"
        else:
            result.error = f"stream: cut between events ({reason})"
    result.end_ms = (clock() - t0) * 1000
    if not result.error and fmt == "sse-openai" and not result.done:
        result.error = "stream: ended without [DONE]"
    return result


def _add_content(result: StreamResult, piece: str, now: float, t0: float) -> None:
    at_ms = (now - t0) * 1000
    if result.chunks == 0:
        result.ttft_ms = at_ms
    else:
        result.gaps_ms.append(at_ms - result.ttlt_ms)
    result.ttlt_ms = at_ms
    result.chunks += 1
    result.text.append(piece)
