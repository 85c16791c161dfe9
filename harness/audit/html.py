"""The audit as HTML: a report section (also added to a load run's report.html with `--run`) and a
self-contained `audit.html` page around it, both from harness/audit/templates with autoescaping on
(the page frame and CSS are the run report's)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from harness.report.html import Section, render_template

__all__ = ["audit_section", "audit_page"]

LABELS = {
    "pass": "pass",
    "fail": "fail",
    "untested": "untested",
    "not_measurable": "untested",  # audit.json before schema 2
    "not_applicable": "not applicable",
}
PACKAGE = "harness.audit"  # where audit_section.html.j2 and audit.html.j2 live


def _context(report: Mapping[str, Any]) -> dict[str, Any]:
    """The scorecard's rows and each check's evidence, as plain text for the template."""
    rows = []
    for name, r in (report.get("rows") or {}).items():
        status = r["status"]
        rows.append(
            {
                "name": name,
                "status": status,
                "title": r["title"],
                "label": LABELS[status],
                "class": {"pass": "pass", "fail": "fail"}.get(status, "muted"),
                "findings": list(r["findings"]),
                "note": r.get("note") or "",
                "why": r["why"],
                "fix": r["fix"] if status == "fail" else _untested_fixes(r),
                "checks": [
                    {
                        "check": c["check"],
                        "label": LABELS[c["status"]],
                        "note": " ".join(p for p in (c.get("note"), c.get("fix") and f"Fix: {c['fix']}") if p),
                        "evidence": list(c.get("evidence") or []),
                    }
                    for c in r.get("checks") or []
                ],
            }
        )
    verdict = str(report.get("verdict", "fail"))
    return {
        "target": str(report.get("target", "")),
        "verdict": verdict.upper(),
        "class": "pass" if verdict == "pass" else "fail",
        "rows": rows,
        "destructive": bool(report.get("destructive")),
        "destructive_requests": list(report.get("destructive_requests") or []),
        "accounts_created": [_account(a) for a in report.get("accounts_created") or []],
    }


def _account(account: Mapping[str, Any]) -> str:
    """One account the audit signed up, as a line: who, the id the API gave it, how and why."""
    who = account.get("email") or account.get("username") or "?"
    named = f" (id {account['id']})" if account.get("id") else ""
    why = f": {account['purpose']}" if account.get("purpose") else ""
    return f"{who}{named}, through {account.get('route') or '?'}{why}"


def _untested_fixes(row: Mapping[str, Any]) -> str:
    """What would let the row's untested checks judge, one sentence each."""
    return " ".join(dict.fromkeys(c["fix"] for c in row.get("checks") or [] if c.get("fix")))


def audit_section(report: Mapping[str, Any]) -> Section:
    """The scorecard (one row per checklist row: status, findings, why it matters, the fix), then
    each check's evidence."""
    return Section(
        id="audit",
        title="Launch-readiness audit",
        template="audit_section.html.j2",
        context=_context(report),
        package=PACKAGE,
    )


def audit_page(report: Mapping[str, Any]) -> str:
    """audit.html: self-contained, the report's CSS inline."""
    section = audit_section(report)
    return render_template(
        "audit.html.j2",
        {
            "section": section.context,
            "section_id": section.id,
            "verdict": str(report.get("verdict", "fail")).upper(),
            "harness_version": str(report.get("harness_version", "")),
            "generated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        },
        packages=[PACKAGE],
    )
