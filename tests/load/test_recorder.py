"""Request events to sample rows, called the way Locust's `request` event calls listeners.

Locust itself is not imported here: importing it monkey-patches this whole process with gevent.
"""

from __future__ import annotations

import errno
import math
from dataclasses import dataclass

import pytest

from harness.load.recorder import Recorder
from harness.protocol.failures import RequestDeadline, describe_exception

START = 1_796_000_000.25
URL = "http://127.0.0.1:8123/api/conversations/conv_1?token=s3cr3t"


@dataclass
class FakeResponse:
    """What the recorder reads from Locust's response object."""

    status_code: int
    url: str = URL


def record(**overrides) -> dict:
    """Fire one event with Locust's keyword arguments and return the one row it produced."""
    recorder = Recorder()
    kwargs = {
        "request_type": "GET",
        "name": "conversation",
        "response_time": 42.5,
        "response_length": 1234,
        "response": FakeResponse(200),
        "context": {},
        "exception": None,
        "start_time": START,
        "url": URL,  # Locust passes the URL too; it must not reach the sample
    }
    kwargs.update(overrides)
    recorder.on_request(**kwargs)
    columns = recorder.batch.take()
    assert len(columns["start_s"]) == 1
    return {name: values[0] for name, values in columns.items()}


def test_successful_request_row():
    row = record()
    assert row["start_s"] == START
    assert row["endpoint"] == "conversation"
    assert row["method"] == "GET"
    assert row["status"] == 200
    assert row["latency_ms"] == 42.5
    assert row["response_bytes"] == 1234
    assert row["error"] == ""
    assert row["role"] == "legit"
    assert row["blocked"] is False
    assert math.isnan(row["ttft_ms"]) and math.isnan(row["intended_s"]) and math.isnan(row["retry_after_s"])


def test_context_fields_reach_the_row():
    ctx = {
        "role": "credential_stuffing",
        "identity": "a1b2c3d4e5f6",
        "source_ip": "127.0.0.7",
        "blocked": True,
        "retry_after_s": 30.0,
        "ttfb_ms": 80.0,
        "ttft_ms": 210.0,
        "input_tokens": 31,
        "output_tokens": 44,
        "token_source": "usage",
        "intended_s": START - 0.5,
        "error": "",
    }
    row = record(response=FakeResponse(429), context=ctx)
    assert {k: row[k] for k in ctx} == ctx
    assert row["status"] == 429


def test_error_from_context_wins_over_the_exception():
    row = record(
        response=FakeResponse(200),
        context={"error": "stream: ended without [DONE]"},
        exception=RuntimeError("stream: ended without [DONE]"),
    )
    assert row["error"] == "stream: ended without [DONE]"
    assert row["status"] == 200


def test_exception_without_a_response_is_a_connection_error():
    row = record(
        response=None,
        response_time=3001.0,
        response_length=None,
        exception=ConnectionRefusedError(f"cannot connect to {URL}"),
    )
    assert row["error"] == "connection: refused"
    assert row["status"] == 0
    assert row["response_bytes"] == 0


def test_exception_with_status_zero_response_is_a_connection_error():
    row = record(response=FakeResponse(0), exception=TimeoutError())
    assert row["error"] == "timeout: no response"
    assert row["status"] == 0


def test_http_error_is_named_by_status():
    row = record(response=FakeResponse(500), exception=RuntimeError(f"500 Server Error for url: {URL}"))
    assert row["error"] == "http 500"
    assert row["status"] == 500


def test_row_never_holds_the_url_or_its_token():
    row = record(response=FakeResponse(503), exception=RuntimeError(f"503 for url: {URL}"))
    values = [str(v) for v in row.values()]
    assert not any("http://" in v or "s3cr3t" in v or "/api/" in v for v in values)


def test_missing_times_become_nan_and_odd_status_zero():
    row = record(response_time=None, start_time=None, response=FakeResponse("200"))  # type: ignore[arg-type]
    assert math.isnan(row["latency_ms"]) and math.isnan(row["start_s"])
    assert row["status"] == 0


