"""The example GitHub Actions workflow runs the smoke scenario and always publishes what it found."""

from __future__ import annotations

import re

import yaml

from tests.helpers import REPO

WORKFLOW = REPO / ".github" / "workflows" / "smoke-load.yml"


def steps() -> list[dict]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    return job["steps"]


def step(uses: str = "", run: str = "") -> dict:
    found = [
        s for s in steps() if (uses and s.get("uses", "").startswith(uses + "@")) or (run and run in s.get("run", ""))
    ]
    assert len(found) == 1, f"expected one step with {uses or run!r}"
    return found[0]


def test_triggers_and_permissions():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "workflow_dispatch" in on and on["push"]["branches"] == ["main"]
    assert workflow["permissions"]["checks"] == "write"


def test_installs_and_runs_the_smoke_scenario_against_staging():
    install = step(run="pip install")["run"]
    assert re.search(r"pip install \.$", install, re.M) and " -e" not in install  # the wheel, as a user installs it
    command = step(run="harness run")["run"]
    assert re.search(r'harness run smoke --host "\$\{\{ secrets\.STAGING_URL \}\}" --workers 2', command)
    assert "if" not in step(run="harness run")  # its exit code is the gate


def test_publishing_steps_always_run_and_actions_are_pinned():
    upload = step(uses="actions/upload-artifact")
    junit = step(uses="mikepenz/action-junit-report")
    summary = step(run="GITHUB_STEP_SUMMARY")
    for publishing in (upload, junit, summary):
        assert publishing.get("if") == "always()", publishing
    assert upload["with"]["path"] == "reports/*/"
    assert junit["with"]["report_paths"] == "reports/*/junit.xml"
    assert "summary.md" in summary["run"] and '>> "$GITHUB_STEP_SUMMARY"' in summary["run"]
    for s in steps():
        if "uses" in s:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+(\.\d+){0,2}", s["uses"]), s["uses"]
    # the run comes before what publishes it
    names = [s.get("uses", s.get("run", "")) for s in steps()]
    first_publish = min(i for i, n in enumerate(names) if "upload-artifact" in n or "junit" in n)
    assert next(i for i, n in enumerate(names) if "harness run" in n) < first_publish
