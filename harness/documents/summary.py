"""summary.json: every figure of a run and its verdict, built once by harness.analysis.run.summarize.

The figures' names and meanings are those of DESIGN.md ("summary.json: names of the figures").
`run`, `endpoints`, `totals`, `thresholds` and the verdict are typed field by field; the sections
of the later analyses (`rate_limits`, `abuse`, `llm`, `spend`, `open_model`) are typed as objects
per route, their figures documented in their modules. A section a run has nothing for is absent.

The verdict: `verdict` is "pass" only when `reasons` is empty; `verdict_reasons` holds the same
reasons as text, for readers of older summaries. `notes` are caveats that never fail a run.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from harness.documents.common import load_tolerant, to_builtins
from harness.documents.run import AtTheStop, JourneyRan, LostWorker, StoppedEarly, TaskError

__all__ = [
    "SUMMARY_SCHEMA_VERSION",
    "REASON_KINDS",
    "ReasonKind",
    "Reason",
    "Verdict",
    "VerdictStatus",
    "ThresholdRow",
    "EndpointFigures",
    "Totals",
    "RunSection",
    "WorkerLoop",
    "LaggedFigure",
    "Generator",
    "Summary",
    "CapacitySection",
    "CapacityStepFigures",
]

SUMMARY_SCHEMA_VERSION = 1
Number = int | float

# Why a run fails, one kind per source:
#   threshold:     a threshold row failed (its row in `thresholds` says by how much)
#   finding:       a security or cost finding (a rate limit leaky, bypassable or absent; an abuse
#                  finding; a denial-of-wallet finding)
#   untested:      a verdict that needed something the run could not get (a login, an accepted
#                  delivery...): not a pass, not a fail; the run is "untested" when nothing else failed
#   aborted:       the run was aborted (a signal, a failed write, an internal failure)
#   guardrail:     a [guardrails] cap or the circuit breaker aborted the run
#   stopped_early: an abort-on-fail threshold ended the run before its planned end
#   incomplete:    nothing was measured, or the run has no end time (killed)
#   task_error:    users' tasks raised exceptions (such a task sends no request)
#   journey:       a journey's users ran but never called a route it requires (when every login was
#                  refused, the reason is "untested": the credentials stood in the way, not the target)
ReasonKind = Literal[
    "threshold", "finding", "untested", "aborted", "guardrail", "stopped_early", "incomplete", "task_error", "journey"
]
REASON_KINDS: tuple[str, ...] = ReasonKind.__args__  # type: ignore[attr-defined]
VerdictStatus = Literal["pass", "fail", "untested"]


class Reason(msgspec.Struct, frozen=True, kw_only=True):
    """One reason the run fails: its kind, the route it is about (None: the run as a whole) and
    the sentence shown to people."""

    kind: ReasonKind
    message: str
    route: str | None = None


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """The run's verdict and every reason for it, in the order they are shown."""

    status: VerdictStatus
    reasons: tuple[Reason, ...] = ()

    @classmethod
    def of(cls, reasons: list[Reason]) -> Verdict:
        """Fail on any reason but "untested"; untested when those are all there is (a gate that
        depends on a verdict nobody could judge does not pass); pass without a reason."""
        status: VerdictStatus = "pass"
        if reasons:
            status = "untested" if all(r.kind == "untested" for r in reasons) else "fail"
        return cls(status=status, reasons=tuple(reasons))


class ThresholdRow(msgspec.Struct, kw_only=True):
    """One judged threshold (a `*` rule gives one row per endpoint). `observed` and `limit` are in
    `unit` (ms, ratio, usd), or verdict words for rate_limit; `judged` false: nothing to measure."""

    expr: str
    metric: str | None = None
    endpoint: str | None = None
    target: str | None = None
    op: str | None = None
    limit: Number | str | None = None
    unit: str | None = None
    observed: Number | str | None = None
    passed: bool = False
    judged: bool = True
    abort: bool = False
    origin: str | None = None
    samples: int | None = None
    note: str | None = None


