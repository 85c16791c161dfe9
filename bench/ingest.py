"""Master ingest: how many samples per second the Locust master absorbs from its workers before it
falls behind. Goal: 100,000 samples/s on one core.

Two measurements, both on the master's real code (`harness.load.collector.Collector`, `PartWriter`,
`harness.analysis.spend.batch_cost`), fed synthetic sample batches shaped as a worker ships them
(`SampleBatch.take()` columns inside the `report_to_master` payload):

1. handler: this process, pinned to one core, runs what the master does per report (msgpack-decode
   the message as Locust's `Message.unserialize` does, `Collector.add`, `batch_cost`) and once per
   second what its watcher does (live p95, circuit-breaker window), as fast as it can. Encoding the
   messages (the workers' work) is left out of the clock.
2. locust: a real Locust master with the harness plugin (`bench/locust_ingest.py`, pinned to one
   core) and fake workers: real Locust worker processes on the other core whose reports carry big
   synthetic batches, sent over ZeroMQ at rising offered rates. A step is kept up with when the
   master absorbs at least 95 % of it and the time from send to written stays under a second.

    .venv/bin/python bench/ingest.py [--quick]

Prints a Markdown section on stdout (bench/run.py pastes it into bench/RESULTS.md); logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import machine  # noqa: E402
from harness.analysis.spend import batch_cost  # noqa: E402
from harness.load.collector import Collector  # noqa: E402
from harness.runfolder import write_json_atomic  # noqa: E402
from harness.samples import COLUMNS  # noqa: E402
from harness.scenario.pricing import load_prices  # noqa: E402

SAMPLES_KEY = "harness_samples"  # harness.load.plugin.SAMPLES_KEY (importing the plugin would import Locust)
LOCUSTFILE = REPO / "bench" / "locust_ingest.py"
GOAL = 100_000  # samples per second on one core
MIXES = {"api": 0.0, "llm": 0.25}  # share of streamed chat rows (40 chunk gaps each) in a batch
ENDPOINTS = [
    ("login", "POST"),
    ("me", "GET"),
    ("conversations", "GET"),
    ("conversation", "GET"),
    ("leads", "POST"),
    ("webhook", "POST"),
    ("reset_request", "POST"),
]

__all__ = ["MasterPath", "decode_report", "encode_report", "spend_block", "synthetic_columns"]


def log(message: str) -> None:
    print(f"ingest: {message}", file=sys.stderr, flush=True)


# ---- synthetic batches, as a worker ships them -----------------------------------------------------


def synthetic_columns(
    n: int, *, seed: int = 1, now: float | None = None, llm_share: float = 0.25, spread_s: float = 3.0
) -> dict[str, list[Any]]:
    """`n` sample rows in SampleBatch.take()'s shape: a believable mix of API calls, streamed chats
    (`llm_share` of the rows, with token counts and 40-odd chunk gaps), rate-limited and failed ones,
    started over the last `spread_s` seconds before `now`."""
    rng = random.Random(seed)
    now = time.time() if now is None else now
    nan = math.nan
    rows = []
    for i in range(n):
        chat = rng.random() < llm_share
        status = 200 if rng.random() < 0.95 else rng.choice([429, 500, 0])
        blocked = status == 429
        error = {200: "", 429: "", 500: "http 500", 0: "connection: refused"}[status]
        latency = rng.lognormvariate(math.log(600 if chat else 40), 0.4)
        endpoint, method = ("chat", "POST") if chat else rng.choice(ENDPOINTS)
        row: dict[str, Any] = {
            "start_s": now - rng.uniform(0, spread_s),
            "intended_s": nan,
            "endpoint": endpoint,
            "method": method,
            "status": status,
            "latency_ms": latency,
            "ttfb_ms": nan,
            "ttft_ms": nan,
            "ttlt_ms": nan,
            "chunks": 0,
            "chunk_gaps_ms": None,
            "input_tokens": 0,
            "output_tokens": 0,
            "cached_tokens": 0,
            "reasoning_tokens": 0,
            "input_tokens_estimate": 0,
            "output_tokens_estimate": 0,
            "token_source": "",
            "conversation": "",
            "role": "legit" if rng.random() < 0.9 else "credential_stuffing",
            "technique": "",
            "identity": f"{rng.getrandbits(48):012x}",
            "source_ip": f"127.16.{i % 250}.{i % 97 + 2}",
            "blocked": blocked,
            "rejected": False,
            "retry_after_s": 10.0 if blocked else nan,
            "limit_headers": "",
            "error": error,
            "response_bytes": rng.randint(80, 4000),
            "worker": "",
        }
        if chat and status == 200:
            chunks = rng.randint(20, 60)
            gaps = [rng.uniform(5, 20) for _ in range(chunks - 1)]
            tokens_in = rng.randint(30, 400)
            row.update(
                ttfb_ms=latency * 0.2,
                ttft_ms=latency * 0.25,
                ttlt_ms=latency,
                chunks=chunks,
                chunk_gaps_ms=gaps,
                input_tokens=tokens_in,
                output_tokens=chunks,
                input_tokens_estimate=tokens_in - 3,
                output_tokens_estimate=chunks,
                token_source="usage",
                conversation=f"{rng.getrandbits(64):016x}",
            )
        if row["role"] != "legit":
            row["limit_headers"] = "RateLimit,RateLimit-Policy,Retry-After"
        rows.append(row)
    return {name: [row[name] for row in rows] for name in COLUMNS}


def encode_report(columns: dict[str, list[Any]], node_id: str, extra: dict[str, Any] | None = None) -> bytes:
    """A worker's `stats` message as Locust sends it (`Message.serialize`: msgpack of type, data, node id)."""
    data = {"stats": [], "stats_total": {}, "errors": {}, SAMPLES_KEY: columns, **(extra or {})}
    return msgpack.dumps(("stats", data, node_id))


