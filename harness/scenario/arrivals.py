"""Open-model load: journeys start on a schedule, whatever the target does.

A closed model (N users, each waiting for its answer before going on) sends less when the target
slows down, so a stall hides itself in the figures: coordinated omission. In the open model the
schedule says when each journey starts and a pool of users serves it. An arrival that finds every
user busy waits and starts late; its latency is then measured from when it should have started
(`intended_s`), as wrk2 does. One that waited longer than `max_lateness` is dropped and counted.

The schedule is shared by all workers: arrival k of a journey goes to worker slot k mod W, so the
rates add up to the target whatever the number of workers. Arrivals are evenly spaced within a
stage (as wrk2 and k6's arrival-rate executors space them), so runs repeat exactly.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "LATE_AFTER_S",
    "POOL_SECONDS",
    "SEARCH_POOL_S",
    "OPTION",
    "WARM_UP_S",
    "ArrivalStage",
    "ArrivalSchedule",
    "ArrivalQueue",
    "arrival_queue",
    "arrival_counts",
    "add_chunk",
    "chunk_times",
    "CHUNK_POLL_S",
    "STAGE_MESSAGE",
    "pool_sizes",
    "slot_name",
]

LATE_AFTER_S = 0.010  # an arrival started more than this after its intended time is late
OPTION = "arrival_schedule"  # Locust option (JSON) by which the master hands the schedule to its workers
WARM_UP_S = 1.0  # the pool starts (and logs in) this long before the first arrival
POOL_SECONDS = 5.0  # default pool: the arrivals of this many seconds at the peak rate may be in flight
SEARCH_POOL_S = 2.0  # a capacity search's: of its max_rate (past 2 s of latency at max_rate, it has failed)
STAGE_MESSAGE = "harness_arrivals_chunk"  # a capacity search's next arrivals, master -> workers (Locust message)
CHUNK_POLL_S = 0.05  # a user of a search with no arrival queued looks again this often (chunks come ahead)


@dataclass(frozen=True)
class ArrivalStage:
    duration_s: float
    rate: float  # journeys started per second, all workers together


@dataclass(frozen=True)
class ArrivalSchedule:
    """When each journey should start: stages of constant rate from `start_s` (epoch seconds)."""

    start_s: float
    stages: tuple[ArrivalStage, ...]
    max_lateness_s: float = 5.0
    shares: Mapping[str, float] = field(default_factory=dict)  # journey -> its share of each arrival rate
    slots: Sequence[str] = ("local",)  # the workers, in slot order
    open_ended: bool = False  # a capacity search: more stages arrive as it goes (STAGE_MESSAGE)

    @property
    def end_s(self) -> float:
        return self.start_s + sum(s.duration_s for s in self.stages)

    @property
    def peak_rate(self) -> float:
        return max((s.rate for s in self.stages), default=0.0)

    def times(self, journey: str, slot: int = 0) -> Iterator[float]:
        """Intended start times of `journey` for worker `slot`, in order."""
        share, slots = self.shares.get(journey, 0.0), max(1, len(self.slots))
        k = 0  # index of the stage's first arrival in the journey's whole schedule
        offset = self.start_s
        for stage in self.stages:
            rate = stage.rate * share
            n = _count(stage.duration_s, rate)
            for j in range((slot - k) % slots, n, slots):
                yield offset + j / rate
            k += n
            offset += stage.duration_s

    def due(self, journey: str, until: float) -> int:
        """How many arrivals of `journey` (all workers) were due before `until`."""
        share = self.shares.get(journey, 0.0)
        total = 0
        offset = self.start_s
        for stage in self.stages:
            rate = stage.rate * share
            n = _count(stage.duration_s, rate)
            if until > offset and n:
                # arrival j is at offset + j / rate: those before `until` are j < (until - offset) * rate,
                # checked with the very sum `times` computes, so both agree to the last bit
                j = min(n, math.ceil((until - offset) * rate))
                while j > 0 and offset + (j - 1) / rate >= until:
                    j -= 1
                while j < n and offset + j / rate < until:
                    j += 1
                total += j
            offset += stage.duration_s
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_s": self.start_s,
            "max_lateness_s": self.max_lateness_s,
            "shares": dict(self.shares),
            "slots": list(self.slots),
            "stages": [{"duration_s": s.duration_s, "rate": s.rate} for s in self.stages],
            **({"open_ended": True} if self.open_ended else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArrivalSchedule:
        return cls(
            start_s=float(data["start_s"]),
            max_lateness_s=float(data["max_lateness_s"]),
            shares={str(k): float(v) for k, v in data["shares"].items()},
            slots=tuple(str(s) for s in data["slots"]),
            stages=tuple(ArrivalStage(float(s["duration_s"]), float(s["rate"])) for s in data["stages"]),
            open_ended=bool(data.get("open_ended", False)),
        )

    def extended(self, stage: ArrivalStage) -> ArrivalSchedule:
        """The schedule with one more stage at its end (a search's chunk; one of the same rate merges)."""
        stages = list(self.stages)
        if stages and stages[-1].rate == stage.rate:
            stages[-1] = ArrivalStage(stages[-1].duration_s + stage.duration_s, stage.rate)
        else:
            stages.append(stage)
        return replace(self, stages=tuple(stages))


def chunk_times(start_s: float, count: int, rate: float, slot: int, slots: int, first: int) -> Iterator[float]:
    """Arrival times of a chunk of `count` arrivals at `rate` from `start_s` that fall to worker `slot`, the
    chunk's first arrival being the journey's arrival number `first` (slots take arrivals in turn)."""
    for j in range((slot - first) % max(1, slots), count, max(1, slots)):
        yield start_s + j / rate


def _count(duration_s: float, rate: float) -> int:
    return int(math.floor(duration_s * rate + 1e-9)) if rate > 0 else 0


class ArrivalQueue:
    """One journey's arrivals on this worker, taken in order by whichever of its users is free.

    Locust runs every user of a process in one thread, so no lock is needed.
    """

    def __init__(self, times: Iterator[float], max_lateness_s: float, open_ended: bool = False) -> None:
        self._times = times
        self.max_lateness_s = max_lateness_s
        self.open_ended = open_ended  # more chunks may come (a capacity search): empty is not the end
        self._chunks: deque[tuple[Iterator[float], str]] = deque()
        self._step = ""  # the capacity search step of the chunk being handed out ("": none)
        self.step = ""  # that of the arrival `next` returned last (its user sleeps until it is due)
        self.started = 0
        self.late = 0
        self.dropped = 0  # waited longer than max_lateness for a free user
        self.max_delay_s = 0.0
        self.by_step: dict[str, list[int]] = {}  # a search's judged step -> [started, dropped]

    def extend(self, times: Iterator[float], step: str = "") -> None:
        """More arrivals after those already queued (a search's chunk), counted under `step` if given."""
        self._chunks.append((times, step))

    def next(self, now: float) -> float | None:
        """The next arrival to serve (perhaps in the future: sleep until then); None when none is left
        (for now, when the queue is open-ended)."""
        while True:
            for intended in self._times:
                if now - intended > self.max_lateness_s:
                    self.dropped += 1
                    self._count(self._step, 1)
                    continue
                self.step = self._step
                return intended
            if not self._chunks:
                return None
            self._times, self._step = self._chunks.popleft()

    def record_start(self, delay_s: float, step: str = "") -> None:
        """An arrival's journey started `delay_s` after its intended time (`step`: its search step, as
        `step` said when `next` handed it out: other users may have taken later chunks since)."""
        self.started += 1
        self._count(step, 0)
        if delay_s > LATE_AFTER_S:
            self.late += 1
        self.max_delay_s = max(self.max_delay_s, delay_s)

    def _count(self, step: str, which: int) -> None:
        if step:
            self.by_step.setdefault(step, [0, 0])[which] += 1

    def counts(self) -> dict[str, Any]:
        counts: dict[str, Any] = {
            "started": self.started,
            "late": self.late,
            "dropped": self.dropped,
            "max_delay_s": round(self.max_delay_s, 6),
        }
        if self.by_step:
            counts["steps"] = {step: list(c) for step, c in self.by_step.items()}
        return counts


def arrival_queue(environment: Any, journey: str) -> ArrivalQueue | None:
    """This process's queue for `journey`, built on first use from the schedule the master handed out;
    None in a closed-model run."""
    queues: dict[str, ArrivalQueue] | None = getattr(environment, "_harness_arrivals", None)
    if queues is None:
        raw = getattr(getattr(environment, "parsed_options", None), OPTION, "") or ""
        if not raw:
            return None
        schedule = ArrivalSchedule.from_dict(json.loads(raw))
        me = slot_name(getattr(environment, "runner", None))
        slots = list(schedule.slots)
        # a worker that joined after the start has no slot: its users stay idle
        queues = {
            name: ArrivalQueue(
                schedule.times(name, slots.index(me)) if me in slots else iter(()),
                schedule.max_lateness_s,
                open_ended=schedule.open_ended and me in slots,
            )
            for name in schedule.shares
        }
        environment._harness_arrivals = queues
        for chunk in getattr(environment, "_harness_pending_chunks", ()):  # came before the schedule
            _apply_chunk(queues, schedule, slots.index(me) if me in slots else None, chunk)
        environment._harness_pending_chunks = []
    return queues.get(journey)


def add_chunk(environment: Any, chunk: Mapping[str, Any]) -> None:
    """A capacity search's chunk of arrivals (STAGE_MESSAGE): {"start_s", "rate", "count", "step",
    "first": journey -> its first arrival's number}, queued after this process's arrivals so far."""
    arrival_queue(environment, "")  # builds this process's queues, once the schedule is here
    if getattr(environment, "_harness_arrivals", None) is None:
        environment._harness_pending_chunks = [*getattr(environment, "_harness_pending_chunks", []), chunk]
        return
    raw = getattr(environment.parsed_options, OPTION, "")
    schedule = ArrivalSchedule.from_dict(json.loads(raw))
    me = slot_name(getattr(environment, "runner", None))
    slots = list(schedule.slots)
    _apply_chunk(environment._harness_arrivals, schedule, slots.index(me) if me in slots else None, chunk)


def _apply_chunk(
    queues: Mapping[str, ArrivalQueue], schedule: ArrivalSchedule, slot: int | None, chunk: Mapping[str, Any]
) -> None:
    if slot is None:  # a worker without a slot serves nothing
        return
    for name, queue in queues.items():
        count = math.floor(int(chunk["count"]) * schedule.shares.get(name, 0.0) + 1e-9)
        rate = float(chunk["rate"]) * schedule.shares.get(name, 0.0)
        if count and rate > 0:
            first = int(chunk["first"].get(name, 0))
            times = chunk_times(float(chunk["start_s"]), count, rate, slot, len(schedule.slots), first)
            queue.extend(times, str(chunk.get("step", "")))


def slot_name(runner: Any) -> str:
    """The name of a process's slot in the schedule: its Locust client id (a worker's, or a plain
    `locust -f` run's LocalRunner's), as the load shape lists them."""
    return str(getattr(runner, "client_id", "local"))


def arrival_counts(environment: Any) -> dict[str, dict[str, Any]]:
    """journey -> started, late, dropped of this process so far (cumulative)."""
    queues: dict[str, ArrivalQueue] = getattr(environment, "_harness_arrivals", None) or {}
    return {name: queue.counts() for name, queue in queues.items()}


def pool_sizes(shares: Mapping[str, float], peak_rate: float, pool: int | None, workers: int) -> dict[str, int]:
    """Users per journey: its share of the pool (default: POOL_SECONDS of arrivals at the peak rate),
    at least one per worker and a multiple of the workers, so that every worker can serve its slots."""
    workers = max(1, workers)
    total = pool if pool else max(1, math.ceil(peak_rate * POOL_SECONDS))
    sizes = {}
    for name, share in shares.items():
        if share <= 0:
            continue
        users = max(workers, math.ceil(total * share))
        sizes[name] = math.ceil(users / workers) * workers
    return sizes
