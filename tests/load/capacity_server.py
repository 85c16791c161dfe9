"""Two servers of known capacity for the capacity search, in a thread of the test (a
tests.thread_server.ThreadServer):

- `SlotServer(slots=N, service_s=S)`: `GET /work` holds one of N slots for S seconds, then answers 200;
  a request that finds every slot taken waits for one (a queue). Its capacity is N / S requests per
  second: below it latency is S, above it the queue, and the latency, grow without bound.
- `StreamServer(first_token_s=F, per_stream_s=K)`: `POST /chat` streams three tokens (OpenAI SSE); the
  first after F + K x (streams open at that moment): TTFT degrades with load while the whole reply
  stays short, so a TTFT criterion fails first.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler

from tests.thread_server import ThreadServer


def _drain(request: BaseHTTPRequestHandler) -> None:
    length = int(request.headers.get("Content-Length") or 0)
    if length:
        request.rfile.read(length)


class SlotServer(ThreadServer):
    name = "slot-server"

    def __init__(self, slots: int, service_s: float) -> None:
        super().__init__()
        self.free_at = [0.0] * slots  # when each slot is next free (monotonic clock)
        self.lock = threading.Lock()
        self.service_s = service_s
        self.served = 0

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        """The slots are kept by the clock, not by sleeping threads: on a busy machine a thread wakes
        from its sleep late, and a slot held until then would make the capacity lower than N / S."""
        _drain(request)
        with self.lock:
            slot = min(range(len(self.free_at)), key=self.free_at.__getitem__)
            start = max(time.monotonic(), self.free_at[slot])  # the queue: wait for the first slot free
            self.free_at[slot] = done = start + self.service_s
            self.served += 1
        time.sleep(max(0.0, done - time.monotonic()))
        body = b'{"ok":true}'
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


class StreamServer(ThreadServer):
    name = "stream-server"

    def __init__(self, first_token_s: float, per_stream_s: float) -> None:
        super().__init__()
        self.first_token_s = first_token_s
        self.per_stream_s = per_stream_s
        self.open = 0
        self.lock = threading.Lock()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        _drain(request)
        with self.lock:
            self.open += 1
            wait = self.first_token_s + self.per_stream_s * self.open
        try:
            request.send_response(200)
            request.send_header("Content-Type", "text/event-stream")
            request.send_header("Transfer-Encoding", "chunked")
            request.end_headers()
            time.sleep(wait)
            for token in ("Hello", " there", "."):
                event = json.dumps({"choices": [{"delta": {"content": token}}]})
                self._chunk(request, f"data: {event}\n\n".encode())
            self._chunk(request, b"data: [DONE]\n\n")
            request.wfile.write(b"0\r\n\r\n")
            request.wfile.flush()
        finally:
            with self.lock:
                self.open -= 1

    @staticmethod
    def _chunk(request: BaseHTTPRequestHandler, data: bytes) -> None:
        request.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        request.wfile.flush()