def test_rows_accumulate_until_taken():
    recorder = Recorder()
    for i, name in enumerate(["login", "me", "chat"]):
        recorder.on_request(
            request_type="POST",
            name=name,
            response_time=float(i),
            response_length=i,
            response=FakeResponse(200),
            context={},
            exception=None,
            start_time=START + i,
        )
    assert len(recorder.batch) == 3
    columns = recorder.batch.take()
    assert columns["endpoint"] == ["login", "me", "chat"]
    assert columns["latency_ms"] == [0.0, 1.0, 2.0]
    assert len(recorder.batch) == 0


def test_describe_exception():
    assert describe_exception(None, 200) == ""
    assert describe_exception(None, 0) == ""
    assert describe_exception(ValueError(URL), 404) == "http 404"
    assert describe_exception(ConnectionResetError(URL), 0) == "connection: reset by peer"


# geventhttpclient's and gevent's exceptions, by the names the mapping recognises (importing them here
# would import gevent into the test process)
class HTTPParseError(Exception):
    pass


class HTTPConnectionClosed(HTTPParseError):
    pass


class RetriesExceeded(Exception):
    def __init__(self, url: str, *args: object, original: BaseException | None = None) -> None:
        super().__init__(url, *args)
        self.original = original


class LocustBadStatusCode(Exception):
    pass


class Timeout(BaseException):  # gevent.Timeout is a BaseException
    pass


def raised_in(function_name: str, exc: BaseException) -> BaseException:
    """`exc` with a traceback through a function of that name (geventhttpclient's connect is `_create_socket`)."""
    namespace: dict = {}
    exec(f"def {function_name}(e):\n    raise e", namespace)
    try:
        namespace[function_name](exc)
    except BaseException as caught:
        return caught
    raise AssertionError("not raised")


def chained(outer: BaseException, inner: BaseException) -> BaseException:
    """`outer` raised while handling `inner`, as geventhttpclient does."""
    try:
        try:
            raise inner
        except BaseException:
            raise outer  # noqa: B904 (the implicit chain is what is tested)
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    "exception, status, reason",
    [
        (TimeoutError("timed out"), 0, "timeout: no response within 2 s"),
        (RetriesExceeded(URL, 0, original=TimeoutError("timed out")), 0, "timeout: no response within 2 s"),
        (RetriesExceeded(URL, 0, original=Timeout()), 0, "timeout: no response within 2 s"),
        (RequestDeadline(), 0, "timeout: no response within 2 s"),
        (TimeoutError("timed out"), 200, "timeout: response not complete within 2 s"),
        (raised_in("_create_socket", TimeoutError("timed out")), 0, "timeout: no connection within 5 s"),
        (raised_in("_create_socket", RequestDeadline()), 0, "timeout: no response within 2 s"),  # the whole deadline
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), 0, "connection: reset by peer"),
        (
            chained(HTTPConnectionClosed("connection closed."), ConnectionResetError(errno.ECONNRESET, "reset")),
            0,
            "connection: reset by peer",
        ),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), 0, "connection: refused"),
        (BrokenPipeError(errno.EPIPE, "Broken pipe"), 0, "connection: closed by peer while sending"),
        (HTTPParseError("Expected HTTP/, RTSP/ or ICE/", 8), 0, "bad response: not HTTP"),
        (HTTPParseError("Invalid header value char", 10), 0, "bad response: malformed HTTP"),
        (HTTPConnectionClosed("connection closed."), 0, "connection: closed without a response"),
        (HTTPParseError("Invalid EOF state", 14), 0, "connection: closed without a response"),
        (HTTPParseError("Incomplete response."), 200, "connection: closed mid-response"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), 0, "connection: no route to host"),
        (LocustBadStatusCode(URL, 503), 503, "http 503"),
        (RuntimeError(URL), 0, "connection: RuntimeError"),
    ],
)
def test_reasons_for_what_a_hostile_target_does(exception, status, reason):
    got = describe_exception(exception, status, timeout_s=2.0, connect_timeout_s=5.0)
    assert got == reason
    assert "http://" not in got and "s3cr3t" not in got


