"""`harness audit`: run every check against a target, add the results up into the launch checklist's
rows, and write `audit.json`, `audit.html` and a terminal scorecard.

The checks talk to the target directly (httpx, bounded in time); the rate-limit and latency rows come
from a load run's summary when `--run RUN_DIR` is given, because only real load measures them.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from harness import __version__
from harness.audit.context import AuditContext
from harness.audit.model import FAIL, NOT_APPLICABLE, PASS, ROWS, UNTESTED, CheckResult, scorecard
from harness.audit.ratelimit_headers import LIMITED_KINDS, Observed, judge
from harness.documents import Summary
from harness.documents.audit import AUDIT_SCHEMA_VERSION, AuditReport
from harness.runfolder import write_atomic
from harness.scenario import Scenario

__all__ = ["CHECKS", "LIMITED_KINDS", "run_checks", "from_load_run", "audit", "format_scorecard"]

log = logging.getLogger("harness")

# check modules under harness.audit, in the order they run (and report)
CHECKS = (
    "access",
    "tenancy",
    "validation",
    "cors",
    "secrets",
    "injection",
    "transport",
    "edge",
    "email",
    "enumeration",  # last: its wrong passwords count against the login limits of the accounts it uses
)


def run_checks(ctx: AuditContext, names: Sequence[str] = CHECKS) -> list[CheckResult]:
    """Every check's results. A check that breaks is reported, never allowed to end the audit."""
    results: list[CheckResult] = []
    for name in names:
        started = time.monotonic()
        try:
            module = importlib.import_module(f"harness.audit.{name}")
            results.extend(module.run(ctx))
        except Exception as exc:  # a bug in one check must not hide the others' results, nor pass the audit
            reason = f"the {name} check stopped with {type(exc).__name__}: {ctx.redact(str(exc))[:200]}"
            log.error("harness: %s", reason)
            results.append(
                CheckResult(
                    _row_of(name),
                    f"{name} (did not complete)",
                    UNTESTED,
                    note=reason,
                    fix="report it: a check must judge or say why not",
                    gate=True,
                )
            )
        log.info("harness: audit check %s took %.1f s", name, time.monotonic() - started)
    return results


def _row_of(check: str) -> str:
    return {
        "access": "auth",
        "tenancy": "tenant_isolation",
        "validation": "input_validation",
        "cors": "cors",
        "secrets": "secrets",
        "injection": "prompt_injection",
        "transport": "cache_cdn_ssl",
        "edge": "cache_cdn_ssl",
        "email": "email_auth",
        "enumeration": "auth",
    }.get(check, "auth")


def from_load_run(summary: Summary | None, scenario: Scenario, observed: Sequence[Observed] = ()) -> list[CheckResult]:
    """The `rate_limiting` and `performance` rows from a load run's summary (None: no run given). What the
    rate-limit headers of the audit's own answers said (`observed`) is evidence beside them, never a verdict."""
    if summary is None:
        why = "give --run RUN_DIR: a load run with the bypass probes (e.g. scenarios/abuse.toml) measures this"
        evidence, notes = judge(observed)
        return [
            CheckResult(
                "rate_limiting", "rate limits under load", UNTESTED, evidence=evidence, note="; ".join([why, *notes])
            ),
            CheckResult(
                "performance",
                "p95 under load",
                UNTESTED,
                note="give --run RUN_DIR: a load run measures the p95 of every route",
            ),
        ]
    limits = _rate_limits(summary, scenario)
    evidence, notes = judge(observed)
    limits.evidence += evidence
    limits.note = "; ".join(n for n in (limits.note, *notes) if n)
    return [limits, _performance(summary)]


def _rate_limits(summary: Summary, scenario: Scenario) -> CheckResult:
    limits: Mapping[str, Mapping] = summary.section("rate_limits") or {}
    wanted = [ep.name for kind in LIMITED_KINDS for ep in scenario.routes(kind)]
    if not wanted:
        return CheckResult(
            "rate_limiting",
            "rate limits under load",
            NOT_APPLICABLE,
            note="the API map has no route of kind " + ", ".join(LIMITED_KINDS),
        )
    findings, evidence, notes = [], [], []
    for route in wanted:
        entry = limits.get(route)
        if not entry or entry.get("verdict") == "untested":
            notes.append(f"{route}: not probed in that run")
            continue
        verdict = entry.get("verdict")
        worst = entry.get("worst_technique")
        evidence.append(f"{route}: {verdict}" + (f" (worst technique {worst})" if worst else ""))
        if verdict != "effective":
            fix = "; ".join(entry.get("fix") or [])
            findings.append(
                f"{route}: rate limit {verdict}"
                + (f" through {worst}" if worst else "")
                + (f"; fix: {fix}" if fix else "")
            )
    if not evidence:
        return CheckResult(
            "rate_limiting",
            "rate limits under load",
            UNTESTED,
            note="the run judged none of " + ", ".join(wanted) + ("; " + "; ".join(notes) if notes else ""),
            fix="run the bypass probes (e.g. scenarios/abuse.toml) with working logins, then --run that folder",
            gate=True,
        )
    status = FAIL if findings else PASS
    return CheckResult("rate_limiting", "rate limits under load", status, findings, evidence, "; ".join(notes))


