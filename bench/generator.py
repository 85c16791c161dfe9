"""Generator throughput: requests per second of ONE Locust worker process with the harness's recording
against the same worker without it, on the same trivial endpoint, with wrk and hey as the ceiling.

Each variant is a real Locust master plus one worker (`bench/locust_ping.py`, FastHttpUser, one GET,
`wait_time = constant(0)`), run in turn for several rounds (bare, harness, harness-api, then the next
round in another order) so that a noisy neighbour hits every variant alike. `harness` is the same user
with the harness plugin recording every request (the goal: at least 0.9 of bare's requests/s);
`harness-api` also sends it through `harness.load.client.ApiClient` as the journeys do (shown, not judged).
The endpoint is `bench/responder.py`, a raw asyncio responder far faster than any one Locust worker
(wrk shows its headroom). On a machine with two or more cores the worker gets core 0 (wrk and hey
run there too, before the rounds), and the responder and the master share the others.

    .venv/bin/python bench/generator.py [--quick] [--rounds 3] [--duration 15] [--users 32]

Prints a Markdown section on stdout (bench/run.py pastes it into bench/RESULTS.md); logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import machine  # noqa: E402
from harness.samples import read_samples  # noqa: E402

LOCUSTFILE = REPO / "bench" / "locust_ping.py"
RESPONDER = REPO / "bench" / "responder.py"
VARIANTS = ("bare", "harness", "harness-api")
GOAL = 0.9  # harness / bare requests per second
SCENARIO = """\
# written by bench/generator.py: the plugin needs a scenario; nothing in it contacts the endpoint
[scenario]
name = "bench-generator"

[accounts]
source = "inline"
inline = [{ email = "bench@example.test", password = "not-used" }]

[endpoints.health]
method = "GET"
path = "/health"
auth = false

[endpoints.webhook]
method = "POST"
path = "/webhook"
auth = false

[journeys.webhook]
weight = 1
"""


def log(message: str) -> None:
    print(f"generator: {message}", file=sys.stderr, flush=True)


@dataclass
class Cores:
    """Where each process runs: `taskset -c` lists, or no pinning on one core / without taskset."""

    worker: str | None
    others: str | None

    @staticmethod
    def pick() -> Cores:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2 or shutil.which("taskset") is None:
            return Cores(None, None)
        return Cores(str(cpus[0]), ",".join(str(c) for c in cpus[1:]))

    def wrap(self, cpus: str | None, command: list[str]) -> list[str]:
        return ["taskset", "-c", cpus, *command] if cpus else command

    def describe(self) -> str:
        if self.worker is None:
            return "not pinned (one core, or no taskset)"
        return f"worker (and wrk/hey) on core {self.worker}; responder and master on core(s) {self.others}"


@dataclass
class Run:
    variant: str
    round: int
    rps: float = float("nan")  # steady state, from the master's per-second request counts
    requests: int = 0  # Locust's total
    failures: int = 0
    samples: int | None = None  # rows on disk (harness variants)
    samples_rps: float | None = None  # the same steady window, counted from the samples
    cpu_us: float = float("nan")  # worker CPU time per request in the steady window
    busy: float = float("nan")  # worker CPU time / wall time in the steady window (1.0 = one core)
    window_s: int = 0
    error: str = ""


@dataclass
class Responder:
    proc: subprocess.Popen
    url: str

    @staticmethod
    def start(cores: Cores) -> Responder:
        proc = subprocess.Popen(
            cores.wrap(cores.others, [sys.executable, str(RESPONDER), "--port", "0"]),
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.match(r"listening on (\d+)", line)
        if not match:
            proc.kill()
            raise RuntimeError(f"bench/responder.py did not start: {line!r}")
        return Responder(proc, f"http://127.0.0.1:{match.group(1)}")

    def stop(self) -> None:
        stop(self.proc)


def stop(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL: this process only."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def steady(per_second: dict[int, int], trim_start: int = 2, trim_end: int = 1) -> tuple[float, list[int]]:
    """Mean requests/s over the full seconds of the run: the first seconds (spawning) and the last
    (cut by the stop, or missing from a last report Locust did not wait for) are left out."""
    if not per_second:
        return float("nan"), []
    seconds = list(range(min(per_second) + trim_start, max(per_second) - trim_end + 1))
    if not seconds:
        return float("nan"), []
    return sum(per_second.get(s, 0) for s in seconds) / len(seconds), seconds


def cpu_between(trace: list[tuple[float, float]], t0: float, t1: float) -> float:
    """The worker's CPU seconds between wall times t0 and t1, interpolated from the trace."""

    def at(t: float) -> float:
        before = [(w, c) for w, c in trace if w <= t]
        after = [(w, c) for w, c in trace if w >= t]
        if not before or not after:
            return float("nan")
        (w0, c0), (w1, c1) = before[-1], after[0]
        return c0 if w1 == w0 else c0 + (c1 - c0) * (t - w0) / (w1 - w0)

    return at(t1) - at(t0)


