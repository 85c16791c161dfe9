"""Webhook signature schemes end to end: the demo API verifying Standard Webhooks or GitHub signatures
accepts every legit delivery the harness signs with the same scheme and refuses the forged ones; a
demo expecting another scheme than the scenario signs with refuses every delivery, and the webhook
attacks then come out "untested" with the scheme named, never "clean".

Three short runs (6 s of load each, one Locust process) of the payment provider journey beside the
four webhook attacks, on the embedded demo API (hardened).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.analysis.abuse import WEBHOOK_ATTACKS
from tests.helpers import only_run_dir, read_json, run_harness

pytestmark = pytest.mark.e2e  # every test here starts processes (see tests/conftest.py)


def scenario(signs: str, verifies: str) -> str:
    """The webhook journey and the four webhook attacks: the harness signs with `signs`, the demo
    API verifies `verifies`."""
    attacks = "".join(f"[attacks.{name}]\nrate = 5\n" for name in WEBHOOK_ATTACKS)
    return f"""
[scenario]
name = "webhooks-{signs}-{verifies}"
[target]
webhook_scheme = "{verifies}"
[accounts]
source = "demo"
[webhook]
scheme = "{signs}"
[endpoints.webhook]
method = "POST"
path = "/api/webhooks/stripe"
auth = false
[load]
users = 2
spawn_rate = 2
duration = "6s"
[journeys.webhook]
weight = 1
think_time = [0.1, 0.3]
[attacks]
start_after = "1s"
{attacks}"""


def run(tmp_path: Path, signs: str, verifies: str) -> tuple[Any, dict[str, Any], Path]:
    path = tmp_path / "webhooks.toml"
    path.write_text(scenario(signs, verifies))
    result = run_harness("run", str(path), "--workers", "0", "--out", str(tmp_path / "out"), timeout=150)
    run_dir = only_run_dir(tmp_path / "out")
    return result, read_json(run_dir / "summary.json"), run_dir


@pytest.mark.parametrize("scheme", ["standard", "github"])
def test_legit_deliveries_accepted_and_forged_refused(tmp_path: Path, scheme: str) -> None:
    result, summary, run_dir = run(tmp_path, scheme, scheme)
    # GitHub signs no timestamp: the stale attack does not apply, an untested verdict, so exit 4 (not a pass)
    assert result.returncode == (0 if scheme == "standard" else 4), result.stdout[-2000:] + result.stderr[-2000:]
    webhook = summary["endpoints"]["webhook"]
    assert webhook["legit_requests"] >= 10 and webhook["legit_errors"] == 0 and webhook["legit_error_rate"] == 0
    abuse = summary["abuse"]
    forged = abuse["webhook_forged"]
    assert forged["requests"] >= 5 and forged["status_counts"] == {"400": forged["requests"]}
    assert forged["verdict"] == "clean" and abuse["webhook_flood"]["verdict"] == "clean"
    flood = abuse["webhook_flood"]
    assert flood["status_counts"].get("200", 0) >= 5  # validly signed: accepted (within the route's limit)
    stats = read_json(run_dir / "target_stats.json")
    replays = abuse["webhook_replay"]
    assert replays["status_counts"] == {"200": replays["requests"]} and replays["verdict"] == "clean"
    assert stats["webhooks_duplicate"] == replays["requests"] - 1  # the hardened demo de-duplicates by id
    assert stats["webhooks_processed"] >= webhook["legit_requests"] + flood["status_counts"]["200"]
    stale = abuse["webhook_stale"]
    run_meta = read_json(run_dir / "run.json")
    assert run_meta["webhook"] == {"scheme": scheme, "signs_timestamp": scheme == "standard"}
    if scheme == "standard":  # a signed timestamp an hour old: refused
        assert stale["status_counts"] == {"400": stale["requests"]} and stale["verdict"] == "clean"
    else:  # GitHub signs no timestamp: the "stale" delivery is a valid one, and the attack does not apply
        assert stale["status_counts"] == {"200": stale["requests"]} and stale["findings"] == []
        assert stale["verdict"] == "untested" and '"github" scheme signs no timestamp' in stale["notes"][0]


def test_a_scheme_mismatch_leaves_the_webhook_attacks_untested(tmp_path: Path) -> None:
    result, summary, _ = run(tmp_path, "stripe", "standard")
    assert result.returncode == 1  # every legit delivery refused: the error-rate threshold fails
    webhook = summary["endpoints"]["webhook"]
    assert webhook["legit_requests"] >= 10 and webhook["legit_errors"] == webhook["legit_requests"]
    assert webhook["status_counts"] == {"400": webhook["requests"]}
    abuse = summary["abuse"]
    for name in WEBHOOK_ATTACKS:
        assert abuse[name]["findings"] == [] and abuse[name]["verdict"] == "untested", name
        assert 'none of the "stripe" signatures' in abuse[name]["notes"][-1], name
        assert "set [webhook] scheme" in abuse[name]["notes"][-1]
    assert summary["abuse_verdict"] == "untested"
    # the gate: each untested attack is a reason of its own; the failed error-rate threshold alone makes it exit 1
    reasons = summary["reasons"]
    untested = sorted(r["message"].split(" is untested")[0] for r in reasons if r["kind"] == "untested")
    assert untested == sorted(f"attack {name}" for name in WEBHOOK_ATTACKS)
    assert {r["kind"] for r in reasons} == {"threshold", "untested"} and summary["verdict"] == "fail"