def _performance(summary: Summary) -> CheckResult:
    findings, evidence = [], []
    for name, e in summary.endpoints.items():
        target, p95 = e.target_p95_ms, e.p95_ms
        if target is None or p95 is None or math.isnan(p95):
            continue
        evidence.append(f"{name}: p95 {p95:,.1f} ms (target {target:g} ms, {e.latency_samples} samples)")
        if p95 >= target:
            findings.append(f"{name}: p95 {p95:,.1f} ms is over the {target:g} ms target")
    if not evidence:
        return CheckResult("performance", "p95 under load", UNTESTED, note="the run has no latency targets")
    return CheckResult("performance", "p95 under load", FAIL if findings else PASS, findings, evidence)


def audit(
    ctx: AuditContext,
    run_summary: Summary | None = None,
    run_dir: Path | None = None,
    names: Sequence[str] = CHECKS,
    profile: str | None = None,
) -> AuditReport:
    """audit.json: the target, the checks' results, the rows and the verdict. `profile`: the demo
    API's profile when the audit started it (else the scenario's, for the demo API)."""
    started = time.time()
    results = run_checks(ctx, names) + from_load_run(run_summary, ctx.scenario, ctx.observed)
    card = scorecard(results)
    broken = [r.note for r in results if r.check.endswith("(did not complete)")]
    if broken:  # an audit that could not run a check cannot say "pass"
        card.update(verdict="fail", incomplete=broken)
    return msgspec.convert(
        {
            "schema_version": AUDIT_SCHEMA_VERSION,
            "target": ctx.base_url,
            "scenario": ctx.scenario.name,
            "profile": profile or (ctx.scenario.target.get("profile") if ctx.scenario.host is None else None),
            "run": str(run_dir) if run_dir else None,
            "started_at": datetime.fromtimestamp(started, tz=UTC).isoformat(timespec="seconds"),
            "duration_s": round(time.time() - started, 1),
            "harness_version": __version__,
            "destructive": ctx.settings.destructive,
            "destructive_requests": list(ctx.destructive_requests),
            "accounts_created": [asdict(a) for a in ctx.accounts_created],
            **card,
        },
        AuditReport,
    )


def format_scorecard(report: AuditReport) -> str:
    """The rows as a terminal table, then the verdict."""
    marks = {PASS: "pass", FAIL: "FAIL", UNTESTED: "untested", NOT_APPLICABLE: "n/a"}
    rows = report.rows
    width = max((len(r.title) for r in rows.values()), default=10)
    lines = [f"{'row'.ljust(width)}  status    finding or note", "-" * (width + 40)]
    for r in rows.values():
        first = (r.findings or [r.note or ""])[0]
        more = f" (+{len(r.findings) - 1} more)" if len(r.findings) > 1 else ""
        lines.append(f"{r.title.ljust(width)}  {marks[r.status].ljust(8)}  {first}{more}".rstrip())
    lines.append("-" * (width + 40))
    failed = report.failed_rows
    counts = {s: sum(r.status == s for r in rows.values()) for s in marks}
    reasons = [f"{len(failed)} row(s) failed ({', '.join(ROWS[r].title for r in failed)})"] if failed else []
    reasons += [f"incomplete: {why}" for why in report.incomplete or []]
    if report.verdict == "untested":
        untested = ", ".join(ROWS[r].title for r in report.untested_rows)
        reasons.append(f"could not judge {untested}: a precondition failed (see each check's note and fix)")
    lines.append(
        f"audit: {report.verdict.upper()} ({counts[PASS]} pass, {counts[FAIL]} fail, "
        f"{counts[UNTESTED]} untested"
        + (f", {counts[NOT_APPLICABLE]} not applicable" if counts[NOT_APPLICABLE] else "")
        + ")"
        + (": " + "; ".join(reasons) if reasons else "")
    )
    return "\n".join(lines)


def write_audit(report: AuditReport, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "audit.json"
    write_atomic(path, json.dumps(report.to_dict(), indent=2) + "\n")
    return path
