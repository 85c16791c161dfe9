"""The arrival schedule and the per-worker queue that counts late and dropped arrivals."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from harness.scenario.arrivals import (
    LATE_AFTER_S,
    ArrivalQueue,
    ArrivalSchedule,
    ArrivalStage,
    arrival_counts,
    arrival_queue,
    pool_sizes,
)

T0 = 1_800_000_000.0


def schedule(stages=((10.0, 10.0),), shares=None, slots=("local",), max_lateness_s=5.0) -> ArrivalSchedule:
    return ArrivalSchedule(
        start_s=T0,
        stages=tuple(ArrivalStage(d, r) for d, r in stages),
        max_lateness_s=max_lateness_s,
        shares=shares or {"client": 1.0},
        slots=slots,
    )


def test_evenly_spaced_arrivals_per_stage():
    s = schedule(stages=((2.0, 5.0), (1.0, 2.0)))
    times = [t - T0 for t in s.times("client")]
    assert times == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.5])
    assert s.peak_rate == 5.0 and s.end_s == T0 + 3.0


def test_workers_share_one_schedule_without_overlap():
    s = schedule(stages=((3.0, 7.0), (2.0, 3.0)), slots=("w1", "w2", "w3"))
    alone = list(schedule(stages=((3.0, 7.0), (2.0, 3.0))).times("client"))
    parts = [list(s.times("client", slot)) for slot in range(3)]
    assert sorted(itertools.chain(*parts)) == alone  # every arrival once, on exactly one worker
    assert [len(p) for p in parts] == [9, 9, 9]  # 21 + 6 arrivals, dealt in turn


def test_journey_shares_split_the_rate():
    s = schedule(shares={"client": 0.8, "webhook": 0.1, "visitor": 0.1})
    assert len(list(s.times("client"))) == 80 and len(list(s.times("webhook"))) == 10
    assert list(s.times("unknown")) == []


def test_due_counts_arrivals_before_a_moment():
    s = schedule(stages=((2.0, 5.0), (1.0, 2.0)))
    every = list(s.times("client"))
    for until in (T0 - 1, T0, T0 + 0.01, T0 + 0.2, T0 + 1.99, T0 + 2.0, T0 + 2.4, T0 + 2.6, T0 + 100):
        assert s.due("client", until) == sum(t < until for t in every), until


def test_round_trip_through_run_json():
    s = schedule(shares={"client": 0.75, "visitor": 0.25}, slots=("a", "b"), max_lateness_s=2.5)
    assert ArrivalSchedule.from_dict(s.to_dict()) == s


def test_queue_counts_on_time_late_and_dropped():
    """A simulated clock: one user serves arrivals every 100 ms; each iteration takes 250 ms."""
    times = iter([T0 + i * 0.1 for i in range(40)])
    queue = ArrivalQueue(times, max_lateness_s=0.5)
    now = T0
    served = []
    while (intended := queue.next(now)) is not None:
        now = max(now, intended)  # sleep until it is due
        queue.record_start(now - intended)
        served.append(now - intended)
        now += 0.25  # the iteration
    assert served[0] == 0.0 and all(d > LATE_AFTER_S for d in served[1:])
    assert queue.started == len(served) and queue.late == len(served) - 1
    assert queue.started + queue.dropped == 40  # every arrival either served or dropped
    assert all(d <= 0.5 for d in served)  # none waited past max_lateness
    assert queue.dropped > 0 and queue.max_delay_s == pytest.approx(max(served))


def test_queue_with_enough_capacity_is_never_late():
    queue = ArrivalQueue(iter([T0 + i * 0.1 for i in range(10)]), max_lateness_s=1.0)
    now = T0
    while (intended := queue.next(now)) is not None:
        now = max(now, intended)
        queue.record_start(now - intended)
        now += 0.05
    assert queue.counts() == {"started": 10, "late": 0, "dropped": 0, "max_delay_s": 0.0}


def test_a_process_finds_its_slot_from_the_masters_option():
    import json

    s = schedule(slots=("w1", "w2"))
    env = SimpleNamespace(
        parsed_options=SimpleNamespace(arrival_schedule=json.dumps(s.to_dict())), runner=SimpleNamespace(client_id="w2")
    )
    queue = arrival_queue(env, "client")
    assert queue is not None and queue.next(T0) == pytest.approx(T0 + 0.1)  # slot 1: the odd arrivals
    assert arrival_queue(env, "visitor") is None
    late_joiner = SimpleNamespace(parsed_options=env.parsed_options, runner=SimpleNamespace(client_id="w3"))
    assert arrival_queue(late_joiner, "client").next(T0) is None  # no slot: it serves nothing
    closed = SimpleNamespace(parsed_options=SimpleNamespace(arrival_schedule=""), runner=None)
    assert arrival_queue(closed, "client") is None and arrival_counts(closed) == {}
    assert arrival_counts(env)["client"]["started"] == 0


def test_pool_sizes_cover_every_worker():
    shares = {"client": 0.8, "webhook": 0.1, "visitor": 0.1}
    assert pool_sizes(shares, 10.0, None, 1) == {"client": 40, "webhook": 5, "visitor": 5}
    assert pool_sizes(shares, 10.0, None, 2) == {"client": 40, "webhook": 6, "visitor": 6}
    assert pool_sizes(shares, 1.0, 4, 3) == {"client": 6, "webhook": 3, "visitor": 3}
