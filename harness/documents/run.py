"""run.json: what the Locust master knew about a run, written as the run goes and once more at its
end (harness.load.plugin), read back by the analysis (harness.analysis.run.load_run).

A run killed before its end leaves a run.json without `ended_at` (and without the end's facts);
one from an older version may lack fields or carry others. Every field has a default, and
`RunMeta.load` reads such a file with a note per field it had to leave out.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from harness.documents.common import load_tolerant, to_builtins

__all__ = [
    "RUN_SCHEMA_VERSION",
    "RunMeta",
    "JourneyRan",
    "TaskError",
    "LostWorker",
    "StoppedEarly",
    "AbortKind",
    "WebhookSigned",
    "AtTheStop",
    "CapacityStep",
    "CapacityRun",
    "LoopSeries",
]

RUN_SCHEMA_VERSION = 1
# why a run was aborted: a [guardrails] cap or the circuit breaker, or anything else (a signal, a
# failed write, an unreachable target, an internal failure)
AbortKind = Literal["guardrail", "aborted"]
Number = int | float


class JourneyRan(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A journey whose users ran, the routes each of its users must call, and the login among them."""

    users: int = 0
    user_class: str | None = None
    required: list[str] = msgspec.field(default_factory=list)
    login: str | None = None  # left out when none (and in older runs, whose login route was `login`)


class TaskError(msgspec.Struct, kw_only=True):
    """One distinct exception raised inside users' tasks (credentials redacted)."""

    count: int = 0
    exception: str | None = None
    message: str = ""
    last_line: str = ""
    in_: str | None = msgspec.field(default=None, name="in")  # the user class method it was raised in
    nodes: list[str] = msgspec.field(default_factory=list)


class LostWorker(msgspec.Struct, kw_only=True):
    """A worker Locust gave up on (10 missed heartbeats): when, and what of it is kept."""

    worker: str | None = None
    lost_at: float | None = None
    at_s: float | None = None
    last_report_s: float | None = None
    samples: int | None = None


class WebhookSigned(msgspec.Struct, kw_only=True):
    """How the run signed webhook deliveries: the scenario's [webhook] scheme, and whether it signs a
    timestamp (without one a stale delivery cannot be told from a fresh one)."""

    scheme: str = "stripe"
    signs_timestamp: bool = True


class StoppedEarly(msgspec.Struct, kw_only=True):
    """An abort-on-fail threshold that failed during the run."""

    reason: str | None = None
    at_s: float | None = None


class AtTheStop(msgspec.Struct, kw_only=True):
    """Requests in flight when the load stopped (harness.load.inflight): awaited up to `grace_s`, so
    they are samples, or cut off (sent, no sample; a ramp-down's cuts count too). `unreported` names
    the workers whose counts never arrived."""

    grace_s: Number = 0
    in_flight: int = 0
    awaited: int = 0
    cut_off: int = 0
    cut_off_by_route: dict[str, int] = msgspec.field(default_factory=dict)
    waited_s: Number = 0
    unreported: list[str] = msgspec.field(default_factory=list)

    @classmethod
    def merged(cls, parts: list[dict[str, Any]], unreported: list[str]) -> AtTheStop:
        """The load processes' counts added up (harness.load.inflight.InFlight.facts of each)."""
        by_route: dict[str, int] = {}
        for part in parts:
            for route, n in part.get("cut_off_by_route", {}).items():
                by_route[route] = by_route.get(route, 0) + int(n)
        return cls(
            grace_s=max((p.get("grace_s", 0) for p in parts), default=0),
            in_flight=sum(int(p.get("in_flight", 0)) for p in parts),
            awaited=sum(int(p.get("awaited", 0)) for p in parts),
            cut_off=sum(by_route.values()),
            cut_off_by_route=dict(sorted(by_route.items())),
            waited_s=max((p.get("waited_s", 0) for p in parts), default=0),
            unreported=sorted(unreported),
        )


class CapacityStep(msgspec.Struct, kw_only=True):
    """One step of a capacity search as the master ran it: the rate it offered from `start_s` to
    `end_s` (the first `settle_s` not judged), and what it decided live from the samples then on disk
    (the report judges again from every sample)."""

    rate: float
    start_s: float
    judged_end_s: float | None = None  # the judged window is [start_s + settle_s, judged_end_s)
    end_s: float | None = None  # the next step began here (absent: still running when the run ended)
    settle_s: float = 0.0
    generator_cpu: float | None = None  # the busiest load generator's CPU share during the step
    passed: bool | None = None  # absent: never judged
    failures: list[str] = msgspec.field(default_factory=list)


