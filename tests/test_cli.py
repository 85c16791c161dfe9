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
    # gpt-4o-mini at $0.15 in / $0.60 out per million; a turn is 150 + 62 hidden in, 300 out:
    # 212 × 0.15e-6 + 300 × 0.60e-6 = $0.0002118; 4 turns × 2,000 conversations = $1.69 a day
    assert "$1.69" in result.stdout
    # an attacker request: (2,000 + 62) × 0.15e-6 + 1,000 × 0.60e-6 = $0.0009093; × 2/s × 86,400 = $157.13
    assert "$157.13" in result.stdout and "$1,571.27" in result.stdout


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
    # 212 × 1e-6 + 300 × 2e-6 = $0.000812 a turn; × 4 × 2,000 = $6.50 a day
    assert "$6.50" in result.stdout


def test_validate_and_run_refuse_a_bad_threshold_in_one_line(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text('thresholds = ["p95(login) < 500ms", "p95(logn) < 500ms"]\n'
                        + (REPO / "scenarios" / "smoke.toml").read_text())
    result = run_harness("validate", str(scenario), timeout=60)
    assert result.returncode == 2
    assert result.stderr == (f"harness: {scenario}: thresholds[1]: p95(logn) < 500ms: unknown endpoint 'logn' "
                             "(expected one of: chat, conversation, conversations, health, leads, login, me, "
                             "reset_request, webhook, or *)\n")
    # a bad --threshold stops `harness run` before the demo API starts or a run folder exists
    out = tmp_path / "out"
    result = run_harness("run", "scenarios/smoke.toml", "--threshold", "p99(*) < 1s", "--abort-on-fail",
                         "error_rate(*) < 1 percent", "--out", str(out), timeout=60)
    assert result.returncode == 2
    assert result.stderr == ("harness: --abort-on-fail: 'error_rate(*) < 1 percent': error_rate is measured in %, "
                             "not 'percent' (e.g. 1% or 0.01)\n")
    assert not out.exists()


def test_a_bad_arrival_rate_is_a_usage_error(tmp_path: Path) -> None:
    result = run_harness("run", "scenarios/smoke.toml", "--arrival-rate", "0", "--out", str(tmp_path / "out"), timeout=60)
    assert result.returncode == 2
    assert "--arrival-rate: expected a number > 0, got '0'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
