"""Master and worker memory over a short and a long run of the same load: samples stream to disk, so
neither should grow with the length of the run. Runs `harness run scenarios/smoke.toml --users N
--duration D` twice (1 and 4 minutes by default) against a fresh demo API each time, reads the RSS of
the Locust master and of each worker once a second with psutil, and writes bench/MEMORY.md.

    .venv/bin/python bench/memory.py [--users 120] [--workers 2] [--short 60] [--long 240] [--out bench/MEMORY.md]
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine  # noqa: E402
from harness.demo_api.config import TargetConfig  # noqa: E402
from harness.demo_api.process import start_target  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MB = 1024 * 1024


@dataclass
class Trace:
    """One run: RSS in bytes per process, sampled once a second, against the run's elapsed time."""

    duration_s: int
    command: list[str]
    rss: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # "master", "worker-1", ... -> [(t, rss)]
    exit_code: int | None = None
    samples: int = 0
    rps: float = float("nan")

    def peak(self, role: str, until_s: float = float("inf"), since_s: float = 0.0) -> int:
        """The highest RSS of `role` ("worker" = any worker) between since_s and until_s of load."""
        values = [
            rss
            for name, series in self.rss.items()
            if name == role or name.startswith(role + "-")
            for t, rss in series
            if since_s <= t <= until_s
        ]
        return max(values, default=0)

    def at(self, role: str, t: float) -> int:
        """The RSS of `role` ("worker" = the highest of the workers) at the last reading up to t."""
        values = [
            next((rss for s, rss in reversed(series) if s <= t), 0)
            for name, series in self.rss.items()
            if name == role or name.startswith(role + "-")
        ]
        return max(values, default=0)


def locust_processes(harness: psutil.Process) -> dict[str, psutil.Process]:
    """The harness's Locust children by role: "master", then "worker-1", "worker-2"... in start order."""
    master, workers = None, []
    for child in harness.children(recursive=True):
        try:
            cmdline = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "--master" in cmdline:
            master = child
        elif "--worker" in cmdline:
            workers.append(child)
    found = {f"worker-{i}": p for i, p in enumerate(sorted(workers, key=lambda p: p.create_time()), start=1)}
    return {"master": master, **found} if master else found


def elapsed(out: Path) -> float | None:
    """Seconds of load so far, from the run's progress.json (None before the load starts)."""
    for path in out.glob("*/progress.json"):
        try:
            progress = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return progress.get("elapsed_s") or None
    return None


