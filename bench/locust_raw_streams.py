"""The leanest Locust user that holds a stream, for bench/streams.py: Locust's base `User` (one greenlet per
user, as every Locust user) with no HTTP library at all, only a gevent socket, so the figure is the floor
under any worker that runs real Locust users.

Each user keeps one connection and posts an OpenAI-style streamed chat over it, one after another, with no
wait. It reads the chunked body with `recv`, notes when the first `data:` line with content arrived and
ends the stream at `data: [DONE]` and the terminating chunk. Nothing is parsed beyond that: it is a
measuring stick, not a client. Each request carries `X-Request-Id: r<user>-<n>`, for bench/streams.py to
match with the server's record; each stream's figures are noted as bench/stream_records.py says.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from urllib.parse import urlsplit

from gevent import socket
from locust import User, constant, task
from stream_records import RECORDS  # Locust puts this file's folder on the path

PATH = "/v1/chat/completions"
BODY = json.dumps({"model": "bench", "messages": [{"role": "user", "content": "Hello"}], "stream": True}).encode()
_USERS = itertools.count()
_END = b"data: [DONE]"
_LAST_CHUNK = b"\r\n0\r\n\r\n"
_CONTENT = b'"content":"'
_EMPTY = _CONTENT + b'"'  # the role chunk's content: no token yet


class RawStreamer(User):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.index = next(_USERS)
        self.sent = itertools.count(1)
        url = urlsplit(self.host)
        self.address = (url.hostname, url.port or 80)
        self.sock: socket.socket | None = None

    @task
    def chat(self) -> None:
        request_id = f"r{self.index}-{next(self.sent)}"
        ttft_ms, ok = math.nan, False
        sent_s = time.time()
        t0 = time.perf_counter()
        try:
            if self.sock is None:
                self.sock = socket.create_connection(self.address, timeout=120.0)
            self.sock.sendall(
                b"POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
                b"X-Request-Id: %s\r\nContent-Length: %d\r\n\r\n%s"
                % (PATH.encode(), request_id.encode(), len(BODY), BODY)
            )
            seen = b""
            while True:
                data = self.sock.recv(4096)
                if not data:
                    break
                seen = seen[-16:] + data
                if ttft_ms != ttft_ms and _CONTENT in data.replace(_EMPTY, b""):
                    ttft_ms = (time.perf_counter() - t0) * 1000
                if _END in seen:
                    ok = _LAST_CHUNK in seen or self.sock.recv(4096).endswith(_LAST_CHUNK)
                    break
        except OSError:
            ok = False
        finally:
            if not ok and self.sock is not None:
                self.sock.close()
                self.sock = None
            RECORDS.append((request_id, sent_s, ttft_ms, ok))
