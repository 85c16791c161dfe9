"""A long-lived SSE chat endpoint for the streams bench: thousands of mostly idle streams, and the truth
of when each one's first token left the server.

Every POST is answered in OpenAI chat-completions streaming format: the headers and a role-only chunk at
once, the first content token `--first-token` seconds later, then one token every `--interval` seconds
until the stream's length has passed, then `data: [DONE]` (chunked transfer, keep-alive: the client may
send its next request on the same connection). Lengths are drawn uniformly within `--duration` ±
`--jitter` (seeded), as replies differ in length: streams started together do not all end together. Just before the first content token is written, the
server reads its wall clock (`time.time()`): that is the truth a client's TTFT is judged against, on the
same machine's clock as the client's own send time.

Each stream is remembered by the client's `X-Request-Id` header (when it sends one) and its address, so
a client that sends no id (the harness: one source address per user) can still be matched by address and
time. Two routes tell the bench what happened:

- `GET /stats`: streams open now, opened, first tokens sent, completed and cut, as one JSON object;
- `GET /truth`: one JSON array per stream (see TRUTH_FIELDS), one per line.

Raw asyncio (uvloop when installed), no framework: at 10,000 open streams it sends 10,000 tokens a
second and uses a small part of one core (bench/streams.py shows its CPU beside the clients'), so the
bench measures the clients, never the server.

    .venv/bin/python bench/stream_responder.py [--port 0] [--duration 20] [--jitter 0.5] [--first-token 0.5]
                                               [--interval 1]
                                               # prints "listening on PORT" once ready
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import time
from dataclasses import dataclass, field

__all__ = ["TRUTH_FIELDS", "Settings", "serve"]

# what each line of GET /truth holds, in this order
TRUTH_FIELDS = ("request_id", "peer_ip", "peer_port", "arrived_s", "first_token_s", "ended_s", "tokens", "cut")

_HEADERS = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)
_ROLE = b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
_TOKEN = b'data: {"choices":[{"index":0,"delta":{"content":"tok "}}]}\n\n'
_DONE = b"data: [DONE]\n\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


_ROLE_CHUNK, _TOKEN_CHUNK, _DONE_CHUNK = _chunk(_ROLE), _chunk(_TOKEN), _chunk(_DONE) + b"0\r\n\r\n"


@dataclass(frozen=True)
class Settings:
    duration_s: float = 20.0  # from the request to [DONE], on average
    jitter: float = 0.5  # each stream's length is duration_s × uniform(1 - jitter, 1 + jitter)
    first_token_s: float = 0.5  # from the request to the first content token
    interval_s: float = 1.0  # between content tokens


@dataclass
class Counts:
    open: int = 0
    opened: int = 0
    first_tokens: int = 0
    completed: int = 0
    cut: int = 0
    truth: list[list[object]] = field(default_factory=list)  # one row per stream, TRUTH_FIELDS


class _Stream:
    """One stream's state and its row of the truth, filled as it goes."""

    __slots__ = ("row", "started", "length_s", "handle")

    def __init__(self, row: list[object], started: float, length_s: float) -> None:
        self.row = row
        self.started = started  # loop time
        self.length_s = length_s
        self.handle: asyncio.TimerHandle | None = None


