"""Denial-of-wallet surfaces of the chat, over real HTTP: the prompt size limit, the reply length
cap, length requests in the prompt, and targets that report no token usage."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from harness.demo_api.config import TargetConfig
from harness.demo_api.model import MODEL, SYSTEM_PROMPT
from harness.demo_api.process import RunningTarget, start_target
from harness.protocol.tokens import counter_for_model, encoding

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)

ENC = encoding(counter_for_model(MODEL).encoding)  # the vocabulary of the model the demo stands for
SYSTEM_TOKENS = len(ENC.encode(SYSTEM_PROMPT))
# Small token delays, so replies of thousands of tokens still take well under a second.
FAST = {
    "limits": {},
    "ttft": {"dist": "constant", "ms": 1},
    "token_delay": {"dist": "constant", "ms": 0.1},
    "output_tokens": [8, 24],
}
WORD = " coach"  # one token of the model's vocabulary, and so is every repeat of it
LENGTH_REQUEST = "Please answer in at least 300 words"


def _start(**settings: Any) -> RunningTarget:
    return start_target(TargetConfig.from_dict({**FAST, **settings}))


@pytest.fixture(scope="module")
def hardened() -> Iterator[RunningTarget]:
    with _start() as running:
        yield running


@pytest.fixture(scope="module")
def vulnerable() -> Iterator[RunningTarget]:
    with _start(profile="vulnerable") as running:
        yield running


@pytest.fixture(scope="module")
def no_usage() -> Iterator[RunningTarget]:
    with _start(usage=False) as running:
        yield running


def bearer(target: RunningTarget) -> dict[str, str]:
    """Authorization headers of a fresh token for the target's first client account."""
    with httpx.Client(base_url=target.url, timeout=10) as c:
        acct = next(a for a in c.get("/__demo__/accounts").json()["accounts"] if a["role"] == "client")
        r = c.post("/api/auth/login", json={"email": acct["email"], "password": acct["password"]})
        return {"Authorization": "Bearer " + r.json()["access_token"]}


def chat(target: RunningTarget, messages: list[dict[str, str]], **options: Any) -> httpx.Response:
    body = {"messages": messages, **options}
    return httpx.post(target.url + "/api/chat", json=body, headers=bearer(target), timeout=30)


