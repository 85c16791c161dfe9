"""The audit as HTML: a report section (also added to a load run's report.html with `--run`) and a
self-contained `audit.html` page around it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from html import escape
from typing import Any

from harness.report.build import CSS, Section

__all__ = ["audit_section", "audit_page"]

LABELS = {"pass": "pass", "fail": "fail", "not_measurable": "not measurable from outside"}


def _list(items: list[str], cls: str) -> str:
    return f'<ul class="{cls}">' + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>" if items else ""


def audit_section(report: Mapping[str, Any]) -> Section:
    """The scorecard (one row per checklist row: status, findings, why it matters, the fix), then
    each check's evidence."""
    rows = []
    details = []
    for name, r in (report.get("rows") or {}).items():
        status = r["status"]
        cls = {"pass": "pass", "fail": "fail"}.get(status, "muted")
        findings = _list(r["findings"], "findings") or escape(r.get("note") or "")
        rows.append(f'<tr data-row="{escape(name)}" data-status="{escape(status)}"><td>{escape(r["title"])}</td>'
                    f'<td class="{cls}">{escape(LABELS[status])}</td><td>{findings}</td>'
                    f'<td>{escape(r["why"])}</td><td>{escape(r["fix"]) if status == "fail" else ""}</td></tr>')
        for check in r.get("checks") or []:
            evidence = _list(check.get("evidence") or [], "evidence")
            note = f'<p class="muted">{escape(check["note"])}</p>' if check.get("note") else ""
            details.append(f'<details data-check="{escape(check["check"])}"><summary>{escape(r["title"])}: '
                           f'{escape(check["check"])} — {escape(LABELS[check["status"]])}</summary>{note}{evidence}</details>')
    verdict = str(report.get("verdict", "fail"))
    head = (f'<p id="audit-verdict" class="{"pass" if verdict == "pass" else "fail"}">Audit of '
            f'{escape(str(report.get("target", "")))}: <strong>{escape(verdict.upper())}</strong></p>')
    table = ('<table id="audit-scorecard"><thead><tr><th>row</th><th>status</th><th>findings</th>'
             "<th>why it matters</th><th>fix</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    return Section(id="audit", title="Launch-readiness audit", body=head + table + "<h3>Evidence</h3>" + "".join(details))


def audit_page(report: Mapping[str, Any]) -> str:
    """audit.html: self-contained, the report's CSS inline."""
    section = audit_section(report)
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(str(report.get('verdict', 'fail')).upper())} · audit · launch-harness</title>"
            f"<style>{CSS}</style></head><body><main>"
            f'<h1>launch-harness audit</h1><section id="{section.id}">{section.body}</section>'
            f"<footer>launch-harness {escape(str(report.get('harness_version', '')))} · generated {generated}</footer>"
            "</main></body></html>\n")
