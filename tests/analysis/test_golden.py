"""Golden runs: run folders recorded before the package move (smoke, abuse on both profiles, an
open-model run) and two audits. `harness report` on each must give the same figures, verdict and
reasons; an audit of the demo API the same rows. A refactor that changes a number fails here.

The fixtures hold only what a report reads (samples merged into one Parquet part, run.json, the
demo API's counters) and the summary the code of that day computed from them.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.documents import SUMMARY_SCHEMA_VERSION
from tests.helpers import REPO, only_run_dir, run_harness

GOLDEN = REPO / "tests" / "fixtures" / "golden"
RUNS = ("smoke", "open-model", "abuse-hardened", "abuse-vulnerable")
VOLATILE = {"harness_version", "locust_version"}  # what a release changes, not a measurement
NEW = {"schema_version", "reasons", "generator"}  # summary.json fields added after the golden runs were recorded


def comparable(summary: Any, top: bool = True) -> Any:
    """The summary without what may differ between two builds of the same figures, nor the fields
    added since the golden runs were recorded (checked on their own below)."""
    if isinstance(summary, dict):
        return {k: comparable(v, False) for k, v in summary.items() if k not in VOLATILE and not (top and k in NEW)}
    if isinstance(summary, list):
        return [comparable(v, False) for v in summary]
    return summary


@pytest.mark.parametrize("name", RUNS)
def test_a_golden_run_reports_the_same_figures_verdict_and_reasons(name: str, tmp_path: Path) -> None:
    from harness.report.build import build_report

    run_dir = tmp_path / name
    shutil.copytree(GOLDEN / name, run_dir)
    expected = json.loads((GOLDEN / name / "expected-summary.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text()) if build_report(run_dir) else {}
    assert summary["verdict"] == expected["verdict"]
    assert summary.get("verdict_reasons") == expected.get("verdict_reasons")
    assert comparable(summary) == comparable(expected)
    # the structured reasons say the same, one kind each
    assert [r["message"] for r in summary["reasons"]] == expected["verdict_reasons"]
    assert summary["schema_version"] == SUMMARY_SCHEMA_VERSION
    # recorded before the loop monitor: its timing is "not measured", never a zero
    generator = summary["generator"]
    assert generator["measured"] is False and "no loop_monitor series" in generator["not_measured"]
    assert generator["workers"] == {} and generator["bounds_ms"] == {} and generator["flagged"] == []
    assert not [n for n in summary["notes"] if "event loop" in n]


def audit_rows(report: dict) -> dict[str, Any]:
    """Each row's status, findings and checks, with the numbers that vary between two audits (ports,
    sizes, ids, times) masked."""

    def masked(text: str) -> str:
        return re.sub(r"\d+", "#", text)

    return {
        name: {
            "status": row["status"],
            "findings": sorted(masked(f) for f in row["findings"]),
            "checks": sorted((c["check"], c["status"]) for c in row.get("checks", [])),
        }
        for name, row in report["rows"].items()
    }


def assert_golden_rows(result: Any, folder: Path, profile: str) -> None:
    assert result.returncode == (0 if profile == "hardened" else 1), result.stderr[-3000:]
    report = json.loads((folder / "audit.json").read_text())
    golden = json.loads((GOLDEN / f"audit-{profile}" / "audit.json").read_text())
    assert report["verdict"] == golden["verdict"]
    assert audit_rows(report) == audit_rows(golden)


@pytest.mark.e2e
def test_an_audit_of_the_hardened_demo_api_gives_the_golden_rows(tmp_path: Path) -> None:
    result = run_harness("audit", "--profile", "hardened", "--out", str(tmp_path), timeout=240)
    assert_golden_rows(result, only_run_dir(tmp_path), "hardened")


@pytest.mark.e2e
def test_an_audit_of_the_vulnerable_demo_api_gives_the_golden_rows(vulnerable_audit: tuple) -> None:
    """The session's audit of the vulnerable demo (tests/conftest.py), which tests/audit/test_command.py reads too."""
    assert_golden_rows(*vulnerable_audit, "vulnerable")
