"""The `harness` command's offline subcommands: validate and cost (no traffic)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import REPO, run_harness


def test_validate_accepts_the_shipped_scenarios() -> None:
    for name in ("smoke", "load-day", "abuse"):
        result = run_harness("validate", f"scenarios/{name}.toml", timeout=60)
        assert result.returncode == 0, result.stderr
        assert f"scenario '{name}'" in result.stdout


def test_cost_prints_hand_checkable_figures() -> None:
    result = run_harness("cost", "scenarios/smoke.toml", timeout=60)
    assert result.returncode == 0, result.stderr
    # gpt-4o-mini at $0.15 in / $0.60 out per million; a turn is 150 + 600 hidden in, 300 out:
    # 750 × 0.15e-6 + 300 × 0.60e-6 = $0.0002925; 4 turns × 2,000 conversations = $2.34 a day
    assert "$2.34" in result.stdout
    # an attacker request: (2,000 + 600) × 0.15e-6 + 1,000 × 0.60e-6 = $0.00099; × 2/s × 86,400 = $171.07
    assert "$171.07" in result.stdout and "$1,710.72" in result.stdout


def test_cost_with_an_unknown_model_is_a_one_line_error(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text((REPO / "scenarios" / "smoke.toml").read_text().replace('model = "gpt-4o-mini"', 'model = "gpt-9"'))
    result = run_harness("cost", str(scenario), timeout=60)
    assert result.returncode == 2
    assert "gpt-9" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cost_takes_price_overrides_from_the_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    text = (REPO / "scenarios" / "smoke.toml").read_text().replace('model = "gpt-4o-mini"', 'model = "house-model"')
    scenario.write_text(text + '\n[spend.prices."house-model"]\ninput = 1.0\noutput = 2.0\n')
    result = run_harness("cost", str(scenario), timeout=60)
    assert result.returncode == 0, result.stderr
    # 750 × 1e-6 + 300 × 2e-6 = $0.00135 a turn; × 4 × 2,000 = $10.80 a day
    assert "$10.80" in result.stdout
