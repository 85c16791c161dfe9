"""Figures from hand-built samples whose right answers are known."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from harness.analysis.run import judge_thresholds, run_thresholds
from harness.analysis.run import summarize as one_pass
from harness.analysis.summary import grouped_percentiles, per_second, percentile, run_window
from harness.documents import Reason, RunMeta
from harness.samples import DEFAULTS, SCHEMA


def summarize(samples: pd.DataFrame, run: dict) -> dict:
    """summary.json as written, from `harness.analysis.run.summarize` (every section, one pass)."""
    return one_pass(samples, run).to_dict()


T0 = 1_796_000_000.0


def frame(**columns) -> pd.DataFrame:
    """Samples with the dtypes `read_samples` gives; unspecified columns take their defaults."""
    n = len(columns["start_s"])
    full = {name: list(columns.get(name, [DEFAULTS[name]] * n)) for name in SCHEMA.names}
    return pa.Table.from_pydict(full, schema=SCHEMA).to_pandas()


def legit(endpoint: str, latencies, start: float = T0 + 1) -> pd.DataFrame:
    n = len(latencies)
    return frame(start_s=[start] * n, endpoint=[endpoint] * n, status=[200] * n, latency_ms=list(map(float, latencies)))


def run(**overrides) -> dict:
    base = {
        "id": "20261130-190000-smoke",
        "scenario": "smoke",
        "host": "http://127.0.0.1:8123",
        "started_at": T0,
        "ended_at": T0 + 10,
        "workers": 2,
        "locust_version": "2.47.0",
        "harness_version": "0.1.0",
        "aborted": False,
        "targets": {"login": 500},
    }
    return {**base, **overrides}


def p95_rows(summary: dict) -> list[dict]:
    """The latency rows of the judged thresholds (the default error rate aside)."""
    return [t for t in summary["thresholds"] if t["metric"] == "p95"]


def nearest_rank(values, q: str) -> float:
    """The textbook definition, with exact rational arithmetic."""
    ordered = sorted(values)
    rank = max(1, math.ceil(Fraction(q) * len(ordered)))
    return ordered[rank - 1]


# --- percentile ---------------------------------------------------------------------------


def test_percentile_of_1_to_1000_is_the_nearest_rank():
    values = np.arange(1, 1001, dtype=float)
    assert percentile(values, 0.50) == 500
    assert percentile(values, 0.95) == 950
    assert percentile(values, 0.99) == 990
    assert percentile(values, 0.999) == 999  # numpy's inverted_cdf says 1000 here (float error)
    assert percentile(values, 1.0) == 1000
    assert percentile(values, 0.0) == 1


def test_percentile_matches_hand_computed_rank_on_random_arrays():
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 19, 100, 1001, 4096):
        values = rng.lognormal(5, 1, n)
        shuffled = rng.permutation(values)
        for q in ("0.5", "0.9", "0.95", "0.99", "0.999"):
            assert percentile(shuffled, float(q)) == nearest_rank(values.tolist(), q), (n, q)


def test_percentile_is_an_observed_value_not_an_interpolation():
    assert percentile([10.0, 20.0], 0.5) == 10.0
    assert percentile([10.0, 20.0], 0.51) == 20.0
    assert percentile([10.0, 20.0, 1000.0], 0.95) == 1000.0


def test_percentile_of_nothing_is_nan_and_nans_are_ignored():
    assert math.isnan(percentile(np.array([]), 0.95))
    assert math.isnan(percentile([math.nan, math.nan], 0.95))
    assert percentile([math.nan, 3.0, 1.0, 2.0], 0.5) == 2.0


def test_percentile_rejects_q_given_as_percent():
    with pytest.raises(ValueError):
        percentile([1.0], 95)


def test_grouped_percentiles_equal_the_single_array_ones():
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 4, 5000)
    values = rng.exponential(100, 5000)
    values[::97] = np.nan
    qs = [0.5, 0.95, 0.99, 0.999, 1.0]
    result = grouped_percentiles(codes, values, 5, qs)
    for g in range(4):
        for i, q in enumerate(qs):
            assert result[i, g] == percentile(values[codes == g], q)
    assert np.isnan(result[:, 4]).all()  # group 4 has no values


def locust_round(ms: float) -> float:
    """How Locust stores a response time: 100-1000 ms to 10 ms, above to 100 ms."""
    if ms < 100:
        return round(ms)
    if ms < 1000:
        return round(ms, -1)
    return round(ms, -2)


def test_exact_p95_keeps_a_verdict_that_locust_rounding_would_flip():
    # 1000 legit logins: 950th smallest is 496 ms, so the exact p95 passes "< 500 ms".
    latencies = [300.0] * 900 + [496.0] * 50 + [800.0] * 50
    summary = summarize(legit("login", latencies), run())
    assert summary["endpoints"]["login"]["p95_ms"] == 496.0
    (threshold,) = p95_rows(summary)
    assert threshold["observed"] == 496.0 and threshold["passed"] is True
    assert summary["verdict"] == "pass"
    # Locust's bucket for 496 is 500, and 500 < 500 is false: a wrong FAIL.
    rounded = sorted(locust_round(v) for v in latencies)
    assert nearest_rank(rounded, "0.95") == 500.0


# --- classification -----------------------------------------------------------------------


def mixed() -> pd.DataFrame:
    """login: 10 legit ok (10..100 ms), 3 legit blocked 429s (1 ms), 2 errors (500 and no
    response), 4 attack rows that got through (9000 ms); me: 2 legit ok."""
    rows = (
        [("login", 200, 10.0 * (i + 1), "legit", False, "") for i in range(10)]
        + [("login", 429, 1.0, "legit", True, "")] * 3
        + [("login", 500, 5000.0, "legit", False, "HTTPStatusError: 500")]
        + [("login", 0, math.nan, "legit", False, "")]
        + [("login", 200, 9000.0, "credential_stuffing", False, "")] * 4
        + [("login", 429, 2.0, "credential_stuffing", True, "")] * 2
        + [("me", 200, 40.0, "legit", False, ""), ("me", 200, 60.0, "legit", False, "")]
    )
    endpoint, status, latency, role, blocked, error = map(list, zip(*rows))
    n = len(rows)
    return frame(
        start_s=[T0 + 0.5 + i * 0.1 for i in range(n)],
        endpoint=endpoint,
        status=status,
        latency_ms=latency,
        role=role,
        blocked=blocked,
        error=error,
    )


def test_blocked_errors_and_attack_rows_are_counted_but_kept_out_of_latency():
    login = summarize(mixed(), run())["endpoints"]["login"]
    assert login["requests"] == 21
    assert login["blocked"] == 5
    assert login["errors"] == 2
    assert login["ok"] == 14  # 10 legit + 4 attack
    assert login["latency_samples"] == 10
    assert login["p50_ms"] == 50.0
    assert login["p95_ms"] == 100.0
    assert login["max_ms"] == 100.0
    assert login["mean_ms"] == 55.0
    assert login["blocked_p50_ms"] == 1.0
    assert login["blocked_p95_ms"] == 2.0
    assert login["error_rate"] == round(2 / 21, 6)
    assert login["status_counts"] == {"0": 1, "200": 14, "429": 5, "500": 1}
    assert login["error_counts"] == {"HTTPStatusError: 500": 1, "no response (status 0)": 1}


def test_totals_rps_and_sorted_endpoints():
    summary = summarize(mixed(), run())
    assert list(summary["endpoints"]) == ["login", "me"]
    assert summary["totals"] == {
        "requests": 23,
        "ok": 16,
        "blocked": 5,
        "errors": 2,
        "error_rate": round(2 / 23, 6),
        "rps": 2.3,
    }
    assert summary["endpoints"]["me"]["rps"] == 0.2


def test_ttft_and_ttfb_figures_only_where_there_are_values():
    samples = legit("chat", [1000.0, 2000.0])
    samples["ttft_ms"] = [150.0, 250.0]
    samples = pd.concat([samples, legit("me", [5.0])], ignore_index=True)
    endpoints = summarize(samples, run(targets={}))["endpoints"]
    assert endpoints["chat"]["ttft_p50_ms"] == 150.0
    assert endpoints["chat"]["ttft_p95_ms"] == 250.0
    assert "ttfb_p50_ms" not in endpoints["chat"]
    assert "ttft_p50_ms" not in endpoints["me"]


def test_error_counts_keep_the_ten_most_frequent():
    reasons = [f"E{i}" for i in range(12) for _ in range(i + 1)]
    n = len(reasons)
    samples = frame(start_s=[T0] * n, endpoint=["me"] * n, status=[500] * n, latency_ms=[1.0] * n, error=reasons)
    counts = summarize(samples, run())["endpoints"]["me"]["error_counts"]
    assert list(counts) == [f"E{i}" for i in range(11, 1, -1)]
    assert counts["E11"] == 12


# --- thresholds and verdict ---------------------------------------------------------------


def test_threshold_fails_when_p95_is_not_strictly_below_the_target():
    summary = summarize(legit("login", [100.0] * 94 + [500.0] * 6), run())
    (threshold,) = p95_rows(summary)
    assert threshold == {
        "expr": "p95(login) < 500ms",
        "metric": "p95",
        "endpoint": "login",
        "target": "login",
        "op": "<",
        "limit": 500,
        "unit": "ms",
        "observed": 500.0,
        "passed": False,
        "judged": True,
        "abort": False,
        "origin": "default",
        "samples": 100,
        "note": None,
    }
    assert summary["verdict"] == "fail"
    assert summary["verdict_reasons"] == ["threshold failed: p95(login) < 500ms"]


def test_null_targets_make_no_threshold_and_every_threshold_must_pass():
    samples = pd.concat(
        [legit("login", [100.0] * 20), legit("me", [700.0] * 20), legit("chat", [3000.0] * 5)], ignore_index=True
    )
    summary = summarize(samples, run(targets={"login": 500, "me": 800, "chat": None}))
    assert [t["endpoint"] for t in p95_rows(summary)] == ["login", "me"]
    assert all(t["passed"] for t in summary["thresholds"])
    assert summary["verdict"] == "pass"
    assert summary["endpoints"]["chat"]["target_p95_ms"] is None
    summary = summarize(samples, run(targets={"login": 500, "me": 600}))
    assert [t["passed"] for t in p95_rows(summary)] == [True, False]
    assert summary["verdict"] == "fail"


def test_a_target_without_latency_samples_fails_with_a_note_and_json_has_no_nan():
    blocked_only = frame(
        start_s=[T0 + 1] * 3, endpoint=["login"] * 3, status=[429] * 3, latency_ms=[1.0] * 3, blocked=[True] * 3
    )
    summary = summarize(blocked_only, run(targets={"login": 500, "history": 500}))
    # requested but nothing measurable: the threshold fails; never requested: noted, not judged
    history, login = p95_rows(summary)
    assert login["endpoint"] == "login" and login["samples"] == 0
    assert login["observed"] is None and login["passed"] is False
    assert login["note"] == "no legit successful responses on this endpoint: nothing to measure"
    assert history["passed"] is True and history["judged"] is False
    assert history["note"] == "not called by legit traffic: not judged"
    assert summary["verdict"] == "fail"
    assert summary["verdict_reasons"][0] == "threshold failed: p95(login) < 500ms"
    assert "thresholds not judged (nothing to measure, see each one's note): p95(history) < 500ms" in summary["notes"]
    assert summary["endpoints"]["history"]["requests"] == 0  # a target is listed even unrequested
    assert summary["endpoints"]["login"]["p95_ms"] is None
    text = json.dumps(summary, allow_nan=False)  # raises on NaN
    assert "NaN" not in text


def test_run_json_thresholds_replace_the_targets_and_are_judged_once():
    samples = pd.concat([legit("login", [100.0] * 90 + [350.0] * 10), legit("me", [20.0] * 50)], ignore_index=True)
    samples.loc[samples.index[-1], ["status", "error"]] = [500, "HTTP 500"]  # one "me" error in 50: 2 %
    thresholds = [
        {"expr": "p95(login) < 300ms", "abort": False, "grace_s": 10.0, "origin": "scenario"},
        {"expr": "error_rate(*) < 1%", "abort": True, "grace_s": 5.0, "origin": "cli"},
        {"expr": "p95(me) < 500ms", "abort": False, "grace_s": 10.0, "origin": "default"},
    ]
    summary = summarize(samples, run(targets={"login": 500, "me": 500}, thresholds=thresholds))
    rows = [(t["expr"], t["observed"], t["passed"], t["abort"], t["origin"]) for t in summary["thresholds"]]
    assert rows == [
        ("p95(login) < 300ms", 350.0, False, False, "scenario"),
        ("error_rate(login) < 1%", 0.0, True, True, "cli"),
        ("error_rate(me) < 1%", 0.02, False, True, "cli"),
        ("p95(me) < 500ms", 20.0, True, False, "default"),
    ]
    assert summary["verdict_reasons"] == [
        "threshold failed: p95(login) < 300ms",
        "threshold failed: error_rate(me) < 1%",
    ]
    # the table and plots show the p95 limit actually judged, not run.json's default target
    assert summary["endpoints"]["login"]["target_p95_ms"] == 300
    # judged once, on the whole summary: the same rules judged again give the same rows
    typed = one_pass(samples, run(targets={"login": 500, "me": 500}, thresholds=thresholds))
    meta = RunMeta.load(run(thresholds=thresholds))[0]
    assert judge_thresholds(typed, meta)[0] == typed.thresholds
    assert [t.expr for t in run_thresholds(meta)[0]] == ["p95(login) < 300ms", "error_rate(*) < 1%", "p95(me) < 500ms"]
    # each failed row is one structured reason, of kind threshold, naming its route
    assert typed.reasons == [
        Reason(kind="threshold", route="login", message="threshold failed: p95(login) < 300ms"),
        Reason(kind="threshold", route="me", message="threshold failed: error_rate(me) < 1%"),
    ]


def test_an_unreadable_threshold_in_run_json_fails_rather_than_passing():
    broken = [{"expr": "p95(login) < 5 parsecs"}, "not a table"]
    summary = summarize(legit("login", [100.0] * 10), run(thresholds=broken))
    first, second = summary["thresholds"]
    assert first["passed"] is False and first["expr"] == "p95(login) < 5 parsecs"
    assert first["note"].startswith("run.json thresholds[0]: 'p95(login) < 5 parsecs': p95 is measured in ms")
    assert second["note"] == "run.json thresholds[1]: expected a table with expr, got 'not a table'"
    assert summary["verdict"] == "fail" and len(summary["verdict_reasons"]) == 2


def test_an_empty_threshold_list_in_run_json_means_none_at_all():
    summary = summarize(legit("login", [900.0] * 10), run(thresholds=[]))
    assert summary["thresholds"] == [] and summary["verdict"] == "pass"
    assert "no thresholds: the verdict rests on the run being complete only" in summary["notes"]


def test_floats_are_rounded_to_three_decimals():
    summary = summarize(legit("me", [1.23456, 2.34567]), run(targets={}))
    assert summary["endpoints"]["me"]["p50_ms"] == 1.235
    assert summary["endpoints"]["me"]["max_ms"] == 2.346


def test_run_section_and_a_clean_run_without_targets_passes():
    summary = summarize(legit("me", [5.0]), run(targets={}, planned_duration_s=30, lost_workers=[]))
    section = summary["run"]
    assert section["started_at"] == "2026-11-30T00:53:20+00:00"
    assert section["duration_s"] == 10.0
    assert section["requests"] == 1
    assert section["planned_duration_s"] == 30
    assert section["workers"] == 2 and section["aborted"] is False
    assert summary["verdict"] == "pass"


def test_killed_run_uses_the_last_sample_end_and_fails():
    samples = frame(start_s=[T0 + 1, T0 + 4], endpoint=["me", "me"], status=[200, 200], latency_ms=[100.0, 500.0])
    killed = run(ended_at=None, targets={})
    assert run_window(samples, killed) == (T0, T0 + 4.5)
    summary = summarize(samples, killed)
    assert summary["run"]["duration_s"] == 4.5
    assert summary["verdict"] == "fail"
    assert any("no end time" in r for r in summary["verdict_reasons"])


def test_missing_run_information_and_no_samples():
    empty = frame(start_s=[])
    summary = summarize(empty, {})
    assert summary["verdict"] == "fail"
    assert any("no samples" in r for r in summary["verdict_reasons"])
    assert summary["endpoints"] == {} and summary["totals"]["requests"] == 0
    assert summary["run"]["duration_s"] is None and summary["totals"]["rps"] is None
    json.dumps(summary, allow_nan=False)
    # no run.json at all: the samples give the window
    summary = summarize(legit("me", [1000.0], start=T0 + 2), {})
    assert summary["run"]["duration_s"] == 1.0


def test_aborted_run_fails_with_its_reason():
    summary = summarize(legit("login", [100.0]), run(aborted=True, abort_reason="spend cap"))
    assert summary["verdict"] == "fail"
    assert "run aborted: spend cap" in summary["verdict_reasons"]


def test_lost_workers_and_locust_count_mismatch_are_noted():
    summary = summarize(
        legit("me", [1.0, 2.0]), run(targets={}, lost_workers=["w3"], locust_totals={"requests": 5, "failures": 0})
    )
    assert summary["verdict"] == "pass"
    assert any("w3" in n for n in summary["notes"])
    assert any("Locust counted 5" in n for n in summary["notes"])


# --- per second ---------------------------------------------------------------------------


def test_per_second_on_a_hand_built_schedule():
    rows = [
        # second 0: login 10, 20, 30 ms ok; one legit 429 and one attack row
        (0.1, "login", 200, 10.0, "legit", False, ""),
        (0.5, "login", 200, 30.0, "legit", False, ""),
        (0.9, "login", 200, 20.0, "legit", False, ""),
        (0.95, "login", 429, 1.0, "legit", True, ""),
        (0.99, "login", 200, 900.0, "stuffing", False, ""),
        # second 1: me 2 ok, one 302
        (1.0, "me", 200, 5.0, "legit", False, ""),
        (1.7, "me", 302, 7.0, "legit", False, ""),
        # second 2: nothing; second 3: login, no response, and a 503 error
        (3.2, "login", 0, math.nan, "legit", False, "ConnectError"),
        (3.4, "login", 503, 50.0, "legit", False, "HTTPStatusError: 503"),
        # before t0 (a skewed clock): counted in second 0
        (-0.2, "me", 200, 9.0, "legit", False, ""),
    ]
    start, endpoint, status, latency, role, blocked, error = map(list, zip(*rows))
    samples = frame(
        start_s=[T0 + s for s in start],
        endpoint=endpoint,
        status=status,
        latency_ms=latency,
        role=role,
        blocked=blocked,
        error=error,
    )
    series = per_second(samples, T0)
    assert list(series.columns) == [
        "second",
        "endpoint",
        "requests",
        "ok",
        "blocked",
        "errors",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "s2xx",
        "s3xx",
        "s4xx",
        "s5xx",
        "s0",
        "s429",
    ]
    got = {(int(r.second), r.endpoint): r for r in series.itertuples()}
    assert sorted(got) == [(0, "login"), (0, "me"), (1, "me"), (3, "login")]
    login0 = got[(0, "login")]
    assert (login0.requests, login0.ok, login0.blocked, login0.errors) == (5, 4, 1, 0)
    assert (login0.p50_ms, login0.p95_ms, login0.p99_ms) == (20.0, 30.0, 30.0)
    assert (login0.s2xx, login0.s4xx, login0.s429, login0.s0) == (4, 1, 1, 0)
    me1 = got[(1, "me")]
    assert (me1.requests, me1.ok, me1.s2xx, me1.s3xx) == (2, 2, 1, 1)
    assert (me1.p50_ms, me1.p99_ms) == (5.0, 7.0)
    login3 = got[(3, "login")]
    assert (login3.requests, login3.errors, login3.s0, login3.s5xx) == (2, 2, 1, 1)
    assert math.isnan(login3.p95_ms)
    assert got[(0, "me")].requests == 1


def test_per_second_of_nothing_is_an_empty_frame_with_the_columns():
    series = per_second(frame(start_s=[]), T0)
    assert series.empty and "p95_ms" in series.columns and "s0" in series.columns
    assert per_second(legit("me", [1.0]), math.nan).empty


# --- how far the percentiles can be trusted ------------------------------------------------


def test_p95_interval_and_sample_warnings_per_endpoint():
    # login: 100 legit latencies 1..100 ms (ranks 90 and 100 bound the p95); me: 30, too few
    samples = pd.concat(
        [legit("login", np.random.default_rng(5).permutation(np.arange(1, 101))), legit("me", range(1, 31))],
        ignore_index=True,
    )
    summary = summarize(samples, run(targets={"login": 500, "me": 500}))
    login, me = summary["endpoints"]["login"], summary["endpoints"]["me"]
    assert login["latency_samples"] == 100 and login["p95_ms"] == 95.0
    assert login["p95_ci_ms"] == [90.0, 100.0]
    assert me["p95_ci_ms"] is None  # below 72 samples there is no two-sided interval
    assert [w.split(":")[0] for w in login["warnings"]] == [
        "p95 from 100 samples",
        "p99 from 100 samples",
        "p99.9 from 100 samples",
    ]
    assert "so it is the 6th slowest request" in login["warnings"][0]
    assert me["warnings"][1].startswith("p99 from 30 samples") and "it is the slowest request" in me["warnings"][1]
    (note,) = [n for n in summary["notes"] if n.startswith("few latency samples")]
    assert "login 100, me 30;" in note
    assert summary["verdict"] == "pass"  # a caveat, not a failure


def test_p95_interval_on_many_samples_is_narrow_and_silent():
    latencies = np.random.default_rng(8).lognormal(5, 0.5, 20_000)
    summary = summarize(legit("login", latencies), run())
    login = summary["endpoints"]["login"]
    low, high = login["p95_ci_ms"]
    assert low < login["p95_ms"] < high and (high - low) / login["p95_ms"] < 0.06
    ordered = np.sort(latencies)
    assert low == round(ordered[18_939 - 1], 3) and high == round(ordered[19_061 - 1], 3)
    assert login["warnings"] == []
    assert not any(n.startswith("few latency samples") for n in summary["notes"])


def test_no_latency_samples_means_no_interval_and_no_warning():
    summary = summarize(mixed(), run())
    assert summary["endpoints"]["login"]["p95_ci_ms"] is None
    assert json.dumps(summary)  # still plain JSON
    empty = summarize(frame(start_s=[]), run())
    assert empty["endpoints"]["login"]["warnings"] == [] and empty["endpoints"]["login"]["p95_ci_ms"] is None


# --- failures no latency shows: a broken chat, a journey that never arrives, task exceptions ---


def test_a_chatbot_whose_every_stream_fails_fails_the_default_error_rate():
    # 40 good logins and conversations, 20 chat turns that all broke mid-stream: no latency target on chat
    broken = frame(
        start_s=[T0 + 1] * 20,
        endpoint=["chat"] * 20,
        status=[200] * 20,
        latency_ms=[900.0] * 20,
        error=["stream: ended without [DONE]"] * 20,
    )
    samples = pd.concat([legit("login", [50.0] * 40), legit("conversations", [30.0] * 40), broken], ignore_index=True)
    summary = summarize(samples, run(targets={"login": 500, "conversations": 500, "chat": None}))
    assert summary["endpoints"]["chat"]["legit_error_rate"] == 1.0
    assert summary["verdict"] == "fail"
    assert summary["verdict_reasons"] == ["threshold failed: error_rate(chat) < 1%"]
    assert [(t["expr"], t["passed"]) for t in summary["thresholds"] if t["metric"] == "error_rate"] == [
        ("error_rate(chat) < 1%", False),
        ("error_rate(conversations) < 1%", True),
        ("error_rate(login) < 1%", True),
    ]


def test_blocked_and_attack_rows_are_not_legit_failures():
    # login: 15 legit (3 blocked, 2 failed), 6 attack rows; me: 2 legit ok
    login = summarize(mixed(), run())["endpoints"]["login"]
    assert (login["legit_requests"], login["legit_blocked"], login["legit_errors"]) == (15, 3, 2)
    assert login["legit_error_rate"] == round(2 / 15, 6)
    blocked_only = frame(
        start_s=[T0 + 1] * 10, endpoint=["me"] * 10, status=[429] * 10, latency_ms=[1.0] * 10, blocked=[True] * 10
    )
    summary = summarize(blocked_only, run(targets={}))
    assert summary["thresholds"][0]["observed"] == 0.0 and summary["verdict"] == "pass"


CLIENT = {"users": 3, "user_class": "CoachingClient", "required": ["login", "conversations", "chat"]}


def failed_logins(error: str = 'login: no token at auth.token_field "access_token"', n: int = 12) -> pd.DataFrame:
    return frame(
        start_s=[T0 + 1] * n, endpoint=["login"] * n, status=[200] * n, latency_ms=[20.0] * n, error=[error] * n
    )


def test_a_journey_that_never_reaches_its_routes_fails_and_says_why():
    summary = summarize(failed_logins(), run(targets={}, journeys={"client": CLIENT}))
    assert summary["verdict_reasons"] == [
        "threshold failed: error_rate(login) < 1%",
        "journey client never called chat, conversations: every login failed (see endpoints.login errors)",
    ]
    assert summary["endpoints"]["login"]["error_counts"] == {'login: no token at auth.token_field "access_token"': 12}
    # every login blocked: said so; no login at all: said so
    blocked = frame(
        start_s=[T0 + 1] * 4, endpoint=["login"] * 4, status=[429] * 4, latency_ms=[1.0] * 4, blocked=[True] * 4
    )
    reasons = summarize(blocked, run(targets={}, journeys={"client": CLIENT}))["verdict_reasons"]
    assert reasons == ["journey client never called chat, conversations: every login was blocked (see endpoints.login)"]
    webhook = {"users": 1, "user_class": "PaymentProvider", "required": ["webhook"]}
    reasons = summarize(legit("leads", [5.0]), run(targets={}, journeys={"client": CLIENT, "webhook": webhook}))[
        "verdict_reasons"
    ]
    assert reasons == [
        "journey client never called chat, conversations: no login was sent",
        "journey webhook never called webhook",
    ]


def test_a_journey_that_reached_its_routes_or_had_no_users_passes():
    samples = pd.concat(
        [
            legit("login", [20.0] * 3),
            failed_logins(n=2),
            legit("conversations", [10.0] * 5),
            legit("chat", [900.0] * 5),
        ],
        ignore_index=True,
    )
    visitor = {"users": 0, "user_class": "Visitor", "required": ["leads"]}  # weighted in, never started
    summary = summarize(samples, run(targets={}, journeys={"client": CLIENT, "visitor": visitor}, thresholds=[]))
    assert summary["verdict_reasons"] == [] and summary["verdict"] == "pass"
    assert summary["run"]["journeys"]["client"]["required"] == ["login", "conversations", "chat"]
    # open model: a journey whose schedule started no arrival on any worker did not run
    webhook = {"users": 2, "user_class": "PaymentProvider", "required": ["webhook"]}
    counts = {
        "w1": {"webhook": {"started": 0, "late": 0, "dropped": 0}},
        "w2": {"webhook": {"started": 0, "late": 0, "dropped": 0}},
    }
    open_run = run(targets={}, thresholds=[], journeys={"webhook": webhook}, arrivals={"counts": counts})
    assert summarize(samples, open_run)["verdict_reasons"] == []
    counts["w2"]["webhook"]["started"] = 1
    assert summarize(samples, open_run)["verdict_reasons"] == ["journey webhook never called webhook"]


TASK_ERRORS = [
    {
        "count": 3412,
        "exception": "ValueError",
        "message": "invalid header field name 'X Token'",
        "last_line": 'raise ValueError(f"invalid header field name {field!r}")',
        "in": "CoachingClient.chat",
        "nodes": ["w1", "w2"],
    },
    {"count": 1, "exception": None, "message": "", "last_line": "self.boom()", "in": None, "nodes": ["local"]},
]


def test_task_exceptions_fail_the_run_one_reason_each():
    summary = summarize(legit("me", [5.0] * 10), run(targets={}, task_errors=TASK_ERRORS))
    assert summary["task_errors"] == TASK_ERRORS
    assert summary["verdict"] == "fail"
    assert summary["verdict_reasons"] == [
        "3,412 task exceptions: ValueError: invalid header field name 'X Token' (in CoachingClient.chat)",
        "1 task exception: self.boom()",
    ]
    # beyond five kinds, the rest in one line; a journey with no route reached names them as the cause
    many = [{**TASK_ERRORS[0], "count": 10 - i, "message": f"m{i}"} for i in range(7)]
    summary = summarize(legit("login", [5.0]), run(targets={}, task_errors=many, journeys={"client": CLIENT}))
    assert summary["verdict_reasons"][5:] == [
        "9 more task exceptions of 2 other kinds (see task_errors)",
        "journey client never called chat, conversations: its users raised exceptions (see task_errors)",
    ]
    assert "task_errors" not in summarize(legit("me", [5.0]), run(targets={}, task_errors=[]))


def blocked_share(n_blocked: int, n: int = 100, endpoint: str = "chat") -> pd.DataFrame:
    return frame(
        start_s=[T0 + 1] * n,
        endpoint=[endpoint] * n,
        status=[429] * n_blocked + [200] * (n - n_blocked),
        latency_ms=[5.0] * n,
        blocked=[True] * n_blocked + [False] * (n - n_blocked),
    )


def test_legit_traffic_blocked_is_a_note_with_its_likely_cause():
    limits = {"chat": [{"key": "account", "quota": 5, "window_s": 10.0}]}
    journeys = {"client": {**CLIENT, "users": 300}}
    summary = summarize(
        blocked_share(83), run(targets={}, limits=limits, journeys=journeys, accounts=24, target_is_loopback=True)
    )
    assert summary["verdict_reasons"] == ["journey client never called conversations: no login was sent"]
    assert (
        "legit traffic blocked on chat: 83 % of 100 legit requests; likely cause: 300 users share 24 accounts "
        "and chat allows 5 per 10 s per account" in summary["notes"]
    )
    # a note, never a failure; at 5 % or below, nothing
    summary = summarize(blocked_share(6, endpoint="me"), run(targets={}, limits={}, accounts=24))
    assert summary["verdict"] == "pass"
    assert summary["notes"][0] == (
        "legit traffic blocked on me: 6 % of 100 legit requests; likely cause: the "
        "target limits me, but the scenario declares no [[limits]] rule for it"
    )
    assert not any("blocked" in n for n in summarize(blocked_share(5), run(targets={}))["notes"])
    attacked = run(
        targets={},
        limits=limits,
        accounts=24,
        journeys={"client": CLIENT},
        attacks={"chat_flood": {"users": 1, "rate": 0}, "reset_flood": {"users": 1, "rate": 0}},
    )
    assert summarize(blocked_share(10), attacked)["notes"][0].endswith(
        "likely cause: the attacks on chat (chat_flood) ran beside legit traffic and count against the same limit "
        "(5 per 10 s per account)"
    )
    ip = {"chat": [{"key": "ip", "quota": 20, "window_s": 60.0}]}
    note = summarize(blocked_share(50), run(targets={}, limits=ip, target_is_loopback=False))["notes"][0]
    assert note.endswith(
        "likely cause: every simulated user sends from this machine's address and chat allows 20 per 60 s per ip"
    )
