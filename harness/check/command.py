"""`harness check SCENARIO [--host URL]`: the scenario, its accounts and secrets read as `harness run`
reads them, the embedded demo API started when no host is given, the plan sent, and the table printed.

Exit codes: 0 every step worked, 1 a step did not (the table says which, and the likely fix), 2 bad
usage or scenario (nothing sent), 3 the demo accounts could not be fetched (the target did not answer).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.check.plan import Plan, plan_check
from harness.check.runner import Row, run_steps
from harness.errors import ExitCode, UsageError
from harness.host import is_loopback, parse_host
from harness.scenario import Scenario, load_scenario
from harness.scenario.accounts import offline_accounts, resolve_credentials
from harness.scenario.probeplan import probe_warnings

if TYPE_CHECKING:
    from harness.demo_api.process import RunningTarget

__all__ = ["run_check", "format_table"]


def run_check(path: Path, host: str | None, profile: str | None = None) -> int:
    """Check the scenario's API map against `host` (else its own, else the embedded demo API, in
    `profile` when given)."""
    scenario = load_scenario(path)
    given = host or scenario.host
    parsed = parse_host(given, "--host" if host else f"{path}: target.host") if given else None
    offline_accounts(scenario)  # a missing or malformed accounts file is exit 2 before anything starts
    target = _start_demo(scenario, path, profile) if parsed is None else None
    try:
        url = target.url if target is not None else parsed.url if parsed else ""
        host_auth = parsed.auth if parsed else None
        credentials = resolve_credentials(scenario, url, host_auth=host_auth)
        plan = plan_check(scenario, credentials.accounts)
        for warning in probe_warnings(scenario, scenario.load.planned_duration_s, is_loopback(url)):
            print(f"harness: warning: {path}: {warning}", file=sys.stderr)
        print(f"harness: checking {scenario.name} against {url}: {len(plan.steps)} steps", file=sys.stderr)
        rows = list(run_steps(scenario, plan, credentials, url, host_auth))
    finally:
        if target is not None:
            target.stop()
    print(format_table(rows, plan))
    return ExitCode.PASS if rows and all(r.finding.ok for r in rows) else ExitCode.FAIL


def _start_demo(scenario: Scenario, path: Path, profile: str | None) -> RunningTarget:
    """The embedded demo API with the scenario's [target] settings, as `harness run` starts it."""
    from harness.demo_api.config import TargetConfig
    from harness.demo_api.process import start_target

    try:
        config = TargetConfig.from_dict({**scenario.target, **({"profile": profile} if profile else {})})
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{path}: target: {exc}") from None
    return start_target(config)


def format_table(rows: list[Row], plan: Plan) -> str:
    """The rows as a terminal table (a fix on the line under its problem), what was not sent, the verdict."""
    steps = [r.step.label for r in rows]
    width = max([len(s) for s in steps] + [4])
    route_width = max([len(r.step.route) for r in rows] + [5])
    head = f"{'step'.ljust(width)}  {'route'.ljust(route_width)}  status  what worked / the likely fix"
    lines = [head, "-" * len(head)]
    indent = " " * (width + route_width + 12)
    for row in rows:
        status = str(row.status) if row.status else "-"
        mark = "ok  " if row.finding.ok else "FAIL" if row.sent or row.finding.fix else "skip"
        lines.append(
            f"{row.step.label.ljust(width)}  {row.step.route.ljust(route_width)}  {status.ljust(6)}  "
            f"{mark} {row.finding.note}"
        )
        if row.finding.fix:
            lines.append(f"{indent}     fix: {row.finding.fix}")
    lines.append("-" * len(head))
    if plan.not_sent:
        lines.append("not sent: " + "; ".join(f"{name} ({why})" for name, why in plan.not_sent))
    failed = [r for r in rows if not r.finding.ok]
    sent = sum(r.requests for r in rows)
    if not rows:
        lines.append("check: FAIL: the API map has no route check can call (login, health, list, read, chat, webhook)")
    elif failed:
        lines.append(f"check: FAIL: {len(failed)} of {len(rows)} steps did not work ({sent} requests sent)")
    else:
        lines.append(f"check: OK: all {len(rows)} steps worked ({sent} requests sent)")
    return "\n".join(lines)
