"""Thresholds: every form parsed, judged on a hand-made summary whose answers are known, and every
bad one refused with one line naming where it came from."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from harness.documents import Summary, to_builtins
from harness.scenario.thresholds import (
    Threshold,
    ThresholdError,
    check_targets,
    default_thresholds,
    from_options,
    from_record,
    merge,
    parse_threshold,
)
from harness.scenario.thresholds import evaluate as evaluate_typed

SUMMARY: dict[str, Any] = {
    "run": {"scenario": "smoke", "streaming_endpoints": {"chat": "sse-openai"}},
    "endpoints": {
        "admin": {
            "requests": 30,
            "legit_requests": 0,
            "errors": 30,
            "error_rate": 1.0,
            "legit_errors": 0,
            "legit_error_rate": None,
            "p95_ms": None,
            "latency_samples": 0,
        },  # attacked only
        "chat": {
            "requests": 50,
            "legit_requests": 50,
            "errors": 0,
            "error_rate": 0.0,
            "legit_errors": 0,
            "legit_error_rate": 0.0,
            "p50_ms": 2500.0,
            "p95_ms": 3900.0,
            "p99_ms": 4100.0,
            "latency_samples": 50,
        },
        "history": {
            "requests": 0,
            "legit_requests": 0,
            "errors": 0,
            "error_rate": None,
            "p95_ms": None,
            "latency_samples": 0,
        },
        "login": {
            "requests": 200,
            "legit_requests": 180,
            "errors": 1,
            "error_rate": 0.005,
            "legit_errors": 0,
            "legit_error_rate": 0.0,
            "p50_ms": 210.0,
            "p95_ms": 612.3,
            "p99_ms": 880.0,
            "p999_ms": 990.0,
            "max_ms": 1000.0,
            "mean_ms": 250.5,
            "latency_samples": 170,
        },  # one failed attack request
        "me": {
            "requests": 100,
            "legit_requests": 100,
            "errors": 3,
            "error_rate": 0.03,
            "legit_errors": 3,
            "legit_error_rate": 0.03,
            "p50_ms": 20.0,
            "p95_ms": 45.5,
            "p99_ms": 60.0,
            "latency_samples": 97,
        },
        "reset": {
            "requests": 12,
            "legit_requests": 12,
            "errors": 0,
            "error_rate": 0.0,
            "legit_blocked": 12,
            "legit_errors": 0,
            "legit_error_rate": 0.0,
            "p95_ms": None,
            "latency_samples": 0,
        },  # every legit request blocked: requested, nothing to measure
    },
    "llm": {
        "chat": {
            "requests": 50,
            "streams_ok": 48,
            "ttft_p50_ms": 900.0,
            "ttft_p95_ms": 1850.0,
            "ttft_p99_ms": 2400.0,
            "tpot_p50_ms": 21.0,
            "itl_p95_ms": 40.0,
            "itl_p99_ms": None,
        }
    },
    "rate_limits": {"login": {"verdict": "effective"}, "chat": {"verdict": "leaky"}},
    "spend": {
        "run_cost_usd": {"legit": 0.0122, "abuse": 0.0148},
        "per_day_usd": {
            "legit_at_observed_rate": 34.56,
            "abuse_admitted": 61.2,
            "abuse_ceiling": 900.0,
            "legit_at_scenario_traffic": None,
        },
        "denial_of_wallet": {"route": "chat", "worst_request_usd": 0.0731},
    },
}


def evaluate(thresholds: list[Threshold], summary: dict) -> list[dict]:
    """The rows as summary.json holds them, judged on summary.json's dict read as a Summary."""
    typed, problems = Summary.load(summary)
    assert not problems
    return [to_builtins(row) for row in evaluate_typed(thresholds, typed)]


def judge(text: str, summary: dict | None = None) -> list[dict]:
    return evaluate([parse_threshold(text, "test")], SUMMARY if summary is None else summary)


def one(text: str, summary: dict | None = None) -> dict:
    (row,) = judge(text, summary)
    return row


