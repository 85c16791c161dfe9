"""`harness compare` on real runs: two runs of the same setup pass, a run made slower on purpose (latency
injected into the demo API) is flagged as a regression."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import client_scenario, only_run_dir, run_harness

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)

SCENARIO = client_scenario("compare", "10s")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from harness.demo_api.config import TargetConfig
    from harness.demo_api.process import start_target

    folder = tmp_path_factory.mktemp("compare")
    scenario = folder / "compare.toml"
    scenario.write_text(SCENARIO)
    model = {"ttft": 1, "token_delay": 0, "output_tokens": [1, 2]}
    setups = {"base": {}, "same": {}, "slow": {"latency": {"conversations": {"dist": "constant", "ms": 400}}}}
    out: dict[str, Path] = {}
    for name, latency in setups.items():
        target = start_target(TargetConfig.from_dict({**model, **latency}))
        try:
            result = run_harness("run", str(scenario), "--host", target.url, "--workers", "1",
                                 "--out", str(folder / name))
            assert result.returncode in (0, 1), result.stderr[-3000:]
        finally:
            target.stop()
        out[name] = only_run_dir(folder / name)
    return out


# Two 10 s runs on a shared 2-core machine (the suite runs on both cores at once) differ by a few ms
# to several tens of ms at p99 (one stalled stream is enough with about a hundred samples): the
# absolute floor of a regression is set well above that, far below the 400 ms injected into the slow run.
MIN_MS = "150"


def test_two_runs_of_the_same_setup_pass(runs: dict[str, Path]) -> None:
    result = run_harness("compare", str(runs["base"]), str(runs["same"]), "--min-ms", MIN_MS, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (runs["same"] / "compare.md").exists() and (runs["same"] / "compare.json").exists()


def test_a_run_made_slower_on_purpose_is_a_regression(runs: dict[str, Path]) -> None:
    result = run_harness("compare", str(runs["base"]), str(runs["slow"]), "--tolerance", "10%", "--min-ms", MIN_MS,
                         timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    regressions = [line for line in result.stdout.splitlines() if "conversations" in line]
    assert regressions and "regress" in (runs["slow"] / "compare.md").read_text().lower()