def run_variant(variant: str, rnd: int, url: str, cores: Cores, users: int, duration_s: int, work: Path) -> Run:
    result = Run(variant, rnd)
    folder = work / f"{rnd}-{variant}"
    folder.mkdir()
    out = folder / "counts.json"
    port = free_port()
    env = {**os.environ, "BENCH_VARIANT": variant, "BENCH_OUT": str(out), "PYTHONUNBUFFERED": "1"}
    common = ["-f", str(LOCUSTFILE), "--loglevel", "WARNING"]
    master_cmd = [
        sys.executable,
        "-m",
        "locust",
        *common,
        "--headless",
        "--only-summary",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{duration_s}s",
        "--host",
        url,
        "--master",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        str(port),
        "--expect-workers",
        "1",
        "--expect-workers-max-wait",
        "30",
    ]
    if variant != "bare":
        scenario = work / "bench-generator.toml"
        scenario.write_text(SCENARIO)
        master_cmd += ["--scenario", str(scenario), "--run-dir", str(folder / "run"), "--harness-managed"]
    worker_cmd = [
        sys.executable,
        "-m",
        "locust",
        *common,
        "--worker",
        "--master-host",
        "127.0.0.1",
        "--master-port",
        str(port),
    ]
    with open(folder / "master.log", "wb") as mlog, open(folder / "worker.log", "wb") as wlog:
        master = subprocess.Popen(
            cores.wrap(cores.others, master_cmd),
            cwd=REPO,
            env=env,
            stdout=mlog,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        worker = subprocess.Popen(
            cores.wrap(cores.worker, worker_cmd),
            cwd=REPO,
            env=env,
            stdout=wlog,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        trace: list[tuple[float, float]] = []
        try:
            deadline = time.time() + duration_s + 60
            while master.poll() is None and time.time() < deadline:
                try:
                    t = psutil.Process(worker.pid).cpu_times()
                    trace.append((time.time(), t.user + t.system))
                except psutil.Error:
                    pass
                time.sleep(0.25)
        finally:
            stop(master)
            stop(worker)
    if not out.exists():
        tail = (folder / "master.log").read_text(errors="replace")[-1500:]
        result.error = f"no counts from the master (exit {master.returncode}); log: {tail}"
        return result
    counts = json.loads(out.read_text())
    per_second = {int(k): v for k, v in counts["per_second"].items()}
    result.requests, result.failures = counts["requests"], counts["failures"]
    result.rps, window = steady(per_second)
    if window and result.rps > 0:
        result.window_s = len(window)
        cpu = cpu_between(trace, window[0], window[-1] + 1)
        result.cpu_us = cpu / sum(per_second.get(s, 0) for s in window) * 1e6
        result.busy = cpu / len(window)
        if variant != "bare":
            frame = read_samples(folder / "run", columns=["start_s", "latency_ms"], sort=False)
            result.samples = len(frame)
            done = (frame["start_s"] + frame["latency_ms"].fillna(0) / 1000).astype("int64")
            result.samples_rps = float(done.between(window[0], window[-1]).sum()) / len(window)
    return result


def reference(tool: str, url: str, cores: Cores, users: int, seconds: int) -> tuple[float, str]:
    """(requests/s, command) from wrk or hey on the worker's core; NaN when the tool is missing."""
    if tool == "wrk":
        command = ["wrk", "-t1", f"-c{users}", f"-d{seconds}s", url + "/health"]
    else:
        command = ["hey", "-z", f"{seconds}s", "-c", str(users), url + "/health"]
    shown = shlex.join(cores.wrap(cores.worker, command)).replace(url, "http://127.0.0.1:PORT")
    if shutil.which(tool) is None:
        return float("nan"), shown + "  (not installed: apt-get install -y wrk hey)"
    try:
        text = subprocess.run(
            cores.wrap(cores.worker, command), capture_output=True, text=True, timeout=seconds + 30
        ).stdout
    except subprocess.TimeoutExpired:
        return float("nan"), shown
    match = re.search(r"Requests/sec:\s+([\d.]+)", text)  # both print it so
    return (float(match.group(1)) if match else float("nan")), shown


def med(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:,.{digits}f}"


def cost(ratio: float) -> str:
    """The instrumentation's cost in words, from harness ÷ bare."""
    if ratio != ratio:
        return "no figure"
    if ratio >= 1:
        return f"no measurable cost, the harness worker {fmt((ratio - 1) * 100, 1)} % ahead (noise)"
    return f"the instrumentation costs {fmt((1 - ratio) * 100, 1)} % of the bare generator's throughput"


def render(
    runs: list[Run], refs: dict[str, tuple[float, str]], args: argparse.Namespace, cores: Cores, command: str
) -> str:
    nan = float("nan")
    by = {v: [r for r in runs if r.variant == v and not r.error] for v in args.variants}
    rps = {v: med([r.rps for r in rs]) for v, rs in by.items()}
    cpu = {v: med([r.cpu_us for r in rs]) for v, rs in by.items()}
    bare, bare_cpu = rps.get("bare", nan), cpu.get("bare", nan)
    ratio = rps.get("harness", nan) / bare if bare == bare and bare else nan
    cpu_ratio = bare_cpu / cpu.get("harness", nan) if bare_cpu == bare_cpu else nan
    passed = ratio == ratio and ratio >= GOAL
    what = {
        "bare": "`self.client.get`, nothing of the harness imported",
        "harness": "the same user, with the harness plugin: Recorder → SampleBatch → master → Parquet",
        "harness-api": "the plugin, and the GET sent through `harness.load.client.ApiClient` (the journeys' path)",
    }
    lines = [
        "## Generator throughput",
        "",
        f"One Locust worker process (FastHttpUser, {args.users} users, `wait_time = constant(0)`, one GET of a "
        "trivial endpoint) with and without the harness, each as a real Locust master + 1 worker, "
        f"{len(set(r.round for r in runs))} rounds of {args.duration} s per variant, the order rotated each round. "
        "Requests/s is the steady state from Locust's own per-second counts on the master (first 2 s and last "
        "second left out), the same figure for every variant.",
        "",
        f"- machine: {machine()}",
        f"- pinning: {cores.describe()}",
        "- endpoint: `bench/responder.py` (raw asyncio/uvloop, 15-byte JSON body); wrk below shows its headroom",
        "",
        "| variant | what runs on the worker | requests/s (median) | min–max | ÷ bare | worker CPU µs/request "
        "| requests per worker CPU-second | ÷ bare | worker busy |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for v, rs in by.items():
        values = [r.rps for r in rs]
        lines.append(
            f"| {v} | {what[v]} | {fmt(rps[v])} | {fmt(min(values, default=nan))}–{fmt(max(values, default=nan))} | "
            f"{fmt(rps[v] / bare, 3)} | {fmt(cpu[v], 1)} | {fmt(1e6 / cpu[v])} | {fmt(bare_cpu / cpu[v], 3)} | "
            f"{fmt(med([r.busy for r in rs]) * 100)} % |"
        )
    lines += [
        "",
        f"**Goal: harness ÷ bare requests/s ≥ {GOAL}: {'PASS' if passed else 'FAIL'}** (ratio of the medians "
        f"{fmt(ratio, 3)}: {cost(ratio)}). Per worker CPU-second, which a busy neighbour on a shared machine "
        f"disturbs less: {fmt(cpu_ratio, 3)} ({cost(cpu_ratio)}).",
        "",
        "Worker CPU µs/request: the worker process's CPU time over the steady window ÷ the requests in it. Worker "
        "busy: that CPU time ÷ wall time (100 % = its whole core; less: it waited, or a neighbour had the core). "
        "The harness worker also runs `gc.freeze()` at start, as every harness worker does.",
        "",
        "Reference ceiling on the same endpoint, from the worker's core (one client thread):",
        "",
        "| tool | requests/s | command |",
        "|---|---:|---|",
    ]
    for tool, (value, cmd) in refs.items():
        lines.append(f"| {tool} | {fmt(value)} | `{cmd}` |")
    lines += [
        "",
        "Every run (samples on disk must equal Locust's request count: the plugin waits for every worker's last "
        "report):",
        "",
        "| round | variant | requests/s | steady seconds | worker CPU µs/request | Locust requests | failures "
        "| samples on disk | samples/s (same window) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        if r.error:
            lines.append(f"| {r.round} | {r.variant} | failed: {r.error.splitlines()[0][:120]} | | | | | | |")
            continue
        lines.append(
            f"| {r.round} | {r.variant} | {fmt(r.rps)} | {r.window_s} | {fmt(r.cpu_us, 1)} | "
            f"{r.requests:,} | {r.failures:,} | {'–' if r.samples is None else f'{r.samples:,}'} | "
            f"{fmt(r.samples_rps)} |"
        )
    lines += ["", f"Rerun: `{command}`", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 5 s, bare and harness only (< 1 min)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--duration", type=int, default=None, help="seconds of load per run")
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--variants", default=None, help=f"comma-separated, from {','.join(VARIANTS)}")
    args = parser.parse_args()
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.duration = args.duration or (5 if args.quick else 15)
    args.variants = tuple((args.variants or ("bare,harness" if args.quick else ",".join(VARIANTS))).split(","))
    if unknown := set(args.variants) - set(VARIANTS):
        parser.error(f"--variants: unknown {sorted(unknown)}")
    command = (
        ".venv/bin/python bench/generator.py"
        + (" --quick" if args.quick else "")
        + "".join(
            f" --{k} {v}"
            for k, v in (
                ("rounds", args.rounds),
                ("duration", args.duration),
                ("users", args.users),
                ("variants", ",".join(args.variants)),
            )
        )
    )
    cores = Cores.pick()
    work = Path(tempfile.mkdtemp(prefix="harness-bench-generator-"))
    responder = Responder.start(cores)
    runs: list[Run] = []
    refs: dict[str, tuple[float, str]] = {}
    try:
        log(f"responder at {responder.url}; {cores.describe()}")
        ref_s = 2 if args.quick else 8
        for tool in ("wrk", "hey"):
            refs[tool] = reference(tool, responder.url, cores, args.users, ref_s)
            log(f"{tool}: {fmt(refs[tool][0])} requests/s")
        for rnd in range(1, args.rounds + 1):
            order = list(args.variants)
            shift = (rnd - 1) % len(order)
            order = order[shift:] + order[:shift]  # every variant takes every place in the order
            for variant in order:
                run = run_variant(variant, rnd, responder.url, cores, args.users, args.duration, work)
                runs.append(run)
                log(
                    f"round {rnd} {variant}: {fmt(run.rps)} requests/s, {fmt(run.cpu_us, 1)} µs CPU/request"
                    + (f" ({run.error})" if run.error else "")
                )
    finally:
        responder.stop()
    print(render(runs, refs, args, cores, command))
    if not any(r.error for r in runs):
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"logs kept in {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
