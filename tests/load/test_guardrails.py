"""Guardrails: abuse traffic only to loopback or allowed hosts (refused before any request, exit 2), and
the hard caps the master enforces (a real run stopped at its cap, exit 3, report written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.load.gate import RunCounters, cap_reason
from harness.scenario import Guardrails, load_scenario, parse_scenario
from harness.scenario.guardrails import abuse_refusal
from tests.helpers import REPO, CappedRun, read_json, run_cli

ABUSE = REPO / "scenarios" / "abuse.toml"


def test_abuse_goes_only_to_loopback_or_allowed_hosts() -> None:
    scenario = load_scenario(ABUSE)
    assert abuse_refusal(scenario, "http://127.0.0.1:8000") is None
    assert abuse_refusal(scenario, "http://[::1]:8000") is None
    refusal = abuse_refusal(scenario, "https://staging.example.com")
    assert refusal == (
        f"{ABUSE}: guardrails.allowed_hosts: attacks and bypass probes and the denial-of-wallet probe "
        "only go to loopback or to hosts listed there; staging.example.com is not (add "
        '"staging.example.com" to [guardrails] allowed_hosts only if you own it)'
    )
    allowed = parse_scenario({**scenario.raw, "guardrails": {"allowed_hosts": ["Staging.Example.com"]}})
    assert abuse_refusal(allowed, "https://staging.example.com:8443") is None
    smoke = load_scenario(REPO / "scenarios" / "smoke.toml")  # legit journeys alone may go anywhere
    assert abuse_refusal(smoke, "https://staging.example.com") is None


@pytest.mark.parametrize(
    "seen, expected",
    [
        (RunCounters(elapsed_s=61), "guardrail: run time over max_duration (60 s)"),
        (RunCounters(requests=1001), "guardrail: 1,001 requests, over max_requests (1,000)"),
        (RunCounters(rps=50.5), "guardrail: 50.5 requests/s, over max_rps (50)"),
        (RunCounters(spend_usd=0.25), "guardrail: estimated LLM spend $0.2500, over max_spend_usd ($0.2)"),
        (RunCounters(elapsed_s=60, requests=1000, rps=50, spend_usd=0.2), None),  # at a cap is not over it
    ],
)
def test_cap_reason(seen: RunCounters, expected: str | None) -> None:
    caps = Guardrails(max_duration_s=60, max_requests=1000, max_rps=50, max_spend_usd=0.2)
    assert cap_reason(caps, seen) == expected


def test_a_non_loopback_abuse_target_is_refused_before_anything_starts(tmp_path: Path) -> None:
    result = run_cli("run", str(ABUSE), "--host", "http://10.255.255.1:9", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "guardrails.allowed_hosts" in result.stderr and "10.255.255.1 is not" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # no run folder, no request


@pytest.mark.e2e
def test_the_master_stops_a_run_at_its_spend_cap(capped_run: CappedRun) -> None:
    """The spend cap, in the session's capped run (tests/conftest.py), whose progress writes fail throughout
    (tests/commands/test_fail_safe.py); every cap takes the same way (`cap_reason` above)."""
    assert capped_run.returncode == 3, capped_run.stderr[-3000:]
    run_dir = capped_run.run_dir
    meta = read_json(run_dir / "run.json")
    assert meta["aborted"] is True and meta["abort_reason"].startswith("guardrail: estimated LLM spend")
    summary = read_json(run_dir / "summary.json")
    assert summary["run"]["duration_s"] < 30  # planned 40 s
    assert (run_dir / "report.html").exists()
