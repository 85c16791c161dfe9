"""`harness audit [SCENARIO] [--host URL] [--profile P] [--run RUN_DIR] [--out DIR] [--allow-destructive]`.

Exit codes as for a run: 0 every row that could be judged passed and none the verdict needs is
untested, 1 a row failed, 2 bad usage or scenario, 3 the target could not be reached (nothing
measured), 4 no row failed but one the verdict needs is untested (a login that never worked, a scan
cut short): the audit could not judge, which is not a pass.
"""

from __future__ import annotations

import itertools
import json
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from harness.audit.context import AuditContext, parse_audit_settings
from harness.audit.html import audit_page, audit_section
from harness.audit.runner import CHECKS, audit, format_scorecard, write_audit
from harness.documents import Summary
from harness.errors import ExitCode
from harness.runfolder import write_atomic
from harness.scenario import SHIPPED_SCENARIOS, ScenarioError, load_scenario
from harness.scenario.accounts import TargetUnreachable, resolve_credentials
from harness.scenario.guardrails import abuse_refusal

__all__ = ["DEFAULT_SCENARIO", "run_audit"]

DEFAULT_SCENARIO = SHIPPED_SCENARIOS / "audit.toml"


def _usage(message: str) -> int:
    print(f"harness: {message}", file=sys.stderr)
    return ExitCode.USAGE


def _load_run(run_dir: Path) -> Summary | str:
    """The load run's summary (recomputed from its samples when summary.json is missing), or why not."""
    if not (run_dir / "run.json").exists() and not (run_dir / "samples").is_dir():
        return f"--run {run_dir}: not a run folder (no run.json or samples/); give a folder under reports/"
    summary = run_dir / "summary.json"
    if summary.exists():
        try:
            return Summary.load(json.loads(summary.read_text()), str(summary))[0]
        except ValueError:
            pass
    from harness.analysis.run import compute_summary

    return compute_summary(run_dir)[0]


def _new_folder(out: Path) -> Path:
    """reports/<YYYYmmdd-HHMMSS>-audit, made now (a suffix when two audits start in the same second)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for suffix in itertools.count(1):
        path = Path(out) / (f"{stamp}-audit" + (f"-{suffix}" if suffix > 1 else ""))
        try:
            path.mkdir(parents=True)
            return path.resolve()
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def run_audit(
    scenario_path: Path | None,
    host: str | None,
    profile: str | None,
    run_dir: Path | None,
    out: Path,
    checks: tuple[str, ...] = CHECKS,
    destructive: bool = False,
) -> int:
    scenario_path = scenario_path or DEFAULT_SCENARIO
    try:
        scenario = load_scenario(scenario_path)
        settings = parse_audit_settings(scenario)
    except ScenarioError as exc:
        return _usage(str(exc))
    if destructive:
        settings = replace(settings, destructive=True)
    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        return _usage(f"--check {unknown[0]}: unknown check (expected one of: {', '.join(CHECKS)})")
    summary = None
    if run_dir is not None:
        loaded = _load_run(run_dir)
        if isinstance(loaded, str):
            return _usage(loaded)
        summary = loaded
    target_host = host or scenario.host
    refusal = abuse_refusal(scenario, target_host or "http://127.0.0.1", audit=True)
    if refusal:
        return _usage(refusal)

    out_dir = _new_folder(out)
    target = None
    try:
        if target_host is None:
            from harness.demo_api.config import TargetConfig
            from harness.demo_api.process import start_target

            settings_ = dict(scenario.target)
            if profile:
                settings_["profile"] = profile
            try:
                target = start_target(TargetConfig.from_dict(settings_))
            except ValueError as exc:
                return _usage(f"{scenario_path}: target: {exc}")
            target_host = target.url
        print(f"harness: auditing {target_host} ({len(checks)} checks); audit folder {out_dir}", file=sys.stderr)
        if settings.destructive:
            print(
                "harness: DESTRUCTIVE audit (--allow-destructive or [audit] destructive): it may delete, and "
                "write to, objects it did not create; each such request is listed in audit.json",
                file=sys.stderr,
            )
        try:
            credentials = resolve_credentials(scenario, target_host)
        except TargetUnreachable as exc:
            print(f"harness: {exc}", file=sys.stderr)
            return ExitCode.ABORTED
        except ScenarioError as exc:
            return _usage(str(exc))
        ctx = AuditContext(target_host, scenario, credentials, settings)
        started = (profile or scenario.target.get("profile", "hardened")) if target is not None else None
        report = audit(ctx, summary, run_dir, checks, profile=started)
    finally:
        if target is not None:
            target.stop()
    write_audit(report, out_dir)
    write_atomic(out_dir / "audit.html", audit_page(report.to_dict()))
    if run_dir is not None:  # the load run's report gains the audit section
        from harness.report.build import build_report

        write_audit(report, run_dir)
        build_report(run_dir, sections=[audit_section(report.to_dict())])
    print(format_scorecard(report))
    if report.accounts_created:
        made = ", ".join(a.email or a.username for a in report.accounts_created)
        print(
            f"harness: the audit signed up {len(report.accounts_created)} account(s) of its own, listed in "
            f"audit.json (accounts_created); remove them when you are done: {made}",
            file=sys.stderr,
        )
    print(f"audit: {out_dir / 'audit.json'}", file=sys.stderr)
    return {"fail": ExitCode.FAIL, "untested": ExitCode.UNTESTED}.get(report.verdict, ExitCode.PASS)
