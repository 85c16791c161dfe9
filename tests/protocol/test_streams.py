"""Reading streamed responses: timings from the clock we hand in, chunks, usage and broken streams."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import pytest

from harness.protocol.bodies import BodyError, LineReader, read_body, size_text
from harness.protocol.streams import TokenUsage, parse_usage, read_stream

T0 = 100.0


class FakeClock:
    """Returns the given readings one by one; read_stream reads it once per line and once at the end."""

    def __init__(self, *readings: float) -> None:
        self.readings = list(readings)
        self.calls = 0

    def __call__(self) -> float:
        value = self.readings[self.calls]
        self.calls += 1
        return value


def event(obj) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n"


def chunk(content=None, role=None, finish=None) -> bytes:
    delta = {}
    if role:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    return event(
        {
            "object": "chat.completion.chunk",
            "usage": None,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


USAGE = {"prompt_tokens": 31, "completion_tokens": 3, "total_tokens": 34}
OPENAI_STREAM = [
    chunk(role="assistant", content=""),  # 100.050: first byte, no content yet
    b"\n",
    chunk("Hel"),  # 100.200: first token
    b"\n",
    chunk("lo"),  # 100.210
    b"\n",
    chunk(" there"),  # 100.230
    b"\n",
    chunk(finish="stop"),  # 100.240
    b"\n",
    event({"object": "chat.completion.chunk", "choices": [], "usage": USAGE}),  # 100.250
    b"\n",
    b"data: [DONE]\n",  # 100.260
]


def openai_clock() -> FakeClock:
    # one reading per line read (13 lines), then the end reading
    per_line = [
        100.050,
        100.060,
        100.200,
        100.205,
        100.210,
        100.215,
        100.230,
        100.235,
        100.240,
        100.245,
        100.250,
        100.255,
        100.260,
    ]
    return FakeClock(*per_line, 100.300)


def test_openai_stream_timings_come_from_the_clock():
    clock = openai_clock()
    result = read_stream(iter(OPENAI_STREAM), "sse-openai", T0, clock=clock)
    assert result.ttfb_ms == pytest.approx(50.0)
    assert result.ttft_ms == pytest.approx(200.0)  # the role chunk carries no content: not the first token
    assert result.end_ms == pytest.approx(300.0)
    assert clock.calls == 14


def test_openai_stream_chunks_content_and_usage():
    result = read_stream(iter(OPENAI_STREAM), "sse-openai", T0, clock=openai_clock())
    assert result.error == ""
    assert result.done is True
    assert result.chunks == 3
    assert result.text == ["Hel", "lo", " there"]
    assert result.content == "Hello there"
    assert result.usage == USAGE
    assert parse_usage(result.usage) == TokenUsage(31, 3)
    assert result.bytes_read == sum(len(line) for line in OPENAI_STREAM)


def test_lines_after_done_are_not_read():
    lines = [chunk("a"), b"data: [DONE]\n", chunk("never")]
    clock = FakeClock(1.0, 1.1, 1.2)
    result = read_stream(iter(lines), "sse-openai", 1.0, clock=clock)
    assert result.content == "a"
    assert result.end_ms == pytest.approx(200.0)
    assert clock.calls == 3


def test_malformed_event_is_an_error_keeping_the_chunks_that_arrived():
    lines = [chunk("one"), chunk("two"), b"data: {not json\n", chunk("three"), b"data: [DONE]\n"]
    result = read_stream(iter(lines), "sse-openai", T0, clock=FakeClock(100.1, 100.2, 100.3, 100.4))
    assert result.error == "stream: malformed event (not JSON)"
    assert result.chunks == 2
    assert result.content == "onetwo"
    assert result.done is False
    assert result.end_ms == pytest.approx(400.0)


def test_event_that_is_not_an_object_is_an_error():
    result = read_stream(iter([chunk("x"), b"data: [1, 2]\n"]), "sse-openai", T0, clock=FakeClock(100.1, 100.2, 100.3))
    assert result.error == "stream: malformed event (not an object)"
    assert result.content == "x"


def test_error_event_from_the_server_is_an_error():
    lines = [chunk("partial"), event({"error": {"message": "overloaded"}}), b"data: [DONE]\n"]
    result = read_stream(iter(lines), "sse-openai", T0, clock=FakeClock(100.1, 100.2, 100.3))
    assert result.error == "stream: error event from the server"
    assert result.content == "partial"


def test_stream_without_done_is_an_error():
    lines = [chunk("Hi"), b"\n", chunk(finish="stop"), b"\n"]
    result = read_stream(iter(lines), "sse-openai", T0, clock=FakeClock(100.1, 100.15, 100.2, 100.25, 100.5))
    assert result.error == "stream: ended without [DONE]"
    assert result.content == "Hi"
    assert result.done is False
    assert result.end_ms == pytest.approx(500.0)


def broken(lines: list[bytes], exc: BaseException) -> Iterator[bytes]:
    yield from lines
    raise exc


def test_connection_cut_mid_stream_keeps_what_arrived():
    lines = [chunk("Hel"), b"\n", chunk("lo"), b"\n"]
    clock = FakeClock(100.1, 100.11, 100.2, 100.21, 100.9)
    result = read_stream(
        broken(lines, ConnectionResetError(104, "Connection reset by peer")), "sse-openai", T0, clock=clock
    )
    assert result.error == "stream: cut between events (connection: reset by peer)"
    assert result.content == "Hello"
    assert result.chunks == 2
    assert result.ttft_ms == pytest.approx(100.0)
    assert result.end_ms == pytest.approx(900.0)  # the end is still stamped when the connection breaks


def test_connection_cut_before_any_byte_leaves_first_byte_unset():
    result = read_stream(broken([], TimeoutError()), "sse-openai", T0, clock=FakeClock(102.0))
    assert result.error == "stream: timeout: response not complete"
    assert math.isnan(result.ttfb_ms) and math.isnan(result.ttft_ms)
    assert result.end_ms == pytest.approx(2000.0)
    assert result.bytes_read == 0


def test_plain_sse_counts_every_data_line():
    lines = [
        b": keep-alive\n",
        b"event: token\n",
        b"data: Hello\n",
        b"\n",
        b"id: 2\n",
        b"data:  world \r\n",
        b"\r\n",
        b"data: [DONE]\n",
    ]
    clock = FakeClock(10.0, 10.1, 10.2, 10.3, 10.4, 10.5, 10.6, 10.7, 11.0)
    result = read_stream(iter(lines), "sse", 9.9, clock=clock)
    assert result.error == ""  # plain SSE ends when the server closes; no [DONE] needed
    assert result.chunks == 3  # every data line, "[DONE]" included: it has no special meaning here
    assert result.text == ["Hello", "world", "[DONE]"]
    assert result.ttfb_ms == pytest.approx(100.0)  # the comment line is the first byte
    assert result.ttft_ms == pytest.approx(300.0)  # the first data line
    assert result.end_ms == pytest.approx(1100.0)


def test_comments_and_other_fields_are_ignored_in_openai_streams():
    lines = [
        b": ping\n",
        b"\n",
        b"event: message\n",
        b"id: 7\n",
        b"retry: 1000\n",
        chunk("ok"),
        b"\r\n",
        b"data: [DONE]\r\n",
    ]
    result = read_stream(iter(lines), "sse-openai", 0.0, clock=FakeClock(*[0.01 * i for i in range(1, 10)]))
    assert result.error == ""
    assert result.done is True
    assert result.text == ["ok"]
    assert result.ttfb_ms == pytest.approx(10.0)
    assert result.ttft_ms == pytest.approx(60.0)


def test_body_over_max_bytes_is_cut():
    line = chunk("x" * 50)
    lines = [line] * 10 + [b"data: [DONE]\n"]
    result = read_stream(
        iter(lines), "sse-openai", 0.0, clock=FakeClock(*[0.01 * i for i in range(1, 20)]), max_bytes=len(line) * 3 + 1
    )
    assert result.error == f"stream: body over {len(line) * 3 + 1} bytes: cut"
    assert result.chunks == 3  # the line that crosses the cap is not parsed
    assert result.bytes_read == len(line) * 3 + 1  # what is past the cap is dropped
    assert result.done is False


def test_usage_that_arrives_with_the_last_content_chunk():
    last = event(
        {
            "choices": [{"delta": {"content": "!"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1},
        }
    )
    result = read_stream(iter([last, b"data: [DONE]\n"]), "sse-openai", 0.0, clock=FakeClock(0.1, 0.2, 0.3))
    assert result.content == "!"
    assert parse_usage(result.usage) == TokenUsage(5, 1)


@pytest.mark.parametrize(
    "usage, expected",
    [
        ({"prompt_tokens": 12, "completion_tokens": 40, "total_tokens": 52}, TokenUsage(12, 40)),
        ({"prompt_tokens": 0, "completion_tokens": 0}, TokenUsage(0, 0)),
        ({"prompt_tokens": 12}, None),
        ({"prompt_tokens": "12", "completion_tokens": 40}, None),
        ({"prompt_tokens": True, "completion_tokens": 40}, None),
        (None, None),
        ([12, 40], None),
        # OpenAI chat completions with a prompt-cache hit and reasoning tokens: both are subsets
        (
            {
                "prompt_tokens": 2006,
                "completion_tokens": 300,
                "prompt_tokens_details": {"cached_tokens": 1920},
                "completion_tokens_details": {"reasoning_tokens": 192},
            },
            TokenUsage(2006, 300, 1920, 192),
        ),
        # the Responses API names them input/output
        (
            {
                "input_tokens": 12,
                "output_tokens": 40,
                "input_tokens_details": {"cached_tokens": 8},
                "output_tokens_details": {"reasoning_tokens": 30},
            },
            TokenUsage(12, 40, 8, 30),
        ),
        # Anthropic bills cache reads and writes beside input_tokens: the prompt is all three
        (
            {
                "input_tokens": 50,
                "output_tokens": 40,
                "cache_read_input_tokens": 1000,
                "cache_creation_input_tokens": 200,
            },
            TokenUsage(1250, 40, 1000, 0),
        ),
        # a cached count above the prompt cannot be billed twice
        (
            {"prompt_tokens": 10, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 99}},
            TokenUsage(10, 1, 10, 0),
        ),
    ],
)
def test_parse_usage(usage, expected):
    assert parse_usage(usage) == expected


def test_last_token_time_and_gaps_between_content_chunks():
    result = read_stream(iter(OPENAI_STREAM), "sse-openai", T0, clock=openai_clock())
    assert result.ttlt_ms == pytest.approx(230.0)  # " there" at 100.230; the usage and [DONE] come later
    assert result.gaps_ms == pytest.approx([10.0, 20.0])  # 200 -> 210 -> 230: chunks - 1 gaps
    assert result.end_ms == pytest.approx(300.0)


# --- bodies read as they arrive, bounded in bytes and time (harness.protocol.bodies) ----------------------------


class FakeSock:
    """A socket whose reads are scripted: bytes, or an exception to raise."""

    def __init__(self, reads: list, timeout: float = 30.0) -> None:
        self.reads = list(reads)
        self.timeout = timeout
        self.timeouts: list[float] = []

    def gettimeout(self) -> float:
        return self.timeout

    def settimeout(self, value: float) -> None:
        self.timeout = value
        self.timeouts.append(value)

    def recv(self, n: int) -> bytes:
        item = self.reads.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item


class FakeRaw:
    """What `chunks` uses of geventhttpclient's response: a body buffer, the socket, the parser's feed."""

    block_size = 4096

    def __init__(self, reads: list, length: int | None = None, buffered: bytes = b"") -> None:
        self._body_buffer = bytearray(buffered)
        self._sock: FakeSock | None = FakeSock(reads)
        self.sock = self._sock
        self.length = length  # None: the body ends when the server closes
        self.got = len(buffered)
        self.message_complete = False
        self.released = False

    def feed(self, data: bytes) -> None:
        if not data and self.length is not None:
            raise ValueError("Incomplete response.")
        self._body_buffer += data
        self.got += len(data)
        if not data or (self.length is not None and self.got >= self.length):
            self.message_complete = True
            self.release()

    def release(self) -> None:
        self._sock = None
        self.released = True


def test_chunks_hand_over_each_read_and_restore_the_socket_timeout():
    from harness.protocol.bodies import Chunks

    raw = FakeRaw([b"lo, ", b"world"], length=12, buffered=b"Hel")
    assert list(Chunks(raw, deadline=10.0, timeout_s=2.0, clock=lambda: 9.0)) == [b"Hel", b"lo, ", b"world"]
    assert raw.message_complete and raw.released
    assert raw.sock.timeouts == [1.0, 30.0, 1.0, 30.0]  # each read waits at most until the deadline


def test_chunks_stop_at_the_deadline_however_slowly_bytes_drip():
    from harness.protocol.bodies import Chunks

    times = iter([0.0, 0.5, 1.0, 1.5, 2.0])
    raw = FakeRaw([b"{", b'"', b"a", b"b"], length=1000)  # a byte per read, forever
    with pytest.raises(BodyError, match=r"^timeout: response not complete within 2 s$"):
        list(Chunks(raw, deadline=2.0, timeout_s=2.0, clock=lambda: next(times)))
    assert raw.released  # an unfinished body closes its connection


def test_chunks_turn_a_read_timeout_into_the_deadline_reason():
    from harness.protocol.bodies import Chunks

    raw = FakeRaw([TimeoutError("timed out")], length=10)
    with pytest.raises(BodyError, match="timeout: response not complete within 0.5 s"):
        list(Chunks(raw, deadline=1.0, timeout_s=0.5, clock=lambda: 0.0))
    assert raw.released


def test_chunks_pass_a_broken_connection_on():
    from harness.protocol.bodies import Chunks

    raw = FakeRaw([b"abc", ConnectionResetError(104, "Connection reset by peer")], length=10)
    source = Chunks(raw, deadline=1.0, timeout_s=1.0, clock=lambda: 0.0)
    assert source.read() == b"abc"
    with pytest.raises(ConnectionResetError):
        source.read()
    assert raw.released


def test_a_stream_is_read_by_plain_calls_not_by_iteration():
    """read_stream calls the lines' own `read` (and LineReader its chunks'): no generator stands between
    a waiting greenlet and its socket, each of which would add to the C stack gevent copies out."""

    class Reads:
        def __init__(self, pieces: list[bytes]) -> None:
            self.pieces = pieces

        def read(self) -> bytes:
            return self.pieces.pop(0) if self.pieces else b""

        def __iter__(self):
            raise AssertionError("iterated")

    class Lines(LineReader):
        def __iter__(self):
            raise AssertionError("iterated")

    lines = Lines(Reads([chunk("Hel") + b"\nda", b"ta: [DONE]\n"]), 1000)
    result = read_stream(lines, "sse-openai", 0.0, clock=FakeClock(0.1, 0.2, 0.3, 0.4))
    assert result.content == "Hel" and result.done and result.error == ""


def test_line_reader_splits_across_reads_and_keeps_a_cut_tail():
    reader = LineReader(iter([b"data: a\nda", b"ta: b\n\nda", b'ta: {"cho']), max_line=1000)
    assert list(reader) == [b"data: a\n", b"data: b\n", b"\n", b'data: {"cho']


def test_line_reader_keeps_what_was_pending_when_the_reads_break_off():
    reader = LineReader(broken([b"data: a\n", b'data: {"cho'], ConnectionResetError()), max_line=1000)
    lines = iter(reader)
    assert next(lines) == b"data: a\n"
    with pytest.raises(ConnectionResetError):
        next(lines)
    assert reader.pending == b'data: {"cho'


def test_line_reader_hands_over_an_endless_line_unfinished():
    endless = (b"x" * 4096 for _ in range(10_000))  # 40 MB, never a newline
    lines = iter(LineReader(endless, max_line=10_000))
    assert len(next(lines)) == 12_288  # the cap plus less than one read, never the whole line


def test_stream_closed_inside_an_event_is_cut_mid_event():
    body = [chunk("Hel"), b"\n", chunk("lo")[:20]]  # the last event stops half-way, then the body ends
    result = read_stream(LineReader(iter(body), 1000), "sse-openai", 0.0, clock=FakeClock(0.1, 0.2, 0.3, 0.4))
    assert result.error == "stream: cut mid-event"
    assert result.content == "Hel"  # what arrived whole is kept


def test_stream_broken_off_inside_an_event_is_cut_mid_event():
    reads = broken([chunk("Hel") + b"\n", chunk("lo")[:20]], ValueError("Incomplete response."))
    result = read_stream(LineReader(reads, 1000), "sse-openai", 0.0, clock=FakeClock(0.1, 0.2, 0.3, 0.4))
    assert result.error == "stream: cut mid-event"


def test_stream_broken_off_between_events_names_the_cause():
    reads = broken([chunk("Hel") + b"\n"], ConnectionResetError(104, "Connection reset by peer"))
    result = read_stream(LineReader(reads, 1000), "sse-openai", 0.0, clock=FakeClock(0.1, 0.2, 0.3, 0.4))
    assert result.error == "stream: cut between events (connection: reset by peer)"


def test_stream_past_its_deadline_is_a_timeout_even_mid_event():
    reads = broken([chunk("slow")[:9]], BodyError("timeout: response not complete within 2 s"))
    result = read_stream(LineReader(reads, 1000), "sse-openai", 0.0, clock=FakeClock(0.1, 2.0))
    assert result.error == "stream: timeout: response not complete within 2 s"


def test_done_without_its_newline_still_ends_the_stream():
    result = read_stream(
        LineReader(iter([chunk("ok"), b"\n", b"data: [DONE]"]), 1000), "sse-openai", 0.0, clock=lambda: 0.0
    )
    assert result.error == "" and result.done


def test_one_endless_data_line_is_cut_at_the_cap():
    endless = iter([b"data: "] + [b"x" * 4096] * 10_000)
    result = read_stream(LineReader(endless, 65_536), "sse-openai", 0.0, clock=lambda: 0.0, max_bytes=65_536)
    assert result.error == "stream: body over 64 KiB: cut"
    assert result.bytes_read == 65_536


def test_read_body_keeps_at_most_the_cap():
    body, error, received = read_body(iter([b"x" * 600] * 4), max_bytes=1024)
    assert error == "body over 1 KiB: cut"
    assert len(body) <= 1024 and received == 1200  # stopped at the read that crossed the cap
    assert read_body(iter([b"{}"]), 1024) == (b"{}", "", 2)


def test_read_body_decodes_gzip_and_caps_what_it_inflates_to():
    import gzip
    import zlib

    text = b'{"ok": true}'
    assert read_body(iter([gzip.compress(text)]), 1024, "gzip")[:2] == (text, "")
    assert read_body(iter([zlib.compress(text)]), 1024, "deflate")[:2] == (text, "")
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert read_body(iter([raw_deflate.compress(text) + raw_deflate.flush()]), 1024, "deflate")[:2] == (text, "")
    bomb = gzip.compress(b"0" * 10_000_000)  # 10 MB from about 10 KB
    body, error, received = read_body(iter([bomb]), 65_536, "gzip")
    assert error == "body over 64 KiB: cut" and len(body) == 65_536 and received < 65_536
    assert read_body(iter([b"not gzip"]), 1024, "gzip")[1] == "bad response: body is not valid gzip"
    assert read_body(iter([b"x"]), 1024, "br")[1] == "bad response: content-encoding br was not asked for"


@pytest.mark.parametrize(
    "n, text",
    [(16 * 2**20, "16 MiB"), (2**20, "1 MiB"), (65_536, "64 KiB"), (1_000_000, "1000000 bytes"), (2**30, "1 GiB")],
)
def test_size_text(n, text):
    assert size_text(n) == text