class _Connection(asyncio.Protocol):
    """One client connection: requests one after the other; each POST gets one stream."""

    def __init__(self, settings: Settings, counts: Counts, lengths: random.Random) -> None:
        self.settings = settings
        self.counts = counts
        self.lengths = lengths
        self.buffer = bytearray()
        self.stream: _Stream | None = None
        self.body_left = 0  # bytes of the current request's body still to skip

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.loop = asyncio.get_running_loop()
        peer = transport.get_extra_info("peername") or ("", 0)
        self.peer_ip, self.peer_port = peer[0], peer[1]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._serve()

    def _serve(self) -> None:
        """Answer each whole request in the buffer, unless a stream is still going (then wait for it)."""
        while self.stream is None:
            if self.body_left:
                skipped = min(self.body_left, len(self.buffer))
                del self.buffer[:skipped]
                self.body_left -= skipped
                if self.body_left:
                    return
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:
                    self.transport.close()  # no request head is that long
                return
            head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            del self.buffer[: end + 4]
            method, _, rest = head[0].partition(" ")
            path = rest.partition(" ")[0]
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            self.body_left = int(headers.get("content-length") or 0)
            if method == "GET" and path == "/stats":
                self._answer(json.dumps(self._stats()).encode())
            elif method == "GET" and path == "/truth":
                self._answer(b"".join(json.dumps(row).encode() + b"\n" for row in self.counts.truth))
            else:
                self._start(headers.get("x-request-id", ""))

    def _answer(self, body: bytes) -> None:
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )

    def _stats(self) -> dict[str, int]:
        c = self.counts
        return {
            "open": c.open,
            "opened": c.opened,
            "first_tokens": c.first_tokens,
            "completed": c.completed,
            "cut": c.cut,
        }

    def _start(self, request_id: str) -> None:
        row: list[object] = [request_id, self.peer_ip, self.peer_port, time.time(), None, None, 0, False]
        self.counts.truth.append(row)
        self.counts.open += 1
        self.counts.opened += 1
        jitter = self.settings.jitter
        length_s = self.settings.duration_s * self.lengths.uniform(1 - jitter, 1 + jitter)
        self.stream = _Stream(row, self.loop.time(), length_s)
        self.transport.write(_HEADERS + _ROLE_CHUNK)
        self.stream.handle = self.loop.call_later(self.settings.first_token_s, self._token)

    def _token(self) -> None:
        stream = self.stream
        assert stream is not None
        row = stream.row
        if row[4] is None:
            row[4] = time.time()  # the truth: read just before the first token is written
            self.counts.first_tokens += 1
        self.transport.write(_TOKEN_CHUNK)
        row[6] += 1  # type: ignore[operator]
        elapsed = self.loop.time() - stream.started
        if elapsed + self.settings.interval_s < stream.length_s:
            stream.handle = self.loop.call_later(self.settings.interval_s, self._token)
        else:
            stream.handle = self.loop.call_later(max(0.0, stream.length_s - elapsed), self._end)

    def _end(self) -> None:
        stream = self.stream
        assert stream is not None
        stream.row[5] = time.time()
        self.transport.write(_DONE_CHUNK)
        self.stream = None
        self.counts.open -= 1
        self.counts.completed += 1
        self._serve()  # a request that came in meanwhile

    def connection_lost(self, exc: Exception | None) -> None:
        stream = self.stream
        if stream is not None:  # the client went away mid-stream
            if stream.handle is not None:
                stream.handle.cancel()
            stream.row[5], stream.row[7] = time.time(), True
            self.stream = None
            self.counts.open -= 1
            self.counts.cut += 1


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to its hard limit (as root: to 1,048,576 when lower) and say
    what it is: every stream is a socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for wanted in (max(hard, 1 << 20), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return wanted
        except (ValueError, OSError):
            continue
    return soft


async def serve(port: int, settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    counts = Counts()
    lengths = random.Random(7)
    server = await loop.create_server(
        lambda: _Connection(settings, counts, lengths), "127.0.0.1", port, backlog=65535, reuse_address=True
    )
    print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0: a free port, printed once listening")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds from a request to [DONE], on average")
    parser.add_argument("--jitter", type=float, default=0.5, help="each stream lasts duration × (1 ± jitter)")
    parser.add_argument("--first-token", type=float, default=0.5, help="seconds from a request to its first token")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between tokens")
    args = parser.parse_args()
    raise_fd_limit()
    if not 0 <= args.jitter < 1:
        parser.error("--jitter: expected 0 or more and less than 1")
    settings = Settings(args.duration, args.jitter, args.first_token, args.interval)
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serve(args.port, settings))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
