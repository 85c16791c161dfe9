"""The scenario's load as a Locust LoadTestShape: stages when it has them, else -u/-r as given.

It returns None (end of test) only once the plugin's session is due and has collected the last
samples: ending from inside tick() is the one way Locust's headless shape path does not quit
while workers are still sending their final reports.
"""

from __future__ import annotations

from locust import LoadTestShape

from harness.plan import RunPlan

__all__ = ["ScenarioShape"]


class ScenarioShape(LoadTestShape):
    use_common_options = True  # without stages, --users and --spawn-rate apply as usual

    def tick(self) -> tuple[int, float] | None:
        from harness import plugin

        session = plugin.active_session
        if session is not None and session.due():
            session.finish()  # in this greenlet, which Locust's stop() leaves alive; then Locust quits
            return None
        environment = self.runner.environment
        plan = RunPlan.from_environment(environment)
        options = environment.parsed_options
        load = plan.scenario.load if plan else None
        fixed = sum(c.fixed_count for c in environment.user_classes)  # attackers and the probe, on top
        if load is None or not load.stages:
            users = options.num_users or (load.users if load else 1)
            rate = options.spawn_rate or (load.spawn_rate if load else 1)
            return users + fixed, max(rate, fixed)
        elapsed = self.get_run_time()
        for stage in load.stages:
            if elapsed < stage.duration_s:
                return stage.users + fixed, max(stage.spawn_rate, fixed)
            elapsed -= stage.duration_s
        last = load.stages[-1]
        return last.users + fixed, max(last.spawn_rate, fixed)
