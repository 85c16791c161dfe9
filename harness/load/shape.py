"""The scenario's load as a Locust LoadTestShape: stages when it has them, else -u/-r as given;
in an open-model run, a fixed pool of users per journey that serves the arrival schedule.

It returns None (end of test) only once the plugin's session is due and has collected the last
samples: ending from inside tick() is the one way Locust's headless shape path does not quit
while workers are still sending their final reports.

The shape paces every ramp itself, a second's worth of users per tick. Locust's `start()` blocks
the shape until the whole ramp it was given is spawned (200 users at 1/s: 200 s), and tick() is
where the run ends; handing Locust the whole ramp at once made a run outlive its planned end and
ignore Ctrl-C until the ramp was over.
"""

from __future__ import annotations

import json
import time
from typing import Any

from locust import LoadTestShape
from locust.runners import MasterRunner, Runner

from harness.load.plan import RunPlan
from harness.scenario.arrivals import (
    OPTION,
    POOL_SECONDS,
    SEARCH_POOL_S,
    WARM_UP_S,
    ArrivalSchedule,
    ArrivalStage,
    pool_sizes,
    slot_name,
)

__all__ = ["ScenarioShape", "Ramp"]


class Ramp:
    """Users wanted now, moving towards each stage's count at its spawn rate, one tick at a time.

    Each tick covers the second ahead of it, so the first tick already asks for `rate` users, as
    Locust's own ramp does in its first second."""

    def __init__(self) -> None:
        self.users = 0.0
        self.last: float | None = None

    def step(self, target: int, rate: float, now: float) -> tuple[int, float]:
        """(users, spawn rate to hand Locust): the increment is small enough to be spawned in about
        a second, so tick() comes round again soon."""
        dt = 1.0 if self.last is None else max(0.0, now - self.last)
        self.last = now
        before = int(self.users)
        if self.users < target:
            self.users = min(float(target), self.users + rate * dt)
        else:
            self.users = max(float(target), self.users - rate * dt)
        users = int(self.users)
        return users, max(rate, float(abs(users - before)), 1.0)


class ScenarioShape(LoadTestShape):
    use_common_options = True  # without stages, --users and --spawn-rate apply as usual

    def tick(self) -> tuple[int, float] | None:
        environment = self._runner().environment
        session = getattr(environment, "harness_session", None)  # set by harness.load.plugin
        if session is not None and session.due():
            session.finish()  # in this greenlet, which Locust's stop() leaves alive; then Locust quits
            return None
        plan = RunPlan.from_environment(environment)
        options = environment.parsed_options
        load = plan.scenario.load if plan else None
        if load is not None and load.open_model and plan is not None:
            return self._open_model(plan)
        fixed = sum(c.fixed_count for c in environment.user_classes)  # attackers and the probe, on top
        target, rate = self._stage_now(load, options)
        if getattr(self, "_ramp", None) is None:
            self._ramp = Ramp()
        users, step_rate = self._ramp.step(target, rate, time.time())
        return users + fixed, max(step_rate, fixed)

    def _runner(self) -> Runner:
        assert self.runner is not None, "Locust gives the shape its runner before the first tick"
        return self.runner

    def _stage_now(self, load: Any, options: Any) -> tuple[int, float]:
        """(users, spawn rate) of the stage the run is in now; -u/-r when there are no stages."""
        if load is None or not load.stages:
            return (
                options.num_users or (load.users if load else 1),
                options.spawn_rate or (load.spawn_rate if load else 1),
            )
        elapsed = self.get_run_time()
        for stage in load.stages:
            if elapsed < stage.duration_s:
                return stage.users, stage.spawn_rate
            elapsed -= stage.duration_s
        return load.stages[-1].users, load.stages[-1].spawn_rate

    def _open_model(self, plan: RunPlan) -> tuple[int, float]:
        """The first time: the schedule, shared by the workers connected now, and a pool of users
        per journey (fixed counts, spread evenly over the workers); the same pool until the end."""
        runner = self._runner()
        environment = runner.environment
        if getattr(self, "_pool", None) is None:
            load = plan.scenario.load
            journeys = [c for c in environment.user_classes if _journey(c)]
            weights = {_journey(c): c.weight for c in journeys if c.weight > 0}
            total = sum(weights.values()) or 1
            if isinstance(runner, MasterRunner):  # only a master has workers (a LocalRunner has no `clients`)
                clients = runner.clients
                slots = sorted(c.id for c in clients.ready + clients.spawning + clients.running)
            else:
                slots = [slot_name(runner)]  # plain `locust -f`: this one process serves every arrival
            search = plan.scenario.search  # a capacity search hands its arrivals out as it goes
            schedule = ArrivalSchedule(
                start_s=time.time() + WARM_UP_S,
                stages=() if search else tuple(ArrivalStage(d, r) for d, r in load.arrival_stages()),
                max_lateness_s=load.max_lateness_s,
                shares={name: w / total for name, w in weights.items()},
                slots=tuple(slots),
                open_ended=search is not None,
            )
            peak = search.max_rate * SEARCH_POOL_S / POOL_SECONDS if search else schedule.peak_rate
            sizes = pool_sizes(schedule.shares, peak, load.pool, len(slots))
            for user_class in journeys:
                user_class.weight, user_class.fixed_count = 0, sizes.get(_journey(user_class), 0)
            # handed to the workers with the spawn message (custom options travel with it)
            setattr(environment.parsed_options, OPTION, json.dumps(schedule.to_dict()))
            session = getattr(environment, "harness_session", None)
            if session is not None:
                session.open_model(schedule, sizes)
            self._pool = sum(c.fixed_count for c in environment.user_classes)
        return self._pool, float(self._pool)


def _journey(user_class: type) -> str:
    """The journey a user class runs (harness.load.journeys names them); "" for attackers and probes."""
    return getattr(user_class, "journey", "")
