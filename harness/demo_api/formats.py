"""The chat reply in other providers' wire formats, for `POST /api/chat/{format}`.

Each encoder turns the simulated model's tokens, as they fall due, into one provider's streamed reply,
so every stream reader of the harness (harness.protocol.streams) can be tried end to end against a
real server. The shapes follow each provider's documentation (cited per encoder); the demo keeps to
the fields a client reads and a few around them.

Whatever the format, the request may carry the conversation as `messages` (OpenAI, Anthropic, Ollama,
the Vercel AI SDK's UI messages with `parts`), `contents` (Gemini), `input` (the Responses API) or
`prompt` (plain text).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from harness.demo_api.sse import stream_events

__all__ = ["FORMATS", "Reply", "prompt_messages", "stream_reply"]


@dataclass(frozen=True)
class Reply:
    """What every format says about one reply besides its tokens."""

    id: str
    created: int  # epoch seconds
    model: str
    finish_reason: str  # "stop", or "length" when the cap cut the reply short
    prompt_tokens: int
    completion_tokens: int
    usage: bool  # False: no token usage, as some targets answer


Tokens = AsyncIterator[str]
Encoder = Callable[[Reply, Tokens], AsyncIterator[bytes]]


def prompt_messages(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, text) of each text piece of the conversation, in order; [] when the body holds none.

    A message of several text parts gives one entry per part, so the tokens counted here add up to
    what a client counts part by part (harness.load.client.prompt_texts)."""
    for key in ("messages", "contents", "input", "prompt"):
        value = body.get(key)
        if isinstance(value, str):
            return [("user", value)]
        if isinstance(value, list):
            return [(role, text) for item in value if isinstance(item, dict) for role, text in _message(item)]
    return []


