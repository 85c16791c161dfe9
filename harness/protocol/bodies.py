"""Reading response bodies as they arrive, bounded in bytes and in time.

A hostile or broken target can send 20 MB where 2 KB was expected, or one byte every half second
forever. Locust would buffer the whole body (`response.content`) and wait as long as bytes keep
coming, so the harness reads every body itself: whatever each socket read brings, never more than
the scenario's `[http] max_body_bytes`, and never past the request's deadline.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from harness.protocol.failures import seconds

__all__ = ["BodyError", "Chunks", "LineReader", "read_body", "reader_of", "size_text"]


class BodyError(Exception):
    """The body cannot be read to its end; `str(error)` is the sample's reason."""


def size_text(n: int) -> str:
    """16777216 -> "16 MiB", 1500 -> "1500 bytes": how a limit reads in a reason."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


class Chunks:
    """The body of geventhttpclient's response `raw` (de-chunked by its parser), one socket read at a time.

    `raw.read(n)` waits for n bytes and `raw.readline()` for a newline that may never come, so this
    drives the parser's own socket directly. Each read waits at most until `deadline` (a `clock`
    reading); past it, BodyError. The socket's own timeout is restored before it goes back to the pool.

    `read()` is a plain method, not a generator, for the stream reader's sake: each generator between a
    greenlet and its socket adds an interpreter frame to the C stack that gevent copies out whenever the
    greenlet waits (this one and the line reader's cost 768 bytes per open stream: docs/benchmarks.md).
    """

    def __init__(
        self, raw: Any, deadline: float, timeout_s: float, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.raw = raw
        self.deadline = deadline
        self.timeout_s = timeout_s
        self.clock = clock

    def __iter__(self) -> Iterator[bytes]:
        while data := self.read():
            yield data

    def read(self) -> bytes:
        """The next bytes of the body, never b"" until the body has ended."""
        raw = self.raw
        while True:
            if raw._body_buffer:
                data = bytes(raw._body_buffer)
                del raw._body_buffer[:]
                return data
            sock = raw._sock
            if raw.message_complete or sock is None:  # complete, or released with what came with the headers
                return b""
            remaining = self.deadline - self.clock()
            if remaining <= 0:
                raw.release()
                raise BodyError(f"timeout: response not complete within {seconds(self.timeout_s)}")
            previous = sock.gettimeout()
            sock.settimeout(min(previous, remaining) if previous else remaining)
            try:
                data = sock.recv(raw.block_size)
            except BaseException as exc:
                raw.release()  # an unfinished message: the socket is closed, never reused
                if isinstance(exc, TimeoutError):
                    raise BodyError(f"timeout: response not complete within {seconds(self.timeout_s)}") from None
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


def reader_of(pieces: Iterable[bytes]) -> Callable[[], bytes]:
    """What gives the next piece of `pieces`, b"" at the end: its own `read` method when it has one
    (`Chunks`, `LineReader`: a plain call), else next() on it, empty pieces skipped."""
    read = getattr(pieces, "read", None)
    if callable(read):
        return read
    iterator = iter(pieces)

    def next_piece() -> bytes:
        for piece in iterator:
            if piece:
                return piece
        return b""

    return next_piece


class LineReader:
    """Lines (newline kept) out of body chunks. The body's tail after its last newline is handed over as
    is, so a reader can tell a stream cut inside a line; `pending` holds it when the chunks broke off
    instead. `read()` gives the next line, b"" once there is none (a plain call, as `Chunks.read`).

    A line longer than `max_line` is handed over unfinished and ends the reading, so one endless line
    cannot fill memory.
    """

    def __init__(self, chunks: Iterable[bytes], max_line: int) -> None:
        self.max_line = max_line
        self._next_chunk = reader_of(chunks)
        self._buffer = bytearray()
        self._start = 0  # where the lines not yet handed over begin in the buffer
        self._scan = 0  # the buffer holds no newline before this
        self._ended = False

    @property
    def pending(self) -> bytes:
        return bytes(self._buffer[self._start :])

    def __iter__(self) -> Iterator[bytes]:
        while line := self.read():
            yield line

    def read(self) -> bytes:
        buffer = self._buffer
        while True:
            end = buffer.find(b"\n", max(self._start, self._scan))
            if end >= 0:
                line = bytes(buffer[self._start : end + 1])
                self._start = end + 1
                return line
            del buffer[: self._start]  # what is left holds no newline
            self._start = 0
            if self._ended or len(buffer) > self.max_line:
                self._ended, self._scan = True, 0
                line = bytes(buffer)
                del buffer[:]
                return line
            self._scan = len(buffer)
            chunk = self._next_chunk()
            if chunk:
                buffer += chunk
            else:
                self._ended = True


def read_body(body: Iterable[bytes], max_bytes: int, encoding: str = "") -> tuple[bytes, str, int]:
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
