"""The three documents against their shipped JSON Schemas: the files are what the types generate
now, real outputs validate (the golden runs, a fresh short run, the golden audits), and an older,
partial or damaged run.json still loads, with a note for what it had to leave out."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from harness.analysis.run import compute_summary, load_run
from harness.documents import RUN_SCHEMA_VERSION, SUMMARY_SCHEMA_VERSION, RunMeta, Summary
from harness.documents.schemas import DOCUMENTS, render
from tests.analysis.test_golden import GOLDEN, RUNS
from tests.helpers import REPO

SCHEMAS = REPO / "docs" / "schemas"


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_the_shipped_schema_is_what_the_types_generate(name: str) -> None:
    assert (SCHEMAS / name).read_text() == render(name), (
        f"docs/schemas/{name} is out of date: run `python -m harness.documents.schemas`"
    )


@pytest.mark.parametrize("name", RUNS)
def test_golden_runs_and_their_recomputed_summaries_validate(name: str) -> None:
    run = json.loads((GOLDEN / name / "run.json").read_text())
    validator("run.schema.json").validate(run)
    summary, _, meta = compute_summary(GOLDEN / name)
    document = json.loads(json.dumps(summary.to_dict()))
    validator("summary.schema.json").validate(document)
    assert document["schema_version"] == SUMMARY_SCHEMA_VERSION and document["reasons"] is not None
    # read back, the summary is the same document
    assert Summary.load(document) == (summary, [])
    validator("run.schema.json").validate(json.loads(json.dumps(meta.to_dict())))


@pytest.mark.parametrize("profile", ["hardened", "vulnerable"])
def test_golden_audits_validate(profile: str) -> None:
    validator("audit.schema.json").validate(json.loads((GOLDEN / f"audit-{profile}" / "audit.json").read_text()))


def test_a_wrong_field_is_a_note_not_a_crash(tmp_path: Path) -> None:
    run_dir = tmp_path / "20261201-080000-smoke"
    run_dir.mkdir()
    good = json.loads((GOLDEN / "smoke" / "run.json").read_text())
    damaged = {**good, "workers": "two", "lost_workers": {"w": 1}, "task_errors": [{"count": "x"}], "extra": [1]}
    (run_dir / "run.json").write_text(json.dumps(damaged))
    run, notes = load_run(run_dir)
    assert (run.workers, run.lost_workers, run.task_errors) == (None, None, None)
    assert run.targets == good["targets"] and run.ended_at == good["ended_at"]
    assert sorted(n.split(":")[1].strip() for n in notes) == ["lost_workers", "task_errors[0].count", "workers"]
    assert all(n.startswith("run.json: ") and n.endswith("the field is ignored") for n in notes)


def test_an_older_or_partial_run_json_loads_with_defaults() -> None:
    old = {"id": "x", "started_at": 1.0e9, "targets": {"login": 500}}  # no schema_version, no end: killed
    run, notes = RunMeta.load(old)
    assert notes == [] and run.schema_version == 0 and run.ended_at is None and run.thresholds is None
    assert RunMeta.load([1, 2])[1] == ["run.json is not a JSON object: ignored"]
    assert RunMeta.load("5")[0] == RunMeta()


@pytest.mark.e2e
def test_a_fresh_run_writes_documents_that_validate(smoke_run: tuple) -> None:
    """The session's smoke run (tests/conftest.py), which tests/commands/test_run.py reads too."""
    result, run_dir = smoke_run
    assert result.returncode in (0, 1), result.stderr[-3000:]
    run = json.loads((run_dir / "run.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    validator("run.schema.json").validate(run)
    validator("summary.schema.json").validate(summary)
    assert run["schema_version"] == RUN_SCHEMA_VERSION and summary["schema_version"] == SUMMARY_SCHEMA_VERSION
    assert summary["totals"]["requests"] > 0 and summary["verdict"] == ("pass" if result.returncode == 0 else "fail")
    assert [r["message"] for r in summary["reasons"]] == summary["verdict_reasons"]
