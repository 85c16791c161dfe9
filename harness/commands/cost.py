"""`harness cost SCENARIO`: the offline what-if of LLM spend, legit and under abuse; sends nothing."""

from __future__ import annotations

from pathlib import Path

from harness.errors import ExitCode
from harness.scenario import load_scenario

__all__ = ["run_cost"]


def run_cost(path: Path) -> int:
    from harness.analysis.spend import format_what_if, what_if
    from harness.scenario.preflight import spend_prices

    scenario = load_scenario(path)
    table = spend_prices(scenario)
    price = table.get(scenario.spend.model)
    n = scenario.spend.numbers
    result = what_if(
        price,
        legit_conversations_per_day=n["conversations_per_day"],
        turns_per_conversation=n["turns_per_conversation"],
        input_tokens_per_turn=n["input_tokens_per_turn"],
        output_tokens_per_turn=n["output_tokens_per_turn"],
        hidden_tokens_per_turn=n["hidden_tokens"],
        attacker_requests_per_second=n["attacker_requests_per_second"],
        attacker_input_tokens=n["attacker_input_tokens"],
        attacker_output_tokens=n["attacker_output_tokens"],
        attackers=int(n["attackers"]),
        cached_tokens_per_turn=n["cached_tokens_per_turn"],
    )
    print(f"{scenario.name}: {price.model}, prices of {table.date} (list prices: check them before you rely on them)")
    print(format_what_if(result))
    return ExitCode.PASS
