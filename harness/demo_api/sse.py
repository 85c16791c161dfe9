"""OpenAI's chat-completions wire format: streamed chunks (Server-Sent Events) and the plain object.

Chunks are assembled from pre-rendered strings, because a streamed reply writes one per token and a
full `json.dumps` per token would be most of the demo API's CPU time under load.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["DONE", "usage", "completion_object", "stream_events"]

DONE = b"data: [DONE]\n\n"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion_object(
    id: str,
    created: int,
    model: str,
    text: str,
    finish_reason: str,
    prompt_tokens: int,
    completion_tokens: int,
    with_usage: bool = True,
) -> dict[str, Any]:
    """The non-streamed reply; without `with_usage` it has no `usage` key, as some providers answer."""
    obj: dict[str, Any] = {
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}],
    }
    if with_usage:
        obj["usage"] = usage(prompt_tokens, completion_tokens)
    return obj


async def stream_events(
    id: str,
    created: int,
    model: str,
    tokens: AsyncIterator[str],
    finish_reason: str,
    prompt_tokens: int,
    completion_tokens: int,
    with_usage: bool = True,
) -> AsyncIterator[bytes]:
    """role chunk, one chunk per token, the finish chunk, the usage chunk (unless not `with_usage`), `[DONE]`."""
    head = (
        f'{{"id":{json.dumps(id)},"object":"chat.completion.chunk","created":{created:d},"model":{json.dumps(model)},'
    )
    yield f'data: {head}"choices":[{{"index":0,"delta":{{"role":"assistant"}},"finish_reason":null}}]}}\n\n'.encode()
    before = ("data: " + head + '"choices":[{"index":0,"delta":{"content":').encode()
    after = b'},"finish_reason":null}]}\n\n'
    async for token in tokens:
        yield before + json.dumps(token).encode() + after
    yield (
        f'data: {head}"choices":[{{"index":0,"delta":{{}},"finish_reason":{json.dumps(finish_reason)}}}]}}\n\n'
    ).encode()
    if with_usage:
        usage_json = json.dumps(usage(prompt_tokens, completion_tokens), separators=(",", ":"))
        yield f'data: {head}"choices":[],"usage":{usage_json}}}\n\n'.encode()
    yield DONE
