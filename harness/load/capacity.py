"""The capacity search as it runs, on the master (or the single local process).

It feeds the workers arrivals in chunks of about a second (a Locust message each, ahead of time, so no
user ever waits for the next), holds each step until its verdict is steady, keeps offering a rate
that passed while the step's last answers and samples come in, judges the step on the samples on disk
(harness.analysis.capacity, in a native thread, as the report will), and picks the next rate. Every
step and verdict goes to run.json as it is decided. The master's side only: it imports pandas.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import gevent
import numpy as np
from gevent import get_hub
from locust.runners import MasterRunner

from harness.analysis.capacity import criteria_of, next_rate, steady, step_counts, step_figures
from harness.documents.run import CapacityRun, CapacityStep
from harness.samples import read_samples
from harness.scenario import Search
from harness.scenario.arrivals import STAGE_MESSAGE, ArrivalSchedule, ArrivalStage

__all__ = ["CapacitySearch", "search_bound_s", "COLUMNS"]

log = logging.getLogger(__name__)

LEAD_S = 2.0  # arrivals are handed out this far ahead of when they are due
CHUNK_S = 1.0  # about this long a chunk of arrivals
TICK_S = 0.25
CHECK_EVERY_S = 2.0  # how often a held step is looked at for a steady verdict
DRAIN_S = 4.5  # after a step: its last answers, and the workers' next report (every 3 s), come in
LOCAL_DRAIN_S = 2.5  # the same in a single process, which writes its samples every second
RECOVER_MAX_S = 60.0  # after a failed step, the target has this long to serve fresh requests in time again
RECENT_S = 4.0  # "fresh": sent this recently (and already answered)
COLUMNS = ["start_s", "intended_s", "endpoint", "status", "latency_ms", "ttft_ms", "error", "blocked", "role"]


def search_bound_s(search: Search) -> float:
    """The longest a search can take: every coarse step, every bisection step and the steps down, each
    held as long as it may be. The run's planned duration, so a search always ends on its own."""
    coarse = math.ceil(math.log(max(search.max_rate / search.start_rate, 1.0)) / math.log(search.growth)) + 1
    halvings = math.ceil(math.log2(max(math.log(search.growth) / math.log(1 + search.resolution), 1.0))) + 1
    per_step = search.settle_s + search.max_hold_s + DRAIN_S + LEAD_S + CHECK_EVERY_S
    return (coarse + halvings + 3) * per_step + 10.0