def decode_report(raw: bytes) -> tuple[str, dict[str, Any], str]:
    """As Locust's `Message.unserialize` does on the master (its object_hook only looks for two keys)."""
    kind, data, node_id = msgpack.loads(raw, raw=False, strict_map_key=False, object_hook=_locust_decode)
    return kind, data, node_id


def _locust_decode(obj: dict[str, Any]) -> dict[str, Any]:
    if "__datetime__" in obj or "__ObjectId__" in obj:  # never in a harness report
        raise ValueError("unexpected Locust-encoded object")
    return obj


def spend_block(model: str = "gpt-4o-mini") -> dict[str, Any]:
    """run.json's `spend` block as far as `batch_cost` reads it (the master prices every batch)."""
    return {"model": model, "price": load_prices().get(model).to_dict(), "hidden_tokens": 62}


# ---- the master's path ---------------------------------------------------------------------------


class MasterPath:
    """What the master does with each worker report (harness.load.plugin `_Session._on_worker_report` and
    `_collect`), and once a second for its watcher (`_watch`: breaker window, progress with live p95)."""

    def __init__(self, run_dir: Path, spend: dict[str, Any] | None = None, keep_s: float = 10.0) -> None:
        self.run_dir = Path(run_dir)
        self.collector = Collector(self.run_dir / "samples", keep_s=keep_s)
        self.spend = spend if spend is not None else spend_block()
        self.spent_usd = 0.0
        self.last_report: dict[str, float] = {}

    def handle(self, raw: bytes) -> int:
        """One `stats` message off the wire: decoded, its samples written as one Parquet part. Rows taken."""
        _, data, node_id = decode_report(raw)
        self.last_report[node_id] = time.time()
        columns = data.pop(SAMPLES_KEY, None)
        if not columns:
            return 0
        n = self.collector.add(columns, worker=node_id)
        if n:
            self.spent_usd += batch_cost(columns, self.spend)
        return n

    def watch(self, now: float) -> None:
        self.collector.recent_errors(10.0, now=now)
        p95 = self.collector.live_p95_ms(now=now)
        write_json_atomic(
            self.run_dir / "progress.json",
            {"samples": self.collector.rows, "p95_ms": None if p95 != p95 else round(p95, 1)},
        )


def ingest(messages: Iterable[bytes], run_dir: Path, spend: dict[str, Any] | None = None) -> int:
    """Feed encoded worker reports through the master's path; the rows it took (the test's entry point)."""
    path = MasterPath(run_dir, spend)
    return sum(path.handle(raw) for raw in messages)


@dataclass
class HandlerResult:
    mix: str
    batch: int
    rows: int = 0
    busy_s: float = 0.0  # master-path CPU time, encoding left out
    per_report: list[float] = field(default_factory=list)  # seconds per report

    @property
    def rate(self) -> float:
        return self.rows / self.busy_s if self.busy_s else float("nan")