def _message(message: dict[str, Any]) -> list[tuple[str, str]]:
    role = message.get("role")
    role = "assistant" if role == "model" else role if isinstance(role, str) else "user"  # Gemini says "model"
    content = message.get("content", message.get("parts"))
    if isinstance(content, str):
        return [(role, content)]
    if not isinstance(content, list):
        return []
    return [(role, part["text"]) for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)]


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _data(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


async def _openai_chat(reply: Reply, tokens: Tokens) -> AsyncIterator[bytes]:
    async for event in stream_events(
        reply.id,
        reply.created,
        reply.model,
        tokens,
        reply.finish_reason,
        reply.prompt_tokens,
        reply.completion_tokens,
        reply.usage,
    ):
        yield event


async def _openai_responses(reply: Reply, tokens: Tokens) -> AsyncIterator[bytes]:
    """OpenAI Responses API streaming events (platform.openai.com API reference, "Streaming events"):
    response.created, output_item.added, content_part.added, one response.output_text.delta per token,
    output_text.done, content_part.done, output_item.done, then response.completed (response.incomplete,
    reason max_output_tokens, when the cap cut it) whose response carries `usage`."""
    item_id = "msg_" + reply.id.removeprefix("chatcmpl-")
    numbers = itertools.count()

    def event(kind: str, **fields: Any) -> bytes:
        return _event(kind, {"type": kind, "sequence_number": next(numbers), **fields})

    response: dict[str, Any] = {
        "id": "resp_" + reply.id.removeprefix("chatcmpl-"),
        "object": "response",
        "created_at": reply.created,
        "status": "in_progress",
        "model": reply.model,
        "output": [],
        "usage": None,
    }
    message: dict[str, Any] = {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant"}
    part: dict[str, Any] = {"type": "output_text", "text": "", "annotations": []}
    where = {"item_id": item_id, "output_index": 0, "content_index": 0}
    yield event("response.created", response=response)
    yield event("response.output_item.added", output_index=0, item={**message, "content": []})
    yield event("response.content_part.added", **where, part=part)
    text: list[str] = []
    async for token in tokens:
        text.append(token)
        yield event("response.output_text.delta", **where, delta=token)
    part = {**part, "text": "".join(text)}
    yield event("response.output_text.done", **where, text=part["text"])
    yield event("response.content_part.done", **where, part=part)
    message = {**message, "status": "completed", "content": [part]}
    yield event("response.output_item.done", output_index=0, item=message)
    complete = reply.finish_reason == "stop"
    response = {**response, "status": "completed" if complete else "incomplete", "output": [message]}
    if not complete:
        response["incomplete_details"] = {"reason": "max_output_tokens"}
    if reply.usage:
        response["usage"] = {
            "input_tokens": reply.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": reply.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        }
    yield event("response.completed" if complete else "response.incomplete", response=response)


async def _anthropic(reply: Reply, tokens: Tokens) -> AsyncIterator[bytes]:
    """Anthropic Messages streaming (docs.anthropic.com, "Streaming Messages"): message_start (usage with
    input_tokens), content_block_start, ping, one content_block_delta (text_delta) per token,
    content_block_stop, message_delta (stop_reason, cumulative output_tokens), message_stop."""
    usage = {"input_tokens": reply.prompt_tokens, "output_tokens": 1} if reply.usage else None
    message: dict[str, Any] = {
        "id": "msg_" + reply.id.removeprefix("chatcmpl-"),
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": reply.model,
        "stop_reason": None,
        "stop_sequence": None,
        **({"usage": usage} if usage else {}),
    }
    yield _event("message_start", {"type": "message_start", "message": message})
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    yield _event("content_block_start", block)
    yield _event("ping", {"type": "ping"})
    async for token in tokens:
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": token}}
        yield _event("content_block_delta", delta)
    yield _event("content_block_stop", {"type": "content_block_stop", "index": 0})
    stop = "end_turn" if reply.finish_reason == "stop" else "max_tokens"
    end: dict[str, Any] = {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}}
    if reply.usage:
        end["usage"] = {"output_tokens": reply.completion_tokens}
    yield _event("message_delta", end)
    yield _event("message_stop", {"type": "message_stop"})


def _gemini_chunks(reply: Reply) -> Callable[[str, bool], dict[str, Any]]:
    """GenerateContentResponse objects (ai.google.dev API reference, models.streamGenerateContent): one per
    token; the last has the finishReason and the whole usageMetadata."""

    def chunk(text: str, last: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        obj: dict[str, Any] = {"candidates": [candidate]}
        if last:
            candidate["finishReason"] = "STOP" if reply.finish_reason == "stop" else "MAX_TOKENS"
        if reply.usage:
            usage = {"promptTokenCount": reply.prompt_tokens, "totalTokenCount": reply.prompt_tokens}
            if last:
                usage["candidatesTokenCount"] = reply.completion_tokens
                usage["totalTokenCount"] += reply.completion_tokens
            obj["usageMetadata"] = usage
        return {**obj, "modelVersion": reply.model, "responseId": reply.id}

    return chunk


async def _gemini(reply: Reply, tokens: Tokens) -> AsyncIterator[bytes]:
    """streamGenerateContent?alt=sse: each GenerateContentResponse is a `data:` event; no end marker."""
    chunk = _gemini_chunks(reply)
    async for token in tokens:
        yield _data(chunk(token, False))
    yield _data(chunk("", True))


async def _gemini_array(reply: Reply, tokens: Tokens) -> AsyncIterator[bytes]:
    """streamGenerateContent without alt=sse: one JSON array, streamed element by element."""
    chunk = _gemini_chunks(reply)
    yield b"["
    async for token in tokens:
        yield json.dumps(chunk(token, False)).encode() + b",\r\n"
    yield json.dumps(chunk("", True)).encode() + b"]"


async def _vercel_ui(reply: Reply, tokens: Tokens) -> AsyncIterator[bytes]:
    """Vercel AI SDK v5 UI message stream (ai-sdk.dev "Stream Protocols"): start, start-step, text-start,
    one text-delta per token, text-end, finish-step, finish, [DONE]. Usage rides in the finish part's
    message metadata, as `toUIMessageStreamResponse({messageMetadata})` sends `part.totalUsage`."""
    text_id = "txt_" + reply.id.removeprefix("chatcmpl-")
    yield _data({"type": "start", "messageId": "msg_" + reply.id.removeprefix("chatcmpl-")})
    yield _data({"type": "start-step"})
    yield _data({"type": "text-start", "id": text_id})
    async for token in tokens:
        yield _data({"type": "text-delta", "id": text_id, "delta": token})
    yield _data({"type": "text-end", "id": text_id})
    yield _data({"type": "finish-step"})
    finish: dict[str, Any] = {"type": "finish"}
    if reply.usage:
        total = reply.prompt_tokens + reply.completion_tokens
        usage = {"inputTokens": reply.prompt_tokens, "outputTokens": reply.completion_tokens, "totalTokens": total}
        finish["messageMetadata"] = {"totalUsage": usage}
    yield _data(finish)
    yield _data("[DONE]")


async def _vercel_v4(reply: Reply, tokens: Tokens) -> AsyncIterator[bytes]:
    """Vercel AI SDK v4 data stream (v4.ai-sdk.dev "Stream Protocols"): `f:` start step, `0:"token"` per
    token, `e:` finish step and `d:` finish message, both with the usage."""
    yield b'f:{"messageId":"msg_' + reply.id.removeprefix("chatcmpl-").encode() + b'"}\n'
    async for token in tokens:
        yield b"0:" + json.dumps(token).encode() + b"\n"
    finish: dict[str, Any] = {"finishReason": reply.finish_reason}
    if reply.usage:
        finish["usage"] = {"promptTokens": reply.prompt_tokens, "completionTokens": reply.completion_tokens}
    yield b"e:" + json.dumps({**finish, "isContinued": False}).encode() + b"\n"
    yield b"d:" + json.dumps(finish).encode() + b"\n"


async def _ollama(reply: Reply, tokens: Tokens) -> AsyncIterator[bytes]:
    """Ollama's /api/chat stream (github.com/ollama/ollama docs/api.md): an object per token with
    `message.content` and done false, then a last one with done true, done_reason and the counts
    (prompt_eval_count, eval_count)."""
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(reply.created))
    head = {"model": reply.model, "created_at": created}
    async for token in tokens:
        line = {**head, "message": {"role": "assistant", "content": token}, "done": False}
        yield json.dumps(line).encode() + b"\n"
    last: dict[str, Any] = {**head, "message": {"role": "assistant", "content": ""}, "done": True}
    last["done_reason"] = reply.finish_reason
    if reply.usage:
        last.update(prompt_eval_count=reply.prompt_tokens, eval_count=reply.completion_tokens)
    yield json.dumps(last).encode() + b"\n"


async def _text(reply: Reply, tokens: Tokens) -> AsyncIterator[bytes]:
    """Plain text, each token as it falls due (the Vercel AI SDK's text stream protocol is this too)."""
    async for token in tokens:
        yield token.encode()


# path segment -> (encoder, media type, extra headers)
FORMATS: dict[str, tuple[Encoder, str, dict[str, str]]] = {
    "sse-openai": (_openai_chat, "text/event-stream", {}),
    "openai-responses": (_openai_responses, "text/event-stream", {}),
    "anthropic": (_anthropic, "text/event-stream", {}),
    "gemini": (_gemini, "text/event-stream", {}),
    "vercel-ai": (_vercel_ui, "text/event-stream", {"x-vercel-ai-ui-message-stream": "v1"}),
    "vercel-ai-v4": (_vercel_v4, "text/plain; charset=utf-8", {"x-vercel-ai-data-stream": "v1"}),
    "ndjson": (_ollama, "application/x-ndjson", {}),
    "text": (_text, "text/plain; charset=utf-8", {}),
}


def stream_reply(
    fmt: str, reply: Reply, tokens: Tokens, alt: str | None
) -> tuple[AsyncIterator[bytes], str, dict[str, str]]:
    """(body, media type, headers) of the reply in `fmt`. Gemini, like the real one, streams a JSON array
    unless the query asks for `alt=sse`."""
    if fmt == "gemini" and alt != "sse":
        return _gemini_array(reply, tokens), "application/json", {}
    encoder, media_type, headers = FORMATS[fmt]
    return encoder(reply, tokens), media_type, headers
