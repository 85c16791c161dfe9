"""Locust event hooks that make any locustfile importing this module record a harness run.

Importing it registers listeners on `locust.events`:
- on the master (or a single local process): load the scenario, resolve credentials, create the
  run folder, append every arriving sample batch to `samples/`, keep `progress.json` fresh, stop
  the run gracefully at the planned time, and write `run.json` (and, outside `harness run`, the report);
- on each worker: record one row per request and ship the rows with Locust's own stats reports.

The run ends by the plugin's own timer rather than Locust's `--run-time`, because Locust's quit
gives workers half a second to send their last report; stopping first and waiting for that report
is what makes "every request is a sample" hold.
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import gevent
import httpx
import locust
import locust.runners
from gevent import get_hub
from locust import events
from locust import log as locust_log
from locust.runners import STATE_MISSING, STATE_STOPPED, STATE_STOPPING, MasterRunner, WorkerRunner

from harness import __version__
from harness.documents.run import (
    RUN_SCHEMA_VERSION,
    AbortKind,
    AtTheStop,
    CapacityRun,
    LostWorker,
    RunMeta,
    StoppedEarly,
    WebhookSigned,
)
from harness.documents.summary import Summary
from harness.errors import AbortedError, ExitCode, HarnessError, UsageError
from harness.host import HOST_AUTH_ENV, parse_host
from harness.lifeline import follow_parent, parent_gone
from harness.load.connections import (
    keep_idle_sockets_in_a_list,
    resolve_address_literals_in_place,
    reuse_connections_past_1024,
)
from harness.load.gate import RunCounters, breaker_reason, cap_reason, threshold_breach
from harness.load.gc_policy import collect_less_often
from harness.load.inflight import IN_FLIGHT, STOP_GRACE_S
from harness.load.loop_monitor import LOOP, LOOP_KEY, LoopRecord
from harness.load.plan import OPTION, RunPlan
from harness.load.recorder import Recorder
from harness.load.run_facts import final_facts
from harness.load.shape import ScenarioShape
from harness.load.sources import is_loopback
from harness.load.vocabulary import load_before_connecting, loaded_before_connecting, start_loading
from harness.load.webhooks import scheme_of
from harness.protocol.tokens import counter_for_model, encoding
from harness.runfolder import STOP_FILE, new_run_dir, stop_file_reason, write_json_atomic
from harness.scenario import SHIPPED_SCENARIOS, Scenario, load_scenario, parse_scenario, redacted_copy
from harness.scenario.accounts import Credentials, resolve_credentials
from harness.scenario.arrivals import (
    LATE_AFTER_S,
    STAGE_MESSAGE,
    WARM_UP_S,
    ArrivalSchedule,
    add_chunk,
    arrival_counts,
)
from harness.scenario.arrivals import OPTION as ARRIVALS_OPTION
from harness.scenario.guardrails import abuse_refusal
from harness.scenario.preflight import spend_prices
from harness.scenario.probeplan import planned_techniques
from harness.scenario.thresholds import METRICS, from_options, merge

if TYPE_CHECKING:
    from harness.load.capacity import CapacitySearch

__all__ = ["DEFAULT_SCENARIO", "SAMPLES_KEY", "JOURNEY_CLASS_MAKERS"]

log = logging.getLogger("harness")
DEFAULT_SCENARIO = SHIPPED_SCENARIOS / "smoke.toml"
SAMPLES_KEY = "harness_samples"  # key of the sample columns inside a worker's stats report
IN_FLIGHT_KEY = "harness_in_flight"  # open model: the worker's requests in flight at its report
ARRIVALS_KEY = "harness_arrivals"  # open model: the worker's arrival counts so far, in the same report
STOP_KEY = "harness_at_the_stop"  # the worker's requests in flight at the stop, once its users are gone
# threshold kinds judged on the whole run's load figures, which a capacity search's overloaded steps
# make meaningless: its steps have their own criteria, and `capacity(rps)` gates on the answer
WHOLE_RUN_LOAD_KINDS = ("latency", "error_rate", "llm", "intended")
REPORT_INTERVAL_S = 3.0  # Locust's WORKER_REPORT_INTERVAL
PARENT_DIED = "the harness process that started this run died"
ABORT_CHECK_S = 3.0  # abort-on-fail thresholds are judged this often (samples arrive every 3 s)
# Heartbeats (one a second) a worker may miss before the master counts it lost. Locust's own 3 ends a
# one-worker run over one busy moment of a loaded generator host (its master stops a run whose last
# worker went missing); a killed worker is still noticed, 11 s later. Locust's maintainers point to
# this module constant for the purpose (locustio/locust#1988).
WORKER_SILENCE_S = 10
# What adds a user class for each journey of the scenario's own (harness.load.journeys registers its
# maker on import: it imports this module, so this module cannot import it)
JOURNEY_CLASS_MAKERS: list[Callable[[list[type], Scenario], None]] = []

# A worker `harness run` started loads its model's vocabulary now, as its locustfile is imported:
# before Locust creates its runner, connects and heartbeats (harness.load.vocabulary)
load_before_connecting()


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    group = parser  # Locust's own parser: its add_argument knows include_in_web_ui
    group.add_argument(
        "--scenario",
        default=str(DEFAULT_SCENARIO),
        help="scenario TOML file, or a shipped scenario's name (default: smoke)",
    )
    group.add_argument(
        "--run-dir",
        default="",
        include_in_web_ui=False,
        help="write the run folder here (default: reports/<time>-<scenario>)",
    )
    group.add_argument(
        "--harness-managed", action="store_true", default=False, include_in_web_ui=False, help=argparse.SUPPRESS
    )
    group.add_argument(
        "--flat-load",
        action="store_true",
        default=False,
        include_in_web_ui=False,
        help="ignore the scenario's stages: run --users at --spawn-rate for the whole run",
    )
    group.add_argument(
        "--arrival-rate",
        type=float,
        default=0.0,
        include_in_web_ui=False,
        help="open model: journeys started per second across all workers (see harness.scenario.arrivals)",
    )
    group.add_argument(
        f"--{ARRIVALS_OPTION.replace('_', '-')}", default="", include_in_web_ui=False, help=argparse.SUPPRESS
    )  # the master's schedule, handed to the workers
    group.add_argument(
        "--find-capacity",
        action="store_true",
        default=False,
        include_in_web_ui=False,
        help="search the highest arrival rate that passes every criterion of the scenario's [search] "
        "(its defaults without one) instead of running its load (see docs/capacity.md)",
    )
    group.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="EXPR",
        include_in_web_ui=False,
        help='add a threshold to the scenario\'s, e.g. "p99(*) < 1s" (repeatable)',
    )
    group.add_argument(
        "--abort-on-fail",
        action="append",
        default=[],
        metavar="EXPR",
        include_in_web_ui=False,
        help="add a threshold that stops the run as soon as it fails (repeatable)",
    )


@events.init.add_listener
def _on_init(environment: Any, runner: Any = None, web_ui: Any = None, **_: Any) -> None:
    if runner is None or environment.parsed_options is None:
        return  # used as a library without a command line: nothing to record into
    # A worker's listeners first: whatever yields to gevent below lets the runner's greenlet take the
    # master's first spawn message, which fires test_start once and then looks users up by class name.
    if isinstance(runner, WorkerRunner):
        _install_worker(environment)
    if not isinstance(runner, MasterRunner):  # a capacity search's arrivals (harness.load.capacity)
        runner.register_message(STAGE_MESSAGE, lambda environment, msg, **_: add_chunk(environment, msg.data))
    follow_parent()  # started by `harness run` or `harness worker`: never outlive it
    # The model's tiktoken vocabulary (a few hundred ms of CPU) is loaded before the run, on the master
    # (`_Session.install`) and on each worker (harness.load.vocabulary), not in the first chat reply,
    # where it would stall every request in flight; only that one: a second costs every process as much.
    # Everything imported so far (Locust, numpy, pandas, pyarrow) lives as long as the process: keep
    # it out of the cyclic collector, whose full passes would otherwise pause requests mid-flight.
    gc.freeze()
    _await_requests_at_the_stop(environment)
    if not isinstance(runner, MasterRunner):  # a process that sends traffic times its own event loop
        LOOP.start()
        reuse_connections_past_1024()  # and keeps its keep-alive connections past 1,024 sockets
        resolve_address_literals_in_place()  # and connects to an address without a thread's round trip
        keep_idle_sockets_in_a_list()  # and gives each user's pool a list, not a 2 KB queue, for idle sockets
        collect_less_often(environment.events)  # and keeps its users out of the collector's passes
        environment.events.quitting.add_listener(lambda **_: LOOP.stop())
    if isinstance(runner, MasterRunner):  # read by Locust as each worker connects and each heartbeat
        locust.runners.HEARTBEAT_LIVENESS = WORKER_SILENCE_S
    if not isinstance(runner, WorkerRunner):
        session = _Session(environment, runner)
        environment.harness_session = session  # where the load shape finds it (harness.load.shape)
        session.install()
        if web_ui is not None:  # `harness run --web`: the harness panel in Locust's web UI
            from harness.load.web import install_live_view

            install_live_view(web_ui, session)


def _await_requests_at_the_stop(environment: Any) -> None:
    """Before Locust kills the users, wait (bounded) for their requests in flight (harness.load.inflight)."""
    events_ = environment.events
    events_.test_start.add_listener(lambda **_: IN_FLIGHT.reset())
    events_.test_stopping.add_listener(lambda **_: IN_FLIGHT.drain())

    def settled(**_: Any) -> None:
        IN_FLIGHT.settled = True

    events_.test_stop.add_listener(settled)


def _install_worker(environment: Any) -> None:
    if loaded := loaded_before_connecting():
        log.info("tokenizer vocabulary loaded before connecting: %s", loaded)
    recorder = Recorder()
    environment.events.request.add_listener(recorder.on_request)

    def add_journeys(**_: Any) -> None:
        """The scenario's own journeys, as the master made them: the plan arrives with the first spawn
        message, which fires test_start before any user is looked up by its class name."""
        plan = RunPlan.from_environment(environment)
        if plan is not None:
            for make in JOURNEY_CLASS_MAKERS:
                make(environment.user_classes, plan.scenario)
            start_loading(plan.scenario.spend.model)  # unless loaded before connecting (harness.load.vocabulary)

    environment.events.test_start.add_listener(add_journeys)
    # The first spawn message may have come while the worker waited for the master's ack, before init:
    # its test_start fired without the listener above, and its spawning greenlet has not run yet.
    add_journeys()

    def attach(client_id: str, data: dict[str, Any]) -> None:
        data[SAMPLES_KEY] = recorder.batch.take()
        if IN_FLIGHT.settled:  # its users are gone: every sample is in this report or an earlier one
            data[STOP_KEY] = IN_FLIGHT.facts()
        counts = arrival_counts(environment)
        if counts:
            data[ARRIVALS_KEY] = counts
            data[IN_FLIGHT_KEY] = IN_FLIGHT.count  # a capacity search waits for the backlog to clear
        data[LOOP_KEY] = LOOP.take(final=IN_FLIGHT.settled)  # its event loop's lag and CPU (loop_monitor)

    environment.events.report_to_master.add_listener(attach)


class _Session:
    """The recording side of one run, on the master or the single local process."""

    def __init__(self, environment: Any, runner: Any) -> None:
        self.environment = environment
        self.runner = runner
        self.options = environment.parsed_options
        self.is_master = isinstance(runner, MasterRunner)
        self.finishing = False
        self.finished = False
        self.abort_reason: str | None = None
        self.stop_reason: str | None = None  # why the run ends before its time as aborted (exit 3)
        self.stop_kind: AbortKind = "aborted"  # "guardrail" when a cap or the circuit breaker stopped it
        self.stopped_early: StoppedEarly | None = None  # an abort-on-fail threshold ended it (exit 1)
        self.spent_usd = 0.0  # estimated LLM spend of the samples received, for the guardrail
        self.started_at: float | None = None
        self.last_report: dict[str, float] = {}
        self.lost_workers: dict[str, float] = {}
        self.arrival_counts: dict[str, dict[str, Any]] = {}  # open model: worker -> its latest counts
        self.search: CapacitySearch | None = None  # a capacity search, once the schedule is out
        self.in_flight: dict[str, int] = {}  # open model: worker -> its requests in flight at its last report
        self.at_the_stop: dict[str, dict[str, Any]] = {}  # worker -> its requests in flight at the stop
        self.recorder = Recorder()
        self.loop = LoopRecord()  # each load process's event-loop lag and CPU, for run.json
        self.unwritten: list[tuple[dict[str, Any], str]] = []  # batches a failed disk refused, tried again at the end
        self.write_failure: str | None = None
        self.internal_failure: str | None = None
        self.closed = False
        self.previous_handlers: dict[int, Any] = {}

    # --- set-up --------------------------------------------------------------------------
    def install(self) -> None:
        """Read and check everything the run needs; a HarnessError ends this process with its one line
        and exit code (2: bad usage, nothing sent; 3: the target did not answer, said in run.json)."""
        try:
            self._set_up()
        except HarnessError as exc:
            if isinstance(exc, AbortedError) and hasattr(self, "meta"):
                self.abort_reason = str(exc)
                self._write_meta(aborted=True)
                _fail(f"{exc}; run folder: {self.run_dir}", exc.exit_code)
            _fail(str(exc), exc.exit_code)

    def _set_up(self) -> None:
        options = self.options
        scenario = load_scenario(options.scenario)
        if options.flat_load and scenario.load.stages:
            raw = {**scenario.raw, "load": {k: v for k, v in scenario.raw["load"].items() if k != "stages"}}
            scenario = parse_scenario(raw, source=options.scenario, base_dir=Path(options.scenario).parent)
        if options.arrival_rate:  # one open-model stage; --users, if given, sizes the pool
            pool = options.num_users if options.flat_load else scenario.load.pool
            load = {k: v for k, v in scenario.raw.get("load", {}).items() if k not in ("stages", "users")}
            load.update(
                arrival_rate=options.arrival_rate,
                **({"users": pool} if pool else {}),
                **({"duration": options.run_time} if options.run_time else {}),
            )
            scenario = parse_scenario(
                {**scenario.raw, "load": load}, source=options.scenario, base_dir=Path(options.scenario).parent
            )
        if options.find_capacity or scenario.search is not None:
            scenario = _capacity_scenario(scenario, Path(options.scenario).parent)
        if scenario.load.open_model and not isinstance(self.environment.shape_class, ScenarioShape):
            raise UsageError(
                f"{options.scenario}: load.arrival_rate: open-model load runs the harness's journeys "
                "(locustfiles/journeys.py), whose shape serves the schedule; drop arrival_rate for this "
                "locustfile"
            )
        if not (self.environment.host or scenario.host):
            raise UsageError(
                f"{options.scenario}: target.host: no host to test; pass --host URL "
                "(or use `harness run`, which starts the embedded demo API)"
            )
        given = (
            parse_host(self.environment.host)
            if self.environment.host
            else parse_host(scenario.host or "", f"{options.scenario}: target.host")
        )
        host, host_auth = given.url, given.auth or os.environ.pop(HOST_AUTH_ENV, None) or None
        self.environment.host = host  # without user:password, which travels in the run plan only
        refusal = abuse_refusal(scenario, host)
        if refusal:
            raise UsageError(refusal)
        self.scenario = scenario
        extra = from_options(
            getattr(options, "threshold", None) or [],
            getattr(options, "abort_on_fail", None) or [],
            scenario.endpoints,
            scenario.streaming_endpoints(),
        )
        self.thresholds = merge(scenario.thresholds, extra, scenario.streaming_endpoints())
        if scenario.search is not None:  # the search overloads the target on purpose: judge its answer instead
            self.thresholds = [t for t in self.thresholds if METRICS[t.metric].kind not in WHOLE_RUN_LOAD_KINDS]
        spend = spend_settings(scenario)
        encoding(spend["encoding"])  # the model's vocabulary, loaded before the first reply needs it
        self.run_dir = Path(options.run_dir) if options.run_dir else new_run_dir(Path("reports"), scenario.name)
        (self.run_dir / "samples").mkdir(parents=True, exist_ok=True)
        self.planned_s = options.run_time or (
            scenario.load.planned_duration_s if options.headless or options.autostart else None
        )
        if scenario.search is not None:  # the search ends itself; this bounds it, within the guardrail
            from harness.load.capacity import search_bound_s  # the master's side only (pandas)

            self.planned_s = min(search_bound_s(scenario.search), scenario.guardrails.max_duration_s or math.inf)
        if self.planned_s and scenario.load.open_model:
            self.planned_s += WARM_UP_S  # the pool starts before the schedule does
        options.run_time = None  # the plugin ends the run itself: see the module docstring
        webhook = scheme_of(scenario.webhook_signing)
        self.meta = RunMeta(
            schema_version=RUN_SCHEMA_VERSION,
            id=self.run_dir.name,
            scenario=scenario.name,
            host=host,
            planned_duration_s=self.planned_s,
            workers=0,
            locust_version=locust.__version__,
            harness_version=__version__,
            targets=scenario.latency_targets(),
            thresholds=[t.record() for t in self.thresholds],
            streaming_endpoints=scenario.streaming_endpoints(),
            users=scenario.load.users,
            load_model="open" if scenario.load.open_model else "closed",
            stages=[s.__dict__ for s in scenario.load.stages],
            limits={
                route: [{"key": r.key, "quota": r.quota, "window_s": r.window_s} for r in rules]
                for route, rules in scenario.limits_by_route().items()
            },
            block=scenario.block.__dict__,
            attacks={a.name: {"users": a.users, "rate": a.rate} for a in scenario.attacks.values()},
            attacks_start_after_s=scenario.attacks_start_after_s,
            probed_routes=list(scenario.probes.routes),
            probe_plan={r: planned_techniques(scenario, r, is_loopback(host)) for r in scenario.probes.routes},
            webhook=WebhookSigned(scheme=webhook.name, signs_timestamp=webhook.signs_timestamp),
            kinds={name: ep.kind for name, ep in scenario.endpoints.items()},
            target_is_loopback=is_loopback(host),
            wallet=scenario.wallet.__dict__ if scenario.wallet else None,
            spend=spend,
        )
        credentials = resolve_credentials(scenario, host, host_auth=host_auth)
        self.credentials = credentials
        setattr(options, OPTION, RunPlan(self.run_dir.name, scenario, credentials).encode())
        self._copy_scenario(credentials)
        self._weigh_user_classes()
        # the master's side only, imported here: workers never load pandas and pyarrow (~0.4 s of CPU each)
        from harness.load.collector import Collector

        self.collector = Collector(self.run_dir / "samples", keep_s=scenario.breaker.window_s)
        self._write_meta()

        events_ = self.environment.events
        if self.is_master:
            events_.worker_report.add_listener(self._on_worker_report)
            events_.test_stopping.add_listener(self._on_locust_stopping)
        else:
            events_.request.add_listener(self.recorder.on_request)
        events_.test_start.add_listener(self._on_test_start)
        events_.quitting.add_listener(self._on_quitting)
        if self.options.headless:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def _copy_scenario(self, credentials: Credentials) -> None:
        """The scenario as run, written from its parsed data with every secret replaced: a search and
        replace in the file's text misses a password written with a TOML escape (\\" or \\u0041)."""
        text = redacted_copy(self.scenario.raw, credentials.secrets(), Path(self.options.scenario).name)
        (self.run_dir / "scenario.toml").write_text(text, encoding="utf-8")

    def _weigh_user_classes(self) -> None:
        """Journey weights, attack users and the probe come from the scenario; what it leaves out does not run.
        The scenario's own journeys get a user class each (harness.load.steps)."""
        classes = self.environment.user_classes
        scenario = self.scenario
        for make in JOURNEY_CLASS_MAKERS:
            make(classes, scenario)
        if not any(
            getattr(c, "journey", None)
            or getattr(c, "attack", None)
            or getattr(c, "probe", False)
            or getattr(c, "wallet_probe", False)
            for c in classes
        ):
            return  # a locustfile of the user's own: leave its classes as they are
        for user_class in classes:
            journey, attack = getattr(user_class, "journey", None), getattr(user_class, "attack", None)
            if journey:
                user_class.weight = (
                    max(1, round(scenario.journeys[journey] * 100)) if journey in scenario.journeys else 0
                )
            elif attack:
                user_class.weight, user_class.fixed_count = (
                    0,
                    (scenario.attacks[attack].users if attack in scenario.attacks else 0),
                )
            elif getattr(user_class, "probe", False):
                user_class.weight, user_class.fixed_count = 0, 1 if scenario.probes.routes else 0
            elif getattr(user_class, "wallet_probe", False):
                user_class.weight, user_class.fixed_count = 0, 1 if scenario.wallet else 0
        classes[:] = [c for c in classes if c.weight > 0 or c.fixed_count > 0]

    # --- during the run ------------------------------------------------------------------
    def _on_test_start(self, **_: Any) -> None:
        if self.started_at is not None:
            return
        self.started_at = time.time()
        self.meta.started_at = self.started_at
        self._write_meta()
        if not self.is_master:
            gevent.spawn(self._flush_local_forever)
        if not isinstance(self.environment.shape_class, ScenarioShape):
            gevent.spawn(self._end_when_due)  # with ScenarioShape, its tick() ends the run instead
        gevent.spawn(self._watch)
        if any(t.abort for t in self.thresholds):
            gevent.spawn(self._judge_abort_thresholds)

    def due(self) -> bool:
        """Time to end: the planned duration has passed, `harness run` asked us to stop, a gate did, or
        the capacity search has its answer."""
        if self.stop_reason is not None or self.stopped_early is not None:
            return True
        if self.search is not None and self.search.done:
            return True
        return bool(self.planned_s and self.started_at and time.time() - self.started_at >= self.planned_s)

    def _end_when_due(self) -> None:
        while not self.due():
            gevent.sleep(0.2)
        if self.finishing:
            return  # Locust is quitting already and `_on_quitting` collects the last samples
        self.finish()
        if self.options.headless:
            self.runner.quit()

    def _on_signal(self, signum: int, frame: Any) -> None:
        """SIGINT or SIGTERM ends a headless run the way its planned end does: the users stop, the
        last reports come in, the report is written. A second one, or one before the start, does
        what it did before: Locust's KeyboardInterrupt, or the default (die at once).

        Without this, a SIGTERM during a shape run kills the master outright (Locust installs its own
        handler only after the shape ends), and a SIGINT quits without waiting for the workers' last
        reports."""
        name = signal.Signals(signum).name
        if self.started_at is not None and parent_gone():
            # harness.lifeline's signal: the kernel sends it once per thread of the dying harness, as
            # each exits (the first while another still lives, so it read as a plain SIGTERM). Each
            # says the harness died, none is a second "again to kill": the run is still recorded.
            if self.stop_reason == f"interrupted by {name}":
                self.stop_reason = PARENT_DIED
                if self.abort_reason == f"interrupted by {name}":
                    self.abort_reason = PARENT_DIED
            elif self.stop_reason is None and not self.finishing:
                self.stop_reason = PARENT_DIED
                log.warning("harness: %s: stopping the run", PARENT_DIED)
            return
        if self.started_at is not None and self.stop_reason is None and not self.finishing:
            self.stop_reason = f"interrupted by {name}"
            log.warning("harness: %s: stopping the run and collecting the last samples (again to kill)", name)
            return
        previous = self.previous_handlers.get(signum, signal.SIG_DFL)
        signal.signal(signum, previous)
        if callable(previous):
            previous(signum, frame)
        else:
            os.kill(os.getpid(), signum)

    def _on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        self.last_report[client_id] = time.time()
        columns = data.pop(SAMPLES_KEY, None)
        if columns:
            self._collect(columns, worker=client_id)
        counts = data.pop(ARRIVALS_KEY, None)
        if counts:
            self.arrival_counts[client_id] = counts  # cumulative: the latest report has it all
        if IN_FLIGHT_KEY in data:
            self.in_flight[client_id] = int(data.pop(IN_FLIGHT_KEY))
        at_the_stop = data.pop(STOP_KEY, None)
        if at_the_stop:
            self.at_the_stop[client_id] = at_the_stop
        self.loop.add(client_id, data.pop(LOOP_KEY, None))

    def _flush_local(self) -> None:
        self._collect(self.recorder.batch.take(), worker="local")

    def _collect(self, columns: dict[str, Any], worker: str) -> None:
        """Append a batch to samples/. A batch that cannot be written (a full disk, a read-only
        folder) stops the run as aborted: load without a record is load for nothing. It and every
        later batch wait in memory and are tried once more at the end."""
        if self.unwritten:
            self.unwritten.append((columns, worker))
            return
        try:
            added = self.collector.add(columns, worker=worker)
        except Exception as exc:
            self.unwritten.append((columns, worker))
            self.write_failure = f"samples could not be written to {self.run_dir / 'samples'}: {_one_line(exc)}"
            log.error("harness: %s: stopping the run", self.write_failure)
            self.stop_reason = self.stop_reason or self.write_failure
            return
        if added:
            from harness.analysis.spend import batch_cost  # the master's side only (pandas), like Collector

            self.spent_usd += batch_cost(columns, self.meta.spend or {})

    def _write_unwritten(self) -> int:
        """Try the batches that could not be written once more; the rows still unwritten."""
        batches, self.unwritten = self.unwritten, []
        for columns, worker in batches:
            self._collect(columns, worker)
        return sum(len(columns.get("start_s", ())) for columns, _ in self.unwritten)

    def _flush_local_forever(self) -> None:
        while not self.finished:
            gevent.sleep(1.0)
            self._flush_local()

    def _watch(self) -> None:
        """Once a second: the stop request, the circuit breaker and the caps, lost workers, progress.

        Each duty runs on its own: one that fails (a full disk under progress.json) is logged once
        and tried again next second, and never silences the safety checks beside it."""
        duties = (
            ("stop request", self._check_stop_request),
            ("circuit breaker and caps", self._check_safety),
            ("worker watch", self._check_workers),
            ("progress.json", self._write_progress),
        )
        failing: set[str] = set()
        while not self.closed:
            for name, duty in duties:
                try:
                    duty()
                except Exception as exc:
                    if name not in failing:
                        log.error("harness: %s failed (%s: %s); the run goes on", name, type(exc).__name__, exc)
                    failing.add(name)
                else:
                    failing.discard(name)
            gevent.sleep(1.0)

    def _check_stop_request(self) -> None:
        """`harness run` asks for the stop with a file in the run folder naming why (a signal it got);
        a harness that died asks nothing, so its absence is a stop request too."""
        stop = self.run_dir / STOP_FILE
        if self.stop_reason is None and parent_gone():
            self.stop_reason = PARENT_DIED
            log.warning("harness: %s: stopping the run", PARENT_DIED)
        if self.stop_reason is None and stop.exists():
            self.stop_reason = stop_file_reason(stop)

    def _check_safety(self) -> None:
        if self.stop_reason is None and not self.finishing:
            self.stop_reason = breaker_reason(
                self.scenario.breaker, *self.collector.recent_errors(self.scenario.breaker.window_s)
            ) or cap_reason(self.scenario.guardrails, self._counters())
            if self.stop_reason:
                self.stop_kind = "guardrail"
                log.warning("harness: %s: stopping the run", self.stop_reason)

    def _check_workers(self) -> None:
        if not self.is_master:
            return
        self.meta.workers = max(self.meta.workers or 0, len(self.runner.clients.all))
        for client in self.runner.clients.all:
            if client.state == STATE_MISSING and client.id not in self.lost_workers:
                self.lost_workers[client.id] = time.time()
                log.warning("harness: worker %s lost", client.id)
            elif client.state != STATE_MISSING and client.id in self.lost_workers and self._load_runs():
                del self.lost_workers[client.id]  # it only stalled: its reports resume, nothing lost
                log.warning("harness: worker %s is back", client.id)

    def _load_runs(self) -> bool:
        return self.runner.state not in (STATE_STOPPING, STATE_STOPPED)

    def _on_locust_stopping(self, **_: Any) -> None:
        """Locust's master stops a run on its own when its last worker goes silent (and its shape path
        then quits): name that, not a mere interruption, while the workers are still marked missing."""
        clients = self.runner.clients.all
        if self.finishing or self.abort_reason or not clients:
            return
        if all(client.state == STATE_MISSING for client in clients):
            self._check_workers()  # the watch may not have seen them go yet: lost_workers names them
            self.abort_reason = (
                f"every worker went silent (no heartbeat for {WORKER_SILENCE_S} s) and Locust stops a run "
                "without workers: see logs/worker-*.log and the generator's load"
            )

    def _counters(self) -> RunCounters:
        total = self.runner.stats.total
        return RunCounters(
            elapsed_s=time.time() - (self.started_at or time.time()),
            requests=total.num_requests,
            rps=total.current_rps,
            spend_usd=self.spent_usd,
        )

    def _judge_abort_thresholds(self) -> None:
        """Every few seconds, judge the abort-on-fail thresholds on the samples on disk so far.

        The summary is computed in a native thread, so the master keeps serving its workers meanwhile."""
        from harness.analysis.run import compute_summary

        def current() -> Summary:
            return get_hub().threadpool.apply(lambda: compute_summary(self.run_dir)[0])

        while not (self.finishing or self.closed):
            gevent.sleep(ABORT_CHECK_S)
            elapsed = time.time() - (self.started_at or time.time())
            try:
                reason = threshold_breach(self.thresholds, elapsed, current)
            except Exception:  # a check must never take the run down: the final report judges again
                log.exception("harness: abort-on-fail check failed")
                continue
            if reason and not self.finishing:
                self.stopped_early = StoppedEarly(reason=reason, at_s=round(elapsed, 1))
                self.meta.stopped_early = self.stopped_early
                log.warning("harness: %s: stopping the run", reason)
                return

    def _write_progress(self) -> None:
        total = self.runner.stats.total
        elapsed = time.time() - self.started_at if self.started_at else 0.0
        p95 = self.collector.live_p95_ms()
        write_json_atomic(
            self.run_dir / "progress.json",
            {
                "elapsed_s": round(elapsed, 1),
                "planned_s": self.planned_s,
                "requests": total.num_requests,
                "failures": total.num_failures,
                "rps": round(total.current_rps, 1),
                "p95_ms": None if p95 != p95 else round(p95, 1),
                "users": self.runner.user_count,
                "workers": len(self.runner.clients.all) if self.is_master else 0,
                "samples": self.collector.rows,
                "state": "finished" if self.finished else ("finishing" if self.finishing else self.runner.state),
                **({"capacity": self.search.progress()} if self.search is not None else {}),
            },
        )

    def open_model(self, schedule: ArrivalSchedule, pool: dict[str, int]) -> None:
        """The shape made the schedule: keep it in run.json, so the analysis knows what was due; a
        capacity search starts handing out its arrivals."""
        self.meta.arrivals = {"schedule": schedule.to_dict(), "pool": pool, "late_after_s": LATE_AFTER_S, "counts": {}}
        self._write_meta()
        if schedule.open_ended and self.scenario.search is not None:
            from harness.load.capacity import CapacitySearch  # the master's side only (pandas)

            self.search = CapacitySearch(
                self.runner,
                schedule,
                self.scenario.search,
                self.scenario.latency_targets(),
                self.run_dir,
                counts=self._arrival_counts,
                in_flight=lambda: sum(self.in_flight.values()) if self.is_master else IN_FLIGHT.count,
                on_change=self._search_changed,
                stopping=lambda: self.finishing or self.closed,
            )
            self.search.start()

    def _arrival_counts(self) -> dict[str, Any]:
        return self.arrival_counts if self.is_master else {"local": arrival_counts(self.environment)}

    def _search_changed(self, schedule: ArrivalSchedule, record: CapacityRun) -> None:
        """The search handed out more arrivals or decided a step: run.json says so at once."""
        if self.meta.arrivals is not None:
            self.meta.arrivals["schedule"] = schedule.to_dict()
        self.meta.capacity = record
        self._write_meta()

    def finish(self) -> None:
        """Stop the users and wait until every sample has reached us. The caller then quits Locust."""
        if self.finishing:
            return
        self.finishing = True
        self.abort_reason = self.stop_reason
        if self.is_master:
            workers = [c.id for c in self.runner.clients.all if c.state != STATE_MISSING]
            self.meta.workers = max(self.meta.workers or 0, len(workers))
            stopped_at = time.time()
            self.meta.load_stopped_at = stopped_at
            self.runner.stop()
            # the workers' last reports, sent once their users are gone (after up to STOP_GRACE_S for
            # requests in flight); when the harness died, they are dying too and report at once
            wait = 1.0 if self.stop_reason == PARENT_DIED else STOP_GRACE_S + REPORT_INTERVAL_S + 2.0
            while time.time() < stopped_at + wait and any(w not in self.at_the_stop for w in workers):
                gevent.sleep(0.1)
            self.meta.at_the_stop = AtTheStop.merged(
                [self.at_the_stop[w] for w in workers if w in self.at_the_stop],
                [w for w in workers if w not in self.at_the_stop],
            )
        else:
            self.meta.load_stopped_at = time.time()
            self.runner.stop()
            self._flush_local()
            self.meta.at_the_stop = AtTheStop.merged([IN_FLIGHT.facts()], [])
        self.finished = True
        try:  # the last progress.json: a failing write (a full disk) must not fail the run's end
            self._write_progress()
        except OSError as exc:
            log.error("harness: progress.json failed (%s); the run is recorded without it", _one_line(exc))

    # --- the end -------------------------------------------------------------------------
    def _on_quitting(self, **_: Any) -> None:
        """The last samples, the final run.json, and the process's exit code: 0 when this process
        did its job (the report judges the run), 3 when the run aborted or this process failed."""
        if self.closed:
            return
        try:
            self._close()
        except Exception as exc:  # a full disk under run.json, say: one line; a bug: its traceback too
            if isinstance(exc, OSError):
                log.error("harness: the run could not be closed: %s", _one_line(exc))
            else:
                log.exception("harness: the run could not be closed")
            self.internal_failure = self.internal_failure or f"the run could not be closed: {_one_line(exc)}"
        finally:
            self.closed = True
            failed = self.abort_reason is not None or self.internal_failure is not None
            self.environment.process_exit_code = ExitCode.ABORTED if failed else ExitCode.PASS

    def _close(self) -> None:
        # Locust may quit before the once-a-second watch read why: its last worker quit, dying with the
        # harness, before this process's own signal came. The record names that cause, not an interruption.
        self._check_stop_request()
        if self.started_at is not None and not self.finishing and self._load_runs():
            # Locust quits mid-run (its own SIGTERM handler, the web UI): the workers still run, so
            # stop them and wait for their last reports as at the planned end
            self.finish()
            self.abort_reason = self.abort_reason or "interrupted before the planned end"
        if not self.is_master:
            self._flush_local()
        if not self.finished and self.abort_reason is None:
            self.abort_reason = "interrupted before the planned end"
        unwritten = self._write_unwritten()
        if self.write_failure and self.write_failure not in (self.abort_reason or ""):
            self.abort_reason = (
                f"{self.abort_reason}; {self.write_failure}" if self.abort_reason else self.write_failure
            )
        if locust_log.unhandled_greenlet_exception and self.internal_failure is None:
            self.internal_failure = "an uncaught exception in the Locust master (its log has the traceback)"
        if self.internal_failure:
            self.abort_reason = (
                f"{self.abort_reason}; internal failure: {self.internal_failure}"
                if self.abort_reason
                else f"internal failure: {self.internal_failure}"
            )
        self.meta.samples_unwritten = unwritten
        self._write_meta(aborted=self.abort_reason is not None, final=True)
        self._save_target_stats()
        if not self.options.harness_managed:
            from harness.report.build import build_report
            from harness.report.terminal import format_table

            summary = build_report(self.run_dir)
            print(format_table(summary), file=sys.stderr)
            print(f"report: {self.run_dir / 'report.html'}", file=sys.stderr)

    def _save_target_stats(self) -> None:
        """The demo API reveals what it spent and whom it saw: keep that beside the samples."""
        if self.scenario.accounts.source != "demo" or self.stop_reason == PARENT_DIED:  # the demo API died with it
            return
        try:
            response = httpx.get(self.environment.host.rstrip("/") + "/__demo__/stats", timeout=5)
            if response.status_code == 200:
                write_json_atomic(self.run_dir / "target_stats.json", response.json())
        except (httpx.HTTPError, ValueError):
            log.warning("harness: the demo API's stats could not be read")

    def _write_meta(self, aborted: bool = False, final: bool = False) -> None:
        meta = self.meta
        if meta.arrivals is not None:
            counts = self.arrival_counts if self.is_master else {"local": arrival_counts(self.environment)}
            meta.arrivals["counts"] = dict(counts)
        meta.aborted = aborted
        meta.abort_reason = self.abort_reason
        meta.abort_kind = self.stop_kind if aborted else None
        if final:
            stats = self.runner.stats
            meta.ended_at = time.time()
            meta.locust_totals = {"requests": stats.total.num_requests, "failures": stats.total.num_failures}
            meta.locust_percentiles = {
                name: {f"p{int(q * 100)}_ms": entry.get_response_time_percentile(q) for q in (0.5, 0.95, 0.99)}
                for (name, _method), entry in stats.entries.items()
            }
            meta.samples_written = self.collector.rows
            meta.samples_by_worker = dict(self.collector.rows_by_worker)
            meta.lost_workers = [self._lost_worker(w, t) for w, t in self.lost_workers.items()]
            meta.journeys, meta.accounts, meta.task_errors = final_facts(self.runner, self.scenario, self.credentials)
            if not self.is_master:
                meta.workers = 0
                self.loop.add("local", LOOP.take(final=True))
            meta.loop_monitor = self.loop.series() or None
        try:
            write_json_atomic(self.run_dir / "run.json", meta.to_dict())
        except OSError as exc:
            if final:
                raise
            log.error("harness: run.json could not be written (%s); tried again at the end", _one_line(exc))

    def _lost_worker(self, worker: str, lost_at: float) -> LostWorker:
        """run.json `lost_workers` row: when Locust gave up on it (WORKER_SILENCE_S missed heartbeats),
        and what of it is kept."""
        t0 = self.started_at or lost_at
        last = self.last_report.get(worker)
        return LostWorker(
            worker=worker,
            lost_at=lost_at,
            at_s=round(lost_at - t0, 1),
            last_report_s=None if last is None else round(last - t0, 1),
            samples=self.collector.rows_by_worker.get(worker, 0),
        )


