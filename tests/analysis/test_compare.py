"""`harness compare` on hand-made summary.json folders whose deltas are known exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.commands.compare import (
    CompareError,
    Tolerance,
    format_compare,
    load_summary,
    parse_min_ms,
    parse_tolerance,
    run_compare,
    to_markdown,
)
from harness.commands.compare import compare as compare_typed
from harness.documents import Summary
from tests.helpers import run_cli


def compare(base: dict, new: dict, tolerance: Tolerance | None = None) -> dict:
    """Two summary.json dicts compared as the command reads them."""
    return compare_typed(Summary.load(base)[0], Summary.load(new)[0], tolerance or Tolerance())


def endpoint(p50: float, p95: float, p99: float, error_rate: float = 0.0, rps: float = 10.0) -> dict:
    return {
        "requests": 1000,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "error_rate": error_rate,
        "rps": rps,
        "latency_samples": 1000,
    }


def summary(run_id: str, endpoints: dict, thresholds: list | None = None, **extra) -> dict:
    return {
        "run": {"id": run_id, "scenario": "smoke"},
        "endpoints": endpoints,
        "thresholds": thresholds or [],
        "verdict": "pass",
        **extra,
    }


def folder(tmp_path: Path, name: str, data: dict) -> Path:
    run_dir = tmp_path / name
    run_dir.mkdir()
    (run_dir / "summary.json").write_text(json.dumps(data))
    return run_dir


BASE = summary(
    "base",
    {
        "login": endpoint(100.0, 400.0, 600.0, error_rate=0.002, rps=20.0),
        "me": endpoint(20.0, 40.0, 50.0),
        "tiny": endpoint(1.0, 2.0, 3.0),
        "gone": endpoint(10.0, 20.0, 30.0),
    },
    thresholds=[
        {"expr": "p95(login) < 500ms", "observed": 400.0, "passed": True},
        {"expr": "p95(me) < 500ms", "observed": 40.0, "passed": True},
    ],
    llm={"chat": {"ttft_p95_ms": 800.0}},
    spend={"per_day_usd": {"legit_at_observed_rate": 12.5, "abuse_admitted": 0.25}},
)


def test_no_regression_within_tolerance_and_exact_deltas():
    new = summary(
        "new",
        {
            "login": endpoint(110.0, 436.0, 640.0, error_rate=0.012, rps=19.0),  # +9 %, +6.7 %, +1.0 pp
            "me": endpoint(20.0, 44.5, 50.0),  # +11.25 % but only +4.5 ms
            "tiny": endpoint(1.0, 4.0, 6.0),  # +100 % but only +2 ms
            "gone": endpoint(10.0, 20.0, 30.0),
        },
        thresholds=BASE["thresholds"],
        llm={"chat": {"ttft_p95_ms": 900.0}},
        spend={"per_day_usd": {"legit_at_observed_rate": 15.0, "abuse_admitted": 0.25}},
    )
    result = compare(BASE, new)
    assert result["verdict"] == "ok" and result["regressions"] == []
    login = result["endpoints"]["login"]["figures"]
    assert login["p95_ms"] == {"base": 400.0, "new": 436.0, "delta": 36.0, "delta_pct": 9.0}
    assert login["p99_ms"]["delta"] == 40.0 and round(login["p99_ms"]["delta_pct"], 6) == 6.666667
    assert login["p50_ms"]["delta_pct"] == 10.0  # p50 is shown, never judged
    assert round(login["error_rate"]["delta_pp"], 9) == 1.0  # exactly 1 pp is not "more than 1 pp"
    assert login["rps"] == {"base": 20.0, "new": 19.0, "delta": -1.0, "delta_pct": -5.0}
    assert result["endpoints"]["me"]["figures"]["p95_ms"]["delta"] == 4.5
    assert result["endpoints"]["tiny"]["figures"]["p95_ms"]["delta_pct"] == 100.0
    assert result["llm"]["chat"]["ttft_p95_ms"]["delta"] == 100.0
    assert result["spend_per_day_usd"]["legit"] == {"base": 12.5, "new": 15.0, "delta": 2.5, "delta_pct": 20.0}


def test_each_kind_of_regression():
    new = summary(
        "new",
        {
            "login": endpoint(100.0, 460.0, 600.0),  # p95 +15 %, +60 ms
            "me": endpoint(20.0, 40.0, 50.0, error_rate=0.0125),  # +1.25 pp
            "tiny": endpoint(1.0, 2.0, 9.0),  # p99 +200 % but +6 ms: over both bars
            "fresh": endpoint(1.0, 2.0, 3.0),
        },
        thresholds=[
            {"expr": "p95(login) < 500ms", "observed": 460.0, "passed": True},
            {"expr": "p95(me) < 500ms", "observed": 40.0, "passed": False},
        ],
    )
    result = compare(BASE, new)
    assert result["verdict"] == "regressed"
    assert result["regressions"] == [
        "p95(login) 400.0 → 460.0 ms (+60.0 ms, +15.0 %)",
        "error rate(me) 0.00 % → 1.25 % (+1.25 pp)",
        "p99(tiny) 3.0 → 9.0 ms (+6.0 ms, +200.0 %)",
        "gone: 1,000 requests in BASE, none in NEW",
        "threshold p95(me) < 500ms passed in BASE, fails in NEW",
    ]
    assert result["endpoints"]["login"]["regressed"] == ["p95_ms"]
    assert result["endpoints"]["me"]["regressed"] == ["error_rate"]
    assert result["notes"] == ["fresh: only in NEW, not compared"]
    assert result["thresholds"][1] == {
        "expr": "p95(me) < 500ms",
        "base": True,
        "new": False,
        "base_observed": 40.0,
        "new_observed": 40.0,
    }
    text = format_compare(result)
    assert "✗ regression" in text and text.splitlines()[-1].startswith("verdict: REGRESSED (5;")
    assert "threshold p95(me) < 500ms: PASS → FAIL" in text
    md = to_markdown(result)
    assert md.startswith("## Run comparison: ❌ regressed")
    assert (
        "| login | p50 ms | 100.0 | 100.0 | +0.0 (+0.0 %) |  |\n|  | p95 ms | 400.0 | 460.0 | +60.0 (+15.0 %) | ✗ regression |"
        in md
    )
    assert "| `p95(me) < 500ms` | PASS | FAIL |" in md


def test_tolerance_and_min_ms_move_the_bar():
    new = summary("new", {**BASE["endpoints"], "login": endpoint(100.0, 460.0, 600.0)})
    assert compare(BASE, new, Tolerance(relative=0.20))["regressions"] == []
    assert compare(BASE, new, Tolerance(relative=0.10, min_ms=100))["regressions"] == []
    assert len(compare(BASE, new, Tolerance(relative=0.05, min_ms=50))["regressions"]) == 1


def test_missing_figures_are_not_regressions():
    new = summary(
        "new", {**BASE["endpoints"], "login": {**endpoint(100.0, 400.0, 600.0), "p95_ms": None, "p99_ms": None}}
    )
    result = compare(BASE, new)
    assert result["endpoints"]["login"]["figures"]["p95_ms"] == {
        "base": 400.0,
        "new": None,
        "delta": None,
        "delta_pct": None,
    }
    assert result["regressions"] == []


def test_an_endpoint_that_vanished_from_new_is_a_regression():
    new = summary("new", {name: e for name, e in BASE["endpoints"].items() if name != "gone"})
    result = compare(BASE, new)
    assert result["regressions"] == ["gone: 1,000 requests in BASE, none in NEW"]
    uncalled = summary("new", {**BASE["endpoints"], "gone": {**endpoint(0, 0, 0), "requests": 0}})
    assert compare(BASE, uncalled)["regressions"] == ["gone: 1,000 requests in BASE, none in NEW"]


def test_nothing_to_compare_is_an_error_not_a_pass():
    empty = summary("empty", {"login": {**endpoint(0, 0, 0), "requests": 0}})
    with pytest.raises(CompareError, match="BASE has no requests to compare against"):
        compare(empty, BASE)
    other = summary("other", {"orders": endpoint(10.0, 20.0, 30.0)})
    with pytest.raises(CompareError, match="share no endpoint .*BASE: gone, login, me, tiny; NEW: orders"):
        compare(BASE, other)


def test_options_are_parsed_or_refused_in_one_line():
    assert parse_tolerance("10%") == 0.10 and parse_tolerance("2.5") == 0.025
    assert parse_min_ms("5") == 5.0 and parse_min_ms("12.5ms") == 12.5
    with pytest.raises(CompareError, match=r"^--tolerance: expected a percentage such as 10%, got 'ten'$"):
        parse_tolerance("ten")
    with pytest.raises(CompareError, match=r"^--min-ms: expected milliseconds"):
        parse_min_ms("-3")


def test_run_compare_writes_both_files_and_exits_by_verdict(tmp_path, capsys):
    base = folder(tmp_path, "base", BASE)
    same = folder(tmp_path, "same", {**BASE, "run": {"id": "same"}})
    worse = folder(tmp_path, "worse", summary("worse", {**BASE["endpoints"], "login": endpoint(100.0, 600.0, 900.0)}))
    assert run_compare(base, same) == 0
    assert json.loads((same / "compare.json").read_text())["verdict"] == "ok"
    assert (same / "compare.md").read_text().startswith("## Run comparison: ✅ no regression")
    out = capsys.readouterr().out
    assert "BASE base (pass)" in out and "verdict: OK" in out

    assert run_compare(base, worse, out=tmp_path / "ci" / "cmp.md") == 1
    written = json.loads((tmp_path / "ci" / "cmp.json").read_text())
    assert written["regressions"][0] == "p95(login) 400.0 → 600.0 ms (+200.0 ms, +50.0 %)"
    assert (tmp_path / "ci" / "cmp.md").is_file() and not (worse / "compare.json").exists()
    assert run_compare(base, worse, out=tmp_path / "folder") == 1
    assert (tmp_path / "folder" / "compare.md").is_file()


def test_bad_folders_and_options_exit_2_with_one_line(tmp_path, capsys):
    base = folder(tmp_path, "base", BASE)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_compare(base, tmp_path / "nope") == 2
    assert run_compare(base, empty) == 2
    assert run_compare(base, base, tolerance="lots") == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        f"harness: compare: {tmp_path / 'nope'}: no such run folder",
        f"harness: compare: {empty}: not a run folder (expected summary.json or a samples/ folder "
        "inside); pass the folder `harness run` printed",
        "harness: compare: --tolerance: expected a percentage such as 10%, got 'lots'",
    ]


def test_summary_is_recomputed_from_samples_when_missing(tmp_path):
    from tests.report.test_build import make_run

    run_dir = make_run(tmp_path)
    assert not (run_dir / "summary.json").exists()
    loaded = load_summary(run_dir)
    assert (run_dir / "summary.json").is_file() and list(loaded.endpoints) == ["chat", "login", "me"]


def test_the_command(tmp_path):
    base = folder(tmp_path, "base", BASE)
    worse = folder(tmp_path, "worse", summary("worse", {**BASE["endpoints"], "login": endpoint(100.0, 600.0, 900.0)}))
    done = run_cli("compare", str(base), str(worse), "--tolerance", "60%", "--min-ms", "5")
    assert done.returncode == 0, done.stderr  # +50 % is within 60 %
    done = run_cli("compare", str(base), str(worse))
    assert done.returncode == 1 and "p95(login) 400.0 → 600.0 ms" in done.stdout
    done = run_cli("compare", str(base), str(worse), "--min-ms", "x")
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "harness: compare: --min-ms: expected milliseconds such as 5, got 'x'"
    ]


def test_a_threshold_not_judged_in_base_is_no_regression():
    base = summary(
        "base",
        {"me": endpoint(20.0, 40.0, 50.0)},
        thresholds=[{"expr": "p95(me) < 30ms", "passed": True, "judged": False}],
    )
    new = summary(
        "new",
        {"me": endpoint(20.0, 40.0, 50.0)},
        thresholds=[{"expr": "p95(me) < 30ms", "passed": False, "judged": True}],
    )
    result = compare(base, new)
    assert result["regressions"] == [] and result["thresholds"][0]["base"] is None
    assert "| `p95(me) < 30ms` | – | FAIL |" in to_markdown(result)