def handler_rate(mix: str, batch: int, seconds: float, work: Path) -> HandlerResult:
    """Run the master's path flat out for `seconds` of its own time. The samples' start times follow
    the master's clock (so the live window holds 10 s of rows at the rate reached)."""
    result = HandlerResult(mix, batch)
    run_dir = work / f"handler-{mix}-{batch}"
    path = MasterPath(run_dir)
    template = synthetic_columns(batch, seed=batch, now=0.0, llm_share=MIXES[mix])
    offsets = [-s for s in template["start_s"]]  # 0..3 s before the send
    t0 = time.time()
    next_watch = 1.0
    seq = 0
    while result.busy_s < seconds:
        clock = t0 + result.busy_s
        columns = {**template, "start_s": [clock - o for o in offsets]}
        raw = encode_report(columns, f"worker-{seq % 4}")
        seq += 1
        started = time.perf_counter()
        result.rows += path.handle(raw)
        if result.busy_s >= next_watch:
            path.watch(now=clock)
            next_watch += 1.0
        spent = time.perf_counter() - started
        result.busy_s += spent
        result.per_report.append(spent)
    written = path.collector.writer.rows_written
    if written != result.rows:
        raise RuntimeError(f"handler: {result.rows} rows taken but {written} written")
    shutil.rmtree(run_dir, ignore_errors=True)
    return result


# ---- the real master over ZeroMQ -----------------------------------------------------------------

SCENARIO = """\
# written by bench/ingest.py: the plugin needs a scenario; nothing in it contacts the host
[scenario]
name = "bench-ingest"

[accounts]
source = "inline"
inline = [{ email = "bench@example.test", password = "not-used" }]

[endpoints.webhook]
method = "POST"
path = "/webhook"
auth = false

[journeys.webhook]
weight = 1
"""


@dataclass
class Step:
    rate: int  # offered samples/s, all workers together
    interval: float  # seconds between two reports of one worker
    sent: int = 0  # rows in messages the master handled
    first_sent: float = math.nan
    handled: list[tuple[float, int]] = field(default_factory=list)  # (when written, rows) per report
    lags: list[float] = field(default_factory=list)
    cpu: float = math.nan  # master CPU seconds / wall seconds over the step
    seconds: float = 0.0
    late: float = 0.0  # how far behind its schedule a worker sent (it could not offer the rate)

    @property
    def last_handled(self) -> float:
        return max(at for at, _ in self.handled) if self.handled else math.nan

    @property
    def absorbed(self) -> float:
        """The step's rows ÷ (its first write → its last write, plus one send interval: the time the last
        report stands for). Keeping up, that is the offered rate; falling behind, the lags grow and it is less."""
        if not self.handled:
            return math.nan
        first = min(at for at, _ in self.handled)
        return self.sent / (self.last_handled - first + self.interval)

    def kept_up(self) -> bool:
        lag = self.lag(0.95)
        return self.sent > 0 and self.absorbed >= 0.95 * self.rate and lag == lag and lag < 1.0

    def lag(self, q: float) -> float:
        if not self.lags:
            return math.nan
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


