"""Bare Locust for bench/streams.py: a FastHttpUser that holds one SSE chat stream after another, read line
by line, nothing of the harness imported.

Each user posts an OpenAI-style streamed chat, reads the body with geventhttpclient's own `readline`
(the `stream` of a `stream=True` response, as Locust documents; Locust's `iter_lines` would wait for
1,024 bytes per read, many tokens late), parses each `data:` event as JSON and notes when the first
non-empty content arrived. No wait between streams.

Each request carries `X-Request-Id: b<user>-<n>`, so bench/streams.py can match it with the server's
record. Each stream's figures are noted as bench/stream_records.py says.
"""

from __future__ import annotations

import itertools
import json
import math
import time

from locust import FastHttpUser, constant, task
from stream_records import RECORDS  # Locust puts this file's folder on the path

PATH = "/v1/chat/completions"
BODY = {"model": "bench", "messages": [{"role": "user", "content": "Hello"}], "stream": True}
_USERS = itertools.count()


class Streamer(FastHttpUser):
    wait_time = constant(0)
    network_timeout = 120.0  # a stream lasts longer than Locust's default socket timeout allows between reads
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.index = next(_USERS)
        self.sent = itertools.count(1)

    @task
    def chat(self) -> None:
        request_id = f"b{self.index}-{next(self.sent)}"
        ttft_ms, ok = math.nan, False
        sent_s = time.time()
        t0 = time.perf_counter()
        try:
            with self.client.post(
                PATH,
                json=BODY,
                headers={"X-Request-Id": request_id, "Accept": "text/event-stream"},
                stream=True,
                catch_response=True,
                name="chat",
            ) as response:
                try:
                    stream = response.stream
                    while line := stream.readline(b"\n"):
                        if not line.startswith(b"data:"):
                            continue
                        data = line[5:].strip()
                        if data == b"[DONE]":
                            ok = True
                            break
                        delta = json.loads(data)["choices"][0]["delta"]
                        if delta.get("content") and ttft_ms != ttft_ms:
                            ttft_ms = (time.perf_counter() - t0) * 1000
                except Exception as exc:  # a cut stream, or no response at all
                    response.failure(exc)
                else:
                    response.success() if ok else response.failure("stream ended without [DONE]")
        finally:  # a stream cut by the stop is recorded too: its first token may have come
            RECORDS.append((request_id, sent_s, ttft_ms, ok))
