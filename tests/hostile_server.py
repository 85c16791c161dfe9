"""A hostile HTTP target: one route per way a server can misbehave, for the harness to survive.

Plain asyncio on a free loopback port, in a thread of the test process; `HostileServer.stop()` closes
the listening socket and every connection it accepted, and joins its thread. Every response says
`Connection: close`, so each request is one connection and a misbehaviour never leaks into the next.

Routes (the path's last segment): `login` (the one well-behaved route: a token), `garbage`,
`bad-json`, `json-html`, `big`, `drip`, `hang`, `reset-before`, `reset-after-status`, `sse-cut`,
`sse-no-done`, `sse-html`, `sse-big`, `sse-drip`. `/rotate/a+b+c` answers its n-th request with
route n mod 3, so one endpoint of the API map can meet several misbehaviours in a fixed order.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import struct
import threading
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

BIG_BYTES = 20 * 1000 * 1000  # "20 MB"
DRIP_S = 0.5

Writer = asyncio.StreamWriter


def _head(status: str, content_type: str, extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nConnection: close\r\n{extra}\r\n").encode()


def _event(content: str) -> bytes:
    chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": content}}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _reset(writer: Writer) -> None:
    """Close with RST instead of FIN: SO_LINGER on, zero seconds."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class HostileServer:
    """Start with `start()`, read `url`, stop with `stop()`; `hits` and `big_sent` say what happened."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()  # route -> requests answered (or not)
        self.big_sent: list[tuple[int, bool]] = []  # (bytes written, completed) per `big` / `sse-big` answer
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile-server", daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._rotations: defaultdict[str, itertools.count[int]] = defaultdict(itertools.count)
        self.routes: dict[str, Callable[[Writer, asyncio.StreamReader], Awaitable[None]]] = {
            "login": self._login,
            "garbage": self._garbage,
            "bad-json": self._bad_json,
            "json-html": self._json_html,
            "big": self._big,
            "drip": self._drip,
            "hang": self._hang,
            "reset-before": self._reset_before,
            "reset-after-status": self._reset_after_status,
            "sse-cut": self._sse_cut,
            "sse-no-done": self._sse_no_done,
            "sse-html": self._sse_html,
            "sse-big": self._sse_big,
            "sse-drip": self._sse_drip,
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HostileServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        """Stop listening, end every open connection, stop the loop and join its thread."""
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1].split("?")[0]
            length = next(
                (int(v) for k, _, v in (h.partition(":") for h in lines[1:]) if k.strip().lower() == "content-length"),
                0,
            )
            if length:
                await reader.readexactly(length)
            route = self._route(path)
            self.hits[route] += 1
            await self.routes[route](writer, reader)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError, KeyError, IndexError):
            pass
        finally:
            if not writer.transport.is_closing():
                writer.close()
            self._tasks.discard(task)

    def _route(self, path: str) -> str:
        parts = path.strip("/").split("/")
        if parts[0] == "rotate":
            choices = parts[1].split("+")
            return choices[next(self._rotations[parts[1]]) % len(choices)]
        return parts[-1]

    # --- routes ---------------------------------------------------------------------------
    async def _login(self, writer: Writer, _: asyncio.StreamReader) -> None:
        body = json.dumps({"access_token": "hostile-token"}).encode()
        writer.write(_head("200 OK", "application/json", f"Content-Length: {len(body)}\r\n") + body)
        await writer.drain()

    async def _garbage(self, writer: Writer, _: asyncio.StreamReader) -> None:
        writer.write(b"\x00\xff\x13\x37 SSH-2.0-not-http garbage \xde\xad\xbe\xef\r\n\r\n")
        await writer.drain()

    async def _bad_json(self, writer: Writer, _: asyncio.StreamReader) -> None:
        body = b'{"items": [{"id": "c1"}, {"id": '
        writer.write(_head("200 OK", "application/json", f"Content-Length: {len(body)}\r\n") + body)
        await writer.drain()

    async def _json_html(self, writer: Writer, _: asyncio.StreamReader) -> None:
        body = b"<!doctype html><html><body><h1>Welcome</h1><p>Sign in to continue.</p></body></html>"
        writer.write(_head("200 OK", "text/html; charset=utf-8", f"Content-Length: {len(body)}\r\n") + body)
        await writer.drain()

    async def _big(self, writer: Writer, _: asyncio.StreamReader) -> None:
        head = _head("200 OK", "application/json", f"Content-Length: {BIG_BYTES}\r\n")
        await self._send_big(writer, head, b'{"blob": "' + b"x" * (BIG_BYTES - 13) + b'"}\n')

    async def _sse_big(self, writer: Writer, _: asyncio.StreamReader) -> None:  # one endless `data:` line
        await self._send_big(writer, _head("200 OK", "text/event-stream"), b"data: " + b"x" * (BIG_BYTES - 6))

    async def _send_big(self, writer: Writer, head: bytes, body: bytes) -> None:
        writer.write(head)
        sent = 0
        view = memoryview(body)
        try:
            while sent < len(body):
                writer.write(view[sent : sent + 65536])
                await writer.drain()
                sent += len(view[sent : sent + 65536])
        except ConnectionError:
            self.big_sent.append((sent, False))
            raise
        self.big_sent.append((sent, True))

    async def _drip(self, writer: Writer, _: asyncio.StreamReader) -> None:
        """Headers at once, then the body one byte every half second, forever."""
        writer.write(_head("200 OK", "application/json", "Content-Length: 1000000\r\n"))
        await self._drip_forever(writer, itertools.cycle(b'{"items": []}'))

    async def _sse_drip(self, writer: Writer, _: asyncio.StreamReader) -> None:
        writer.write(_head("200 OK", "text/event-stream"))
        await self._drip_forever(writer, itertools.cycle(_event("slow")))

    async def _drip_forever(self, writer: Writer, data: Any) -> None:
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(DRIP_S)
            if writer.transport.is_closing():
                return

    async def _hang(self, writer: Writer, reader: asyncio.StreamReader) -> None:
        """Accept, read the request, never answer: wait until the client gives up."""
        await reader.read()

    async def _reset_before(self, writer: Writer, _: asyncio.StreamReader) -> None:
        _reset(writer)

    async def _reset_after_status(self, writer: Writer, _: asyncio.StreamReader) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)  # the client has the status line and waits for the headers
        _reset(writer)

    async def _sse_cut(self, writer: Writer, _: asyncio.StreamReader) -> None:
        """Chunked events, then the connection closes inside a `data:` line (no final chunk)."""
        writer.write(_head("200 OK", "text/event-stream", "Transfer-Encoding: chunked\r\n"))
        writer.write(_chunk(_event("Hello") + _event(" there")))
        writer.write(_chunk(_event(", half")[:25]))
        await writer.drain()
        await asyncio.sleep(0.05)

    async def _sse_no_done(self, writer: Writer, _: asyncio.StreamReader) -> None:
        """Whole events, then a clean close without `data: [DONE]`."""
        writer.write(_head("200 OK", "text/event-stream"))
        writer.write(_event("All") + _event(" good") + _event(" until now."))
        await writer.drain()

    async def _sse_html(self, writer: Writer, _: asyncio.StreamReader) -> None:
        body = b"<html><body>502 Bad Gateway (served as 200 by a broken proxy)</body></html>"
        writer.write(_head("200 OK", "text/html", f"Content-Length: {len(body)}\r\n") + body)
        await writer.drain()