@dataclass
class LocustResult:
    steps: list[Step]
    workers: int
    batch: int
    mix: str
    samples_written: int = 0
    rows_handled: int = 0
    error: str = ""
    command: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL: this process only."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def pinning() -> tuple[str | None, str | None]:
    """(master core, workers' cores) for taskset, or (None, None) on one core or without taskset."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return None, None
    return str(cpus[0]), ",".join(str(c) for c in cpus[1:])


def wrap(cpus: str | None, command: list[str]) -> list[str]:
    return ["taskset", "-c", cpus, *command] if cpus else command


def locust_run(
    rates: list[int], step_s: float, gap_s: float, workers: int, batch: int, mix: str, work: Path
) -> LocustResult:
    result = LocustResult([Step(r, batch * workers / r) for r in rates], workers, batch, mix)
    scenario = work / "bench-ingest.toml"
    scenario.write_text(SCENARIO)
    run_dir = work / "locust-run"
    out = work / "handled.json"
    port = free_port()
    total_s = math.ceil(len(rates) * (step_s + gap_s) + 3)
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "BENCH_OUT": str(out),
        "BENCH_HANDLED": str(work / "handled-rows"),
        "BENCH_SCHEDULE": json.dumps(
            {
                "rates": rates,
                "step_s": step_s,
                "gap_s": gap_s,
                "workers": workers,
                "batch": batch,
                "llm_share": MIXES[mix],
            }
        ),
    }
    master_core, worker_cores = pinning()
    master_cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--loglevel",
        "WARNING",
        "--headless",
        "--only-summary",
        "-u",
        "1",
        "-r",
        "1",
        "-t",
        f"{total_s}s",
        "--host",
        "http://127.0.0.1:9",
        "--master",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        str(port),
        "--expect-workers",
        str(workers),
        "--expect-workers-max-wait",
        "30",
        "--scenario",
        str(scenario),
        "--run-dir",
        str(run_dir),
        "--harness-managed",
    ]
    worker_cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--loglevel",
        "WARNING",
        "--worker",
        "--master-host",
        "127.0.0.1",
        "--master-port",
        str(port),
    ]
    result.command = " ".join(["locust", *master_cmd[3:]]).replace(str(work), "TMP").replace(str(port), "PORT")
    logs = [open(work / "master.log", "wb")] + [open(work / f"worker-{i + 1}.log", "wb") for i in range(workers)]
    procs: list[subprocess.Popen] = []
    trace: list[tuple[float, float]] = []
    try:
        procs.append(
            subprocess.Popen(
                wrap(master_core, master_cmd),
                cwd=REPO,
                env=env,
                stdout=logs[0],
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        )
        for i in range(workers):
            procs.append(
                subprocess.Popen(
                    wrap(worker_cores, worker_cmd),
                    cwd=REPO,
                    env=env,
                    stdout=logs[i + 1],
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
        master = psutil.Process(procs[0].pid)
        deadline = time.time() + total_s + 90
        while procs[0].poll() is None and time.time() < deadline:
            try:
                t = master.cpu_times()
                trace.append((time.time(), t.user + t.system))
            except psutil.Error:
                pass
            time.sleep(0.25)
    finally:
        for proc in reversed(procs):
            stop(proc)
        for f in logs:
            f.close()
    if not out.exists():
        result.error = f"no figures from the master (exit {procs[0].returncode}); see {work / 'master.log'}"
        return result
    handled = json.loads(out.read_text())
    result.samples_written = handled["samples_written"]
    for at, info in handled["reports"]:
        step = result.steps[info["step"]]
        step.sent += info["rows"]
        result.rows_handled += info["rows"]
        step.first_sent = info["sent_at"] if math.isnan(step.first_sent) else min(step.first_sent, info["sent_at"])
        step.handled.append((at, info["rows"]))
        step.lags.append(at - info["sent_at"])
        step.late = max(step.late, info.get("late", 0.0))
    for step in result.steps:
        if step.sent:
            step.seconds = step.last_handled - step.first_sent
            step.cpu = _cpu_between(trace, step.first_sent, step.last_handled) / step.seconds
    return result


def _cpu_between(trace: list[tuple[float, float]], t0: float, t1: float) -> float:
    def at(t: float) -> float:
        before = [p for p in trace if p[0] <= t]
        after = [p for p in trace if p[0] >= t]
        if not before or not after:
            return math.nan
        (w0, c0), (w1, c1) = before[-1], after[0]
        return c0 if w1 == w0 else c0 + (c1 - c0) * (t - w0) / (w1 - w0)

    return at(t1) - at(t0)


# ---- the report ----------------------------------------------------------------------------------


def fmt(value: float, digits: int = 0) -> str:
    return "–" if value != value else f"{value:,.{digits}f}"


def render(handler: list[HandlerResult], locust: LocustResult | None, args: argparse.Namespace, core: str) -> str:
    handler_min = min((h.rate for h in handler), default=math.nan)
    sustained, per_cpu = 0, []
    if locust and not locust.error:
        sustained = max((step.rate for step in locust.steps if step.kept_up()), default=0)
        per_cpu = [step.absorbed / step.cpu for step in locust.steps if step.sent and step.cpu > 0]
    lines = [
        "## Master ingest",
        "",
        f"How many samples per second the Locust master absorbs from its workers (goal: {GOAL:,}/s on one core).",
        f"Machine: {machine('pyarrow')}.",
        "Synthetic batches shaped as a worker ships them (`SampleBatch.take()` columns in the `report_to_master`",
        "payload): mix `api` is plain API calls; `llm` has 25 % streamed chats with 20–60 chunk gaps each.",
        "",
        f"**1. The master's handler code path, in-process** (`Collector.add` → `PartWriter` Parquet part, "
        f"`batch_cost`, msgpack decode as Locust does, the watcher's live p95 and breaker window once a second; "
        f"one core: {core}; message encoding, the workers' work, not counted):",
        "",
        "| mix | rows per report | reports | samples/s | ms per report (median) | µs per sample |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for h in handler:
        lines.append(
            f"| {h.mix} | {h.batch:,} | {len(h.per_report):,} | {fmt(h.rate)} | "
            f"{fmt(statistics.median(h.per_report) * 1000, 1)} | {fmt(1e6 / h.rate, 2)} |"
        )
    lines += [
        "",
        f"Handler goal ≥ {GOAL:,} samples/s in every row: **{'PASS' if handler_min >= GOAL else 'FAIL'}** "
        f"(lowest {fmt(handler_min)}/s).",
        "",
    ]
    if locust is not None:
        lines += [
            f"**2. A real Locust master over ZeroMQ** (`bench/locust_ingest.py`: the harness plugin on the master, "
            f"pinned to one core; {locust.workers} real Locust worker processes on the other core send reports of "
            f"{locust.batch:,} rows, mix `{locust.mix}`, at rising offered rates, {args.step_s:g} s per step). "
            "Absorbed = the step's rows ÷ (its first write → its last write + one send interval); lag = send → "
            "written to disk, per report; "
            "master CPU = its CPU time ÷ wall time over the step (1.0 = the whole core).",
            "",
        ]
        if locust.error:
            lines += [f"Failed: {locust.error}", ""]
        else:
            lines += [
                "| offered samples/s | absorbed samples/s | lag p50 s | lag p95 s | lag max s | master CPU | "
                "samples per master CPU-second | kept up |",
                "|---:|---:|---:|---:|---:|---:|---:|---|",
            ]
            for step in locust.steps:
                if not step.sent:
                    lines.append(f"| {step.rate:,} | – | | | | | | not run (stopped after falling behind) |")
                    continue
                step_per_cpu = step.absorbed / step.cpu if step.cpu and step.cpu == step.cpu else math.nan
                lines.append(
                    f"| {step.rate:,} | {fmt(step.absorbed)} | {fmt(step.lag(0.5), 2)} | "
                    f"{fmt(step.lag(0.95), 2)} | {fmt(max(step.lags), 2)} | {fmt(step.cpu, 2)} | "
                    f"{fmt(step_per_cpu)} | {'yes' if step.kept_up() else 'no'}"
                    f"{f' (a worker sent {step.late:.1f} s late)' if step.late > 0.5 else ''} |"
                )
            lines += [
                "",
                f"Rows handled {locust.rows_handled:,}; rows on disk (run.json `samples_written`) "
                f"{locust.samples_written:,}: "
                f"{'all written' if locust.samples_written == locust.rows_handled else 'MISMATCH'}."
                + (
                    " A worker stops offering more once the master is over a second's worth of rows behind "
                    "(`not run` above)."
                    if any(not step.sent for step in locust.steps)
                    else ""
                ),
                "",
                f"Sustained over ZeroMQ: **{sustained:,} samples/s** (the highest step kept up with): "
                f"goal ≥ {GOAL:,}: **{'PASS' if sustained >= GOAL else 'FAIL'}**. From the master's CPU time, one "
                f"whole core would absorb about {fmt(round(statistics.median(per_cpu), -3) if per_cpu else math.nan)} "
                "samples/s (median over the steps).",
                "",
                f"Master: `{locust.command}`",
                "",
            ]
    lines += [f"Rerun: `.venv/bin/python bench/ingest.py{' --quick' if args.quick else ''}`", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and steps (< 1 min)")
    parser.add_argument("--no-locust", action="store_true", help="the in-process handler measurement only")
    args = parser.parse_args()
    args.step_s = 4.0 if args.quick else 6.0
    sizes = [10_000] if args.quick else [3_000, 10_000, 30_000]
    mixes = ["llm"] if args.quick else ["api", "llm"]
    rates = [50_000, 100_000, 150_000] if args.quick else [25_000, 50_000, 100_000, 150_000, 200_000, 250_000]
    handler_s = 3.0 if args.quick else 4.0
    work = Path(tempfile.mkdtemp(prefix="harness-bench-ingest-"))
    cpus = sorted(os.sched_getaffinity(0))
    core = str(cpus[0])
    handler: list[HandlerResult] = []
    try:
        os.sched_setaffinity(0, {cpus[0]})
        for mix in mixes:
            for size in sizes:
                h = handler_rate(mix, size, handler_s, work)
                handler.append(h)
                log(f"handler {mix} {size:,} rows/report: {fmt(h.rate)} samples/s")
    finally:
        os.sched_setaffinity(0, set(cpus))
    locust = None
    if not args.no_locust:
        locust = locust_run(rates, args.step_s, 2.0, 2, 10_000, "llm", work)
        for step in locust.steps:
            log(
                f"locust {step.rate:,}/s offered: {fmt(step.absorbed)}/s absorbed, lag p95 {fmt(step.lag(0.95), 2)} s, "
                f"master CPU {fmt(step.cpu, 2)}"
            )
        if locust.error:
            log(locust.error)
    print(render(handler, locust, args, core))
    if locust is None or not locust.error:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