class CapacitySearch:
    """One search: `start()` it once the schedule is out; `done` once it has its answer."""

    def __init__(
        self,
        runner: Any,
        schedule: ArrivalSchedule,
        search: Search,
        targets: dict[str, float | None],
        run_dir: Any,
        counts: Callable[[], dict[str, Any]],
        in_flight: Callable[[], int],
        on_change: Callable[[ArrivalSchedule, CapacityRun], None],
        stopping: Callable[[], bool],
    ) -> None:
        self.runner = runner
        self.schedule = schedule
        self.settings = {f.name: getattr(search, f.name) for f in dataclasses.fields(search)}
        self.criteria = criteria_of(self.settings, {k: v for k, v in targets.items() if v is not None})
        self.run_dir = run_dir
        self.counts = counts  # worker -> journey -> arrival counts, as last reported
        self.in_flight = in_flight  # requests in flight on the load generators, as last reported
        self.on_change = on_change  # run.json gets the schedule and the steps
        self.stopping = stopping
        self.record = CapacityRun(settings=self.settings)
        self.fed_until = schedule.start_s
        self.first = dict.fromkeys(schedule.shares, 0)  # journey -> arrivals handed out so far
        self.rate = search.start_rate
        self.label = ""  # the judged step the chunks fed now belong to ("": none)
        self.done = False
        self.drain_s = DRAIN_S if isinstance(runner, MasterRunner) else LOCAL_DRAIN_S
        self.greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        self.greenlet = gevent.spawn(self._run)

    def progress(self) -> dict[str, Any]:
        """What progress.json shows of the search: its phase, the step and rate now, the last verdict."""
        steps = self.record.steps
        last = next((s for s in reversed(steps) if s.passed is not None), None)
        passed = [s.rate for s in steps if s.passed]
        return {
            "phase": "done" if self.done else ("coarse" if all(s.passed is not False for s in steps) else "bisection"),
            "step": len(steps),
            "rate": round(self.rate, 3),
            "best_pass_rps": max(passed) if passed else None,
            "last": None if last is None else {"rate": last.rate, "passed": last.passed, "failures": last.failures},
        }

    # -- the search --------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._search()
        except Exception:  # the search must never take the run down: what was decided stays in run.json
            log.exception("harness: the capacity search failed")
            self.record.stopped = "the capacity search failed (see the master's log)"
        finally:
            self.done = True
            self.on_change(self.schedule, self.record)

    def _search(self) -> None:
        decided: list[tuple[float, bool]] = []
        rate = next_rate(decided, self.settings)
        while rate is not None:
            if self.stopping():
                self.record.stopped = "the run ended before the search did"
                return
            step = CapacityStep(rate=rate, start_s=self.fed_until, settle_s=self.settings["settle_s"])
            self.record.steps.append(step)
            self.rate, self.label = rate, str(len(self.record.steps) - 1)
            log.info("harness: capacity search: step %d at %g/s", len(self.record.steps), rate)
            if not self._hold(step):
                self.record.stopped = "the run ended before the search did"
                return
            step.judged_end_s = self.fed_until
            self.label = ""  # while the step's last answers come in: a rate that passed, unjudged
            self.rate = max(
                (r for r, ok in decided if ok and r <= rate), default=min(rate, self.settings["start_rate"])
            )
            if not self._wait(self.fed_until + self.drain_s):
                self.record.stopped = "the run ended before the search did"
                return
            figures = self._judge(step)
            step.passed, step.failures = figures.passed, figures.failures
            decided.append((rate, bool(figures.passed)))
            if not figures.passed and next_rate(decided, self.settings) is not None and not self._recover(decided):
                step.end_s = self.fed_until
                self.record.stopped = (
                    f"the target did not recover within {RECOVER_MAX_S:g} s after {rate:g}/s: a later step "
                    "would have been judged on its backlog"
                )
                return
            step.end_s = self.fed_until
            self.on_change(self.schedule, self.record)
            rate = next_rate(decided, self.settings)
        self.record.stopped = _why_stopped(decided, self.settings)
        log.info("harness: capacity search: %s", self.record.stopped)

    def _recover(self, decided: list[tuple[float, bool]]) -> bool:
        """After a failed step, offer half the best rate that passed until the backlog is gone: no more
        requests in flight than that rate keeps busy within the limit (Little's law, twice over, as
        the workers last reported), and fresh requests served within the limit. The next step is then
        judged on the target, not on what the last one left queued (a server that serves some new
        requests first while old ones wait would pass the second test alone). False when it does not
        within RECOVER_MAX_S."""
        passed = [r for r, ok in decided if ok]
        self.rate = (max(passed) if passed else self.settings["start_rate"]) / 2
        limit = self.criteria.get("p95_ms") or min(
            (v for k, v in self.criteria.items() if k.startswith("target:") and v), default=None
        )
        deadline = time.time() + RECOVER_MAX_S
        while time.time() < deadline:
            if not self._wait(time.time() + 1.0):
                return False
            frame = self._samples()
            now = time.time()
            legit = frame[(frame["role"].astype(str) == "legit") & (frame["start_s"] >= now - RECENT_S)]
            latency = legit["latency_ms"].to_numpy(dtype=float)
            busy = self.rate * (limit or 1000.0) / 1000.0 * 2 + 2  # in flight when served within the limit
            fresh = latency.size >= 3 and (limit is None or float(np.percentile(latency, 95)) <= limit)
            if fresh and self.in_flight() <= busy:
                return True
        return False

    def _hold(self, step: CapacityStep) -> bool:
        """Feed the step until its verdict is steady (at least `hold_s`, at most `max_hold_s` of it
        judged); False when the run is ending."""
        judged_from = step.start_s + step.settle_s
        next_check = judged_from + self.settings["hold_s"]
        while True:
            if not self._wait(min(next_check, judged_from + self.settings["max_hold_s"])):
                return False
            now = time.time()
            if now >= judged_from + self.settings["max_hold_s"]:
                return True
            frame = self._samples()
            if steady(frame, step, self.criteria, now):
                return True
            next_check = now + CHECK_EVERY_S

    def _wait(self, until: float) -> bool:
        """Feed arrivals and watch the generator's CPU until `until`; False when the run is ending."""
        while time.time() < until:
            if self.stopping():
                return False
            self._feed(time.time() + LEAD_S)
            self._watch_cpu()
            gevent.sleep(TICK_S)
        return True

    def _feed(self, until: float) -> None:
        """Hand out chunks of arrivals at the current rate up to `until`."""
        changed = False
        while self.fed_until < until:
            count = max(1, round(self.rate * CHUNK_S))
            chunk = {
                "start_s": self.fed_until,
                "rate": self.rate,
                "count": count,
                "step": self.label,
                "first": dict(self.first),
            }
            self.runner.send_message(STAGE_MESSAGE, chunk)
            for journey, share in self.schedule.shares.items():
                self.first[journey] += math.floor(count * share + 1e-9)
            self.schedule = self.schedule.extended(ArrivalStage(count / self.rate, self.rate))
            self.fed_until += count / self.rate
            changed = True
        if changed:
            self.on_change(self.schedule, self.record)

    def _watch_cpu(self) -> None:
        if not self.record.steps:
            return
        if isinstance(self.runner, MasterRunner):
            usage = [float(c.cpu_usage) for c in self.runner.clients.values()]
        else:
            usage = [float(getattr(self.runner, "current_cpu_usage", 0.0))]
        busiest = max(usage, default=0.0) / 100.0
        step = self.record.steps[-1]
        step.generator_cpu = max(step.generator_cpu or 0.0, round(busiest, 3))

    def _samples(self) -> Any:
        return get_hub().threadpool.apply(lambda: read_samples(self.run_dir, COLUMNS, sort=False))

    def _judge(self, step: CapacityStep) -> Any:
        index = self.record.steps.index(step)
        window = CapacityStep(
            rate=step.rate, start_s=step.start_s, end_s=step.judged_end_s, settle_s=step.settle_s,
            generator_cpu=step.generator_cpu,
        )  # fmt: skip
        counts = step_counts(self.schedule, self.counts(), index, step)
        frame = self._samples()
        return get_hub().threadpool.apply(lambda: step_figures(frame, window, self.criteria, counts))


def _why_stopped(decided: list[tuple[float, bool]], settings: dict[str, Any]) -> str:
    failed = [r for r, ok in decided if not ok]
    if not failed:
        return f"every step passed up to max_rate ({settings['max_rate']:g}/s)"
    passed = [r for r, ok in decided if ok and r < min(failed)]
    if not passed:
        return f"even the lowest rate tried ({min(r for r, _ in decided):g}/s) failed"
    return f"the first failure ({min(failed):g}/s) is within {settings['resolution']:.0%} of the last pass ({max(passed):g}/s)"