def _capacity_scenario(scenario: Scenario, base_dir: Path) -> Scenario:
    """The scenario as a capacity search runs it: its `[search]` (the defaults without one) and an
    open-model load whose arrivals the search hands out (its `users`, if set, size the pool)."""
    load = {k: v for k, v in scenario.raw.get("load", {}).items() if k not in ("stages", "arrival_rate", "duration")}
    search = scenario.raw.get("search", {})
    raw = {**scenario.raw, "search": search, "load": {**load, "arrival_rate": search.get("start_rate", 1.0)}}
    return parse_scenario(raw, source=str(scenario.path or "<scenario>"), base_dir=base_dir)


def spend_settings(scenario: Scenario) -> dict[str, Any]:
    """run.json `spend`: what the analysis needs to price the run's tokens, fixed at the start."""
    table = spend_prices(scenario)
    price = table.get(scenario.spend.model)
    counter = counter_for_model(scenario.spend.model)
    return {
        "model": scenario.spend.model,
        "price": price.to_dict(),
        "price_table_date": table.date,
        "price_overridden": price.model in table.overridden,
        "encoding": counter.encoding,
        "encoding_note": counter.note,
        "hidden_tokens": scenario.spend.numbers["hidden_tokens"],
        "conversations_per_day": scenario.spend.numbers["conversations_per_day"],
    }


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _fail(message: str, code: int) -> NoReturn:
    print(f"harness: {message}", file=sys.stderr)
    raise SystemExit(code)
