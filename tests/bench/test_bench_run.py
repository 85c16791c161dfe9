"""bench/run.py --only: the benches run replace their own sections and index rows in RESULTS.md, and every
other bench's figures stay as they were, byte for byte."""

from __future__ import annotations

from tests.helpers import load_bench

run = load_bench("run")

RESULTS = """\
# Benchmarks

Measured 2026-12-01 02:04 UTC on 2 CPUs, by `python bench/run.py` (nothing else running).

| bench | what it measures | time |
|---|---|---:|
| generator | requests/s | 198 s |
| streams | streams held | 610 s |

## Generator throughput

ratio 0.998

## Concurrent streams per worker core

old figures

### What limits it

old detail

## What a waiting greenlet costs

7.9 KB
"""


def test_a_bench_run_alone_replaces_only_its_own_section_and_row() -> None:
    new = run.replace_bench(
        RESULTS, "streams", "## Concurrent streams per worker core\n\nnew figures\n", "| streams | new | 681 s |"
    )
    assert new == RESULTS.replace("| streams | streams held | 610 s |", "| streams | new | 681 s |").replace(
        "old figures\n\n### What limits it\n\nold detail\n", "new figures\n"
    )


def test_a_bench_new_to_the_file_is_added_at_the_end_with_its_row() -> None:
    new = run.replace_bench(RESULTS, "ingest", "## Master ingest\n\n150,000/s\n", "| ingest | samples/s | 87 s |")
    assert new.startswith(
        RESULTS.split("\n\n## Generator")[0].replace("| 610 s |", "| 610 s |\n| ingest | samples/s | 87 s |")
    )
    assert new.endswith("## What a waiting greenlet costs\n\n7.9 KB\n\n## Master ingest\n\n150,000/s\n")
    assert "## Generator throughput\n\nratio 0.998\n" in new


def test_a_bench_that_failed_last_time_gets_its_section_back() -> None:
    failed = RESULTS.replace("## Concurrent streams per worker core\n\nold figures", "## streams\n\nThis bench failed")
    new = run.replace_bench(
        failed, "streams", "## Concurrent streams per worker core\n\nnew figures\n", "| streams | x |"
    )
    assert "This bench failed" not in new and new.count("new figures") == 1
    assert new.index("## Generator") < new.index("new figures") < new.index("## What a waiting greenlet")