class CapacityRun(msgspec.Struct, kw_only=True):
    """A capacity search: its settings (harness.scenario.Search, as numbers) and its steps in order."""

    settings: dict[str, float | None] = msgspec.field(default_factory=dict)
    steps: list[CapacityStep] = msgspec.field(default_factory=list)
    stopped: str = ""  # why the search ended ("" while it runs)


class LoopSeries(msgspec.Struct, kw_only=True):
    """One load process's event loop and CPU (harness.load.loop_monitor), as columns, times in seconds
    from `t0` (epoch seconds). Window i ran from `start_s[i]` to `end_s[i]`: the monitor woke `ticks[i]`
    times, at worst `lag_max_ms[i]` later than it asked (`lag_p90_ms[i]`: the 90th percentile of those
    wake-ups), and the process used `cpu[i]` of a core (CPU time over wall time). Every wake-up at least
    `stall_min_ms` late is also kept on its own: the loop was stalled for `stall_ms[j]` up to `stall_at_s[j]`."""

    tick_s: Number = 0
    stall_min_ms: Number = 0
    t0: float = 0
    start_s: list[Number] = msgspec.field(default_factory=list)
    end_s: list[Number] = msgspec.field(default_factory=list)
    ticks: list[int] = msgspec.field(default_factory=list)
    lag_max_ms: list[Number] = msgspec.field(default_factory=list)
    lag_p90_ms: list[Number] = msgspec.field(default_factory=list)
    cpu: list[Number] = msgspec.field(default_factory=list)
    stall_at_s: list[Number] = msgspec.field(default_factory=list)
    stall_ms: list[Number] = msgspec.field(default_factory=list)


class RunMeta(msgspec.Struct, kw_only=True):
    """run.json. Times are epoch seconds; `targets` are p95 targets in ms per endpoint."""

    schema_version: int = 0  # 0: written before run.json had a version
    id: str | None = None
    scenario: str | None = None
    host: str | None = None
    started_at: float | None = None
    ended_at: float | None = None  # absent: the run never finished (killed)
    planned_duration_s: Number | None = None
    workers: int | None = None
    locust_version: str | None = None
    harness_version: str | None = None
    aborted: bool = False
    abort_reason: str | None = None
    abort_kind: AbortKind | None = None
    targets: dict[str, Number | None] = msgspec.field(default_factory=dict)
    # threshold records ({expr, abort, grace_s, origin, skip}); each is checked on its own when
    # judged, so that one broken record fails its row instead of dropping every rule
    thresholds: list[Any] | None = None
    streaming_endpoints: dict[str, str] | list[str] | None = None  # LLM endpoint -> how its replies are read
    users: int | None = None
    load_model: str | None = None
    stages: list[dict[str, Any]] = msgspec.field(default_factory=list)
    limits: dict[str, list[dict[str, Any]]] | list[dict[str, Any]] = msgspec.field(default_factory=dict)
    block: dict[str, Any] | None = None
    attacks: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    attacks_start_after_s: Number | None = None
    probed_routes: list[str] = msgspec.field(default_factory=list)
    probe_plan: dict[str, list[str]] | None = None  # route -> its planned bypass techniques (absent: older runs)
    webhook: WebhookSigned | None = None  # absent: a run from before signature schemes (Stripe's)
    kinds: dict[str, str] = msgspec.field(default_factory=dict)  # route -> its kind; older runs: by legacy name
    target_is_loopback: bool | None = None
    wallet: dict[str, Any] | None = None
    spend: dict[str, Any] | None = None  # the price and token settings, fixed at the start
    arrivals: dict[str, Any] | None = None  # open model: the schedule, the pool and each worker's counts
    capacity: CapacityRun | None = None  # a capacity search: its steps (absent: none ran)
    stopped_early: StoppedEarly | None = None
    load_stopped_at: float | None = None
    at_the_stop: AtTheStop | None = None  # absent: a run from before the count (or killed before its end)
    locust_totals: dict[str, Number | None] | None = None
    locust_percentiles: dict[str, dict[str, Number | None]] | None = None
    samples_written: int | None = None
    samples_unwritten: int | None = None
    samples_by_worker: dict[str, int] | None = None
    lost_workers: list[LostWorker | str] | None = None
    journeys: dict[str, JourneyRan] | None = None
    accounts: int | None = None
    task_errors: list[TaskError] | None = None
    # load process ("local" without workers) -> its event-loop lag and CPU; absent: a run from before the
    # monitor, or one killed before its end
    loop_monitor: dict[str, LoopSeries] | None = None

    @classmethod
    def load(cls, data: Any, where: str = "run.json") -> tuple[RunMeta, list[str]]:
        """Parsed run.json as RunMeta, with a note per field that was left out (see load_tolerant)."""
        return load_tolerant(data, cls, where)

    def to_dict(self) -> dict[str, Any]:
        """As plain JSON types: what run.json holds, and what the analysis sections read."""
        return to_builtins(self)
