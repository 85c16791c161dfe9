"""build_report on run folders written the way the master writes them, whole and broken."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analysis import per_second, summarize
from harness.report import PLOTS, Section, build_report, format_table, load_run, render_html
from harness.samples import PartWriter, read_samples

T0 = 1_796_000_000.0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
OUTPUTS = ["summary.json", "report.html", "per_second.csv", "plots/latency_over_time.png",
           "plots/percentiles_vs_target.png", "plots/throughput.png"]
RUN = {"id": "20261130-190000-smoke", "scenario": "smoke", "host": "http://127.0.0.1:8123",
       "started_at": T0, "ended_at": T0 + 30.5, "planned_duration_s": 30, "workers": 2,
       "locust_version": "2.47.0", "harness_version": "0.1.0", "aborted": False,
       "abort_reason": None, "targets": {"login": 500, "me": 500, "chat": None},
       "streaming_endpoints": ["chat"], "lost_workers": [],
       "locust_totals": {"requests": 2400, "failures": 3}}


def write_samples(run_dir: Path, n: int = 2400, parts: int = 3, slow_login: bool = True) -> None:
    """Three Parquet parts: login (p95 over 500 ms when slow_login), me (fast), chat (no target)."""
    rng = np.random.default_rng(21)
    writer = PartWriter(run_dir / "samples")
    per_part = n // parts
    for part in range(parts):
        endpoint = np.array(["login", "me", "chat"])[np.arange(per_part) % 3]
        login_ms = rng.uniform(300, 700 if slow_login else 450, per_part)
        latency = np.select([endpoint == "login", endpoint == "me"],
                            [login_ms, rng.uniform(20, 80, per_part)],
                            rng.uniform(1500, 4000, per_part))
        status = np.where(np.arange(per_part) % 50 == 7, 429, 200)
        writer.write({
            "start_s": (T0 + part * 10 + np.linspace(0, 9.9, per_part)).tolist(),
            "endpoint": endpoint.tolist(),
            "method": ["POST"] * per_part,
            "status": status.tolist(),
            "latency_ms": np.where(status == 429, 2.0, latency).tolist(),
            "ttft_ms": np.where(endpoint == "chat", latency / 5, np.nan).tolist(),
            "role": np.where(np.arange(per_part) % 10 == 3, "stuffing", "legit").tolist(),
            "blocked": (status == 429).tolist(),
            "error": np.where(np.arange(per_part) % 97 == 5, "ReadTimeout <b>&", "").tolist(),
        })


def make_run(tmp_path: Path, run: dict | None = RUN, **kwargs) -> Path:
    run_dir = tmp_path / "reports" / "20261130-190000-smoke"
    write_samples(run_dir, **kwargs)
    if run is not None:
        (run_dir / "run.json").write_text(json.dumps(run))
    return run_dir


def assert_outputs(run_dir: Path) -> None:
    for name in OUTPUTS:
        assert (run_dir / name).is_file(), name
    for name in PLOTS:
        data = (run_dir / "plots" / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 3_000


def test_build_report_end_to_end(tmp_path):
    run_dir = make_run(tmp_path)
    returned = build_report(run_dir)
    assert_outputs(run_dir)
    for name in PLOTS:
        assert (run_dir / "plots" / name).stat().st_size > 20_000

    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk == returned
    second = summarize(read_samples(run_dir), json.loads((run_dir / "run.json").read_text()))
    assert on_disk == second  # the report adds nothing of its own to a healthy run

    assert on_disk["totals"]["requests"] == 2400
    assert list(on_disk["endpoints"]) == ["chat", "login", "me"]
    assert on_disk["verdict"] == "fail"
    assert [(t["endpoint"], t["passed"]) for t in on_disk["thresholds"]] == [
        ("login", False), ("me", True)]
    assert on_disk["endpoints"]["login"]["p95_ms"] > 500

    series = pd.read_csv(run_dir / "per_second.csv")
    expected = per_second(read_samples(run_dir), T0)
    assert series["requests"].sum() == 2400
    assert np.allclose(series["p95_ms"].to_numpy(), expected["p95_ms"].to_numpy(), equal_nan=True)


def test_report_html_content(tmp_path):
    run_dir = make_run(tmp_path)
    summary = build_report(run_dir)
    page = (run_dir / "report.html").read_text()

    assert '<meta name="viewport"' in page
    assert re.search(r'<section id="verdict" class="verdict fail" data-verdict="fail">'
                     r'<div class="badge">FAIL</div>', page)
    # verdict first, then thresholds, endpoints, plots, method
    order = [page.index(f'id="{s}"') for s in ("verdict", "thresholds", "endpoints", "plots",
                                                 "method")]
    assert order == sorted(order)
    for name, e in summary["endpoints"].items():
        assert f'<tr data-endpoint="{name}">' in page
        cell = re.search(rf'<td class="p95( over)?" data-endpoint="{name}" data-value="([^"]+)">',
                         page)
        assert cell and float(cell.group(2)) == e["p95_ms"]
        assert bool(cell.group(1)) == (name == "login")  # only login is over its target
    assert "p95(login) &lt; 500ms" in page and "FAIL</td>" in page and "PASS</td>" in page

    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 3
    decoded = {base64.b64decode(i) for i in images}
    assert decoded == {(run_dir / "plots" / n).read_bytes() for n in PLOTS}

    # self-contained: no scripts, no fetches, data escaped
    assert "<script" not in page.lower()
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "ReadTimeout &lt;b&gt;&amp;" in page and "<b>&" not in page


def test_escaping_of_hostile_names(tmp_path):
    run = {**RUN, "scenario": '<img src=x onerror="alert(1)">', "host": "http://x/?a=<b>",
           "targets": {'"><script>alert(1)</script>': 500}}
    run_dir = make_run(tmp_path, run=run)
    build_report(run_dir)
    page = (run_dir / "report.html").read_text()
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_passing_run(tmp_path):
    run_dir = make_run(tmp_path, slow_login=False)
    summary = build_report(run_dir)
    assert summary["verdict"] == "pass" and summary["verdict_reasons"] == []
    page = (run_dir / "report.html").read_text()
    assert 'data-verdict="pass"' in page and "over" not in re.findall(r'class="p95[^"]*"', page)


def test_zero_samples_still_writes_everything(tmp_path):
    run_dir = tmp_path / "20261130-190000-empty"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({**RUN, "id": run_dir.name}))
    summary = build_report(run_dir)
    assert_outputs(run_dir)
    assert summary["verdict"] == "fail"
    assert any("no samples" in r for r in summary["verdict_reasons"])
    assert summary["totals"]["requests"] == 0
    # nothing was requested, so no target was judged; the endpoints still show, unmeasured
    assert summary["thresholds"] == []
    assert all(ep["requests"] == 0 for ep in summary["endpoints"].values())
    page = (run_dir / "report.html").read_text()
    assert 'data-verdict="fail"' in page and "no samples recorded" in page
    assert page.count("data:image/png;base64,") == 3


def test_missing_run_json_is_a_killed_run(tmp_path):
    run_dir = make_run(tmp_path, run=None)
    summary = build_report(run_dir)
    assert_outputs(run_dir)
    assert summary["verdict"] == "fail"
    assert any("run.json missing" in n for n in summary["notes"])
    assert summary["run"]["id"] == "20261130-190000-smoke"
    assert summary["run"]["scenario"] == "smoke"  # from the folder name
    assert summary["totals"]["requests"] == 2400
    samples = read_samples(run_dir)
    end = (samples["start_s"] + samples["latency_ms"].fillna(0) / 1000).max()
    assert summary["run"]["duration_s"] == pytest.approx(end - T0, abs=1e-3)
    assert "run.json missing" in (run_dir / "report.html").read_text()


def test_truncated_run_json_and_empty_folder(tmp_path):
    run_dir = make_run(tmp_path, run=None)
    (run_dir / "run.json").write_text('{"id": "x", "started_at": 17960')
    summary = build_report(run_dir)
    assert summary["verdict"] == "fail" and any("unreadable" in n for n in summary["notes"])

    bare = tmp_path / "nothing-here"
    summary = build_report(bare)
    assert_outputs(bare)
    assert summary["verdict"] == "fail" and summary["endpoints"] == {}


def test_damaged_sample_part_is_skipped_with_a_note(tmp_path):
    run_dir = make_run(tmp_path)
    (run_dir / "samples" / "part-000099.parquet").write_bytes(b"PAR1 not really")
    summary = build_report(run_dir)
    assert summary["totals"]["requests"] == 2400
    assert any("part-000099.parquet" in n for n in summary["notes"])


def test_extra_sections_go_before_the_method(tmp_path):
    summary = summarize(read_samples(make_run(tmp_path)), RUN)
    section = Section(id="rate-limits", title="Rate limits & bypasses", body="<p>effective</p>")
    page = render_html(summary, {}, [section])
    assert '<section id="rate-limits"><h2>Rate limits &amp; bypasses</h2><p>effective</p>' in page
    assert page.index('id="rate-limits"') < page.index('id="method"')


def test_load_run_defaults(tmp_path):
    run, notes = load_run(tmp_path / "20261201-080000-chat-abuse")
    assert run == {"id": "20261201-080000-chat-abuse", "scenario": "chat-abuse"}
    assert len(notes) == 1


def test_format_table(tmp_path):
    summary = summarize(read_samples(make_run(tmp_path)), RUN)
    text = format_table(summary)
    lines = text.splitlines()
    assert lines[0].split() == ["endpoint", "requests", "errors", "blocked", "req/s", "p50", "p95",
                                "p99", "max", "target"]
    rows = {line.split()[0]: line.split() for line in lines if line.split()[:1] in
            (["chat"], ["login"], ["me"])}
    login = summary["endpoints"]["login"]
    assert rows["login"][1] == f"{login['requests']:,}"
    assert rows["login"][6] == f"{login['p95_ms']:,.1f}"
    assert rows["login"][-2:] == ["<500", "✗"]
    assert rows["me"][-1] == "✓"
    assert rows["chat"][-2:] == ["–", "–"]
    assert lines[-1].startswith("verdict: FAIL (smoke, 30.5 s): threshold failed: p95(login)")
    assert len(lines) <= 24 and max(map(len, lines[:-1])) <= 100
    empty = format_table(summarize(read_samples(tmp_path / "none"), {}))
    assert "verdict: FAIL" in empty