class EndpointFigures(msgspec.Struct, kw_only=True):
    """Figures of one endpoint. Latency (ms) is exact, over legit ok responses; null when none."""

    requests: int = 0
    legit_requests: int = 0
    ok: int = 0
    blocked: int = 0
    errors: int = 0
    error_rate: float | None = None
    rps: float | None = None
    legit_blocked: int = 0
    legit_errors: int = 0
    legit_rejected: int = 0  # of legit_errors: refused by the target (401, 403, 400, the route's rejected_when)
    legit_error_rate: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    p999_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None
    latency_samples: int = 0
    p95_ci_ms: list[float | None] | None = None  # 95 % confidence interval of the p95; null: too few samples
    warnings: list[str] = msgspec.field(default_factory=list)
    blocked_p50_ms: float | None = None
    blocked_p95_ms: float | None = None
    ttfb_p50_ms: float | None | UnsetType = UNSET
    ttfb_p95_ms: float | None | UnsetType = UNSET
    ttft_p50_ms: float | None | UnsetType = UNSET
    ttft_p95_ms: float | None | UnsetType = UNSET
    target_p95_ms: Number | None = None
    status_counts: dict[str, int] = msgspec.field(default_factory=dict)
    error_counts: dict[str, int] = msgspec.field(default_factory=dict)


class Totals(msgspec.Struct, kw_only=True):
    requests: int = 0
    ok: int = 0
    blocked: int = 0
    errors: int = 0
    error_rate: float | None = None
    rps: float | None = None


class RunSection(msgspec.Struct, kw_only=True):
    """The run's facts (times as ISO 8601 UTC). `aborted` is also true for a run without an end."""

    id: str | None = None
    scenario: str | None = None
    host: str | None = None
    started_at: str | None = None
    duration_s: float | None = None
    workers: int | None = None
    locust_version: str | None = None
    harness_version: str | None = None
    aborted: bool = False
    requests: int = 0
    ended_at: str | UnsetType = UNSET
    abort_reason: str | UnsetType = UNSET
    stopped_early: StoppedEarly | UnsetType = UNSET
    planned_duration_s: Number | UnsetType = UNSET
    lost_workers: list[LostWorker | str] | UnsetType = UNSET
    at_the_stop: AtTheStop | UnsetType = UNSET
    streaming_endpoints: dict[str, str] | list[str] | UnsetType = UNSET
    journeys: dict[str, JourneyRan] | UnsetType = UNSET

    def section(self, name: str) -> Any:
        """An optional field, or None when the run has none."""
        value = getattr(self, name)
        return None if value is UNSET else value


class CapacityStepFigures(msgspec.Struct, kw_only=True):
    """One step of a capacity search, judged from its samples: offered and achieved rate, latency
    from the intended start, TTFT, errors, and concurrency in flight measured and by Little's law."""

    rate: float  # journeys per second offered
    start_s: float
    end_s: float | None = None
    due: int = 0  # arrivals the schedule offered during the step
    started: int = 0
    dropped: int = 0
    achieved_rate: float | None = None  # arrivals started per second
    requests: int = 0  # legit requests judged (after the settling seconds)
    error_rate: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    route_p95_ms: dict[str, float | None] = msgspec.field(default_factory=dict)
    in_flight: float | None = None  # requests in flight, time-averaged over the judged window
    in_flight_little: float | None = None  # Little's law: completion rate x mean latency
    generator_cpu: float | None = None  # the busiest load generator's CPU share during the step
    generator_lag_ms: float | None = None  # the latest any load generator's event loop woke during it
    passed: bool | None = None
    failures: list[str] = msgspec.field(default_factory=list)
    live_passed: bool | None = None  # what the master decided during the run


class CapacitySection(msgspec.Struct, kw_only=True):
    """summary.json `capacity`: the highest rate that passed every criterion, the first that failed and
    why, and every step (the latency-versus-offered-rate curve)."""

    capacity_rps: float | None = None  # the highest offered rate that passed (None: none passed)
    first_failure_rps: float | None = None
    first_failure: list[str] = msgspec.field(default_factory=list)
    at_least: bool = False  # max_rate passed: the capacity is at least capacity_rps
    generator_limited: bool = False  # the first failure came with the load generator saturated
    spend_usd: float | None = None  # the LLM spend of the whole search (legit and abuse), when priced
    stopped: str = ""
    criteria: dict[str, float | None] = msgspec.field(default_factory=dict)
    steps: list[CapacityStepFigures] = msgspec.field(default_factory=list)
    notes: list[str] = msgspec.field(default_factory=list)


