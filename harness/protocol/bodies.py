"""Reading response bodies as they arrive, bounded in bytes and in time.

A hostile or broken target can send 20 MB where 2 KB was expected, or one byte every half second
forever. Locust would buffer the whole body (`response.content`) and wait as long as bytes keep
coming, so the harness reads every body itself: whatever each socket read brings, never more than
the scenario's `[http] max_body_bytes`, and never past the request's deadline.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from harness.protocol.failures import seconds

__all__ = ["BodyError", "chunks", "LineReader", "read_body", "size_text"]


class BodyError(Exception):
    """The body cannot be read to its end; `str(error)` is the sample's reason."""


def size_text(n: int) -> str:
    """16777216 -> "16 MiB", 1500 -> "1500 bytes": how a limit reads in a reason."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def chunks(
    raw: Any, deadline: float, timeout_s: float, clock: Callable[[], float] = time.perf_counter
) -> Iterator[bytes]:
    """The body of geventhttpclient's response `raw` (de-chunked by its parser), one socket read at a time.

    `raw.read(n)` waits for n bytes and `raw.readline()` for a newline that may never come, so this
    drives the parser's own socket directly. Each read waits at most until `deadline` (a `clock`
    reading); past it, BodyError. The socket's own timeout is restored before it goes back to the pool.
    """
    while True:
        if raw._body_buffer:
            data = bytes(raw._body_buffer)
            del raw._body_buffer[:]
            yield data
            continue
        sock = raw._sock
        if raw.message_complete or sock is None:  # complete, or released with what came with the headers
            return
        remaining = deadline - clock()
        if remaining <= 0:
            raw.release()
            raise BodyError(f"timeout: response not complete within {seconds(timeout_s)}")
        previous = sock.gettimeout()
        sock.settimeout(min(previous, remaining) if previous else remaining)
        try:
            data = sock.recv(raw.block_size)
        except BaseException as exc:
            raw.release()  # an unfinished message: the socket is closed, never reused
            if isinstance(exc, TimeoutError):
                raise BodyError(f"timeout: response not complete within {seconds(timeout_s)}") from None
            raise
        sock.settimeout(previous)
        try:
            raw.feed(data)  # a complete message hands the socket back to the pool here
        except BaseException:
            raw.release()
            raise
        if not data and not raw.message_complete:
            raw.release()
            raise BodyError("connection: closed mid-response")


class LineReader:
    """Lines (newline kept) out of body chunks. The body's tail after its last newline is yielded as is,
    so a reader can tell a stream cut inside a line; `pending` holds it when the chunks broke off instead.

    A line longer than `max_line` is handed over unfinished, so one endless line cannot fill memory.
    """

    def __init__(self, chunks: Iterator[bytes], max_line: int) -> None:
        self.chunks = chunks
        self.max_line = max_line
        self._buffer = bytearray()

    @property
    def pending(self) -> bytes:
        return bytes(self._buffer)

    def __iter__(self) -> Iterator[bytes]:
        buffer = self._buffer
        for chunk in self.chunks:
            scan = len(buffer)  # what came before holds no newline: search only the new bytes
            buffer += chunk
            start = 0
            while (end := buffer.find(b"\n", max(start, scan))) >= 0:
                yield bytes(buffer[start : end + 1])
                start = end + 1
            del buffer[:start]
            if len(buffer) > self.max_line:
                yield bytes(buffer)
                del buffer[:]
                return
        if buffer:
            line = bytes(buffer)
            del buffer[:]
            yield line


def read_body(body: Iterator[bytes], max_bytes: int, encoding: str = "") -> tuple[bytes, str, int]:
    """(body, error, bytes received) with at most `max_bytes` received and kept.

    `encoding` is the Content-Encoding: gzip and deflate are decoded as they arrive, and the decoded
    size is capped too (a small compressed body can inflate to gigabytes).
    """
    encoding = encoding.strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        return b"", f"bad response: content-encoding {encoding} was not asked for", 0
    inflate: Any = zlib.decompressobj(16 + zlib.MAX_WBITS) if "gzip" in encoding else None
    kept = bytearray()
    received = 0
    over = f"body over {size_text(max_bytes)}: cut"
    for data in body:
        received += len(data)
        if received > max_bytes:
            return bytes(kept), over, received
        if encoding == "deflate" and inflate is None:  # zlib-wrapped, as the RFC says, or raw as some servers send
            inflate = zlib.decompressobj(zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS)
        if inflate is None:
            kept += data
            continue
        try:
            kept += inflate.decompress(data, max_bytes - len(kept) + 1)
        except zlib.error:
            return bytes(kept), f"bad response: body is not valid {encoding}", received
        if len(kept) > max_bytes or inflate.unconsumed_tail:
            return bytes(kept[:max_bytes]), over, received
    return bytes(kept), "", received
