"""The run's verdict for machines and pull requests: junit.xml and summary.md.

CI systems already know how to show a JUnit file (GitHub, GitLab, Jenkins) and a Markdown job
summary, so a load test gates a merge like any test suite: one test case per threshold, one per
other reason the run failed (told apart by its kind, never by its text).
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from harness.analysis.abuse import abuse_findings
from harness.analysis.spend import usd
from harness.analysis.summary import task_error_text
from harness.documents import EndpointFigures, Reason, Summary, ThresholdRow
from harness.report.formatting import capacity_text, duration, ms, number
from harness.report.generator import generator_markdown
from harness.runfolder import write_atomic

__all__ = ["write_junit", "write_summary_md", "observed_text", "limit_text", "result_of"]

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed anywhere in XML 1.0


def _value_text(value: Any, unit: str | None) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    if unit == "ms":
        return f"{value:,.1f} ms" if abs(value) < 10_000 else f"{value:,.0f} ms"
    if unit == "ratio":
        return f"{value * 100:.2f} %"
    if unit == "usd":
        return usd(value)
    return f"{value:g}"


def _row(row: ThresholdRow | Mapping) -> ThresholdRow:
    """A threshold row; report.html hands it as summary.json's dict."""
    return msgspec.convert(dict(row), ThresholdRow) if isinstance(row, Mapping) else row


def observed_text(row: ThresholdRow | Mapping) -> str:
    """The observed figure in its unit: "612.3 ms", "2.50 %", "$0.0122", "leaky", "none"."""
    typed = _row(row)
    return _value_text(typed.observed, typed.unit)


def limit_text(row: ThresholdRow | Mapping) -> str:
    """The rule's side of the comparison: "< 500 ms", "< 1 %", "< $50.00", "== effective"."""
    typed = _row(row)
    limit, unit = typed.limit, typed.unit
    if isinstance(limit, (int, float)) and unit in ("ms", "ratio"):
        shown = f"{limit:.10g} ms" if unit == "ms" else f"{limit * 100:.10g} %"
    else:
        shown = _value_text(limit, unit)
    return f"{typed.op or ''} {shown}".strip()


def result_of(row: ThresholdRow | Mapping) -> str:
    """PASS, FAIL, or NOT JUDGED (nothing to measure: the endpoint was never called...)."""
    typed = _row(row)
    if not typed.passed:
        return "FAIL"
    return "PASS" if typed.judged else "NOT JUDGED"


def _other_reasons(summary: Summary) -> list[Reason]:
    """The reasons that are not a threshold row's: each its own test case."""
    return [r for r in summary.reasons if r.kind != "threshold"]


def _clean(value: Any) -> str:
    return _NOT_XML.sub("", "" if value is None else str(value))


# --- junit.xml --------------------------------------------------------------------------------


def _row_details(row: ThresholdRow) -> str:
    lines = [f"threshold: {row.expr}", f"observed: {observed_text(row)}", f"limit: {limit_text(row)}"]
    if row.samples is not None:
        lines.append(f"samples: {row.samples}")
    if row.abort:
        lines.append("abort on fail: yes")
    if row.origin:
        lines.append(f"from: {row.origin}")
    if row.note:
        lines.append(f"note: {row.note}")
    return "\n".join(lines)


