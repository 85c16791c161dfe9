"""The bypass matrix judged from synthetic probe rows: techniques sent after exhaustion (a variant between
canonical controls), shared and pre-drained counters, absent limits and experiments that never ran."""

from __future__ import annotations

from harness.analysis.ratelimits import ABSENT_NOTE, NOT_RUN_NOTE, rate_limits
from harness.scenario.probeplan import CANONICAL_MARK
from tests.analysis.test_ratelimits import IP5, baseline, burst, frame, rows

Q = 5


def after_exhaustion(
    technique: str,
    variant: list[int],
    controls: list[int] | None = None,
    step: float = 0.01,
    first_ms: float = 5.0,
    pause: float = 0.0,
):
    """The probe's order: canonical until the first block (Q admitted, then 429; the first answered after
    `first_ms`, the next sent then), `pause` s later variant/control pairs `step` s apart; `controls`
    default to blocked."""
    times, statuses = burst(Q + 1, Q)
    late = max(first_ms / 1000 - 0.01, 0.0)
    times = [times[0]] + [t + late for t in times[1:]]
    control = rows("login", technique + CANONICAL_MARK, times, statuses, latency=[first_ms] + [5.0] * Q)
    t = times[-1] + 0.01 + pause
    sent = []
    for i, status in enumerate(variant):
        sent += rows("login", technique, [t], [status])
        control += rows("login", technique + CANONICAL_MARK, [t + step / 2], [(controls or [429] * len(variant))[i]])
        t += step
    return control + sent


def test_a_variant_admitted_on_an_exhausted_counter_is_a_bypass() -> None:
    f = frame(baseline(), after_exhaustion("path-variants:trailing-slash", [200] * 4))
    login = rate_limits(f, {"limits": IP5})["login"]
    b = login["bypasses"]["path-variants:trailing-slash"]
    assert (b["verdict"], b["attempts"], b["judged"], b["admitted"]) == ("bypass", 4, 4, 4)
    assert b["baseline_admitted"] == Q and b["amplification"] == (Q + 4) / Q and b["counter"] == "own"
    assert "counted per the exact path" in b["note"]
    assert login["verdict"] == "bypassable"


def test_a_variant_blocked_on_an_exhausted_counter_holds() -> None:
    f = frame(
        baseline(), after_exhaustion("method-switch:PUT", [429] * 4), after_exhaustion("new-connection", [405] * 4)
    )
    login = rate_limits(f, {"limits": IP5})["login"]
    assert {t: b["verdict"] for t, b in login["bypasses"].items()} == {
        "method-switch:PUT": "holds",
        "new-connection": "holds",  # a 405 never reached the handler
    }
    assert login["verdict"] == "effective"


def test_a_variant_next_to_an_admitted_control_is_not_evidence() -> None:
    """The window rolled: the control after the variant got in too, so the variant proves nothing."""
    rolled = after_exhaustion("ip-headers:X-Real-IP", [200] * 4, controls=[200, 200, 200, 200])
    b = rate_limits(frame(baseline(), rolled), {"limits": IP5})["login"]["bypasses"]["ip-headers:X-Real-IP"]
    assert (b["verdict"], b["judged"], b["admitted"]) == ("untested", 0, 0)
    one = after_exhaustion("ip-headers:X-Real-IP", [200, 429, 429, 429], controls=[200, 429, 429, 429])
    b = rate_limits(frame(baseline(), one), {"limits": IP5})["login"]["bypasses"]["ip-headers:X-Real-IP"]
    assert (b["verdict"], b["judged"], b["admitted"]) == ("holds", 2, 0)  # the first pair is not judged


def test_slow_answers_blocked_variants_spread_over_more_than_one_window_still_hold() -> None:
    """On a loaded machine the pairs ran 40 s apart against a 60 s window: blocked between blocked
    controls, each variant is evidence that the limit covers it, whenever it was sent."""
    slow = after_exhaustion("ip-headers:X-Real-IP", [429] * 4, step=40.0, first_ms=30_000.0)
    login = rate_limits(frame(baseline(), slow), {"limits": IP5})["login"]
    b = login["bypasses"]["ip-headers:X-Real-IP"]
    assert (b["verdict"], b["judged"], b["admitted"], b["unclear"]) == ("holds", 4, 0, 0)
    assert login["verdict"] == "effective"


def test_a_variant_let_in_when_a_slot_could_have_freed_is_unclear_not_a_bypass() -> None:
    """The burst's slots age out one window (60 s) after they were taken: variants sent then may have
    taken them. Only variants beyond the slots that could have freed escaped."""
    late = after_exhaustion("new-connection", [200] * 4, pause=60.0)
    b = rate_limits(frame(baseline(), late), {"limits": IP5})["login"]["bypasses"]["new-connection"]
    assert (b["verdict"], b["judged"], b["admitted"], b["unclear"]) == ("untested", 0, 0, 4)  # 5 slots freed
    # the first canonical answered after a window (its connection was slow to open): its slot may free
    # during the pairs, the others' cannot
    slow_first = after_exhaustion("new-connection", [200] * 4, first_ms=60_000.0)
    b = rate_limits(frame(baseline(), slow_first), {"limits": IP5})["login"]["bypasses"]["new-connection"]
    assert (b["verdict"], b["judged"], b["admitted"], b["unclear"]) == ("bypass", 3, 3, 1)