# ---- the recorder's fast path holds exactly what the plain per-column code held ----


def reference_columns(events: list[dict]) -> dict[str, list]:
    """The straightforward recorder (the one before the hot path was optimised): row by row, column by column."""
    from harness.load.recorder import CONTEXT_COLUMNS
    from harness.samples import COLUMNS, DEFAULTS

    columns: dict[str, list] = {name: [] for name in COLUMNS}
    for event in events:
        ctx = event["context"] or {}
        status = getattr(event["response"], "status_code", 0) or 0
        if not isinstance(status, int):
            status = 0
        error = ctx["error"] if "error" in ctx else describe_exception(event["exception"], status)
        row = {name: ctx[name] for name in CONTEXT_COLUMNS if name in ctx}
        row.update(
            start_s=event["start_time"] if event["start_time"] is not None else math.nan,
            endpoint=event["name"],
            method=event["request_type"],
            status=status,
            latency_ms=event["response_time"] if event["response_time"] is not None else math.nan,
            error=error,
            response_bytes=event["response_length"] or 0,
        )
        for name, column in columns.items():
            column.append(row.get(name, DEFAULTS[name]))
    return columns


def random_events(seed: int, n: int) -> list[dict]:
    import random

    from harness.samples import COLUMNS

    rng = random.Random(seed)
    values = [None, math.nan, 0, 7, -1, 2.5, "", "x", "legit", True, False, [1.5, 2.0], []]
    names = [*COLUMNS, "url", "extra", "start_time"]  # every column, Locust's own fields too, and strangers
    events = []
    for _ in range(n):
        context = {k: rng.choice(values) for k in rng.sample(names, rng.randint(0, len(names)))}
        events.append(
            {
                "request_type": rng.choice(["GET", "POST"]),
                "name": rng.choice(["login", "chat", "me"]),
                "response_time": rng.choice([None, 0.0, 12.25, 3001.0]),
                "response_length": rng.choice([None, 0, 15, 1 << 33]),
                "response": rng.choice(
                    [None, FakeResponse(200), FakeResponse(0), FakeResponse(503), FakeResponse("200")]
                ),  # type: ignore[arg-type]
                "context": rng.choice([None, {}, context, context, context]),
                "exception": rng.choice(
                    [
                        None,
                        None,
                        ConnectionRefusedError(111, "Connection refused"),
                        TimeoutError("timed out"),
                        RuntimeError(URL),
                    ]
                ),
                "start_time": rng.choice([None, START, START + 0.5]),
                "url": URL,
            }
        )
    return events


def same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a is b if isinstance(a, list) else a == b


@pytest.mark.parametrize("seed", range(5))
def test_rows_match_the_plain_per_column_recorder_exactly(seed):
    """Every column, value, type and order, over random contexts (every column name, strangers, None,
    NaN, lists), responses, exceptions and missing times, with takes in between."""
    events = random_events(seed, 400)
    recorder = Recorder()
    got: dict[str, list] = {}
    for i, event in enumerate(events):
        recorder.on_request(**event)
        if i % 97 == 96:  # a report in the middle: the columns continue after a take
            for name, values in recorder.batch.take().items():
                got.setdefault(name, []).extend(values)
    for name, values in recorder.batch.take().items():
        got.setdefault(name, []).extend(values)
    want = reference_columns(events)
    assert list(got) == list(want)
    for name in want:
        assert len(got[name]) == len(events), name
        bad = [i for i, (a, b) in enumerate(zip(got[name], want[name])) if not same(a, b)]
        assert not bad, f"{name}: row {bad[0]}: {got[name][bad[0]]!r} != {want[name][bad[0]]!r}"


def test_the_context_never_changes():
    ctx = {"role": "probe", "error": "", "worker": "w", "start_s": 1.0}
    record(context=ctx)
    assert ctx == {"role": "probe", "error": "", "worker": "w", "start_s": 1.0}