# --- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expr, metric, target, op, limit, unit",
    [
        ("p95(login) < 500ms", "p95(login) < 500ms", "p95", "login", "<", 500.0, "ms"),
        ("p95(login)<500", "p95(login) < 500", "p95", "login", "<", 500.0, "ms"),  # a bare latency is ms
        ("  p99(*) <= 1.5s ", "p99(*) <= 1.5s", "p99", "*", "<=", 1500.0, "ms"),
        ("error_rate(*) < 1%", "error_rate(*) < 1%", "error_rate", "*", "<", 0.01, "ratio"),
        ("error_rate(me) < 0.02", "error_rate(me) < 0.02", "error_rate", "me", "<", 0.02, "ratio"),
        ("ttft_p95(chat) < 2s", "ttft_p95(chat) < 2s", "ttft_p95", "chat", "<", 2000.0, "ms"),
        (
            "rate_limit(login) == Effective",
            "rate_limit(login) == effective",
            "rate_limit",
            "login",
            "==",
            "effective",
            "",
        ),
        ("spend_per_day(abuse) < 50USD", "spend_per_day(abuse) < 50usd", "spend_per_day", "abuse", "<", 50.0, "usd"),
        ("run_cost(legit) >= 0.5usd", "run_cost(legit) >= 0.5usd", "run_cost", "legit", ">=", 0.5, "usd"),
        (
            "worst_request(chat) != 0.05 usd",
            "worst_request(chat) != 0.05usd",
            "worst_request",
            "chat",
            "!=",
            0.05,
            "usd",
        ),
    ],
)
def test_every_form_parses_to_one_unit_per_metric(text, expr, metric, target, op, limit, unit):
    t = parse_threshold(text, "--threshold")
    assert (t.expr, t.metric, t.target, t.op, t.unit) == (expr, metric, target, op, unit)
    assert t.limit == pytest.approx(limit) if isinstance(limit, float) else t.limit == limit
    assert (t.abort, t.grace_s, t.origin) == (False, 10.0, "scenario")


