"""Denial-of-wallet verdicts from hand-made probe samples whose answers are known."""

from __future__ import annotations

import pytest

from harness.analysis.spend import request_cost
from harness.analysis.wallet import wallet_summary
from harness.scenario.pricing import Price
from tests.helpers import samples_frame

T0 = 1_796_000_000.0
PRICE = {"model": "m", "input": 0.15, "cached_input": 0.075, "output": 0.60}
RUN = {
    "wallet": {"route": "chat", "prompt_cap_tokens": 16384, "output_ask_tokens": 2000},
    "spend": {"price": PRICE, "hidden_tokens": 600.0},
}


def attempt(
    i: int,
    tokens: int,
    status: int,
    *,
    technique: str = "prompt-size",
    output: int = 1,
    blocked: bool = False,
    error: str = "",
) -> dict:
    return {
        "start_s": T0 + i,
        "endpoint": "chat",
        "role": "probe",
        "technique": technique,
        "status": status,
        "input_tokens_estimate": tokens,
        "output_tokens": output if status == 200 else 0,
        "blocked": blocked,
        "latency_ms": 5.0 + i,
        "error": error,
    }


def legit(i: int, output: int) -> dict:
    return {"start_s": T0 + i, "endpoint": "chat", "role": "legit", "status": 200, "output_tokens": output}


def hardened_rows() -> list[dict]:
    """Doubling from 1024 refused at 16384 (413), bisected down to 8448; a rate-limited retry on the way."""
    sizes = [
        (1024, 200),
        (2048, 200),
        (4096, 200),
        (8192, 200),
        (16384, 413),
        (12288, 413),
        (10240, 413),
        (9216, 413),
        (8704, 413),
        (8448, 413),
    ]
    rows = [attempt(i, n, s) for i, (n, s) in enumerate(sizes)]
    rows.insert(3, attempt(2, 8192, 429, blocked=True))  # blocked first, then accepted on the retry
    rows.append(attempt(20, 12, 200, technique="output-inflation", output=60))
    return rows + [legit(30 + i, out) for i, out in enumerate([20, 40, 60])]


def test_a_limit_is_found_to_the_token_and_the_capped_reply_passes():
    dow = wallet_summary(samples_frame(hardened_rows()), RUN)
    prompt = dow["prompt"]
    assert prompt["verdict"] == "limited"
    assert prompt["accepted_max_tokens"] == 8192 and prompt["refused_min_tokens"] == 8448
    assert prompt["refused_status"] == 413
    assert [s["tokens"] for s in prompt["steps"]][:5] == [1024, 2048, 4096, 8192, 16384]
    assert next(s for s in prompt["steps"] if s["tokens"] == 8192)["outcome"] == "accepted"  # the retry counts
    output = dow["output"]
    assert output["verdict"] == "capped" and output["output_tokens"] == 60
    assert output["longest_legit_output_tokens"] == 60 and output["typical_output_tokens"] == 40
    # worst request: 8192 accepted + 600 hidden at $0.15/M, 60 output at $0.60/M
    assert dow["worst_request_usd"] == pytest.approx((8792 * 0.15 + 60 * 0.60) / 1e6)
    assert dow["findings"] == [] and dow["fix"] == []


def test_no_limit_and_an_inflatable_reply_are_findings():
    sizes = [1024, 2048, 4096, 8192, 16384]
    rows = [attempt(i, n, 200) for i, n in enumerate(sizes)]
    rows.append(attempt(10, 12, 200, technique="output-inflation", output=2000))
    rows += [legit(20 + i, out) for i, out in enumerate([20, 40, 60])]
    dow = wallet_summary(samples_frame(rows), RUN)
    assert dow["prompt"]["verdict"] == "unlimited" and dow["prompt"]["accepted_max_tokens"] == 16384
    assert dow["output"]["verdict"] == "inflatable" and dow["output"]["factor"] == pytest.approx(50.0)
    expected = request_cost(Price(**PRICE), 16384, 2000, 0, 600)
    assert dow["worst_request_usd"] == pytest.approx(expected)
    assert len(dow["findings"]) == 2 and "16,384-token prompt" in dow["findings"][0]
    assert "2,000 tokens (50× a typical reply)" in dow["findings"][1]
    assert len(dow["fix"]) == 2


def test_a_server_error_on_a_big_prompt_fails():
    rows = [attempt(0, 1024, 200), attempt(1, 2048, 200), attempt(2, 4096, 500, error="http 500")]
    dow = wallet_summary(samples_frame(rows), RUN)
    assert dow["prompt"]["verdict"] == "failed"
    assert dow["prompt"]["failed_tokens"] == 4096 and dow["prompt"]["failed_status"] == 500
    assert "HTTP 500 on a 4,096-token prompt" in dow["findings"][0]
    assert dow["output"]["verdict"] == "untested"


def test_refused_from_the_first_size_is_inconclusive_not_a_pass():
    dow = wallet_summary(samples_frame([attempt(0, 1024, 400)]), RUN)
    assert dow["prompt"]["verdict"] == "inconclusive" and dow["findings"] == []


def test_a_run_without_the_probe_has_no_section():
    assert wallet_summary(samples_frame([legit(0, 10)]), {"spend": {}}) is None
