"""junit.xml and summary.md from a hand-made summary: parsed back, counted, and read as a CI would."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness.documents import Summary
from harness.report import ci
from harness.report.ci import limit_text, observed_text
from harness.scenario.thresholds import parse_threshold
from tests.scenario.test_thresholds import SUMMARY, evaluate

EXPRS = [
    "p95(login) < 500ms",
    "p95(history) < 500ms",
    "error_rate(*) < 1%",
    "ttft_p95(chat) < 2s",
    "spend_per_day(abuse) < 50usd",
    "rate_limit(chat) == effective",
]


def write_junit(summary: dict, path: Path) -> Path:
    return ci.write_junit(Summary.load(summary)[0], path)


def write_summary_md(summary: dict, path: Path) -> Path:
    return ci.write_summary_md(Summary.load(summary)[0], path)


def summary(**changes: Any) -> dict:
    s = copy.deepcopy(SUMMARY)
    s["run"].update(
        {
            "id": "20261130-190000-smoke",
            "host": "http://127.0.0.1:8123",
            "duration_s": 30.5,
            "started_at": "2026-11-30T00:53:20+00:00",
            "workers": 2,
            "aborted": False,
        }
    )
    s["totals"] = {"requests": 362, "errors": 4, "blocked": 12, "error_rate": 4 / 362}
    s["thresholds"] = evaluate([parse_threshold(e, "x", abort=e.startswith("error")) for e in EXPRS], s)
    failed = [
        {"kind": "threshold", "route": t["endpoint"], "message": f"threshold failed: {t['expr']}"}
        for t in s["thresholds"]
        if not t["passed"]
    ]
    s["reasons"] = failed + [
        {"kind": "finding", "route": "chat", "message": "rate limit on chat is leaky (window-edge ×1.9)"},
        {
            "kind": "finding",
            "route": "webhook",
            "message": 'abuse finding: webhook_replay: replays <processed> & "accepted"',
        },
    ]
    s["verdict_reasons"] = [r["message"] for r in s["reasons"]]
    s["verdict"] = "fail"
    s["notes"] = ["Locust counted 363 requests, samples on disk hold 362"]
    s.update(changes)
    return s


def test_observed_and_limit_in_words():
    rows = {t["expr"]: t for t in summary()["thresholds"]}
    login = rows["p95(login) < 500ms"]
    assert (observed_text(login), limit_text(login)) == ("612.3 ms", "< 500 ms")
    me = rows["error_rate(me) < 1%"]
    assert (observed_text(me), limit_text(me)) == ("3.00 %", "< 1 %")
    money = rows["spend_per_day(abuse) < 50usd"]
    assert (observed_text(money), limit_text(money)) == ("$61.20", "< $50.00")
    verdict = rows["rate_limit(chat) == effective"]
    assert (observed_text(verdict), limit_text(verdict)) == ("leaky", "== effective")
    assert observed_text(rows["p95(history) < 500ms"]) == "none"


def test_junit_has_one_case_per_threshold_and_per_other_reason(tmp_path: Path):
    path = write_junit(summary(), tmp_path / "junit.xml")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "launch-harness: smoke"
    cases = suite.findall("testcase")
    # 6 thresholds, error_rate(*) expanded to chat, login, me, reset: 9 rows, and 2 other reasons
    assert len(cases) == 11
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped"), suite.get("errors")) == (
        "11",
        "6",
        "1",
        "0",
    )
    assert (root.get("tests"), root.get("failures")) == ("11", "6")
    assert suite.get("time") == "30.500" and suite.get("timestamp") == "2026-11-30T00:53:20"
    by_name = {c.get("name"): c for c in cases}
    assert [c.get("classname") for c in cases] == ["thresholds"] * 9 + ["verdict"] * 2

    failure = by_name["p95(login) < 500ms"].find("failure")
    assert failure.get("message") == "observed 612.3 ms, limit < 500 ms"
    assert "samples: 170" in failure.text and "threshold: p95(login) < 500ms" in failure.text
    error_rate = by_name["error_rate(me) < 1%"].find("failure")
    assert error_rate.get("message") == "observed 3.00 %, limit < 1 %" and "abort on fail: yes" in error_rate.text
    assert by_name["spend_per_day(abuse) < 50usd"].find("failure").get("message") == ("observed $61.20, limit < $50.00")
    assert by_name["rate_limit(chat) == effective"].find("failure").get("message") == (
        "observed leaky, limit == effective"
    )
    passing = by_name["ttft_p95(chat) < 2s"]
    assert list(passing) == [] and passing.get("time") == "0"
    skipped = by_name["p95(history) < 500ms"].find("skipped")
    assert skipped.get("message") == "not called by legit traffic: not judged"
    # XML-special characters survive the round trip, escaped in the file
    finding = 'abuse finding: webhook_replay: replays <processed> & "accepted"'
    assert by_name[finding].find("failure").get("message") == finding
    assert by_name[finding].find("failure").get("type") == "finding"  # the reason's kind
    assert by_name[finding].find("failure").text == finding + "\nroute: webhook"
    text = path.read_text()
    assert text.startswith("<?xml version='1.0' encoding='utf-8'?>")
    assert "&lt;processed&gt; &amp; &quot;accepted&quot;" in text
    properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert properties == {
        "id": "20261130-190000-smoke",
        "host": "http://127.0.0.1:8123",
        "workers": "2",
        "verdict": "fail",
    }


def test_junit_of_a_passing_run_and_hostile_names(tmp_path: Path):
    s = summary(verdict="pass", verdict_reasons=[], reasons=[])
    s["thresholds"] = [t for t in s["thresholds"] if t["passed"]]
    s["thresholds"][0]["expr"] = 'p95(<x>"&\x07) < 500ms'  # a control character is not XML
    s["run"]["scenario"] = "a<b"
    root = ET.parse(write_junit(s, tmp_path / "junit.xml")).getroot()
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("5", "0", "1")
    assert suite.get("name") == "launch-harness: a<b"
    assert suite.find("testcase").get("name") == 'p95(<x>"&) < 500ms'


def test_summary_md_reads_as_a_job_summary(tmp_path: Path):
    text = write_summary_md(summary(), tmp_path / "summary.md").read_text()
    lines = text.splitlines()
    assert lines[0] == "## launch-harness: smoke: FAIL"
    assert lines[2] == ("30.5 s against http://127.0.0.1:8123, 362 requests, 4 errors (1.10 %), 12 blocked.")
    assert "- threshold failed: p95(login) < 500ms" in lines  # no HTML entities in the file
    assert '- abuse finding: webhook_replay: replays \\<processed> & "accepted"' in lines  # not a tag
    assert "&lt;" not in text and "&amp;" not in text and "&gt;" not in text
    assert "| threshold | observed | samples | result |" in lines
    assert "| `p95(login) < 500ms` | 612.3 ms | 170 | FAIL |" in lines
    assert "| `error_rate(me) < 1%` (abort on fail) | 3.00 % | 100 | FAIL |" in lines
    assert "| `ttft_p95(chat) < 2s` | 1,850.0 ms | 48 | PASS |" in lines
    assert "| `p95(history) < 500ms` | none | 0 | NOT JUDGED: not called by legit traffic |" in lines
    assert "| `spend_per_day(abuse) < 50usd` | $61.20 | – | FAIL |" in lines
    assert "| endpoint | requests | errors | p50 ms | p95 ms | p99 ms | n |" in lines
    assert "| `login` | 200 | 1 | 210.0 | 612.3 | 880.0 | 170 |" in lines
    assert "- **Rate limits:** login effective, chat leaky" in lines
    assert "- **Spend:** $0.0122 legit, $0.0148 abuse this run; $34.56/day legit at the observed rate" in lines
    assert "- **Denial of wallet:** worst single request $0.0731" in lines
    assert lines[-1] == "- Locust counted 363 requests, samples on disk hold 362"
    # a pipe in a name cannot break the table
    s = summary()
    s["endpoints"] = {"a|b": {"requests": 1, "errors": 0, "latency_samples": 1, "p50_ms": 1.0}}
    text = write_summary_md(s, tmp_path / "pipe.md").read_text()
    assert "| `a\\|b` | 1 | 0 | 1.0 | – | – | 1 |" in text.splitlines()


def test_summary_md_of_a_passing_run_without_thresholds(tmp_path: Path):
    s = {
        "run": {"scenario": "smoke", "duration_s": 75.0, "host": "http://h"},
        "totals": {"requests": 0},
        "endpoints": {},
        "thresholds": [],
        "verdict": "pass",
        "verdict_reasons": [],
        "notes": [],
    }
    lines = write_summary_md(s, tmp_path / "summary.md").read_text().splitlines()
    assert lines[0] == "## launch-harness: smoke: PASS"
    assert lines[2] == "1 min 15.0 s against http://h, 0 requests, 0 errors, 0 blocked."
    assert "Failed because:" not in lines and "No thresholds in this run." in lines


def test_junit_tells_reasons_apart_by_kind_not_by_text(tmp_path: Path):
    """A reason of another kind whose text looks like a threshold's still gets its own test case, and
    a threshold reason is never counted twice: the cases come from the rows and the kinds."""
    s = summary()
    lookalike = {"kind": "aborted", "route": None, "message": "threshold failed: run aborted: interrupted by SIGTERM"}
    s["reasons"] = [*s["reasons"], lookalike]
    s["verdict_reasons"] = [r["message"] for r in s["reasons"]]
    suite = ET.parse(write_junit(s, tmp_path / "junit.xml")).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("classname") for c in cases] == ["thresholds"] * 9 + ["verdict"] * 3
    assert cases[-1].find("failure").get("type") == "aborted"
    assert (suite.get("tests"), suite.get("failures")) == ("12", "7")


def test_summary_md_shows_tags_and_entities_as_written_without_html_entities(tmp_path: Path):
    s = summary()
    s["notes"] = ["<script>alert(1)</script> & a literal &amp; in a <b>note</b>"]
    text = write_summary_md(s, tmp_path / "summary.md").read_text()
    assert "- \\<script>alert(1)\\</script> & a literal \\&amp; in a \\<b>note\\</b>" in text.splitlines()
