"""Streaming metrics and token counts against the demo API's simulated model, whose truth is known.

The model draws each reply's time to first token and per-token delays from a seeded generator, in the
order the replies are planned, so the first k replies of a run with k chats have exactly the timings
that `SimulatedModel(seed).plan()` gives k times: the truth every measured figure is checked against.
Each run is a real `harness run` (Locust master and a worker) of tests/fixtures/llm-truth.toml.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.analysis.summary import percentile
from harness.demo_api.distributions import parse_distribution
from harness.demo_api.model import SYSTEM_PROMPT, SimulatedModel, count_tokens
from harness.samples import read_samples
from harness.scenario import load_scenario
from tests.helpers import REPO, only_run_dir, read_json, run_harness

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)

SCENARIO = REPO / "tests" / "fixtures" / "llm-truth.toml"


def llm_run(tmp_path: Path, usage: bool, *args: str) -> Path:
    scenario = tmp_path / "llm-truth.toml"
    scenario.write_text(SCENARIO.read_text().replace("usage = true", f"usage = {str(usage).lower()}"))
    result = run_harness("run", str(scenario), "--workers", "1", "--out", str(tmp_path / "out"), *args, timeout=180)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return only_run_dir(tmp_path / "out")


@pytest.fixture(scope="module")
def with_usage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 14 s of the scenario's 20: about 200 replies (20 s gave 290), well over the 150 a p95 needs
    return llm_run(tmp_path_factory.mktemp("usage"), True, "--duration", "14s")


@pytest.fixture(scope="module")
def without_usage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # token sums, not percentiles: a few dozen replies are plenty
    return llm_run(tmp_path_factory.mktemp("no-usage"), False, "--duration", "8s")


def planned_truth(k: int) -> tuple[np.ndarray, np.ndarray]:
    """(TTFT ms, TPOT ms) of the first k replies the demo API planned with the scenario's seed."""
    target = load_scenario(SCENARIO).target
    model = SimulatedModel(
        target["seed"],
        parse_distribution(target["ttft"], "ttft"),
        parse_distribution(target["token_delay"], "token_delay"),
        tuple(target["output_tokens"]),
    )
    ttft, tpot = [], []
    for _ in range(k):
        due = model.plan().due_s
        ttft.append(due[0] * 1000)
        if len(due) > 1:
            tpot.append((due[-1] - due[0]) / (len(due) - 1) * 1000)
    return np.array(ttft), np.array(tpot)


def chats(run_dir: Path):
    samples = read_samples(run_dir)
    return samples[(samples["endpoint"] == "chat") & (samples["status"] == 200)]


def test_ttft_and_tpot_match_the_models_timing_within_5_percent(with_usage: Path) -> None:
    rows = chats(with_usage)
    assert len(rows) >= 150  # enough replies for a p95 (the truth is exact, whatever their number)
    true_ttft, true_tpot = planned_truth(len(rows))  # every 200 reply was planned, in this order
    summary = read_json(with_usage / "summary.json")
    llm = summary["llm"]["chat"]
    # A client sees the first token when the model planned it plus the round trip through loopback, the
    # demo API and the load generator: a millisecond or two on a quiet machine, several under the
    # parallel suite. Take it from the same run, at the same percentile, from `me` (nothing injected),
    # plus what the load generator's own stalls may have added to this very figure (summary `generator`).
    bounds = (summary["generator"].get("bounds_ms") or {}).get("chat") or {}
    for q, key in ((0.50, "ttft_p50_ms"), (0.95, "ttft_p95_ms")):
        truth, round_trip = percentile(true_ttft, q), summary["endpoints"]["me"][key.replace("ttft_", "")]
        lag = bounds.get(key) or 0.0
        assert truth * 0.95 <= llm[key] <= truth * 1.05 + round_trip + lag, (key, llm[key], truth, round_trip, lag)
    assert llm["tpot_p50_ms"] == pytest.approx(percentile(true_tpot, 0.50), rel=0.05)
    assert llm["tpot_p95_ms"] == pytest.approx(percentile(true_tpot, 0.95), rel=0.05)
    # the figures are the samples' own: TTFT from the rows, TPOT from last-token time and usage
    ok = rows[rows["error"] == ""]
    assert llm["ttft_p95_ms"] == pytest.approx(percentile(ok["ttft_ms"].to_numpy(), 0.95), abs=0.001)
    assert llm["token_source"] == "usage" and llm["broken_streams"] == 0


def test_token_counts_equal_usage_exactly_when_present(with_usage: Path) -> None:
    rows = chats(with_usage)
    whole = rows[rows["error"] == ""]
    assert (whole["token_source"] == "usage").all()
    # every word of the demo model is one token of its vocabulary (o200k_base): tiktoken over what arrived equals the usage
    assert (whole["output_tokens"] == whole["output_tokens_estimate"]).all()
    assert (whole["output_tokens"] == whole["chunks"]).all()
    # the demo's usage counts its hidden system prompt on top of the messages the client sent
    assert (whole["input_tokens"] == whole["input_tokens_estimate"] + count_tokens(SYSTEM_PROMPT)).all()
    assert read_json(with_usage / "summary.json")["llm"]["chat"]["estimate_error"]["output"] == 0.0


def test_without_usage_tiktoken_estimates_within_10_percent(without_usage: Path) -> None:
    rows = chats(without_usage)
    assert len(rows) and (rows["token_source"] == "estimate").all()
    summary = read_json(without_usage / "summary.json")
    truth = read_json(without_usage / "target_stats.json")["tokens"]  # what the demo API counted
    spent = summary["spend"]["tokens"]["legit"]
    assert spent["output"] == pytest.approx(truth["completion"], rel=0.10)
    # the estimate of the prompt adds the scenario's declared hidden tokens (the system prompt)
    assert spent["hidden_input"] == 62 * len(rows)
    assert spent["input"] == pytest.approx(truth["prompt"], rel=0.10)
    assert summary["spend"]["run_cost_usd"]["legit"] > 0