def write_junit(summary: Summary, path: Path | str) -> Path:
    """junit.xml: one test case per threshold row, one failed case per other verdict reason (its
    kind is the failure's type)."""
    run = summary.run
    rows = summary.thresholds
    reasons = _other_reasons(summary)
    failures = sum(1 for r in rows if not r.passed) + len(reasons)
    skipped = sum(1 for r in rows if result_of(r) == "NOT JUDGED")
    counts = {
        "tests": str(len(rows) + len(reasons)),
        "failures": str(failures),
        "errors": "0",
        "skipped": str(skipped),
        "time": f"{float(run.duration_s or 0):.3f}",
    }
    root = ET.Element("testsuites", {"name": "launch-harness", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": _clean(f"launch-harness: {run.scenario or 'run'}"), **counts})
    if run.started_at:
        suite.set("timestamp", _clean(str(run.started_at)[:19]))
    properties = ET.SubElement(suite, "properties")
    for name, value in (("id", run.id), ("host", run.host), ("workers", run.workers)):
        if value is not None:
            ET.SubElement(properties, "property", {"name": name, "value": _clean(value)})
    ET.SubElement(properties, "property", {"name": "verdict", "value": _clean(summary.verdict)})
    for row in rows:
        case = ET.SubElement(suite, "testcase", {"classname": "thresholds", "name": _clean(row.expr), "time": "0"})
        if not row.passed:
            failure = ET.SubElement(
                case,
                "failure",
                {"message": _clean(f"observed {observed_text(row)}, limit {limit_text(row)}"), "type": "threshold"},
            )
            failure.text = _clean(_row_details(row))
        elif result_of(row) == "NOT JUDGED":
            ET.SubElement(case, "skipped", {"message": _clean(row.note or "not judged")})
    for reason in reasons:
        case = ET.SubElement(suite, "testcase", {"classname": "verdict", "name": _clean(reason.message), "time": "0"})
        failure = ET.SubElement(case, "failure", {"message": _clean(reason.message), "type": reason.kind})
        failure.text = _clean(reason.message + (f"\nroute: {reason.route}" if reason.route else ""))
    tree = ET.ElementTree(root)
    ET.indent(tree)
    path = Path(path)
    buffer = io.BytesIO()
    tree.write(buffer, encoding="utf-8", xml_declaration=True)
    write_atomic(path, buffer.getvalue())
    return path


# --- summary.md -------------------------------------------------------------------------------


# what Markdown would read as HTML: a tag's start (`<b`, `</`, `<!`, `<?`) or a character reference (`&amp;`)
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])|&(?=#?\w+;)")


def _md(value: Any) -> str:
    """Text for a Markdown table cell or line, on one line: a backslash before what GitHub would read as
    a tag or an entity, so the text shows as written, without HTML entities for a reader of the file."""
    text = re.sub(r"\s*\n\s*", " ", "" if value is None else str(value))
    return _HTML_START.sub(lambda m: "\\" + m.group(0), text).replace("|", "\\|").replace("*", "\\*")


def _code(value: Any) -> str:
    text = re.sub(r"\s+", " ", "" if value is None else str(value)).replace("`", "'").replace("|", "\\|")
    return f"`{text}`"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def _one_liners(summary: Summary) -> list[str]:
    lines = []
    limits: Mapping[str, Mapping] = summary.section("rate_limits") or {}
    if limits:
        lines.append(
            "**Rate limits:** " + ", ".join(f"{_md(route)} {_md(e.get('verdict'))}" for route, e in limits.items())
        )
    abuse: Mapping = summary.section("abuse") or {}
    if abuse:
        findings = abuse_findings(abuse)
        untested = [name for name, a in abuse.items() if a.get("verdict") == "untested"]
        lines.append(
            f"**Abuse:** {len(abuse)} attack(s), "
            + (f"{len(findings)} finding(s): " + "; ".join(_md(f) for f in findings[:5]) if findings else "no finding")
            + (f"; untested: {_md(', '.join(untested))}" if untested else "")
        )
    spend: Mapping = summary.section("spend") or {}
    if spend.get("run_cost_usd"):
        cost, day = spend.get("run_cost_usd") or {}, spend.get("per_day_usd") or {}
        lines.append(
            f"**Spend:** {usd(cost.get('legit'))} legit, {usd(cost.get('abuse'))} abuse this run; "
            f"{usd(day.get('legit_at_observed_rate'))}/day legit at the observed rate"
            + (f" ({_md(spend['model'])})" if spend.get("model") else "")
        )
    capacity = summary.section("capacity")
    if capacity is not None:
        lines.append("**Capacity:** " + _md(capacity_text(capacity).removeprefix("capacity: ")))
    dow = spend.get("denial_of_wallet") or {}
    if dow:
        lines.append(
            f"**Denial of wallet:** worst single request {usd(dow.get('worst_request_usd'))}"
            + (f", {len(dow.get('findings') or [])} finding(s)" if dow.get("findings") else "")
            + (f", untested: {_md(dow['untested'])}" if dow.get("untested") else "")
        )
    return lines


def _confidence_lines(endpoints: Mapping[str, EndpointFigures]) -> list[str]:
    """How far each p95 can move: its 95 % confidence interval (endpoints with too few samples are
    named in the notes)."""
    intervals = [
        f"{_code(name)} {ms(ci[0])}–{ms(ci[1])} ms"
        for name, e in endpoints.items()
        if (ci := e.p95_ci_ms) is not None and len(ci) == 2 and None not in ci
    ]
    if not intervals:
        return []
    return [
        "",
        "p95 with its 95 % confidence interval (order statistics, no distribution assumed): "
        + "; ".join(intervals)
        + ".",
    ]


def write_summary_md(summary: Summary, path: Path | str) -> Path:
    """summary.md: the verdict and its reasons, thresholds, endpoints and one line per other section,
    for a CI job summary or a pull-request comment."""
    run, totals = summary.run, summary.totals
    lines = [f"## launch-harness: {_md(run.scenario or 'run')}: {summary.verdict.upper()}", ""]
    errors = totals.error_rate
    lines.append(
        f"{(duration(run.duration_s) if run.duration_s is not None else 'unknown duration')} against "
        f"{_md(run.host or 'unknown host')}, {number(totals.requests)} requests, {number(totals.errors)} errors"
        + (f" ({errors * 100:.2f} %)" if errors is not None else "")
        + f", {number(totals.blocked)} blocked"
        + (f"; aborted: {_md(run.section('abort_reason') or 'yes')}" if run.aborted else "")
        + "."
    )
    if summary.reasons:
        because = "Untested because:" if summary.verdict == "untested" else "Failed because:"
        lines += ["", because, *(f"- {_md(r.message)}" for r in summary.reasons)]
    rows = summary.thresholds
    lines += ["", "### Thresholds", ""]
    if rows:
        lines += _table(
            ["threshold", "observed", "samples", "result"],
            [
                [
                    _code(r.expr) + (" (abort on fail)" if r.abort else ""),
                    _md(observed_text(r)),
                    number(r.samples),
                    result_of(r) + (f": {_md(r.note.removesuffix(': not judged'))}" if r.note else ""),
                ]
                for r in rows
            ],
            "lrrl",
        )
    else:
        lines.append("No thresholds in this run.")
    task_errors = summary.section("task_errors") or []
    if task_errors:
        lines += ["", "### Task exceptions", ""]
        lines += _table(
            ["count", "exception", "in", "last traceback line"],
            [
                [number(e.count), _md(task_error_text(e, where=False)), _code(e.in_ or "–"), _code(e.last_line or "–")]
                for e in task_errors
            ],
            "rlll",
        )
    endpoints = summary.endpoints
    if endpoints:
        lines += ["", "### Endpoints", ""]
        lines += _table(
            ["endpoint", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "n"],
            [
                [
                    _code(name),
                    number(e.requests),
                    number(e.errors),
                    ms(e.p50_ms),
                    ms(e.p95_ms),
                    ms(e.p99_ms),
                    number(e.latency_samples),
                ]
                for name, e in endpoints.items()
            ],
            "lrrrrrr",
        )
        lines.append("")
        lines.append("Latency is exact (nearest rank) over legit, non-blocked, successful responses; n is how many.")
        lines += _confidence_lines(endpoints)
    lines += generator_markdown(summary, _md)
    extra = _one_liners(summary)
    if extra:
        lines += ["", *("- " + line for line in extra)]
    if summary.notes:
        lines += ["", "Notes:", *(f"- {_md(n)}" for n in summary.notes)]
    path = Path(path)
    write_atomic(path, "\n".join(lines) + "\n")
    return path