class WorkerLoop(msgspec.Struct, kw_only=True):
    """One load process ("local" without workers) from its first request sent to its last answer: how
    late its event loop woke up and how much of a core it used (harness.analysis.generator). Null: not
    measured (a worker whose windows never arrived); `lag_p99_ms` is also null when it is under the
    `stall_min_ms` below which wake-ups are only counted (fewer than 1 % of them were that late)."""

    samples: int = 0
    seconds: float | None = None  # how much of its time the windows cover
    wakeups: int | None = None
    stalls: int | None = None  # wake-ups at least stall_min_ms late
    lag_max_ms: float | None = None
    lag_p99_ms: float | None = None
    cpu_mean: float | None = None  # CPU time over wall time: 1.0 is a whole core
    cpu_max: float | None = None  # of its busiest window (about 1 s)


class LaggedFigure(msgspec.Struct, kw_only=True):
    """A percentile the load generator's lag may have moved by more than `allowed_ms`."""

    endpoint: str
    figure: str  # its key in `endpoints`: p50_ms, p95_ms, p99_ms, ttft_p50_ms...
    value_ms: float
    bound_ms: float  # it may be this much higher than the target made it
    allowed_ms: float  # max(1 ms, 1 % of the value)
    workers: dict[str, float] = msgspec.field(default_factory=dict)  # worker -> its worst lag near that percentile


class Generator(msgspec.Struct, kw_only=True):
    """The load generator's own timing beside the figures (harness.analysis.generator): per load
    process, its event-loop lag and CPU; per percentile, how far that lag may have moved it (`bounds_ms`:
    endpoint -> figure -> bound); and the percentiles whose bound exceeds max(1 ms, 1 % of the value).
    `measured` false: run.json has no series (`not_measured` says why), and nothing here is a zero."""

    measured: bool = False
    not_measured: str | None = None
    tick_s: float | None = None  # how often each monitor woke up, on average
    stall_min_ms: float | None = None  # a wake-up at least this late is a stall, kept on its own
    workers: dict[str, WorkerLoop] = msgspec.field(default_factory=dict)
    bounds_ms: dict[str, dict[str, float | None]] = msgspec.field(default_factory=dict)
    flagged: list[LaggedFigure] = msgspec.field(default_factory=list)
    unmeasured_samples: int = 0  # samples whose worker's loop was not measured while they were in flight


class Summary(msgspec.Struct, kw_only=True):
    """summary.json."""

    schema_version: int = 0  # 0: written before summary.json had a version
    run: RunSection = msgspec.field(default_factory=RunSection)
    endpoints: dict[str, EndpointFigures] = msgspec.field(default_factory=dict)
    totals: Totals = msgspec.field(default_factory=Totals)
    thresholds: list[ThresholdRow] = msgspec.field(default_factory=list)
    verdict: VerdictStatus = "fail"  # a summary without a verdict is no pass
    verdict_reasons: list[str] = msgspec.field(default_factory=list)
    reasons: list[Reason] = msgspec.field(default_factory=list)
    notes: list[str] = msgspec.field(default_factory=list)
    task_errors: list[TaskError] | UnsetType = UNSET
    # route -> verdict (effective | leaky | bypassable | absent | untested) and its figures
    rate_limits: dict[str, dict[str, Any]] | UnsetType = UNSET
    abuse: dict[str, dict[str, Any]] | UnsetType = UNSET  # attack -> counts, verdict, findings
    abuse_verdict: str | UnsetType = UNSET
    llm: dict[str, dict[str, Any]] | UnsetType = UNSET  # LLM route -> TTFT, TPOT, ITL, tokens
    spend: dict[str, Any] | UnsetType = UNSET  # tokens and money, legit and abuse; denial_of_wallet
    open_model: dict[str, Any] | UnsetType = UNSET  # arrivals due, late, dropped; latency from intended start
    capacity: CapacitySection | UnsetType = UNSET  # a capacity search's steps and answer
    generator: Generator | UnsetType = UNSET  # the load generator's event-loop lag and CPU; always written

    @classmethod
    def load(cls, data: Any, where: str = "summary.json") -> tuple[Summary, list[str]]:
        """A summary.json read back (compare, audit --run), with a note per field left out."""
        return load_tolerant(data, cls, where)

    def section(self, name: str) -> Any:
        """An optional section, or None when the run has none."""
        value = getattr(self, name)
        return None if value is UNSET else value

    def to_dict(self) -> dict[str, Any]:
        return to_builtins(self)
