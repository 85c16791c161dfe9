"""`harness report RUN_DIR [--screenshot]`: every output of a run, recomputed from its files on disk."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.commands.run import exit_code
from harness.errors import ExitCode

__all__ = ["run_report"]


def _audit_sections(run_dir: Path) -> list:
    """An audit made with `--run` on this run folder keeps its section when the report is rebuilt."""
    path = run_dir / "audit.json"
    if not path.exists():
        return []
    from harness.audit.html import audit_section

    try:
        return [audit_section(json.loads(path.read_text()))]
    except (ValueError, KeyError, TypeError):
        print(f"harness: {path}: unreadable, the report leaves the audit out", file=sys.stderr)
        return []


def run_report(run_dir: Path, shoot: bool = False) -> int:
    from harness.report.build import build_report
    from harness.report.screenshot import MISSING_BROWSER, BrowserError, find_browser, screenshot
    from harness.report.terminal import format_table

    if not (run_dir / "samples").is_dir():
        print(f"harness: {run_dir}: not a run folder (expected a samples/ folder inside)", file=sys.stderr)
        return ExitCode.USAGE
    if shoot and find_browser() is None:  # before the work, not after it
        print(f"harness: {MISSING_BROWSER}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        summary = build_report(run_dir, sections=_audit_sections(run_dir))
    except OSError as exc:
        print(
            f"harness: {run_dir}: the report could not be written ({exc.strerror or exc}); "
            "pass a run folder you can write to",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    print(format_table(summary))
    if shoot:
        try:
            print(f"screenshot: {screenshot(run_dir)}")
        except BrowserError as exc:
            print(f"harness: {exc}", file=sys.stderr)
            return ExitCode.USAGE
    return exit_code(summary)
