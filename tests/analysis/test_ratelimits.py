"""Rate-limit verdicts on hand-made probe sequences whose figures are computed by hand."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from harness.analysis.outcomes import passed_limiter_mask
from harness.analysis.ratelimits import EXPECTED_NOTE, attack_series, max_in_span, rate_limits
from harness.samples import DEFAULTS, SCHEMA

T0 = 1_796_000_000.0
IP5 = {"login": [{"key": "ip", "quota": 5, "window_s": 60.0}]}


def rows(
    endpoint: str,
    technique: str,
    times: Sequence[float],
    statuses: Sequence[int],
    *,
    role: str = "probe",
    retry: Sequence[float] | None = None,
    headers: str = "",
    latency: Sequence[float] | None = None,
    tokens: Sequence[int] | None = None,
) -> list[dict]:
    """One dict per attempt; 429 is the block."""
    out = []
    for i, (t, status) in enumerate(zip(times, statuses)):
        out.append(
            {
                "start_s": T0 + t,
                "endpoint": endpoint,
                "method": "POST",
                "status": status,
                "role": role,
                "technique": technique,
                "blocked": status == 429,
                "retry_after_s": retry[i] if retry is not None else math.nan,
                "limit_headers": headers,
                "latency_ms": latency[i] if latency is not None else 5.0,
                "output_tokens": tokens[i] if tokens is not None else 0,
            }
        )
    return out


def frame(*groups: list[dict]) -> pd.DataFrame:
    records = [r for g in groups for r in g]
    columns = {name: [r.get(name, DEFAULTS[name]) for r in records] for name in SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=SCHEMA).to_pandas()


def burst(n: int, admitted: int, step: float = 0.01, start: float = 0.0) -> tuple[list, list]:
    """n attempts `step` apart: the first `admitted` answered 200, the rest 429."""
    return [start + i * step for i in range(n)], [200] * admitted + [429] * (n - admitted)


def baseline(route: str = "login", q: int = 5) -> list[dict]:
    times, statuses = burst(3 * q, q)
    return rows(route, "baseline", times, statuses, retry=[60.0] * (3 * q))


def test_admitted_and_max_in_span():
    f = frame(rows("x", "baseline", [0, 1, 2, 3, 4, 5, 6, 7], [200, 401, 422, 429, 0, 404, 405, 503]))
    assert passed_limiter_mask(f).tolist() == [True, True, True, False, False, False, False, False]
    assert max_in_span(np.array([0.0, 0.5, 0.99, 1.0, 1.5]), 1.0) == 3  # [0, 1) holds 0, .5, .99
    assert max_in_span(np.array([]), 1.0) == 0


def test_baseline_q5_first_block_at_6_and_effective():
    result = rate_limits(frame(baseline()), {"limits": IP5})
    login = result["login"]
    assert login["verdict"] == "effective"
    assert login["enforced"] is True
    assert login["requests_to_first_block"] == 6
    assert login["quota"] == 5 and login["window_s"] == 60.0 and login["limit_source"] == "declared"
    assert login["over_allowance_ratio"] == 1.0
    assert login["baseline"]["attempts"] == 15 and login["baseline"]["admitted"] == 5
    assert login["baseline"]["leaky"] is False
    assert login["bypasses"] == {} and login["fix"] == []
    assert login["retry_after_present"] == 1.0
    assert login["declared"] == IP5["login"]


def test_a_late_first_block_still_counts_as_enforced():
    """Two rules (5/60 s per account, 10/60 s per IP) where only the IP rule holds, and a fixed window
    reset mid-burst: the first block lands after 3 × the tightest quota but within the 30 attempts sent."""
    rules = {"login": IP5["login"] + [{"key": "account", "quota": 10, "window_s": 60.0}]}
    times, _ = burst(30, 0)
    statuses = [200] * 17 + [429] * 13
    result = rate_limits(frame(rows("login", "baseline", times, statuses)), {"limits": rules})
    assert result["login"]["enforced"] is True and result["login"]["verdict"] != "absent"
    assert result["login"]["requests_to_first_block"] == 18


def window_edge() -> list[dict]:
    """Fixed windows [0,10), [10,20), [20,30) of 5: exhaust, poll until 10.0, burst across 20.0.

    Admitted: 0.00–0.04, 10.0, 19.95–19.98 (4: the 10.0 poll used a slot), 20.00–20.04 (5).
    Most admitted in any 10 s span: 19.95 .. 20.04 → 9, so over-allowance 9 / 5 = 1.8.
    Retry-After pairs: block at 8.0 (RA 2) → admitted 10.0: error 0; block at 19.99 (RA 1) →
    admitted 20.00: error −0.99. Median −0.495.
    """
    phase1 = burst(6, 5)
    polls = ([2.0, 4.0, 6.0, 8.0, 10.0], [429, 429, 429, 429, 200])
    edge_t = [19.95 + i * 0.01 for i in range(10)]
    edge_s = [200, 200, 200, 200, 429, 200, 200, 200, 200, 200]
    times = phase1[0] + polls[0] + edge_t
    statuses = phase1[1] + polls[1] + edge_s
    retry = [math.nan] * 5 + [10.0] + [8.0, 6.0, 4.0, 2.0, math.nan] + [math.nan] * 4 + [1.0] + [math.nan] * 5
    return rows("login", "window-edge", times, statuses, retry=retry)


def test_fixed_window_edge_is_leaky():
    limits = {"login": [{"key": "ip", "quota": 5, "window_s": 10.0}]}
    result = rate_limits(frame(baseline(), window_edge()), {"limits": limits})
    login = result["login"]
    edge = login["bypasses"]["window-edge"]
    assert edge["over_allowance_ratio"] == pytest.approx(1.8)
    assert edge["verdict"] == "leaky"
    assert login["over_allowance_ratio"] == pytest.approx(1.8)  # max of baseline (1.0) and edge
    assert login["verdict"] == "leaky"
    assert login["worst_technique"] == "window-edge"
    assert login["retry_after_error_s"] == pytest.approx(-0.495)
    assert "use a sliding window or token bucket" in login["fix"]


def test_retry_after_error_on_a_hand_made_sequence():
    # block at 0 saying 3 s, admitted at 5 (2 s late); block at 6 saying 1 s, admitted at 6.5 (0.5 early);
    # block at 7 without Retry-After, admitted at 8: not a pair. Median of (2, −0.5) = 0.75
    seq = rows(
        "login",
        "window-edge",
        [0, 5, 6, 6.5, 7, 8],
        [429, 200, 429, 200, 429, 200],
        retry=[3.0, math.nan, 1.0, math.nan, math.nan, math.nan],
    )
    login = rate_limits(frame(baseline(), seq), {"limits": IP5})["login"]
    assert login["retry_after_error_s"] == pytest.approx(0.75)


def test_ip_header_bypass_on_loopback_says_it_depends_on_proxy_trust():
    times, statuses = burst(15, 15)
    spoof = rows("login", "ip-headers:X-Forwarded-For", times, statuses)
    run = {"limits": IP5, "target_is_loopback": True}
    login = rate_limits(frame(baseline(), spoof), run)["login"]
    b = login["bypasses"]["ip-headers:X-Forwarded-For"]
    assert b["attempts"] == 15 and b["admitted"] == 15
    assert b["amplification"] == 3.0  # 15 ÷ 5 admitted at baseline over 15 attempts
    assert b["expected_allowance"] == 5
    assert b["verdict"] == "bypass"
    assert login["verdict"] == "bypassable"
    assert login["worst_technique"] == "ip-headers:X-Forwarded-For"
    for words in (
        "X-Forwarded-For",
        "127.0.0.1",
        "trusting proxy headers",
        "not by itself proof of a production flaw",
        "re-checked behind the real proxy/CDN",
    ):
        assert words in b["note"]
    assert login["fix"] == ["key the limit on the real peer address; trust X-Forwarded-For only from your own proxy"]
    remote = rate_limits(frame(baseline(), spoof), {"limits": IP5, "target_is_loopback": False})
    assert remote["login"]["bypasses"]["ip-headers:X-Forwarded-For"]["note"] == ""


def test_many_sources_on_an_ip_only_route_is_expected():
    times, statuses = burst(15, 15)
    sources = rows("login", "many-sources", times, statuses)
    login = rate_limits(frame(baseline(), sources), {"limits": IP5})["login"]
    b = login["bypasses"]["many-sources"]
    assert b["verdict"] == "expected" and b["note"] == EXPECTED_NOTE
    assert b["expected_allowance"] is None and b["amplification"] == 3.0
    assert login["verdict"] == "effective" and login["worst_technique"] is None


def test_many_accounts_holds_within_the_ip_quota():
    limits = {"login": [{"key": "account", "quota": 3, "window_s": 60.0}, {"key": "ip", "quota": 10, "window_s": 60.0}]}
    times, statuses = burst(15, 10)  # blocked by the per-address limit after 10
    accounts = rows("login", "many-accounts", times, statuses)
    login = rate_limits(frame(baseline(q=3), accounts), {"limits": limits})["login"]
    assert login["quota"] == 3  # the tightest rule
    assert login["requests_to_first_block"] == 4
    b = login["bypasses"]["many-accounts"]
    assert b["expected_allowance"] == 10  # the ip rule remains
    assert b["amplification"] == pytest.approx(10 / 3)  # the baseline had 9 attempts, 3 admitted
    assert b["verdict"] == "holds"
    assert login["verdict"] == "effective"
    times, statuses = burst(16, 16)  # no per-address limit in force: 16 > 1.5 × 10
    leaky = rows("login", "many-accounts", times, statuses)
    login = rate_limits(frame(baseline(q=3), leaky), {"limits": limits})["login"]
    assert login["bypasses"]["many-accounts"]["verdict"] == "bypass"
    assert login["verdict"] == "bypassable" and login["fix"] == ["add a per-address limit"]


def test_no_blocks_at_all_is_absent():
    times, statuses = burst(15, 15)
    f = frame(rows("login", "baseline", times, statuses))
    login = rate_limits(f, {"limits": IP5})["login"]
    assert login["verdict"] == "absent" and login["enforced"] is False
    assert login["requests_to_first_block"] is None
    assert login["over_allowance_ratio"] == 3.0  # 15 admitted in one window of a 5-quota
    assert login["fix"][0].startswith(
        "the declared limit (5 per 60 s per ip) is not enforced: add a limit on login keyed on ip"
    )
    undeclared = rate_limits(f, {"probed_routes": ["login"]})["login"]
    assert undeclared["verdict"] == "absent" and undeclared["declared"] is None
    assert undeclared["fix"] == ["add a limit on login keyed on the account and the client address"]


def test_declared_route_without_probes_is_untested():
    f = frame(baseline())
    limits = {**IP5, "chat": [{"key": "user", "quota": 20, "window_s": 60.0}]}
    result = rate_limits(f, {"limits": limits, "probed_routes": ["login", "leads"]})
    assert result["chat"]["verdict"] == "untested" and result["chat"]["quota"] == 20
    assert result["leads"]["verdict"] == "untested" and result["leads"]["declared"] is None
    assert result["login"]["verdict"] == "effective"
    assert rate_limits(frame(rows("login", "", [0], [200], role="legit")), {}) == {}


def test_without_declared_limits_the_baseline_is_the_yardstick():
    times, statuses = burst(12, 12)
    new_conn = rows("login", "new-connection", times, statuses)
    race = rows("login", "race", *burst(12, 5))
    # measured window: the window-edge slot freed 30 s after the first admitted attempt
    edge = rows(
        "login", "window-edge", [0, 0.01, 0.02, 0.03, 0.04, 0.05, 15, 30], [200, 200, 200, 200, 429, 429, 429, 200]
    )
    login = rate_limits(frame(baseline(q=4), new_conn, race, edge), {})["login"]
    assert login["limit_source"] == "measured"
    assert login["quota"] == 4 and login["window_s"] == pytest.approx(30.0)
    assert login["bypasses"]["new-connection"]["amplification"] == 3.0  # 12 ÷ 4
    assert login["bypasses"]["new-connection"]["verdict"] == "bypass"
    assert login["bypasses"]["race"]["amplification"] == 1.25
    assert login["bypasses"]["race"]["verdict"] == "holds"
    assert login["bypasses"]["window-edge"]["verdict"] == "holds"
    assert login["verdict"] == "bypassable"
    assert login["fix"] == ["keep counters in a store shared by all server processes (e.g. Redis)"]


def test_legit_blocked_ratio_and_p95_before_and_during():
    before = rows(
        "login", "", [-50 + i for i in range(10)], [200] * 10, role="legit", latency=[10.0 * (i + 1) for i in range(10)]
    )  # p95 of 10..100: 10th → 100
    during_statuses = [429] * 4 + [200] * 16
    during = rows(
        "login",
        "",
        [0.001 + i * 0.005 for i in range(20)],
        during_statuses,
        role="legit",
        latency=[1.0] * 4 + [200.0 + 10 * i for i in range(16)],
    )  # p95: 16th of 16 → 350
    after = rows("login", "", [100.0], [429], role="legit")  # after the last attack row: not counted
    other = rows("me", "", [0.02], [429], role="legit")  # another route: not counted
    login = rate_limits(frame(before, baseline(), during, after, other), {"limits": IP5})["login"]
    assert login["legit_blocked_ratio"] == pytest.approx(4 / 20)
    assert login["legit_p95_before_attack_ms"] == 100.0
    assert login["legit_p95_during_attack_ms"] == 350.0
    assert login["legit_requests_during_attack"] == 20


def test_blocked_cost_from_target_stats():
    limits = {
        "chat": [{"key": "user", "quota": 3, "window_s": 60.0}],
        "reset_request": [{"key": "email", "quota": 3, "window_s": 3600.0}],
    }
    chat = rows("chat", "baseline", [0, 1, 2, 3, 4, 5, 6, 7, 8], [200] * 3 + [429] * 6, tokens=[100] * 3 + [0] * 6)
    legit_chat = rows("chat", "", [3.5], [200], role="legit", tokens=[50])
    reset = rows("reset_request", "baseline", list(range(9)), [202] * 3 + [429] * 6)
    stats = {"tokens": {"prompt": 900, "completion": 500}, "emails_sent": 2}
    result = rate_limits(frame(chat, legit_chat, reset), {"limits": limits}, stats)
    cost = result["chat"]["blocked_cost"]
    assert cost == {
        "unit": "completion_tokens",
        "target_count": 500.0,
        "admitted_count": 350.0,
        "excess": 150.0,
        "blocked_requests_cost": True,
        "partial_counters": False,
    }
    assert result["chat"]["fix"] == [
        "check the limit before doing the work (before calling the model or sending the e-mail)"
    ]
    reset_cost = result["reset_request"]["blocked_cost"]
    assert reset_cost["unit"] == "emails" and reset_cost["admitted_count"] == 3.0
    assert reset_cost["blocked_requests_cost"] is False
    assert rate_limits(frame(chat), {"limits": limits})["chat"]["blocked_cost"] is None
    # counters of one process out of two: an excess still shows, no excess proves nothing
    partial = {**stats, "scope": "process", "processes": 2}
    result = rate_limits(frame(chat, legit_chat, reset), {"limits": limits}, partial)
    assert result["chat"]["blocked_cost"]["blocked_requests_cost"] is True
    assert result["reset_request"]["blocked_cost"]["blocked_requests_cost"] is None
    assert result["reset_request"]["blocked_cost"]["partial_counters"] is True


def test_header_conformance_blocked_and_admitted():
    ok = rows("login", "baseline", [0, 0.01, 0.02, 0.03, 0.04], [200] * 5, headers="RateLimit,RateLimit-Policy")
    blocked = rows(
        "login",
        "baseline",
        [0.05, 0.06],
        [429, 429],
        retry=[60.0, 60.0],
        headers="X-RateLimit-Limit,X-RateLimit-Remaining,Retry-After",
    )
    blocked += rows("login", "baseline", [0.07, 0.08], [429, 429], headers="RateLimit,RateLimit-Policy,Retry-After")
    login = rate_limits(frame(ok, blocked), {"limits": IP5})["login"]
    assert login["headers"]["admitted"] == {
        "responses": 5,
        "ietf_ratelimit": 1.0,
        "legacy_x_ratelimit": 0.0,
        "retry_after": 0.0,
    }
    assert login["headers"]["blocked"] == {
        "responses": 4,
        "ietf_ratelimit": 0.5,
        "legacy_x_ratelimit": 0.5,
        "retry_after": 1.0,
    }
    assert login["retry_after_present"] == 1.0


def test_attack_series_counts_per_second():
    f = frame(
        rows("login", "", [0.1, 0.2, 0.3, 1.5], [200, 429, 0, 200], role="brute_force"),
        rows("login", "", [0.5], [200], role="legit"),
    )
    series = attack_series(f, T0)
    assert series.to_dict("records") == [
        {"second": 0, "endpoint": "login", "admitted": 1, "blocked": 1, "errors": 1},
        {"second": 1, "endpoint": "login", "admitted": 1, "blocked": 0, "errors": 0},
    ]
    assert attack_series(frame(rows("login", "", [0.5], [200], role="legit")), T0).empty


def test_rate_limit_plot_with_and_without_attacks(tmp_path):
    from harness.report.plots import plot_rate_limits

    f = frame(
        rows("login", "", [i * 0.1 for i in range(60)], [200] * 20 + [429] * 40, role="credential_stuffing"),
        rows("chat", "", [i * 0.5 for i in range(12)], [200] * 12, role="chat_flood"),
    )
    path = plot_rate_limits(attack_series(f, T0), {"login": 5 / 60, "chat": None}, tmp_path / "rate_limits.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
    empty = plot_rate_limits(
        attack_series(frame(rows("me", "", [0], [200], role="legit")), T0), {}, tmp_path / "empty.png"
    )
    assert empty.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_leaking_baseline_does_not_make_every_technique_a_bypass():
    """Two server processes with their own counters: the baseline admits 2q = 10 of 15."""
    leaky = rows("login", "baseline", *burst(15, 10))
    same = rows("login", "ip-headers:X-Real-IP", *burst(15, 10))  # ×1.0: the header changes nothing
    spoof = rows("login", "ip-headers:X-Forwarded-For", *burst(15, 15))  # ×1.5 and 15 > 1.5 × 5
    login = rate_limits(frame(leaky, same, spoof), {"limits": IP5})["login"]
    assert login["bypasses"]["ip-headers:X-Real-IP"]["verdict"] == "holds"
    assert login["bypasses"]["ip-headers:X-Forwarded-For"]["verdict"] == "bypass"
    assert login["verdict"] == "bypassable"
    only_leak = rate_limits(frame(leaky, same), {"limits": IP5})["login"]
    assert only_leak["verdict"] == "leaky" and only_leak["baseline"]["leaky"] is True  # 10 > q + 1
    assert only_leak["over_allowance_ratio"] == 2.0
    assert only_leak["fix"] == ["keep counters in a store shared by all server processes (e.g. Redis)"]


def test_a_slow_experiment_is_allowed_a_quota_per_window_it_spans():
    # 12 attempts 1 s apart over 11 s against 5 per 10 s: two windows, allowance 10
    slow = rows("login", "new-connection", [float(i) for i in range(12)], [200] * 10 + [429] * 2)
    login = rate_limits(frame(baseline(), slow), {"limits": {"login": [{"key": "ip", "quota": 5, "window_s": 10.0}]}})[
        "login"
    ]
    b = login["bypasses"]["new-connection"]
    assert b["expected_allowance"] == 10 and b["amplification"] == 2.0
    assert b["verdict"] == "holds"  # 10 ≤ 1.5 × 10, although twice the baseline's burst


def test_a_round_repeated_after_a_window_roll_replaces_the_first():
    """Per-process counters (two processes, 5 each) and a fixed window of 10 s that rolled at 0.1 s
    during the first round: there the baseline admits 10 and new connections 13, which hides the
    bypass; the probe's repeat (techniques marked #retry) starts after the next roll and shows it."""
    limits = {"limits": {"admin_users": [{"key": "ip", "quota": 5, "window_s": 10.0}]}}
    rolled = [200] * 5 + [429] * 5 + [200] * 5  # admitted again after a block: the window rolled
    spread = [200] * 8 + [429] * 2 + [200] * 5
    first = rows("admin_users", "baseline", *burst(15, 0)[:1], rolled) + rows(
        "admin_users", "new-connection", *burst(15, 0)[:1], spread
    )
    alone = rate_limits(frame(first), limits)["admin_users"]
    assert alone["bypasses"]["new-connection"]["verdict"] == "holds"  # 13 of 15 against a baseline of 10
    again = rows("admin_users", "baseline#retry", *burst(15, 5, start=10.2)) + rows(
        "admin_users", "new-connection#retry", *burst(15, 10, start=10.2)
    )
    judged = rate_limits(frame(first, again), limits)["admin_users"]
    assert set(judged["bypasses"]) == {"new-connection"}
    entry = judged["bypasses"]["new-connection"]
    assert (entry["admitted"], entry["baseline_admitted"], entry["verdict"]) == (10, 5, "bypass")
    assert judged["requests_to_first_block"] == 6


def test_the_moment_a_fixed_window_rolled_during_a_burst():
    from harness.scenario.probeplan import window_roll

    def burst_of(pattern: str) -> list[tuple[float, bool]]:  # "a": admitted, "B": blocked, one a second
        return [(float(i), c == "B") for i, c in enumerate(pattern)]

    assert window_roll(burst_of("a" * 18 + "B" * 12), 10) == 8.0  # 8 got in before the roll, 10 after
    assert window_roll(burst_of("a" * 10 + "BBB" + "a" * 10 + "B" * 7), 10) == 13.0  # admitted again
    assert window_roll(burst_of("a" * 10 + "B" * 20), 10) is None  # one clean window
    assert window_roll(burst_of("a" * 30), 10) is None  # never blocked: no limit, nothing to repeat
