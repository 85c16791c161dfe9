"""What the master hands every worker: the scenario as parsed, and the credentials it resolved.

It travels as one JSON string in Locust's parsed options, which Locust forwards to workers with
every spawn message, so a worker on another host needs neither the scenario file nor the secrets
on its own disk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from harness.scenario import Scenario, parse_scenario
from harness.scenario.accounts import Credentials

__all__ = ["RunPlan", "OPTION"]

OPTION = "harness_plan"  # the attribute of Locust's parsed options that carries the plan


@dataclass(frozen=True)
class RunPlan:
    run_id: str
    scenario: Scenario
    credentials: Credentials

    def encode(self) -> str:
        return json.dumps(
            {
                "run_id": self.run_id,
                "scenario": self.scenario.raw,
                "source": str(self.scenario.path or "<scenario>"),
                "credentials": self.credentials.to_dict(),
            }
        )

    @staticmethod
    def decode(text: str) -> RunPlan:
        return _decode(text)

    @staticmethod
    def from_environment(environment: Any) -> RunPlan | None:
        text = getattr(environment.parsed_options, OPTION, None) if environment.parsed_options else None
        return _decode(text) if text else None


@lru_cache(maxsize=2)
def _decode(text: str) -> RunPlan:
    data = json.loads(text)
    scenario = parse_scenario(data["scenario"], source=data["source"])
    return RunPlan(data["run_id"], scenario, Credentials.from_dict(data["credentials"]))
