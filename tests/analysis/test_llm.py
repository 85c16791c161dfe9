"""LLM streaming figures on hand-made rows whose right answers are computed by hand (in comments)."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow as pa
import pytest

from harness.analysis.llm import (
    DEFINITIONS,
    bucket_seconds,
    estimate_error,
    llm_endpoints,
    llm_summary,
    token_source,
    ttft_series,
)
from harness.samples import DEFAULTS, SCHEMA

T0 = 1_796_000_000.0
RUN = {"started_at": T0, "ended_at": T0 + 10, "streaming_endpoints": {"chat": "sse-openai"}}


def frame(records: list[dict]) -> pd.DataFrame:
    """Samples with the dtypes `read_samples` gives; unspecified columns take their defaults."""
    columns = {name: [r.get(name, DEFAULTS[name]) for r in records] for name in SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=SCHEMA).to_pandas()


def turn(ttfb: float, ttft: float, ttlt: float, out: int, gaps: list[float] | None, **extra) -> dict:
    """One served legit chat turn (200), counted by usage, 20 input tokens."""
    return {
        "start_s": T0 + 1,
        "endpoint": "chat",
        "method": "POST",
        "status": 200,
        "latency_ms": ttlt + 5,
        "ttfb_ms": ttfb,
        "ttft_ms": ttft,
        "ttlt_ms": ttlt,
        "chunks": len(gaps or []) + 1,
        "chunk_gaps_ms": gaps,
        "input_tokens": 20,
        "output_tokens": out,
        "input_tokens_estimate": 22,
        "output_tokens_estimate": out,
        "token_source": "usage",
        **extra,
    }


def rows() -> list[dict]:
    return [
        # served: TTFT 100, 200, 300, 150; TPOT (500-100)/4 = 100, (600-200)/2 = 200, none (1 token),
        # (450-150)/10 = 30
        turn(50, 100, 500, 5, [100.0] * 4, cached_tokens=5, output_tokens_estimate=4),
        turn(60, 200, 600, 3, [50.0, 150.0], token_source="estimate", input_tokens_estimate=20),
        turn(40, 300, 300, 1, []),
        turn(70, 150, 450, 11, [30.0] * 10, reasoning_tokens=2, output_tokens_estimate=9),
        # broken streams: errors, counted apart, never timed; their tokens still count
        turn(45, 5000, 5100, 4, [999.0] * 3, error="stream: ended without [DONE]"),
        turn(45, math.nan, math.nan, 0, None, error="stream: connection broken (ReadError)", output_tokens_estimate=0),
        turn(45, 6000, 6000, 0, [], error="stream: ended without [DONE]", output_tokens_estimate=0),
        # blocked legit, attack and probe rows: neither timed nor summed
        turn(1, 1, 1, 500, [1.0], status=429, blocked=True),
        turn(9000, 9000, 9900, 100, [500.0] * 99, role="chat_flood"),
        turn(8000, 8000, 8800, 100, [700.0] * 99, role="probe", technique="output-inflation"),
        # another route without tokens: not an LLM route
        {"start_s": T0 + 2, "endpoint": "login", "status": 200, "latency_ms": 80.0},
    ]


def test_streaming_figures_by_hand():
    chat = llm_summary(frame(rows()), RUN)["chat"]
    assert chat["requests"] == 8  # legit rows on chat, blocked one included
    assert chat["streams_ok"] == 4
    assert chat["broken_streams"] == 3
    assert chat["broken_reasons"] == {"ended without [DONE]": 2, "connection broken (ReadError)": 1}
    # TTFB of the four served: 40 50 60 70 -> p50 = 2nd = 50
    assert chat["ttfb_p50_ms"] == 50.0
    # TTFT sorted 100 150 200 300: p50 = ceil(0.5*4) = 2nd = 150; p95, p99 = 4th = 300
    assert (chat["ttft_p50_ms"], chat["ttft_p95_ms"], chat["ttft_p99_ms"]) == (150.0, 300.0, 300.0)
    # TTLT sorted 300 450 500 600: p50 = 450, p95 = 600
    assert (chat["ttlt_p50_ms"], chat["ttlt_p95_ms"]) == (450.0, 600.0)
    # TPOT sorted 30 100 200: p50 = ceil(1.5) = 2nd = 100; p95 = ceil(2.85) = 3rd = 200
    assert (chat["tpot_p50_ms"], chat["tpot_p95_ms"]) == (100.0, 200.0)
    # ITL pooled over the served: 10 x 30, 50, 4 x 100, 150 (16 gaps)
    # p50 = 8th = 30; p95 = ceil(15.2) = 16th = 150; p99 = 16th = 150
    assert (chat["itl_p50_ms"], chat["itl_p95_ms"], chat["itl_p99_ms"]) == (30.0, 150.0, 150.0)
    # 1000 / TPOT per reply: 33.3, 10, 5 -> sorted 5 10 33.3, p50 = 10
    assert chat["output_tokens_per_s"] == pytest.approx(10.0)
    # legit admitted output: 5 + 3 + 1 + 11 + 4 + 0 + 0 = 24 tokens over the 10 s run
    assert chat["output_tokens"] == 24
    assert chat["output_tokens_per_s_total"] == pytest.approx(2.4)
    assert chat["input_tokens"] == 7 * 20
    assert chat["cached_tokens"] == 5 and chat["reasoning_tokens"] == 2
    assert chat["definitions"] == DEFINITIONS and set(DEFINITIONS) >= {"ttft", "tpot", "itl", "output_tokens_per_s"}


def test_token_source_mixed_and_estimate_error():
    chat = llm_summary(frame(rows()), RUN)["chat"]
    assert chat["token_source"] == "mixed"  # one served row counted by estimate, the rest by usage
    # usage rows among legit admitted: all but the 2nd -> input: 6 x 22 estimated vs 6 x 20 usage
    assert chat["estimate_error"]["input"] == pytest.approx((132 - 120) / 120)
    # output: estimates 4 + 1 + 9 + 4 + 0 + 0 = 18 vs usage 5 + 1 + 11 + 4 = 21 -> -3/21
    assert chat["estimate_error"]["output"] == pytest.approx(-3 / 21)
    # with 3 hidden tokens declared per request, the input estimate is what spend would bill: 6 x 25
    hidden = llm_summary(frame(rows()), {**RUN, "spend": {"hidden_tokens": 3}})["chat"]
    assert hidden["estimate_error"]["input"] == pytest.approx((150 - 120) / 120)


def test_token_source_usage_estimate_and_none():
    served = frame([turn(1, 2, 3, 2, [1.0]), turn(1, 2, 3, 2, [1.0])])
    assert token_source(served) == "usage"
    assert estimate_error(served) == {"input": pytest.approx(0.1), "output": pytest.approx(0.0)}
    guessed = frame([turn(1, 2, 3, 2, [1.0], token_source="estimate")])
    assert token_source(guessed) == "estimate"
    assert estimate_error(guessed) == {"input": None, "output": None}
    assert token_source(frame([{"start_s": T0, "endpoint": "chat"}])) is None


def test_which_routes_are_llm_routes():
    data = frame(
        [
            turn(1, 2, 3, 2, [1.0]),
            turn(1, 2, 3, 2, [1.0], endpoint="summarize"),
            {"start_s": T0, "endpoint": "login", "status": 200, "latency_ms": 1.0},
        ]
    )
    # declared (dict or the older list) and present, plus any route with output tokens
    assert llm_endpoints(data, RUN) == ["chat", "summarize"]
    assert llm_endpoints(data, {"streaming_endpoints": ["chat", "absent"]}) == ["chat", "summarize"]
    assert llm_endpoints(data, {"streaming_endpoints": {"login": "none"}}) == ["chat", "summarize"]
    assert llm_summary(frame([{"start_s": T0, "endpoint": "login"}]), RUN) == {}


def test_a_route_without_times_gives_nulls_not_nans():
    data = frame([turn(math.nan, math.nan, math.nan, 1, None, status=0, error="ReadTimeout")])
    chat = llm_summary(data, RUN)["chat"]
    assert chat["streams_ok"] == 0 and chat["broken_streams"] == 0
    assert chat["ttft_p50_ms"] is None and chat["tpot_p50_ms"] is None and chat["itl_p95_ms"] is None
    assert chat["output_tokens"] == 1  # not blocked: the tokens were spent
    assert chat["output_tokens_per_s_total"] == pytest.approx(0.1)


def test_ttft_series_buckets():
    records = [
        turn(1, ttft, ttft + 10, 2, [10.0], start_s=T0 + t)
        for t, ttft in [(0.5, 100), (3, 300), (4.9, 200), (6, 50), (7, 70)]
    ]
    records.append(turn(1, 9999, 9999, 2, [1.0], start_s=T0 + 1, role="chat_flood"))
    series = ttft_series(frame(records), RUN, T0)  # a 10 s run -> 5 s buckets
    assert series["second"].tolist() == [0, 5] and series["bucket_s"].tolist() == [5, 5]
    # bucket 0: 100 200 300 -> p50 200, p95 300; bucket 5: 50 70 -> p50 50, p95 70
    assert series["p50_ms"].tolist() == [200.0, 50.0] and series["p95_ms"].tolist() == [300.0, 70.0]
    assert series["requests"].tolist() == [3, 2]
    assert bucket_seconds(10) == 5 and bucket_seconds(600) == 10 and bucket_seconds(7200) == 120
    assert ttft_series(frame([{"start_s": T0, "endpoint": "login"}]), RUN, T0).empty
