"""The fast analysis path gives the figures the plain one gives, and its benchmark reports real numbers.

`harness report` reads a run compact (categoricals, file order, the chunk gaps left on disk and read
again part by part) and selects percentiles without sorting everything. Each test here computes the
same figures both ways, on a rich synthetic run (bench/analysis_scaling.py) or on hand-made rows
whose trap is known (ties, nulls, categories never seen), and wants them equal to the last digit.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analysis.abuse import abuse_summary
from harness.analysis.llm import llm_summary, ttft_series
from harness.analysis.ratelimits import attack_series, rate_limits
from harness.analysis.run import UNREAD_COLUMNS, compute_summary, load_run, load_target_stats
from harness.analysis.run import summarize as one_pass
from harness.analysis.spend import spend_from_samples, spend_series
from harness.analysis.summary import float32_percentiles, grouped_percentiles, per_second, to_jsonable
from harness.analysis.wallet import wallet_summary
from harness.documents import RunMeta
from harness.report.plots import latency_ecdfs
from harness.samples import COLUMNS, PartWriter, read_column, read_samples
from tests.helpers import REPO

BENCH = REPO / "bench" / "analysis_scaling.py"
sys.path.insert(0, str(BENCH.parent))

import analysis_scaling  # noqa: E402  (bench/ is not a package)


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two minutes of the benchmark's run: legit journeys, a streamed chat, attacks, probes, a
    denial-of-wallet probe, blocks, errors and broken streams, in 160 parts."""
    run_dir = tmp_path_factory.mktemp("scaling") / "20261201-000000-scaling"
    analysis_scaling.write_run(run_dir, 30_000, seed=3, duration_s=120)
    return run_dir


