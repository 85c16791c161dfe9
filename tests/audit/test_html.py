"""Hostile text in an audit (a target's answer quoted as evidence or finding, a note, the target URL)
comes out of audit.html, and of the audit section `harness report` puts in report.html, as text."""

from __future__ import annotations

import json

from harness.audit.html import audit_page
from harness.audit.model import FAIL, ROWS, UNTESTED, CheckResult, scorecard
from harness.commands.report import run_report
from tests.report.test_build import make_run
from tests.report.test_html import ESCAPED, HOSTILE, elements, find


def hostile_audit() -> dict:
    results = [
        CheckResult(
            "cors",
            f"origin {HOSTILE}",
            FAIL,
            [f"reflects {HOSTILE}"],
            [f"OPTIONS /api/me -> 200 {HOSTILE}"],
            note=f"caveat {HOSTILE}",
        ),
        CheckResult("tenant_isolation", "other tenant", UNTESTED, note=f"no second tenant {HOSTILE}"),
    ]
    return {**scorecard(results), "target": f"http://127.0.0.1:9/?q={HOSTILE}", "harness_version": "0.1.0"}


def assert_audit_escaped(page: str) -> None:
    tree = elements(page)
    assert "<script" not in page.lower() and not find(tree, "script")
    assert ESCAPED in page
    rows = [e for e in find(tree, "tr") if "data-row" in e.attrs]
    assert len(rows) == len(ROWS) and [e.attrs["data-row"] for e in find(tree, "tr", data_status=FAIL)] == ["cors"]
    verdict = find(tree, "p", id="audit-verdict")[0]
    assert verdict.text == f"Audit of http://127.0.0.1:9/?q={HOSTILE}: FAIL" and verdict.attrs["class"] == "fail"
    cors = find(tree, "tr", data_row="cors")[0]
    assert f"reflects {HOSTILE}" in cors.text
    assert [e.text for e in find(tree, "ul", class_="findings")] == [f"reflects {HOSTILE}"]
    assert find(tree, "td", class_="muted")  # the rows not measured
    assert f"no second tenant {HOSTILE}" in find(tree, "tr", data_row="tenant_isolation")[0].text  # the row's note
    check = find(tree, "details", data_check=f"origin {HOSTILE}")[0]
    assert [e.text for e in find(tree, "ul", class_="evidence")] == [f"OPTIONS /api/me -> 200 {HOSTILE}"]
    assert f"caveat {HOSTILE}" in check.text
    assert f"<li>OPTIONS /api/me -&gt; 200 {ESCAPED}</li>" in page


def test_hostile_text_comes_out_escaped_in_audit_html():
    page = audit_page(hostile_audit())
    assert page.startswith("<!doctype html>")
    assert_audit_escaped(page)
    tree = elements(page)
    assert find(tree, "title")[0].text == "FAIL · audit · launch-harness"
    assert find(tree, "section", id="audit")
    assert '"Segoe UI"' in page  # the inline CSS is template text: written as is, its quotes unescaped


def test_the_audit_section_of_report_html_is_escaped_too(tmp_path):
    """`harness audit --run RUN_DIR` leaves audit.json in the run folder; `harness report` keeps its
    section when it rebuilds report.html."""
    run_dir = make_run(tmp_path)
    (run_dir / "audit.json").write_text(json.dumps(hostile_audit()))
    assert run_report(run_dir) == 1  # the run's own verdict: login is over its target
    page = (run_dir / "report.html").read_text()
    section = page[page.index('<section id="audit">') : page.index('<section id="method">')]
    assert section.startswith('<section id="audit"><h2>Launch-readiness audit</h2>')
    assert_audit_escaped(page)
    assert page.index('id="endpoints"') < page.index('id="audit"') < page.index('id="method"')