def measure(duration_s: int, users: int, workers: int) -> Trace:
    target = start_target(TargetConfig.from_dict({}))
    out = Path(tempfile.mkdtemp(prefix="harness-memory-"))
    command = [
        "harness",
        "run",
        "scenarios/smoke.toml",
        "--host",
        target.url,
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--workers",
        str(workers),
        "--duration",
        f"{duration_s}s",
        "--out",
        str(out),
    ]
    trace = Trace(duration_s, command)
    harness = subprocess.Popen(
        [sys.executable, "-m", "harness", *command[1:]],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        parent = psutil.Process(harness.pid)
        while harness.poll() is None:
            time.sleep(1.0)
            t = elapsed(out)
            if t is None:
                continue
            for role, process in {**locust_processes(parent), "harness": parent}.items():
                try:
                    trace.rss.setdefault(role, []).append((t, process.memory_info().rss))
                except psutil.NoSuchProcess:
                    pass
        stderr = harness.stderr.read() if harness.stderr else ""
        trace.exit_code = harness.wait()
    finally:
        if harness.poll() is None:
            harness.terminate()
            harness.wait(timeout=30)
        target.stop()
    run_dir = next(p for p in out.iterdir() if p.is_dir())
    try:
        trace.samples = json.loads((run_dir / "run.json").read_text())["samples_written"]
        trace.rps = json.loads((run_dir / "summary.json").read_text())["totals"]["rps"]
    except (OSError, ValueError, KeyError) as exc:
        print(f"memory: {run_dir}: no figures ({exc}); harness said:\n{stderr[-2000:]}", file=sys.stderr)
        return trace  # the run folder stays, to look into
    shutil.rmtree(out)
    return trace


def mb(value: int) -> str:
    return f"{value / MB:.1f}"


def verdict(short: Trace, long: Trace, tolerance: float = 0.05) -> str:
    """One paragraph: does peak RSS grow with the length of the run (beyond `tolerance`)?"""
    ratios = {role: long.peak(role) / short.peak(role) for role in ("master", "worker")}
    flat = all(abs(r - 1) <= tolerance for r in ratios.values())
    return (
        f"**{'Flat' if flat else 'Grows'}**: {long.duration_s / short.duration_s:.0f}× the run length and "
        f"{long.samples / max(short.samples, 1):.1f}× the samples give the master ×{ratios['master']:.3f} and "
        f"the workers ×{ratios['worker']:.3f} peak RSS ({'within' if flat else 'beyond'} "
        f"±{tolerance:.0%}). Nothing is kept per sample: the master's collector holds the last "
        "`max(10 s, breaker window)` of start times, latencies and error flags for the live p95 and the "
        "circuit breaker. Locust's own stats keep rounded latency buckets (bounded) and a request counter "
        "per second and endpoint, which grows with time, not with requests (a few MB per hour of run)."
    )


def render(short: Trace, long: Trace, args: argparse.Namespace, started: datetime) -> str:
    def row(role: str, label: str) -> str:
        a, b = short.peak(role), long.peak(role)
        first, last = (
            long.peak(role, until_s=short.duration_s),
            long.peak(role, since_s=long.duration_s - short.duration_s),
        )
        return f"| {label} | {mb(a)} | {mb(b)} | {b / a:.3f} | {mb(first)} | {mb(last)} | {last / first:.3f} |"

    worker_names = sorted(name for name in long.rss if name.startswith("worker-"))
    step = max(long.duration_s // 8, 1)
    checkpoints = [*range(step, long.duration_s, step), long.duration_s]
    script = "python bench/memory.py " + " ".join(
        f"--{k} {v}"
        for k, v in (("users", args.users), ("workers", args.workers), ("short", args.short), ("long", args.long))
    )
    lines = [
        "# Memory over the length of a run",
        "",
        "Samples stream to disk: the master appends each arriving batch to `samples/` as a Parquet part, and a",
        "worker empties its batch into every stats report (every 3 s). So neither process should hold more",
        "memory after 4 minutes than after 1. This measures it: the same flat load for 1 and for 4 minutes,",
        "each against a fresh demo API, with the resident set size (RSS) of the Locust master and of each",
        "worker read once a second with psutil.",
        "",
        f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine()}, with",
        "",
        f"    .venv/bin/{script}",
        "",
        f"which runs, for D = {args.short}s and {args.long}s (HOST: a demo API it starts on loopback):",
        "",
        f"    {shlex.join(short.command[:4])} HOST {shlex.join(short.command[5:-4])} --duration D --out TMP",
        "",
        "| run | samples | requests/s | exit code |",
        "|---|---:|---:|---:|",
        f"| {short.duration_s} s | {short.samples:,} | {short.rps:.1f} | {short.exit_code} |",
        f"| {long.duration_s} s | {long.samples:,} | {long.rps:.1f} | {long.exit_code} |",
        "",
        f"Peak RSS in MB. Ratio = {long.duration_s} s run ÷ {short.duration_s} s run; the last two columns compare",
        f"the first and the last {short.duration_s} s of load within the {long.duration_s} s run (no run-to-run noise).",
        "",
        f"| process | peak, {short.duration_s} s run | peak, {long.duration_s} s run | ratio | "
        f"{long.duration_s} s run: first {short.duration_s} s | last {short.duration_s} s | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
        row("master", "master"),
        *(row(name, name) for name in worker_names),
        row("worker", "workers (highest)"),
        "",
        verdict(short, long),
        "",
        "For reference, `harness run` itself (it only waits during the load, then reads every sample to write",
        f"the report, so its peak follows the number of samples): {mb(short.peak('harness'))} MB after the "
        f"{short.duration_s} s run, {mb(long.peak('harness'))} MB after the {long.duration_s} s run.",
        "",
        f"RSS in MB during the {long.duration_s} s run (the last reading at or before each time of load):",
        "",
        "| seconds of load | " + " | ".join(str(t) for t in checkpoints) + " |",
        "|---|" + "---:|" * len(checkpoints),
        "| master | " + " | ".join(mb(long.at("master", t)) for t in checkpoints) + " |",
        "| workers (highest) | " + " | ".join(mb(long.at("worker", t)) for t in checkpoints) + " |",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--short", type=int, default=60, help="seconds of load of the short run")
    parser.add_argument("--long", type=int, default=240, help="seconds of load of the long run")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "MEMORY.md")
    args = parser.parse_args()
    started = datetime.now(UTC)
    traces = []
    for duration in (args.short, args.long):
        print(f"memory: {duration} s of {args.users} users on {args.workers} workers ...", file=sys.stderr)
        traces.append(measure(duration, args.users, args.workers))
    text = render(*traces, args, started)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