def both_frames(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """(plain frame: sorted, strings, chunk gaps inside; compact frame as the report reads it; its parts)."""
    parts: list = []
    columns = [name for name in COLUMNS if name not in UNREAD_COLUMNS]
    compact = read_samples(run_dir, columns, sort=False, compact=True, parts=parts)
    return read_samples(run_dir), compact, parts


def summarize(samples: pd.DataFrame, run: dict) -> dict:
    return one_pass(samples, run).to_dict()


def figures(samples: pd.DataFrame, run: dict, stats: dict | None, gaps=None) -> dict:
    """Every figure of the summary, module by module, as JSON would hold them."""
    run = run.to_dict() if isinstance(run, RunMeta) else run
    llm = llm_summary(samples, run, gaps)
    return to_jsonable(
        {
            "summary": one_pass(samples, run, stats=stats, chunk_gaps=gaps).to_dict(),
            "rate_limits": rate_limits(samples, run, stats),
            "abuse": abuse_summary(samples, stats),
            "llm": llm,
            "spend": spend_from_samples(samples, run, llm),
            "wallet": wallet_summary(samples, run),
        }
    )


@pytest.mark.e2e
def test_compact_reading_gives_every_figure_of_the_plain_one(synthetic_run: Path) -> None:
    run, _ = load_run(synthetic_run)
    stats, _ = load_target_stats(synthetic_run)
    plain, compact, parts = both_frames(synthetic_run)
    assert len(plain) == len(compact) > 30_000 and len(parts) == 160
    assert isinstance(compact["endpoint"].dtype, pd.CategoricalDtype) and "chunk_gaps_ms" not in compact
    want = figures(plain, run, stats)
    got = figures(compact, run, stats, partial(read_column, parts, "chunk_gaps_ms"))
    assert want["llm"]["chat"]["itl_p99_ms"] is not None  # the gaps were read, part by part
    assert want["abuse"]["admin_probe"]["status_counts"] and want["rate_limits"]["login"]["bypasses"]
    assert json.dumps(got) == json.dumps(want)  # key order included: categories sort as their strings


@pytest.mark.e2e
def test_the_series_and_plots_data_are_the_same_too(synthetic_run: Path) -> None:
    run, _ = load_run(synthetic_run)
    plain, compact, _ = both_frames(synthetic_run)
    t0 = run.started_at
    run = run.to_dict()
    pd.testing.assert_frame_equal(per_second(compact, t0), per_second(plain, t0), check_dtype=False)
    pd.testing.assert_frame_equal(attack_series(compact, t0), attack_series(plain, t0), check_dtype=False)
    pd.testing.assert_frame_equal(ttft_series(compact, run, t0), ttft_series(plain, run, t0))
    pd.testing.assert_frame_equal(spend_series(compact, run, t0), spend_series(plain, run, t0))
    want, got = latency_ecdfs(plain, skip={"chat"}), latency_ecdfs(compact, skip={"chat"})
    assert list(got) == list(want)
    assert all(np.array_equal(got[k][0], want[k][0]) and got[k][2] == want[k][2] for k in want)


@pytest.mark.e2e
def test_the_report_itself_reads_the_compact_way(synthetic_run: Path) -> None:
    summary, samples, _ = compute_summary(synthetic_run)
    assert isinstance(samples["role"].dtype, pd.CategoricalDtype)
    run, _ = load_run(synthetic_run)
    plain = figures(read_samples(synthetic_run), run, load_target_stats(synthetic_run)[0])
    assert summary.to_dict()["endpoints"] == plain["summary"]["endpoints"]
    assert summary.llm == plain["llm"]


def test_nulls_ties_and_file_order_in_hand_made_parts(tmp_path: Path) -> None:
    """Two equally frequent errors: the one seen first in send order is listed first, though a later
    part holds it; missing strings read as before; attacks and techniques stay in string order."""
    writer = PartWriter(tmp_path / "samples")
    writer.write(
        {
            "start_s": [20.0, 21.0, 22.0],
            "endpoint": ["me", "me", None],
            "status": [500, 500, 200],
            "error": ["http 500 (b)", "http 500 (b)", None],
            "role": ["legit", "zz_attack", None],
            "latency_ms": [5.0, 6.0, 7.0],
            "technique": ["", "x", None],
        }
    )
    writer.write(
        {
            "start_s": [10.0, 11.0, 12.0, 13.0],
            "status": [502, 502, 0, 200],
            "error": ["http 502 (a)", "http 502 (a)", "", ""],
            "role": ["legit", "aa_attack", "legit", "legit"],
            "endpoint": ["me"] * 4,
            "latency_ms": [1.0, 2.0, 3.0, 4.0],
            "technique": ["y", "", "", ""],
        }
    )
    run = {"started_at": 0.0, "ended_at": 30.0, "targets": {"me": 500}}
    plain, compact, _ = both_frames(tmp_path)
    assert compact["endpoint"].isna().sum() == 1 and compact["role"].fillna("legit").eq("legit").sum() == 5
    want, got = summarize(plain, run), summarize(compact, run)
    assert json.dumps(got) == json.dumps(want)
    assert list(got["endpoints"]["me"]["error_counts"]) == ["http 502 (a)", "http 500 (b)", "no response (status 0)"]
    assert list(abuse_summary(compact)) == list(abuse_summary(plain)) == ["aa_attack", "zz_attack"]


@pytest.mark.parametrize("groups", [3, 200, 30_000])
def test_grouped_percentiles_every_way_equal_a_sort_per_group(groups: int) -> None:
    """A mask per group, one sort of the codes, or one sort by value: all give a sort's ranks."""
    rng = np.random.default_rng(groups)
    n = 60_000
    values = np.where(rng.random(n) < 0.5, rng.lognormal(3, 1, n), rng.integers(0, 40, n).astype(float))
    values[rng.random(n) < 0.02] = np.nan
    codes = rng.integers(-1, groups, n)
    qs = [0.5, 0.95, 0.99, 0.999, 1.0]
    ranks = [rng.integers(0, 20, groups)]
    got = grouped_percentiles(codes, values, groups, qs, ranks)
    for g in rng.choice(groups, size=min(groups, 25), replace=False):
        mine = np.sort(values[(codes == g) & ~np.isnan(values)])
        for i, q in enumerate(qs):
            want = mine[int(np.ceil(round(q * mine.size, 9))) - 1] if mine.size else np.nan
            assert got[i, g] == want or (np.isnan(want) and np.isnan(got[i, g]))
        r = ranks[0][g]
        want = mine[r - 1] if 1 <= r <= mine.size else np.nan  # rank 0 or past the end: none
        assert got[len(qs), g] == want or (np.isnan(want) and np.isnan(got[len(qs), g]))


def test_float32_percentiles_match_a_sort_even_when_the_first_look_misses() -> None:
    """Too many values to keep them all: the first look (every 16th chunk) sees values unlike the
    rest, its guess misses, and one more pass reads the exact values anyway."""
    rng = np.random.default_rng(7)
    chunks = [rng.normal(12 if i % 16 else 40, 3, 5_000).astype(np.float32) for i in range(64)]
    chunks[5][:10] = np.nan
    passes: list[int] = []

    def source(every: int):
        passes.append(every)
        for i in range(0, len(chunks), every):
            yield i % 2, chunks[i]

    qs = [0.0, 0.5, 0.95, 0.99, 1.0]
    codes = np.concatenate([np.full(c.size, i % 2) for i, c in enumerate(chunks)])
    want = grouped_percentiles(codes, np.concatenate(chunks).astype(np.float64), 2, qs)
    assert np.array_equal(float32_percentiles(source, 2, qs, keep_all=20_000), want)
    assert passes == [1, 16, 1]
    passes.clear()
    assert np.array_equal(float32_percentiles(source, 2, qs), want)  # few enough to keep: one pass
    assert passes == [1]


@pytest.mark.e2e
def test_the_benchmark_prints_a_section_with_real_numbers() -> None:
    """`bench/analysis_scaling.py --sizes 20000` end to end: run folder, `harness report`, Markdown."""
    done = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "20000"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("## Analysis scaling\n")
    row = re.search(r"^\| (20,0\d\d) \| (\d+) \| [\d,]+ \| ([\d.]+) \| ([\d,]+) \| ([\d.]+) \| ([01]) \|$", out, re.M)
    assert row, out
    wall, rss = float(row.group(3)), float(row.group(4).replace(",", ""))
    assert 0 < wall < 120 and 50 < rss < 4096
    assert "10 M under 30 s and under 2 GB" in out and "not measured" in out
    assert "bench/analysis_scaling.py --sizes 20000" in out
    assert "analysis_scaling:" in done.stderr and "analysis_scaling:" not in out
