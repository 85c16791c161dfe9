"""Reading streamed chat responses and timing them ourselves.

Locust times a `stream=True` request only to its headers, so the harness reads the body line by
line and stamps the first byte, the first content token and the last byte itself.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

__all__ = ["StreamResult", "read_stream", "parse_usage"]


@dataclass
class StreamResult:
    ttfb_ms: float = float("nan")  # request sent -> first body byte
    ttft_ms: float = float("nan")  # request sent -> first content token
    end_ms: float = float("nan")  # request sent -> last byte
    chunks: int = 0  # content chunks received
    text: list[str] = field(default_factory=list)  # content pieces, in order
    usage: dict[str, Any] | None = None
    done: bool = False  # the end marker arrived
    error: str = ""  # why the stream is broken ("" when it is whole)
    bytes_read: int = 0

    @property
    def content(self) -> str:
        return "".join(self.text)


def parse_usage(usage: Any) -> tuple[int, int] | None:
    """(input, output) tokens from an OpenAI-style usage object, or None when it is not one."""
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int):
        return prompt, completion
    return None


def read_stream(lines: Iterator[bytes], fmt: str, t0: float, clock: Callable[[], float] = time.perf_counter,
                max_bytes: int = 16 * 1024 * 1024) -> StreamResult:
    """Consume an event stream given as lines that keep their newline (b"" means the body ended).

    `t0` is the perf_counter reading taken just before the request was sent.

    fmt "sse-openai": `data: {chat.completion.chunk}` events ending in `data: [DONE]`;
    fmt "sse": any `data:` event is one content chunk, the stream ends when the server closes it.
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
                result.error = f"stream: body over {max_bytes} bytes"
                break
            line = raw.rstrip(b"\r\n")
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
        result.error = f"stream: connection broken ({type(exc).__name__})"
    result.end_ms = (clock() - t0) * 1000
    if not result.error and fmt == "sse-openai" and not result.done:
        result.error = "stream: ended without [DONE]"
    return result


def _add_content(result: StreamResult, piece: str, now: float, t0: float) -> None:
    if result.chunks == 0:
        result.ttft_ms = (now - t0) * 1000
    result.chunks += 1
    result.text.append(piece)