def test_a_window_that_rolled_during_the_pairs_is_one_refill_not_a_quota() -> None:
    """A fixed window rolled: one control got in, and the probe exhausted the counter again (Q - 1 more
    canonical requests let in). Only the control sent after a variant competed with it for a slot:
    counting the others too (5 refills) would hide 5 escapes of 5 judged behind "holds"."""
    pairs = after_exhaustion("path-variants:trailing-slash", [200] * 6, controls=[429, 429, 200, 429, 429, 429])
    again = rows("login", "path-variants:trailing-slash" + CANONICAL_MARK, *burst(Q, Q - 1, start=0.0856, step=0.0001))
    b = rate_limits(frame(baseline(), pairs, again), {"limits": IP5})["login"]["bypasses"][
        "path-variants:trailing-slash"
    ]
    assert (b["refills"], b["judged"], b["admitted"], b["verdict"]) == (1, 5, 5, "bypass")


def test_a_counter_blocked_from_the_first_request_is_shared_never_holds() -> None:
    times, statuses = burst(3 * Q, 0)
    shared = rows("login", "baseline", times, statuses)
    blocked = [429] * (Q + 1)
    technique = rows("login", "new-connection" + CANONICAL_MARK, burst(Q + 1, 0)[0], blocked)
    technique += rows("login", "new-connection", [1.0, 1.02], [429, 429])
    technique += rows("login", "new-connection" + CANONICAL_MARK, [1.01, 1.03], [429, 429])
    login = rate_limits(frame(shared, technique), {"limits": IP5})["login"]
    assert login["verdict"] == "untested" and login["note"].startswith("the baseline's shared counter")
    assert login["baseline"]["counter"] == "shared"
    b = login["bypasses"]["new-connection"]
    assert b["verdict"] == "untested" and b["counter"] == "shared"


def test_a_counter_the_attacks_drained_is_pre_drained() -> None:
    attack = rows("login", "", [-1.0, -0.5], [200, 429], role="credential_stuffing")
    times, statuses = burst(3 * Q, 1)  # one slot left by the attack, then blocked: fewer than half the quota
    login = rate_limits(frame(attack, rows("login", "baseline", times, statuses)), {"limits": IP5})["login"]
    assert login["verdict"] == "untested" and login["baseline"]["counter"] == "pre-drained"
    assert "probes before the attacks" in login["note"]


def test_one_experiment_on_a_shared_counter_taints_those_beside_it() -> None:
    """Global counter: the baseline came first and got the whole quota; the experiment beside it got
    nothing. The baseline's quota was not its own, so nothing there holds."""
    technique = rows("login", "race", [0.001] * 10, [429] * 10)
    login = rate_limits(frame(baseline(), technique), {"limits": IP5})["login"]
    assert login["baseline"]["counter"] == "shared" and login["verdict"] == "untested"
    assert login["bypasses"]["race"]["verdict"] == "untested"


def test_an_absent_limit_has_no_technique_that_holds() -> None:
    times, statuses = burst(15, 15)
    never = rows("login", "path-variants:upper-case" + CANONICAL_MARK, times, statuses)
    f = frame(rows("login", "baseline", times, statuses), rows("login", "race", times, statuses), never)
    login = rate_limits(f, {"limits": IP5})["login"]
    assert login["verdict"] == "absent"
    assert {b["verdict"] for b in login["bypasses"].values()} == {"untested"}
    assert {b["note"] for b in login["bypasses"].values()} == {ABSENT_NOTE}


def test_every_planned_experiment_appears_and_one_that_never_ran_is_untested() -> None:
    run = {"limits": IP5, "probe_plan": {"login": ["baseline", "path-variants:trailing-slash", "window-edge"]}}
    login = rate_limits(frame(baseline(), after_exhaustion("path-variants:trailing-slash", [429] * 4)), run)["login"]
    assert set(login["bypasses"]) == {"path-variants:trailing-slash", "window-edge"}
    assert login["bypasses"]["window-edge"] == {
        "attempts": 0,
        "admitted": 0,
        "verdict": "untested",
        "note": NOT_RUN_NOTE,
    }
    assert login["verdict"] == "untested" and "window-edge" in login["note"]


def test_the_wallet_probe_is_not_a_bypass_technique() -> None:
    wallet = rows("login", "prompt-size", [0.5, 0.6], [200, 413])
    login = rate_limits(frame(baseline(), wallet), {"limits": IP5})["login"]
    assert login["bypasses"] == {} and login["verdict"] == "effective"
