"""What an audit check reports, and how the checks add up to the launch checklist's rows.

A check is one measurement from outside (say, "admin routes as a normal user"). It reports a
`CheckResult` for one checklist row, with findings (what is wrong, one line each) and evidence (what
was sent and seen, secrets redacted):

- pass or fail: judged on what was sent and seen;
- untested (DESIGN's "untested"): the check applies but could not get the evidence it needs (no
  login, no other tenant's id, a placeholder with no value, a scan cut short, a row no request can
  see), and says why and what would let it judge (`fix`);
- not applicable: the API has nothing the check is about (no chat route: no prompt injection), and
  says so.

A row fails when any of its checks fails, passes when at least one passed and none failed, is not
applicable when every check of it is, and is otherwise untested. Nothing passes unseen.

The audit's verdict: fail when a row failed; else untested when a check the gate needs (`gate`: one
whose precondition failed at the target, a login that never worked or a scan cut short, rather than a
setting the user did not give) is untested; else pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PASS", "FAIL", "UNTESTED", "NOT_APPLICABLE", "STATUSES", "ROWS", "CheckResult", "scorecard"]

PASS, FAIL, UNTESTED, NOT_APPLICABLE = "pass", "fail", "untested", "not_applicable"
STATUSES = (FAIL, PASS, UNTESTED, NOT_APPLICABLE)  # a row takes the first of these its checks have


@dataclass(frozen=True)
class Row:
    title: str
    why: str
    fix: str


# The launch checklist's rows (../shared/seed), in its order, plus the latency target from its "ready" list.
ROWS: dict[str, Row] = {
    "secrets": Row(
        "Secrets",
        "stolen keys mean account takeover and cloud bills",
        "keep every secret server-side in environment variables; rotate anything ever exposed",
    ),
    "auth": Row(
        "Auth",
        "a route that skips the identity or role check exposes other users' data",
        "check identity and role on the server for every route that touches user data",
    ),
    "tenant_isolation": Row(
        "Tenant isolation",
        "one coach must never see another coach's clients or chats",
        "derive the tenant from the session, never from an ID the client sends",
    ),
    "input_validation": Row(
        "Input validation",
        "bad or huge payloads crash servers and run up LLM bills",
        "reject malformed and oversized payloads before any work; never send stack traces",
    ),
    "rate_limiting": Row(
        "Rate limiting",
        "unlimited chat and login routes burn budget and invite stuffing",
        "limit chat, login, password reset, webhook and admin routes per IP and per user",
    ),
    "performance": Row(
        "Performance",
        "a slow dashboard or reply loses a coach's leads",
        "keep p95 under 500 ms for normal (non-LLM) actions; cache and trim hot paths",
    ),
    "cors": Row(
        "CORS",
        "a permissive policy lets any website call the API as the logged-in user",
        "allow only your own origins; never reflect the Origin header with credentials",
    ),
    "prompt_injection": Row(
        "Prompt injection",
        "a bot that follows injected text leaks its prompt and other users' data",
        "separate system instructions from user content; keep per-user context apart",
    ),
    "email_auth": Row(
        "Email auth",
        "without SPF, DKIM and DMARC, onboarding mail lands in spam",
        "publish SPF for your senders only, sign with DKIM, then DMARC from p=none to p=quarantine",
    ),
    "logging": Row(
        "Logging", "PII in logs ends up in every observability tool", "redact sensitive fields before they are logged"
    ),
    "monitoring": Row("Monitoring", "you learn about downtime from angry customers", "turn on uptime and error alerts"),
    "deployment_safety": Row(
        "Deployment safety",
        "a broken release stops onboarding during ad spend",
        "deploy with environment variables and a rollback plan",
    ),
    "cache_cdn_ssl": Row(
        "Cache, CDN and SSL",
        "no TLS or edge means snooping, slow pages and avoidable downtime",
        "serve HTTPS only with HSTS, put a CDN/WAF in front, compress and cache static assets",
    ),
}
NOT_FROM_OUTSIDE = {  # rows no request can measure, and why
    "logging": "what the server writes to its logs cannot be seen from outside",
    "monitoring": "whether alerts fire cannot be seen from outside",
    "deployment_safety": "how releases are made and rolled back cannot be seen from outside",
}


@dataclass
class CheckResult:
    """One check's outcome for one row."""

    row: str  # a key of ROWS
    check: str  # short name, e.g. "logged-out access"
    status: str  # one of STATUSES
    findings: list[str] = field(default_factory=list)  # what is wrong, one line each (status FAIL)
    evidence: list[str] = field(default_factory=list)  # what was sent and seen, secrets redacted
    note: str = ""  # why untested or not applicable, or a caveat
    fix: str = ""  # untested: what would let the check judge
    gate: bool = False  # untested and the audit's verdict needs it: a precondition failed at the target

    def __post_init__(self) -> None:
        if self.row not in ROWS:
            raise ValueError(f"unknown checklist row {self.row!r}; expected one of {', '.join(ROWS)}")
        if self.status not in STATUSES:
            raise ValueError(f"status: expected one of {', '.join(STATUSES)}, got {self.status!r}")
        if self.status == NOT_APPLICABLE and not self.note:
            raise ValueError("a check that does not apply says why (note)")

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status,
            "findings": self.findings,
            "evidence": self.evidence,
            "note": self.note,
            "fix": self.fix,
            "gate": self.gate,
        }


def scorecard(results: Iterable[CheckResult]) -> dict[str, Any]:
    """audit.json's `rows` (every checklist row, in order) and `verdict` from the checks' results."""
    by_row: dict[str, list[CheckResult]] = {name: [] for name in ROWS}
    for result in results:
        by_row[result.row].append(result)
    rows: dict[str, Any] = {}
    for name, checks in by_row.items():
        statuses = {c.status for c in checks}
        status = next((s for s in STATUSES if s in statuses), UNTESTED)
        row = ROWS[name]
        note = (
            NOT_FROM_OUTSIDE.get(name, "") if not checks else "; ".join(dict.fromkeys(c.note for c in checks if c.note))
        )
        rows[name] = {
            "title": row.title,
            "status": status,
            "findings": [f for c in checks for f in c.findings],
            "why": row.why,
            "fix": row.fix,
            "note": note,
            "checks": [c.to_dict() for c in checks],
        }
    failed = [name for name, r in rows.items() if r["status"] == FAIL]
    untested = [name for name, checks in by_row.items() if any(c.gate and c.status == UNTESTED for c in checks)]
    verdict = "fail" if failed else "untested" if untested else "pass"
    return {"rows": rows, "verdict": verdict, "failed_rows": failed, "untested_rows": untested}


def row_statuses(audit: Mapping[str, Any]) -> dict[str, str]:
    return {name: r["status"] for name, r in (audit.get("rows") or {}).items()}