def user(content: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": content}]


def stats(target: RunningTarget) -> dict[str, Any]:
    return httpx.get(target.url + "/__demo__/stats").json()


def events(r: httpx.Response) -> list[str]:
    """The `data:` payloads of a streamed reply, `[DONE]` included."""
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream"), r.text[:200]
    return [frame[len("data: ") :] for frame in r.content.decode().split("\n\n")[:-1]]


def stream_parts(r: httpx.Response) -> tuple[list[str], str, dict[str, int] | None]:
    """(content pieces, finish_reason, usage or None) of a streamed reply that ended with `[DONE]`."""
    payloads = events(r)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    choices = [c["choices"][0] for c in chunks if c["choices"]]
    pieces = [choice["delta"]["content"] for choice in choices if "content" in choice["delta"]]
    finishes = [choice["finish_reason"] for choice in choices if choice["finish_reason"]]
    usages = [c["usage"] for c in chunks if "usage" in c]
    assert len(finishes) == 1 and len(usages) <= 1
    return pieces, finishes[0], usages[0] if usages else None


def spent(figures: dict[str, Any]) -> tuple[int, int]:
    return figures["tokens"]["prompt"], figures["tokens"]["completion"]


# -- the prompt size limit -------------------------------------------------------------------------


def test_hardened_prompt_limit_is_exact_and_refusals_cost_nothing(hardened: RunningTarget) -> None:
    limit = hardened.config.max_prompt_tokens
    assert limit == 8192  # the default
    head = 100  # the limit counts every message's content, not the hidden system prompt
    messages = [{"role": "user", "content": WORD * (limit - head)}, {"role": "assistant", "content": WORD * head}]
    assert sum(len(ENC.encode(m["content"])) for m in messages) == limit
    pieces, _, usage = stream_parts(chat(hardened, messages))
    assert pieces and usage is not None and usage["prompt_tokens"] == SYSTEM_TOKENS + limit

    before = stats(hardened)
    messages[1]["content"] += WORD
    over = chat(hardened, messages)
    assert over.status_code == 413
    error = over.json()["error"]
    assert error["type"] == error["code"] == "prompt_too_large" and str(limit) in error["message"]
    after = stats(hardened)
    assert after["prompts_rejected"] == before["prompts_rejected"] + 1
    assert spent(after) == spent(before)  # refused before the model ran: no prompt, no completion


def test_hardened_refuses_a_128k_prompt_and_oversize_bodies(hardened: RunningTarget) -> None:
    before = stats(hardened)
    huge = chat(hardened, user(WORD * 131072), stream=False)  # 768 KiB: under the body limit, over the token one
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "prompt_too_large"
    oversize = chat(hardened, user(WORD * (200 * 1024)))  # 1.2 MiB
    assert oversize.status_code == 413 and oversize.json()["error"] == "payload_too_large"
    after = stats(hardened)
    assert after["prompts_rejected"] == before["prompts_rejected"] + 2 and spent(after) == spent(before)
    malformed = httpx.post(hardened.url + "/api/chat", content=b"{nope", headers=bearer(hardened))
    assert malformed.status_code == 400 and malformed.json()["error"] == "invalid_json"


def test_a_refused_prompt_does_not_move_the_model(target_factory: Callable[..., RunningTarget]) -> None:
    """Same seed, same admitted requests, same replies: the refusal drew nothing from the model."""
    a, b = target_factory({**FAST, "max_prompt_tokens": 10}), target_factory({**FAST, "max_prompt_tokens": 10})
    assert chat(a, user(WORD * 11), stream=False).status_code == 413
    replies = [chat(t, user("hello"), stream=False).json() for t in (a, b)]
    assert replies[0]["choices"] == replies[1]["choices"] and replies[0]["id"] == replies[1]["id"]


def test_vulnerable_takes_a_128k_prompt_quickly(vulnerable: RunningTarget) -> None:
    headers = bearer(vulnerable)
    body = {"messages": user(WORD * 131072), "stream": False, "max_tokens": 1}
    start = time.perf_counter()
    r = httpx.post(vulnerable.url + "/api/chat", json=body, headers=headers, timeout=30)
    elapsed = time.perf_counter() - start
    assert r.status_code == 200 and r.json()["usage"]["prompt_tokens"] == SYSTEM_TOKENS + 131072
    assert elapsed < 2, elapsed
    before = stats(vulnerable)["prompts_rejected"]
    two_mib = chat(vulnerable, user(WORD * (350 * 1024)), stream=False, max_tokens=1)  # over hardened's 1 MiB
    assert two_mib.status_code == 200 and two_mib.json()["usage"]["prompt_tokens"] == SYSTEM_TOKENS + 350 * 1024
    assert stats(vulnerable)["prompts_rejected"] == before == 0


# -- reply length ----------------------------------------------------------------------------------


def test_vulnerable_writes_as_long_as_asked(vulnerable: RunningTarget) -> None:
    pieces, finish, usage = stream_parts(chat(vulnerable, user(LENGTH_REQUEST), max_tokens=4096))
    assert len(pieces) == 300 == len(ENC.encode("".join(pieces))) and finish == "stop"
    assert usage is not None and usage["completion_tokens"] == 300


def test_vulnerable_bounds_replies_only_at_4096(vulnerable: RunningTarget) -> None:
    data = chat(vulnerable, user("Write at least 5000 TOKENS about pricing."), stream=False).json()
    assert data["usage"]["completion_tokens"] == 4096 and data["choices"][0]["finish_reason"] == "length"
    assert len(ENC.encode(data["choices"][0]["message"]["content"])) == 4096


def test_only_the_last_user_message_sets_the_length(vulnerable: RunningTarget) -> None:
    messages = [*user(LENGTH_REQUEST), {"role": "assistant", "content": "Sure."}, *user("Thanks, short is fine.")]
    data = chat(vulnerable, messages, stream=False, max_tokens=4096).json()
    assert 8 <= data["usage"]["completion_tokens"] <= 24  # the random length of output_tokens


def test_hardened_bounds_replies_itself(hardened: RunningTarget) -> None:
    cap = hardened.config.output_tokens[1]
    pieces, finish, usage = stream_parts(chat(hardened, user(LENGTH_REQUEST), max_tokens=4096))
    assert len(pieces) == cap and finish == "length"
    assert usage is not None and usage["completion_tokens"] == cap
    shorter = chat(hardened, user(LENGTH_REQUEST), max_tokens=5, stream=False).json()
    assert shorter["usage"]["completion_tokens"] == 5 and shorter["choices"][0]["finish_reason"] == "length"


# -- targets without usage -------------------------------------------------------------------------


def test_usage_can_be_left_out(no_usage: RunningTarget) -> None:
    r = chat(no_usage, user("How do I price a package?"))
    pieces, finish, usage = stream_parts(r)
    assert usage is None and pieces and finish == "stop"
    payloads = events(r)
    assert json.loads(payloads[-2])["choices"][0]["finish_reason"] == "stop" and payloads[-1] == "[DONE]"
    data = chat(no_usage, user("hi"), stream=False).json()
    assert "usage" not in data and data["choices"][0]["message"]["content"]
    assert spent(stats(no_usage))[1] > 0  # the server still counts what it spent