BAD = [
    (
        "p95 login < 500ms",
        "--threshold: expected METRIC(ENDPOINT) OP LIMIT, e.g. \"p95(login) < 500ms\", got 'p95 login < 500ms'",
    ),
    (
        "p95(login) = 500ms",
        "--threshold: expected METRIC(ENDPOINT) OP LIMIT, e.g. \"p95(login) < 500ms\", got 'p95(login) = 500ms'",
    ),
    ("", "--threshold: expected METRIC(ENDPOINT) OP LIMIT, e.g. \"p95(login) < 500ms\", got ''"),
    (
        "p96(login) < 500ms",
        "--threshold: unknown metric 'p96' in 'p96(login) < 500ms' (expected one of: p50, p95, p99, p999, max, "
        "mean, error_rate, ttfb_p50, ttft_p50, ttft_p95, ttft_p99, ttlt_p50, ttlt_p95, tpot_p50, tpot_p95, itl_p50, "
        "itl_p95, itl_p99, p50_intended, p95_intended, p99_intended, rate_limit, spend_per_day, run_cost, worst_request, capacity)",
    ),
    ("p95(login) < 5usd", "--threshold: 'p95(login) < 5usd': p95 is measured in ms or s, not 'usd' (e.g. 500ms or 2s)"),
    (
        "error_rate(*) < 1ms",
        "--threshold: 'error_rate(*) < 1ms': error_rate is measured in %, not 'ms' (e.g. 1% or 0.01)",
    ),
    (
        "spend_per_day(abuse) < 50eur",
        "--threshold: 'spend_per_day(abuse) < 50eur': spend_per_day is measured in usd, not 'eur' (e.g. 50usd)",
    ),
    (
        "p95(login) < -1ms",
        "--threshold: 'p95(login) < -1ms': expected a number with a unit after <, e.g. 500ms or 2s, got '-1ms'",
    ),
    ("p95() < 1ms", "--threshold: 'p95() < 1ms': expected an endpoint name or * inside p95(...), got ''"),
    (
        "rate_limit(login) < effective",
        "--threshold: 'rate_limit(login) < effective': rate_limit compares with == or !=, got '<'",
    ),
    (
        "rate_limit(login) == fine",
        "--threshold: 'rate_limit(login) == fine': expected one of: effective, leaky, bypassable, absent, "
        "untested; got 'fine'",
    ),
    (
        "spend_per_day(chat) < 5usd",
        "--threshold: 'spend_per_day(chat) < 5usd': spend_per_day takes one of: legit, abuse, abuse_ceiling, "
        "legit_at_scenario_traffic; got 'chat'",
    ),
    ("run_cost(*) < 5usd", "--threshold: 'run_cost(*) < 5usd': run_cost takes one of: legit, abuse; got '*'"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_a_bad_threshold_is_one_exact_line(text, message):
    with pytest.raises(ThresholdError) as info:
        parse_threshold(text, "--threshold")
    assert str(info.value) == message


def test_check_targets_names_the_unknown_endpoint_and_the_llm_ones():
    names = ["chat", "login", "me"]
    check_targets(
        [
            parse_threshold(t, "x")
            for t in ("p95(*) < 1s", "spend_per_day(legit) < 1usd", "ttft_p95(chat) < 2s", "p95(chat) < 9s")
        ],
        names,
        streaming=["chat"],
    )
    with pytest.raises(ThresholdError) as info:
        check_targets([parse_threshold("p95(logn) < 1s", "x")], names, where="s.toml: thresholds[2]")
    assert str(info.value) == (
        "s.toml: thresholds[2]: p95(logn) < 1s: unknown endpoint 'logn' (expected one of: chat, login, me, or *)"
    )
    with pytest.raises(ThresholdError) as info:
        check_targets([parse_threshold("ttft_p95(me) < 1s", "x")], names, streaming=["chat"], where="--threshold")
    assert str(info.value) == (
        "--threshold: ttft_p95(me) < 1s: ttft_p95 needs a streamed (LLM) endpoint, "
        "'me' is not one (LLM endpoints: chat)"
    )


def test_command_line_thresholds_carry_their_option_and_abort_flag():
    extra = from_options(["p99(*) < 1s"], ["error_rate(*) < 5%"], ["login", "me"])
    assert [(t.expr, t.abort, t.origin) for t in extra] == [
        ("p99(*) < 1s", False, "cli"),
        ("error_rate(*) < 5%", True, "cli"),
    ]
    with pytest.raises(ThresholdError, match=r"^--abort-on-fail: p95\(nope\) < 1s: unknown endpoint 'nope'"):
        from_options([], ["p95(nope) < 1s"], ["login"])
    with pytest.raises(ThresholdError, match=r"^--threshold: unknown metric 'p9'"):
        from_options(["p9(login) < 1s"], [], ["login"])


def test_a_record_in_run_json_gives_back_the_same_threshold():
    t = parse_threshold("error_rate(*) < 1%", "x", abort=True, grace_s=5.0, origin="cli")
    assert t.record() == {"expr": "error_rate(*) < 1%", "abort": True, "grace_s": 5.0, "origin": "cli"}
    assert from_record(t.record(), "run.json thresholds[0]") == t
    with pytest.raises(ThresholdError, match=r"^run.json thresholds\[1\]: expected METRIC"):
        from_record({"expr": "nonsense"}, "run.json thresholds[1]")


# --- defaults and merging ---------------------------------------------------------------------


def test_defaults_are_todays_p95_targets_and_a_one_percent_error_rate():
    defaults = default_thresholds({"me": 300.0, "login": 500.0, "chat": None, "slow": 1234.5})
    assert [t.expr for t in defaults] == [
        "p95(login) < 500ms",
        "p95(me) < 300ms",
        "p95(slow) < 1234.5ms",
        "error_rate(*) < 1%",
    ]
    assert all(t.origin == "default" and t.op == "<" for t in defaults)
    # the text says exactly what is judged: parsing it back gives the same rule
    assert [parse_threshold(t.expr, "x", origin="default") for t in defaults] == defaults
    assert [t.expr for t in default_thresholds({}, 0.005)] == ["error_rate(*) < 0.5%"]
    assert default_thresholds({}, 0.07)[0].limit == 0.07
    assert default_thresholds({}, 1.0) == default_thresholds({}, None) == []  # 100 %: off


def test_the_default_error_rate_fails_a_chatbot_whose_every_reply_fails():
    # every streamed chat reply broke, every other route fine: no latency default covers chat
    summary = copy.deepcopy(SUMMARY)
    summary["endpoints"]["chat"].update(errors=50, error_rate=1.0, legit_errors=50, legit_error_rate=1.0)
    rows = evaluate(default_thresholds({"login": 1000.0, "me": 1000.0, "chat": None}), summary)
    failed = [(r["expr"], r["observed"]) for r in rows if not r["passed"]]
    assert failed == [("error_rate(chat) < 1%", 1.0), ("error_rate(me) < 1%", 0.03)]
    assert all(r["origin"] == "default" for r in rows)


def test_an_explicit_error_rate_takes_its_endpoint_out_of_the_default():
    defaults = default_thresholds({"me": 500.0})
    me = parse_threshold("error_rate(me) < 5%", "x")
    merged = merge(defaults, [me])
    assert [(t.expr, t.skip) for t in merged] == [
        ("p95(me) < 500ms", ()),
        ("error_rate(*) < 1%", ("me",)),
        ("error_rate(me) < 5%", ()),
    ]
    rows = evaluate(merged, SUMMARY)
    assert [(r["expr"], r["passed"]) for r in rows if r["metric"] == "error_rate"] == [
        ("error_rate(chat) < 1%", True),
        ("error_rate(login) < 1%", True),
        ("error_rate(reset) < 1%", True),
        ("error_rate(me) < 5%", True),
    ]  # me is judged once, by its own rule
    # the skip list survives run.json, and a command-line rule narrows it further
    again = [from_record(t.record(), "run.json") for t in merged]
    assert again == merged and merged[1].record()["skip"] == ["me"]
    cli = parse_threshold("error_rate(login) < 2%", "x", origin="cli")
    assert merge(again, [cli])[1].skip == ("login", "me")
    # an explicit error_rate(*) replaces the default outright, whatever its limit
    star = parse_threshold("error_rate(*) < 10%", "x", abort=True)
    assert [t.expr for t in merge(defaults, [star])] == ["p95(me) < 500ms", "error_rate(*) < 10%"]


def test_an_explicit_p95_replaces_that_endpoints_default_only():
    defaults = default_thresholds({"login": 500.0, "me": 500.0, "chat": 4000.0}, error_rate=None)
    login = parse_threshold("p95(login) < 300ms", "x")
    p99 = parse_threshold("p99(me) < 1s", "x")
    merged = merge(defaults, [login, p99], streaming=["chat"])
    assert [t.expr for t in merged] == ["p95(chat) < 4000ms", "p95(me) < 500ms", "p95(login) < 300ms", "p99(me) < 1s"]
    # p95(*) covers the non-streamed routes: a streamed route keeps its own latency_target_ms
    everything = parse_threshold("p95(*) < 800ms", "x")
    assert [t.expr for t in merge(defaults, [everything], streaming=["chat"])] == [
        "p95(chat) < 4000ms",
        "p95(*) < 800ms",
    ]
    # only defaults are replaced: a command-line p95 adds to the scenario's own
    cli = parse_threshold("p95(login) < 250ms", "x", origin="cli")
    assert [t.expr for t in merge(merged, [cli, cli])] == [
        "p95(chat) < 4000ms",
        "p95(me) < 500ms",
        "p95(login) < 300ms",
        "p99(me) < 1s",
        "p95(login) < 250ms",
    ]


# --- judging ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, observed, passed",
    [
        ("p95(login) < 500ms", 612.3, False),
        ("p95(login) < 700ms", 612.3, True),
        ("p95(login) < 612.3ms", 612.3, False),  # strict: at the limit is not below it
        ("p95(login) <= 612.3ms", 612.3, True),
        ("p95(login) > 0.6s", 612.3, True),
        ("p50(login) < 200", 210.0, False),
        ("p999(login) < 1s", 990.0, True),
        ("max(login) < 1s", 1000.0, False),
        ("max(login) <= 1s", 1000.0, True),
        ("mean(login) < 300ms", 250.5, True),
        ("p95(chat) < 5s", 3900.0, True),  # explicit: a streamed route can have a latency threshold
        ("error_rate(me) < 1%", 0.03, False),
        ("error_rate(me) < 0.05", 0.03, True),
        ("error_rate(login) == 0%", 0.0, True),  # legit requests only: the attack's failure is not in it
        ("error_rate(reset) == 0%", 0.0, True),  # blocked is not failed
        ("ttft_p95(chat) < 2s", 1850.0, True),
        ("ttft_p95(chat) < 1.8s", 1850.0, False),
        ("ttft_p99(chat) < 2400ms", 2400.0, False),
        ("tpot_p50(chat) < 25ms", 21.0, True),
        ("rate_limit(login) == effective", "effective", True),
        ("rate_limit(chat) == effective", "leaky", False),
        ("rate_limit(chat) != effective", "leaky", True),
        ("spend_per_day(abuse) < 50usd", 61.2, False),
        ("spend_per_day(legit) < 50usd", 34.56, True),
        ("spend_per_day(abuse_ceiling) <= 900usd", 900.0, True),
        ("run_cost(legit) < 1usd", 0.0122, True),
        ("run_cost(abuse) < 0.01usd", 0.0148, False),
        ("worst_request(chat) < 0.05usd", 0.0731, False),
        ("worst_request(chat) < 0.1usd", 0.0731, True),
    ],
)
def test_every_form_passes_and_fails_on_known_figures(text, observed, passed):
    row = one(text)
    assert row["observed"] == observed
    assert row["passed"] is passed and row["judged"] is True and row["note"] is None


def test_a_row_carries_everything_a_report_needs():
    row = one("p95(login) < 500ms")
    assert row == {
        "expr": "p95(login) < 500ms",
        "metric": "p95",
        "endpoint": "login",
        "target": "login",
        "op": "<",
        "limit": 500,
        "unit": "ms",
        "observed": 612.3,
        "passed": False,
        "judged": True,
        "abort": False,
        "origin": "scenario",
        "samples": 170,
        "note": None,
    }
    assert one("ttft_p95(chat) < 2s")["samples"] == 48  # the successful streams behind the figure
    assert one("error_rate(me) < 1%")["samples"] == 100  # every legit request counts in an error rate
    assert one("rate_limit(login) == effective")["samples"] is None
    money = one("spend_per_day(abuse) < 50usd")
    assert money["endpoint"] is None and money["target"] == "abuse" and money["limit"] == 50


def test_star_expands_to_the_endpoints_the_metric_applies_to():
    # latency: non-LLM endpoints that legit traffic called (not chat, not the never-called history)
    rows = judge("p99(*) < 0.5s")
    assert [(r["expr"], r["observed"], r["passed"]) for r in rows] == [
        ("p99(login) < 0.5s", 880.0, False),
        ("p99(me) < 0.5s", 60.0, True),
        ("p99(reset) < 0.5s", None, False),
    ]  # requested, but every response blocked: nothing to measure
    assert rows[2]["note"] == "no legit successful responses on this endpoint: nothing to measure"
    # error rate: every endpoint legit traffic called, streamed ones included (not the attacked-only admin)
    rows = judge("error_rate(*) < 1%")
    assert [(r["endpoint"], r["passed"]) for r in rows] == [
        ("chat", True),
        ("login", True),
        ("me", False),
        ("reset", True),
    ]
    # LLM metrics: the LLM routes; rate_limit: every route in rate_limits; worst_request: the probe's route
    assert [r["expr"] for r in judge("ttft_p95(*) < 2s")] == ["ttft_p95(chat) < 2s"]
    assert [(r["endpoint"], r["passed"]) for r in judge("rate_limit(*) == effective")] == [
        ("login", True),
        ("chat", False),
    ]
    assert [r["expr"] for r in judge("worst_request(*) < 1usd")] == ["worst_request(chat) < 1usd"]


def test_what_cannot_be_judged_passes_with_a_note():
    cases = {
        "p95(history) < 500ms": "not called by legit traffic: not judged",
        "error_rate(history) < 1%": "not called by legit traffic: not judged",
        "error_rate(admin) < 1%": "not called by legit traffic: not judged",  # attack failures are not legit ones
        "rate_limit(me) == effective": "no rate-limit figures for this route (no declared limit, not probed): not judged",
        "spend_per_day(legit_at_scenario_traffic) < 5usd": "not computable for this run: not judged",
        "worst_request(login) < 1usd": "the denial-of-wallet probe ran on chat, not login: not judged",
    }
    for text, note in cases.items():
        row = one(text)
        assert (row["passed"], row["judged"], row["note"], row["observed"]) == (True, False, note, None), text
    bare = {"run": {}, "endpoints": copy.deepcopy(SUMMARY["endpoints"])}  # no llm, spend or probe figures
    assert one("ttft_p95(*) < 2s", bare)["note"] == "no endpoint in this run to apply it to: not judged"
    assert one("ttft_p95(*) < 2s", bare)["endpoint"] == "*"
    assert one("run_cost(legit) < 1usd", bare)["note"] == "no spend figures in this run: not judged"
    assert one("worst_request(chat) < 1usd", bare)["note"] == "no spend figures in this run: not judged"
    # an LLM route that the summary knows only from run.json (llm not added yet): not judged
    streamed = {**bare, "run": {"streaming_endpoints": {"chat": "sse-openai"}}}
    assert one("ttft_p95(*) < 2s", streamed)["note"] == "no legit replies on this LLM route: not judged"
    # a figure that is missing although the route was served fails: there was something to measure
    row = one("itl_p99(chat) < 100ms")
    assert row["passed"] is False and row["judged"] is True and row["note"] == "nothing to measure"


def test_abort_and_origin_are_kept_on_every_expanded_row():
    t = Threshold("error_rate(*) < 1%", "error_rate", "*", "<", 0.01, "ratio", abort=True, grace_s=3.0, origin="cli")
    rows = evaluate([t], SUMMARY)
    assert len(rows) == 4 and all(r["abort"] is True and r["origin"] == "cli" for r in rows)


def test_a_percentage_is_the_ratio_it_reads_as():
    # 35 × 0.01 is 0.35000000000000003: 35 % would then pass an error rate of exactly 0.35
    assert parse_threshold("error_rate(me) < 35%", "x").limit == 0.35
    summary = {"endpoints": {"me": {"requests": 100, "legit_requests": 100, "legit_error_rate": 0.35}}}
    assert one("error_rate(me) < 35%", summary)["passed"] is False


def test_latency_from_the_intended_start_in_an_open_model_run():
    summary = {
        **SUMMARY,
        "open_model": {
            "latency": {
                "login": {
                    "samples": 170,
                    "p50_from_intended_ms": 230.0,
                    "p95_from_intended_ms": 1480.0,
                    "p99_from_intended_ms": 2100.0,
                },
                "me": {"samples": 97, "p95_from_intended_ms": 52.0},
            }
        },
    }
    row = one("p95_intended(login) < 500ms", summary)
    assert (row["observed"], row["passed"], row["samples"]) == (1480.0, False, 170)  # the queue counts
    assert one("p95(login) < 700ms", summary)["passed"] is True  # from the send it looked fine
    assert [(r["target"], r["passed"]) for r in judge("p95_intended(*) < 1s", summary)] == [
        ("login", False),
        ("me", True),
    ]
    closed = one("p99_intended(login) < 1s")
    assert closed["judged"] is False and "not an open-model run" in closed["note"]
