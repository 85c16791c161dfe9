"""Locust users for bench/generator.py: one GET of a trivial endpoint, no think time.

`BENCH_VARIANT` picks what runs, so that the variants differ only in the harness:
- `bare`: a plain FastHttpUser, nothing of the harness imported;
- `harness`: the same user with the harness plugin imported (Recorder → SampleBatch → shipped to the
  master, written as Parquet parts);
- `harness-api`: the plugin, and the request sent through `harness.load.client.ApiClient`, as the journeys do.

On the master, `BENCH_OUT` names a JSON file that gets Locust's per-second request counts at the end
(`stats.total.num_reqs_per_sec`): the same figure for every variant, whatever the harness records.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, events, task
from locust.runners import MasterRunner

VARIANT = os.environ.get("BENCH_VARIANT", "bare")
PATH = "/health"

if VARIANT == "bare":

    class Ping(FastHttpUser):
        wait_time = constant(0)

        @task
        def ping(self) -> None:
            self.client.get(PATH, name="health")

elif VARIANT == "harness":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from harness.load import plugin  # noqa: F401  (registers the recording hooks)

    class Ping(FastHttpUser):  # type: ignore[no-redef]
        wait_time = constant(0)

        @task
        def ping(self) -> None:
            self.client.get(PATH, name="health")

elif VARIANT == "harness-api":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from harness.load import plugin  # noqa: F401  (registers the recording hooks)
    from harness.load.client import ApiClient
    from harness.load.plan import RunPlan

    class Ping(FastHttpUser):  # type: ignore[no-redef]
        wait_time = constant(0)

        def on_start(self) -> None:
            plan = RunPlan.from_environment(self.environment)
            assert plan is not None, "run with the harness plugin's --scenario"
            self.api = ApiClient(self.client, plan.scenario)

        @task
        def ping(self) -> None:
            self.api.call("health")

else:
    raise SystemExit(f"BENCH_VARIANT: expected bare, harness or harness-api, got {VARIANT!r}")


@events.quitting.add_listener
def _dump_counts(environment: Any, **_: Any) -> None:
    out = os.environ.get("BENCH_OUT")
    if not out or not isinstance(environment.runner, MasterRunner):
        return
    total = environment.runner.stats.total
    Path(out).write_text(
        json.dumps(
            {
                "variant": VARIANT,
                "requests": total.num_requests,
                "failures": total.num_failures,
                "per_second": {str(t): n for t, n in sorted(total.num_reqs_per_sec.items())},
            }
        )
    )
