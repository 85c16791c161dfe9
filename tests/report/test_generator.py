"""The load generator's timing in every output of a run folder (harness.report.generator): the terminal
line, summary.md and report.html's "Load generator" section, a hostile route name escaped in each; a run
from before the monitor reads "not measured" everywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.report.build import build_report
from harness.report.terminal import format_table
from harness.samples import DEFAULTS, SCHEMA, PartWriter
from tests.report.test_html import ESCAPED, HOSTILE, elements, find

T0 = 1_796_000_000.0


def lagged_run(tmp_path: Path, monitored: bool = True) -> Path:
    """100 requests of 200 ms on a hostile route from worker w1, each read 5 ms after a 40 ms stall."""
    run_dir = tmp_path / "20261130-190000-lagged"
    rows = [
        {"start_s": T0 + 1 + i * 0.1, "endpoint": HOSTILE, "status": 200, "latency_ms": 200.0 + i % 5, "worker": "w1"}
        for i in range(100)
    ]
    PartWriter(run_dir / "samples").write({name: [r.get(name, DEFAULTS[name]) for r in rows] for name in SCHEMA.names})
    stalls = [round(1 + i * 0.1 + 0.195, 4) for i in range(100)]
    loop = {
        "tick_s": 0.05,
        "stall_min_ms": 1.0,
        "t0": T0,
        "start_s": [float(s) for s in range(13)],
        "end_s": [float(s + 1) for s in range(13)],
        "ticks": [20] * 13,
        "lag_max_ms": [40.0] * 13,
        "lag_p90_ms": [40.0] * 13,
        "cpu": [0.97] * 13,
        "stall_at_s": stalls,
        "stall_ms": [40.0] * 100,
    }
    run = {
        "id": run_dir.name,
        "scenario": "lagged",
        "host": "http://127.0.0.1:9",
        "started_at": T0,
        "ended_at": T0 + 12,
    }
    if monitored:
        run["loop_monitor"] = {"w1": loop}
    (run_dir / "run.json").write_text(json.dumps(run))
    return run_dir


def test_a_lagged_figure_is_named_in_the_terminal_summary_md_and_report_html(tmp_path: Path) -> None:
    run_dir = lagged_run(tmp_path)
    summary = build_report(run_dir)
    generator = summary.section("generator")
    p95 = next(f for f in generator.flagged if f.figure == "p95_ms")
    assert p95.endpoint == HOSTILE and 30 <= p95.bound_ms <= 40

    line = next(line for line in format_table(summary).splitlines() if line.startswith("load generator:"))
    assert line.startswith("load generator: 1 process, event-loop lag up to 40.0 ms (p99 40.0 ms), CPU mean up to 97 %")
    assert f"may be off: p50 of {HOSTILE} (" in line

    md = (run_dir / "summary.md").read_text()
    section = md[md.index("### Load generator") :]
    assert "| w1 | 100 | 40.0 | 40.0 | 97 % | 97 % |" in section
    assert not re.search(r"(?<!\\)<script", section)  # every tag start escaped for GitHub's Markdown
    assert f"- p95 of \\<script>alert(1)\\</script>\"'& ({p95.value_ms:,.1f} ms)" in section

    page = (run_dir / "report.html").read_text()
    tree = elements(page)
    assert not find(tree, "script")
    assert find(tree, "p", id="generator-summary")[0].attrs["data-measured"] == "true"
    row = find(tree, "tr", data_endpoint=HOSTILE, data_figure="p95_ms")[0]
    assert row.text.startswith(f"p95 of {HOSTILE}") and "w1 stalled up to 40.0 ms" in row.text
    assert f'<tr data-endpoint="{ESCAPED}" data-figure="p95_ms"><td>p95 of {ESCAPED}</td>' in page
    assert find(tree, "tr", data_worker="w1")
    # the note that says it in words, among the report's notes
    assert [n for n in summary.notes if n.startswith(f"p50 of {HOSTILE} (")]


def test_a_run_from_before_the_monitor_reads_not_measured_in_every_output(tmp_path: Path) -> None:
    run_dir = lagged_run(tmp_path, monitored=False)
    summary = build_report(run_dir)
    assert summary.section("generator").measured is False
    assert "load generator: event-loop lag not measured" in format_table(summary)
    assert (
        "### Load generator\n\nNot measured: run.json has no loop_monitor series"
        in (run_dir / "summary.md").read_text()
    )
    tree = elements((run_dir / "report.html").read_text())
    text = find(tree, "p", id="generator-summary")[0]
    assert text.attrs["data-measured"] == "false" and text.text.startswith("run.json has no loop_monitor series")
    assert not find(tree, "table", id="generator-workers") and not find(tree, "table", id="generator-flagged")
