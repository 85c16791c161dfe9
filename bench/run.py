"""Every benchmark, one after the other, into bench/RESULTS.md.

    .venv/bin/python bench/run.py [--quick] [--only NAME ...] [--out bench/RESULTS.md]

Each bench is a script of its own that prints one Markdown section on stdout (its figures side by
side, measured in the same run, as ratios) and its log on stderr. They run one at a time, never
beside each other or beside the tests: on a 2-core machine, anything else running shows in the
figures. A bench that fails leaves its error in the file instead of its section. With `--only`, the
benches run replace their own sections and index rows in the existing file and leave every other
bench's figures as they were.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from bench.common import machine  # noqa: E402

BENCHES = {  # name -> (script, what it answers)
    "generator": (
        "generator.py",
        "requests/s of one harness worker against bare Locust FastHttpUser, wrk/hey as the ceiling",
    ),
    "ingest": ("ingest.py", "samples/s the master absorbs from workers"),
    "accuracy": (
        "accuracy.py",
        "the harness's percentiles against the demo API's injected truth, Locust's beside them",
    ),
    "coordinated_omission": ("coordinated_omission.py", "a stalling target under a fixed arrival rate"),
    "analysis_scaling": ("analysis_scaling.py", "`harness report` on 1 and 10 million samples"),
    "loop_monitor": ("loop_monitor.py", "what the event-loop monitor of every load process costs"),
    "streams": (
        "streams.py",
        "concurrent SSE streams one worker core holds, memory per stream, TTFT against the server's send times",
    ),
    "greenlet_floor": ("greenlet_floor.py", "what one waiting greenlet costs, beside one waiting asyncio task"),
}


def run_bench(name: str, quick: bool) -> tuple[str, float]:
    script, _ = BENCHES[name]
    command = [sys.executable, str(BENCH / script), *(["--quick"] if quick else [])]
    print(f"bench: {name} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800)
    took = time.monotonic() - started
    (BENCH / "logs").mkdir(exist_ok=True)
    (BENCH / "logs" / f"{name}.log").write_text(result.stderr)
    if result.returncode != 0 or not result.stdout.strip():
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        return (
            f"## {name}\n\nThis bench failed (exit {result.returncode}); the end of its log:\n\n```\n{tail}\n```\n"
        ), took
    return result.stdout.strip() + "\n", took


def replace_bench(results: str, name: str, section: str, row: str) -> str:
    """RESULTS.md with one bench's section and index row replaced (added at the end when absent)."""
    head, *parts = re.split(r"(?m)^(?=## )", results)
    # its section as it was, or as a failure left it (`## name`)
    stale = [i for i, part in enumerate(parts) if part.split("\n", 1)[0] in (section.split("\n", 1)[0], f"## {name}")]
    if stale:
        parts[stale[0]] = section
        parts = [part for i, part in enumerate(parts) if i not in stale[1:]]
    else:
        parts.append(section)
    lines = head.rstrip("\n").split("\n")
    rows = [i for i, line in enumerate(lines) if line.startswith("| ")]
    at = next((i for i in rows if lines[i].startswith(f"| {name} |")), None)
    if at is not None:
        lines[at] = row
    else:
        lines.insert(rows[-1] + 1 if rows else len(lines), row)
    return "\n".join(lines) + "\n\n" + "\n".join(part.rstrip("\n") + "\n" for part in parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the short version of every bench (a few minutes in all)")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="run only these benches")
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args()
    names = args.only or list(BENCHES)
    started = datetime.now(UTC)
    sections, tooks = [], []
    for name in names:
        text, took = run_bench(name, args.quick)
        sections.append(text)
        tooks.append(took)
    command = (
        "python bench/run.py"
        + (" --quick" if args.quick else "")
        + (f" --only {' '.join(args.only)}" if args.only else "")
    )
    head = [
        "# Benchmarks",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine()}, by `{command}` (nothing else running).",
        "Every figure below was measured in this one run; each comparison was made side by side within it and",
        "is given as a ratio, because absolute numbers on a shared, virtualised 2-core machine vary by 10-20 %",
        "from one run to the next. Rerun one bench alone with `python bench/<name>.py` (each prints its section).",
        "",
        "| bench | what it measures | time |",
        "|---|---|---:|",
        *(f"| {name} | {BENCHES[name][1]} | {took:.0f} s |" for name, took in zip(names, tooks, strict=True)),
        "",
    ]
    if args.only and args.out.exists():  # the other benches' figures stay; these say when they were measured
        text = args.out.read_text()
        for name, section, took in zip(names, sections, tooks, strict=True):
            when = f"measured {started:%Y-%m-%d %H:%M} UTC by `{command}`, see its section"
            text = replace_bench(text, name, section, f"| {name} | {BENCHES[name][1]} ({when}) | {took:.0f} s |")
        args.out.write_text(text)
    else:
        args.out.write_text("\n".join(head) + "\n" + "\n".join(sections))
    print(f"bench: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
