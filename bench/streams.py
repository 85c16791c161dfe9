"""Concurrent SSE streams per worker core: how many long, mostly idle chat streams ONE client process holds
on one core, its memory per stream, and how true the TTFT it measures is, for the harness, bare Locust
and an asyncio client of the kind LLM serving benchmarks use, side by side in one run.

A chat launch is thousands of open streams that each get a token now and then, not many short requests.
Each variant, in turn, against a fresh `bench/stream_responder.py` (first token after `--first-token` s,
then one token a second, `[DONE]` after `--stream-seconds` ± 50 %; the server notes the wall-clock time it sent
each stream's first token):

- `harness`: a real Locust master + 1 worker started as `harness run` starts them (the harness's
  locustfiles, `--scenario`, `--harness-managed`), running the shipped `client` journey on a one-route chat
  scenario: every stream goes through `harness.load.client.ApiClient` and `harness.protocol.streams`, and
  becomes a sample in the run folder;
- `locust`: bare Locust, a master + 1 worker running `bench/locust_streams.py` (FastHttpUser, the body read
  line by line, nothing of the harness imported);
- `locust-raw`: the floor under any Locust worker, a master + 1 worker running `bench/locust_raw_streams.py`
  (Locust's base `User`, one greenlet per user as always, on a bare gevent socket, no HTTP library);
- `aiohttp`: `bench/aiohttp_streams.py`, one asyncio process (vLLM's benchmark_serving way of reading).

Every user holds one stream after another without a pause, so at steady state N streams are open and
about N / stream-seconds new ones start each second. The users start `--rate` a second; the hold is the
`--hold` seconds that begin `--settle` seconds after the ramp should have ended. Measured:

- streams held: the server's count of open streams, polled every 0.25 s, over the hold;
- memory per stream: the client process's RSS during the hold minus its RSS just before the first stream,
  ÷ streams held (and the marginal figure: from 20 % of N to the hold, which leaves out what the process
  loads once when the test starts);
- CPU: the client process's CPU time over the hold ÷ the hold (1.0 = its whole core); the responder's too;
- TTFT error: for every stream whose first token the server sent during the hold, the TTFT the client
  recorded (the harness: `ttft_ms` of its samples) minus the truth, the server's first-token send time minus
  the client's own send time (`time.time()` on both sides, one machine): how late the client reads.

The client process (the Locust worker, the asyncio process) gets core 0; the responder, the Locust master
and this script share the other core(s). Every process's open-file limit is raised first (as root to
1,048,576): each stream is a socket.

    .venv/bin/python bench/streams.py [--quick] [--streams 1000,10000] [--rate 500] [--settle 5] [--hold 30]
        [--variants harness,locust,locust-raw,aiohttp] [--stream-seconds 20] [--first-token 0.5] [--keep]

Prints a Markdown section on stdout (bench/run.py pastes it into bench/RESULTS.md); logs go to stderr.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import machine  # noqa: E402
from bench.generator import Cores, cpu_between, fmt, free_port, stop  # noqa: E402
from bench.stream_responder import TRUTH_FIELDS, raise_fd_limit  # noqa: E402
from harness.commands.worker import LOCUSTFILES, master_args, worker_args  # noqa: E402
from harness.lifeline import VOCABULARY_MODEL_ENV, child_environment  # noqa: E402
from harness.load.inflight import STOP_GRACE_S  # noqa: E402
from harness.samples import read_samples  # noqa: E402
from harness.scenario import load_scenario  # noqa: E402

RESPONDER = REPO / "bench" / "stream_responder.py"
BARE_LOCUSTFILES = {
    "locust": REPO / "bench" / "locust_streams.py",
    "locust-raw": REPO / "bench" / "locust_raw_streams.py",
}
AIOHTTP_CLIENT = REPO / "bench" / "aiohttp_streams.py"
VARIANTS = ("harness", "locust", "locust-raw", "aiohttp")
# what the goal compares the harness with; locust-raw is the floor under any Locust worker, not a client
GOAL_OTHERS = ("locust", "aiohttp")
POLL_S = 0.25
RECORD_FIELDS = ("request_id", "sent_s", "ttft_ms", "ok")  # bench/stream_records.py and bench/aiohttp_streams.py
SCENARIO = """\
# written by bench/streams.py: one streamed chat route on the bench's responder, the shipped client journey
[scenario]
name = "bench-streams"

[auth]
style = "none"

[accounts]
source = "inline"
inline = [{{ email = "bench@example.test", password = "not-used" }}]

[http]
timeout = "{timeout_s}s"

[endpoints.chat]
kind = "chat"
method = "POST"
path = "/v1/chat/completions"
body = {{ model = "bench", messages = "{{messages}}", stream = true }}
stream = "sse-openai"
auth = false

[journeys.client]
weight = 1
think_time = [0, 0]
chat_turns = [1, 1]
"""


def log(message: str) -> None:
    print(f"streams: {message}", file=sys.stderr, flush=True)


def child_setup() -> None:
    """In each child, before it runs: every stream is a socket, so the open-file limit goes up; and the child
    gets SIGTERM if this script dies (Linux), so that nothing it started outlives it."""
    raise_fd_limit()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # the `finally` blocks stop the processes this script started


@dataclass(frozen=True)
class Plan:
    """One variant's run at one size: how fast it ramps, how long it holds, how long each stream lasts."""

    streams: int
    rate: float  # users started per second
    settle_s: float
    hold_s: float
    stream_s: float  # request -> [DONE], on average
    first_token_s: float
    jitter: float = 0.5  # each stream lasts stream_s × (1 ± jitter)

    @property
    def ramp_s(self) -> float:
        return self.streams / self.rate

    @property
    def run_s(self) -> int:
        """From the first user's start to the client's stop: the streams whose first token came in the hold
        end before it, so every one of them is recorded whole (streams shorter than the harness's stop grace
        end within it: the harness waits that long for requests in flight)."""
        tail = 0.5 if self.longest_s < STOP_GRACE_S - 1 else self.longest_s + 1
        return math.ceil(self.ramp_s + self.settle_s + self.hold_s + tail)

    @property
    def longest_s(self) -> float:
        return self.stream_s * (1 + self.jitter)

    def hold(self, first_s: float) -> tuple[float, float]:
        start = first_s + self.ramp_s + self.settle_s
        return start, start + self.hold_s


@dataclass
class Point:
    t: float  # wall clock
    open: int  # streams open at the server
    rss: int  # client process, bytes
    cpu: float  # client process CPU seconds
    server_cpu: float
    core_busy: float  # CPU seconds the client's core spent on anything (NaN: not pinned)


@dataclass
class Result:
    variant: str
    streams: int
    held: list[int] = field(default_factory=list)  # the server's open count at each poll of the hold
    users_started: int = 0  # distinct users the server saw a stream from
    opened: int = 0
    completed: int = 0
    cut_early: int = 0  # streams the client dropped before its stop
    client_errors: int = 0  # failed streams as the client recorded them, before its stop
    rss_before: float = math.nan
    rss_hold: float = math.nan
    marginal_kb: float = math.nan
    cpu_hold: float = math.nan
    server_cpu_hold: float = math.nan
    core_busy_hold: float = math.nan  # the client's core, busy with anything (its client included)
    ttft_errors_ms: np.ndarray = field(default_factory=lambda: np.array([]))
    in_hold: int = 0  # streams whose first token the server sent during the hold
    without_ttft: int = 0  # ... of which the client recorded no TTFT (or no sample)
    error: str = ""

    @property
    def held_median(self) -> float:
        return float(np.median(self.held)) if self.held else math.nan

    @property
    def kb_per_stream(self) -> float:
        held = self.held_median
        return (self.rss_hold - self.rss_before) / held / 1024 if held else math.nan

    def ttft(self, q: float) -> float:
        return float(np.percentile(self.ttft_errors_ms, q)) if len(self.ttft_errors_ms) else math.nan


class StreamResponder:
    """bench/stream_responder.py in a process of its own."""

    def __init__(self, cores: Cores, plan: Plan) -> None:
        command = [
            sys.executable,
            str(RESPONDER),
            "--port",
            "0",
            "--duration",
            str(plan.stream_s),
            "--first-token",
            str(plan.first_token_s),
            "--jitter",
            str(plan.jitter),
        ]
        self.proc = subprocess.Popen(
            cores.wrap(cores.others, command),
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            preexec_fn=child_setup,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        match = re.match(r"listening on (\d+)", line)
        if not match:
            stop(self.proc)
            raise RuntimeError(f"bench/stream_responder.py did not start: {line!r}")
        self.url = f"http://127.0.0.1:{match.group(1)}"
        self.ps = psutil.Process(self.proc.pid)

    def get(self, path: str, timeout_s: float = 5.0) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=timeout_s) as response:
            return response.read()

    def open_streams(self) -> int:
        try:
            return int(json.loads(self.get("/stats", 2.0))["open"])
        except (OSError, ValueError, KeyError):
            return -1

    def truth(self) -> pd.DataFrame:
        rows = [json.loads(line) for line in self.get("/truth", 60.0).splitlines() if line]
        return pd.DataFrame(rows, columns=list(TRUTH_FIELDS))

    def stop(self) -> None:
        stop(self.proc)


class Client:
    """One variant's client: the process whose streams, memory and CPU are measured, and any others it needs."""

    def __init__(self, variant: str, plan: Plan, url: str, cores: Cores, folder: Path) -> None:
        self.variant = variant
        self.folder = folder
        self.records = folder / "records.jsonl"
        self.run_dir = folder / "run"
        self.procs: list[subprocess.Popen] = []
        self.logs = [open(folder / name, "wb") for name in ("main.log", "worker.log")]
        env = {**child_environment(), "PYTHONUNBUFFERED": "1", "BENCH_RECORDS": str(self.records)}
        if variant == "aiohttp":
            command = [
                sys.executable,
                str(AIOHTTP_CLIENT),
                "--url",
                url,
                "--users",
                str(plan.streams),
                "--rate",
                str(plan.rate),
                "--seconds",
                str(plan.run_s),
                "--out",
                str(self.records),
            ]
            self.measured = self._spawn(cores.wrap(cores.worker, command), env, self.logs[0])
            self.main = self.measured
            return
        port = free_port()
        common = ["--loglevel", "WARNING"]
        if variant == "harness":
            scenario = folder / "bench-streams.toml"
            scenario.write_text(SCENARIO.format(timeout_s=math.ceil(plan.longest_s + 60)))
            files = ["-f", ",".join(str(f) for f in LOCUSTFILES)]
            extra = ["--scenario", str(scenario), "--run-dir", str(self.run_dir), "--harness-managed", "--flat-load"]
            worker = worker_args("127.0.0.1", port, LOCUSTFILES)
            # as `harness run` starts its workers: the model's vocabulary loaded before connecting
            worker_env = {**env, VOCABULARY_MODEL_ENV: load_scenario(scenario).spend.model}
        else:
            locustfile = str(BARE_LOCUSTFILES[variant])
            files = ["-f", locustfile]
            extra = []
            worker = ["-f", locustfile, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
            worker_env = env
        master = [
            sys.executable,
            "-m",
            "locust",
            *files,
            *common,
            *extra,
            "--host",
            url,
            "--headless",
            "--only-summary",
            "-u",
            str(plan.streams),
            "-r",
            str(plan.rate),
            "-t",
            f"{plan.run_s}s",
            *master_args("127.0.0.1", port, 1, 30),
        ]
        self.main = self._spawn(cores.wrap(cores.others, master), env, self.logs[0])
        self.measured = self._spawn(
            cores.wrap(cores.worker, [sys.executable, "-m", "locust", *worker, *common]), worker_env, self.logs[1]
        )

    def _spawn(self, command: list[str], env: dict[str, str], out: object) -> subprocess.Popen:
        proc = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=out,  # type: ignore[arg-type]
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=child_setup,
        )
        self.procs.append(proc)
        return proc

    def finish(self, timeout_s: float) -> None:
        """Wait for the run to end on its own (bounded), then for the measured process to leave."""
        deadline = time.monotonic() + timeout_s
        for proc in (self.main, self.measured):  # a Locust worker leaves within seconds of its master
            try:
                proc.wait(timeout=max(1.0, min(deadline - time.monotonic(), 20.0)))
            except subprocess.TimeoutExpired:
                log(f"{self.variant}: process {proc.pid} still running at its deadline: stopped")
        for proc in self.procs:
            stop(proc)
        for handle in self.logs:
            handle.close()

    def streams(self) -> pd.DataFrame:
        """What the client recorded per stream: key, sent_s, ttft_ms, failed."""
        if self.variant == "harness":
            frame = read_samples(self.run_dir, columns=["start_s", "ttft_ms", "source_ip", "error"], sort=False)
            return pd.DataFrame(
                {
                    "key": frame["source_ip"],
                    "sent_s": frame["start_s"],
                    "ttft_ms": frame["ttft_ms"],
                    "failed": frame["error"] != "",
                }
            )
        rows = [json.loads(line) for line in self.records.read_text().splitlines() if line]
        frame = pd.DataFrame(rows, columns=list(RECORD_FIELDS))
        return pd.DataFrame(
            {"key": frame["request_id"], "sent_s": frame["sent_s"], "ttft_ms": frame["ttft_ms"], "failed": ~frame["ok"]}
        )

    def tail(self) -> str:
        return "\n".join(
            (self.folder / name).read_text(errors="replace").strip()[-800:] for name in ("main.log", "worker.log")
        )


def core_busy(core: int | None) -> float:
    """CPU seconds `core` has spent on anything but idling, so far (NaN without a pinned core)."""
    if core is None:
        return math.nan
    times = psutil.cpu_times(percpu=True)[core]
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def wait_for_quiet(core: int | None, max_wait_s: float = 180.0, busy_below: float = 0.15) -> float:
    """On a shared machine, wait (bounded) until the client's core is nearly idle before a variant starts, so
    that other work weighs on no variant more than another; the seconds waited. The hold's own figures
    still show what other work took from the core (`core busy (others)`)."""
    if core is None:
        return 0.0
    started = time.monotonic()
    while time.monotonic() - started < max_wait_s:
        before = core_busy(core)
        time.sleep(2.0)
        if (core_busy(core) - before) / 2.0 < busy_below:
            break
        time.sleep(3.0)
    return time.monotonic() - started


def watch(responder: StreamResponder, client: Client, seconds: float, core: int | None) -> list[Point]:
    """Poll the server's open count, both processes' memory and CPU, and how busy the client's core is,
    until the client's run ends."""
    trace: list[Point] = []
    measured = psutil.Process(client.measured.pid)
    deadline = time.monotonic() + seconds
    while client.main.poll() is None and time.monotonic() < deadline:
        try:
            times, rss = measured.cpu_times(), measured.memory_info().rss
            server = responder.ps.cpu_times()
        except psutil.Error:
            break
        now = time.time()
        trace.append(
            Point(
                now,
                responder.open_streams(),
                rss,
                times.user + times.system,
                server.user + server.system,
                core_busy(core),
            )
        )
        time.sleep(max(0.0, POLL_S - (time.time() - now)))
    return trace


def run_variant(variant: str, plan: Plan, cores: Cores, work: Path) -> Result:
    result = Result(variant, plan.streams)
    folder = work / f"{plan.streams}-{variant}"
    folder.mkdir()
    responder = StreamResponder(cores, plan)
    client: Client | None = None
    try:
        client = Client(variant, plan, responder.url, cores, folder)
        trace = watch(responder, client, plan.run_s + 60, int(cores.worker) if cores.worker else None)
        client.finish(timeout_s=60)
        truth = responder.truth()
        truth.to_json(folder / "truth.jsonl", orient="records", lines=True)  # kept with --keep
        pd.DataFrame([p.__dict__ for p in trace]).to_csv(folder / "trace.csv", index=False)
    except Exception as exc:  # one variant's failure is reported in its row; the others still run
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    finally:
        responder.stop()
        if client is not None:
            for proc in client.procs:
                stop(proc)
    if truth.empty:
        result.error = f"no stream reached the server; log: {client.tail()}"
        return result
    try:
        streams = client.streams()
    except (OSError, ValueError) as exc:
        result.error = f"the client's figures could not be read ({exc}); log: {client.tail()}"
        return result
    measure(result, plan, trace, truth, streams)
    return result


def measure(result: Result, plan: Plan, trace: list[Point], truth: pd.DataFrame, streams: pd.DataFrame) -> None:
    """Fill `result` from the poll trace, the server's truth and the client's own figures."""
    first_s = float(truth["arrived_s"].min())
    start, end = plan.hold(first_s)
    stop_s = first_s + plan.run_s - 0.5  # the client starts stopping about here
    in_hold = [p for p in trace if start <= p.t <= end]
    result.held = [p.open for p in in_hold if p.open >= 0]
    keyed = truth["request_id"].where(truth["request_id"] != "", truth["peer_ip"])
    result.users_started = int(keyed.str.split("-").str[0].nunique())
    result.opened = len(truth)
    result.completed = int((~truth["cut"]).sum())
    result.cut_early = int((truth["cut"] & (truth["ended_s"] < stop_s)).sum())
    result.client_errors = int((streams["failed"] & (streams["sent_s"] + plan.longest_s < stop_s)).sum())
    before = [p for p in trace if p.t < first_s]
    if before and in_hold:
        result.rss_before = before[-1].rss
        result.rss_hold = float(np.median([p.rss for p in in_hold]))
        fifth = next((p for p in trace if p.open >= 0.2 * plan.streams), None)
        if fifth is not None and result.held and result.held_median > fifth.open:
            result.marginal_kb = (result.rss_hold - fifth.rss) / (result.held_median - fifth.open) / 1024
        cpu = [(p.t, p.cpu) for p in trace]
        server = [(p.t, p.server_cpu) for p in trace]
        result.cpu_hold = cpu_between(cpu, start, end) / plan.hold_s
        result.server_cpu_hold = cpu_between(server, start, end) / plan.hold_s
        result.core_busy_hold = cpu_between([(p.t, p.core_busy) for p in trace], start, end) / plan.hold_s
    hold_truth = truth[truth["first_token_s"].notna() & truth["first_token_s"].between(start, end)]
    result.in_hold = len(hold_truth)
    matched = match(hold_truth, streams, plan)
    truth_ms = (matched["first_token_s"] - matched["sent_s"]) * 1000
    errors = (matched["ttft_ms"] - truth_ms).to_numpy(dtype=float)
    result.ttft_errors_ms = errors[~np.isnan(errors)]
    result.without_ttft = result.in_hold - len(result.ttft_errors_ms)


def match(truth: pd.DataFrame, streams: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The server's streams with the client's figures beside them: by X-Request-Id when the client sent one;
    else (the harness: one source address per user, one stream at a time) by address, the client's send
    time to the server's arrival time just after it."""
    with_id = truth[truth["request_id"] != ""]
    by_id = with_id.merge(streams, left_on="request_id", right_on="key", how="left")
    by_address = truth[truth["request_id"] == ""].sort_values("arrived_s")
    if by_address.empty:
        return by_id
    sent = streams.dropna(subset=["sent_s"]).sort_values("sent_s")
    paired = pd.merge_asof(
        by_address,
        sent,
        left_on="arrived_s",
        right_on="sent_s",
        left_by="peer_ip",
        right_by="key",
        direction="backward",  # the send comes just before the arrival; the same user's previous stream
        tolerance=plan.stream_s * (1 - plan.jitter) * 0.99,  # ... at least a whole stream earlier
    )
    return pd.concat([by_id, paired], ignore_index=True)


def goal(results: list[Result]) -> list[str]:
    """The harness against the better of bare Locust and the asyncio client, at each size: streams held and
    memory per stream."""
    lines = []
    for n in sorted({r.streams for r in results}):
        row = {r.variant: r for r in results if r.streams == n and not r.error}
        others = [r for v, r in row.items() if v in GOAL_OTHERS]
        if not others:
            continue
        best_held = max(r.held_median for r in others)
        best_kb = min(r.kb_per_stream for r in others)
        best_marginal = min(r.marginal_kb for r in others)
        r = row.get("harness")
        if r is None:
            continue
        verdict = "**PASS**" if r.held_median >= best_held and r.kb_per_stream <= best_kb else "**FAIL**"
        lines.append(
            f"- {n:,} streams, harness: held {fmt(r.held_median)} (the better other: {fmt(best_held)}), "
            f"{fmt(r.kb_per_stream, 1)} KB per stream (the better other: {fmt(best_kb, 1)}; marginal "
            f"{fmt(r.marginal_kb, 1)} against {fmt(best_marginal, 1)}): {verdict}"
        )
    return lines


def render(results: list[Result], args: argparse.Namespace, cores: Cores, command: str, started: datetime) -> str:
    mb = 1024 * 1024
    what = {
        "harness": "Locust master + 1 worker as `harness run` starts them; the `client` journey, ApiClient, samples",
        "locust": "Locust master + 1 worker, FastHttpUser reading lines (`bench/locust_streams.py`)",
        "locust-raw": "Locust master + 1 worker, the base User on a bare gevent socket (`bench/locust_raw_streams.py`)",
        "aiohttp": "one asyncio process, aiohttp as vLLM's benchmark_serving (`bench/aiohttp_streams.py`)",
    }
    lines = [
        "## Concurrent streams per worker core",
        "",
        "How many long, mostly idle SSE chat streams one client process holds on one core, its memory per "
        "stream, and how far the TTFT it records is from the server's own send time; the harness, bare "
        "Locust, the floor under any Locust worker (locust-raw) and an asyncio client side by side, in turn, "
        "each against a fresh `bench/stream_responder.py` "
        f"(headers and a role chunk at once, the first token {args.first_token:g} s after the request, then one "
        f"token a second, `[DONE]` after {args.stream_seconds:g} s ± 50 % (drawn per stream, so that streams started "
        "together do not end together); every user starts its next stream at once). "
        f"Users start {args.rate:g} a second; the hold is the {args.hold:g} s that begin {args.settle:g} s after the "
        "ramp should have ended.",
        "",
        f"- measured {started:%Y-%m-%d %H:%M} UTC on {machine('aiohttp', 'uvloop')}",
        f"- pinning: {cores.describe().replace('wrk/hey', 'the asyncio client').replace('master', 'Locust master')}",
        "- held: the server's count of open streams, polled every 0.25 s during the hold (min / median); users "
        "started: distinct users the server saw a stream from; dropped: streams the client let go before its stop, "
        "by the server's count; errors: streams the client recorded as failed before its stop",
        "- memory per stream: (client RSS in the hold − its RSS just before the first stream) ÷ median held; "
        "marginal: (RSS in the hold − RSS at 20 % of the streams) ÷ the streams between (leaves out what loads "
        "once at the test's start); client CPU: its CPU time over the hold ÷ the hold (100 % = one core); core "
        "busy: how busy its core was with anything, in brackets the part that was not the client (other work on "
        "a shared machine: what the client could not have)",
        f"- load average (1 min) when each size began: {', '.join(args.loads)}",
        "",
        "| streams | variant | what runs | held min / median | users started | dropped | errors | client CPU "
        "| core busy (others) | RSS before → hold MB | KB per stream | marginal KB | responder CPU |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.error:
            lines.append(
                f"| {r.streams:,} | {r.variant} | {what[r.variant]} | failed: {r.error.splitlines()[0][:160]} "
                "| | | | | | | | | |"
            )
            continue
        lines.append(
            f"| {r.streams:,} | {r.variant} | {what[r.variant]} | {fmt(min(r.held, default=math.nan))} / "
            f"{fmt(r.held_median)} | {r.users_started:,} | {r.cut_early:,} | {r.client_errors:,} | "
            f"{fmt(r.cpu_hold * 100)} % | {fmt(r.core_busy_hold * 100)} % "
            f"({fmt(max(0.0, r.core_busy_hold - r.cpu_hold) * 100)} %) | {fmt(r.rss_before / mb)} → {fmt(r.rss_hold / mb)} | "
            f"{fmt(r.kb_per_stream, 1)} | {fmt(r.marginal_kb, 1)} | {fmt(r.server_cpu_hold * 100)} % |"
        )
    lines += [
        "",
        "Goal: the harness holds at least as many streams as the better of bare Locust and the asyncio client, "
        "with no more memory per stream (locust-raw is not a client to compare with: it is what a Locust user "
        "costs with no HTTP library at all, the floor under any Locust worker):",
        "",
        *goal(results),
        "",
        "**TTFT against server truth.** For each stream whose first token the server sent during the hold: the "
        "TTFT the client recorded (the harness: `ttft_ms` of its samples in the run folder) minus the truth, "
        "the server's first-token send time minus the client's own send time (`time.time()` on both sides, "
        "one machine). The difference is how late the client read the token: its own measurement delay.",
        "",
        "| streams | variant | first tokens in the hold | without a TTFT | error p50 ms | error p99 ms | min ms | max ms |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.error:
            continue
        errors = r.ttft_errors_ms
        lines.append(
            f"| {r.streams:,} | {r.variant} | {r.in_hold:,} | {r.without_ttft:,} | {fmt(r.ttft(50), 2)} | "
            f"{fmt(r.ttft(99), 2)} | {fmt(errors.min() if len(errors) else math.nan, 2)} | "
            f"{fmt(errors.max() if len(errors) else math.nan, 2)} |"
        )
    lines += ["", f"Rerun: `{command}`", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 streams only, shorter hold (about 2 min)")
    parser.add_argument("--streams", default=None, help="comma-separated sizes (default 1000,10000)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {','.join(VARIANTS)}")
    parser.add_argument("--rate", type=float, default=500.0, help="users started per second")
    parser.add_argument("--settle", type=float, default=None, help="seconds between the planned ramp end and the hold")
    parser.add_argument("--hold", type=float, default=None, help="seconds measured")
    parser.add_argument("--stream-seconds", type=float, default=None, help="each stream, request to [DONE]")
    parser.add_argument("--first-token", type=float, default=0.5, help="seconds from a request to its first token")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here (for the tests)")
    parser.add_argument("--keep", action="store_true", help="keep every run's logs and files (kept anyway on failure)")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=180.0,
        help="seconds to wait at most, before each client, for its core to be idle (0: do not wait)",
    )
    args = parser.parse_args()
    args.streams = [int(n) for n in (args.streams or ("1000" if args.quick else "1000,10000")).split(",")]
    args.settle = args.settle if args.settle is not None else (3.0 if args.quick else 5.0)
    args.hold = args.hold or (10.0 if args.quick else 30.0)
    args.stream_seconds = args.stream_seconds or (10.0 if args.quick else 20.0)
    args.variants = tuple(args.variants.split(","))
    if unknown := set(args.variants) - set(VARIANTS):
        parser.error(f"--variants: unknown {sorted(unknown)}")
    command = (
        f"python bench/streams.py --streams {','.join(map(str, args.streams))} --variants {','.join(args.variants)} "
        f"--rate {args.rate:g} --settle {args.settle:g} --hold {args.hold:g} --stream-seconds {args.stream_seconds:g} "
        f"--first-token {args.first_token:g}"
    )
    cores = Cores.pick()
    if cores.others:  # this script's own polling stays off the client's core
        os.sched_setaffinity(0, {int(c) for c in cores.others.split(",")})
    raise_fd_limit()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    started = datetime.now(UTC)
    work = Path(tempfile.mkdtemp(prefix="harness-bench-streams-"))
    results: list[Result] = []
    args.loads = []
    for n in args.streams:
        args.loads.append(f"{os.getloadavg()[0]:.2f} ({n:,} streams)")
        plan = Plan(n, args.rate, args.settle, args.hold, args.stream_seconds, args.first_token)
        for variant in args.variants:
            waited = wait_for_quiet(int(cores.worker) if cores.worker else None, args.quiet_wait)
            log(f"{variant} at {n:,} streams: ramp {plan.ramp_s:.0f} s, run {plan.run_s} s (waited {waited:.0f} s)")
            result = run_variant(variant, plan, cores, work)
            results.append(result)
            log(
                f"{variant} at {n:,}: held {fmt(result.held_median)}, {fmt(result.kb_per_stream, 1)} KB/stream, "
                f"CPU {fmt(result.cpu_hold * 100)} %, TTFT error p50 {fmt(result.ttft(50), 2)} / p99 "
                f"{fmt(result.ttft(99), 2)} ms" + (f" ({result.error})" if result.error else "")
            )
    print(render(results, args, cores, command, started))
    if args.json:
        args.json.write_text(json.dumps([figures(r) for r in results], indent=1))
    if args.keep or any(r.error for r in results):
        log(f"logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def figures(r: Result) -> dict[str, object]:
    """One result as plain numbers (NaN as None)."""

    def num(x: float) -> float | None:
        return None if x != x else float(x)

    return {
        "variant": r.variant,
        "streams": r.streams,
        "held_min": min(r.held, default=None),
        "held_median": num(r.held_median),
        "users_started": r.users_started,
        "opened": r.opened,
        "cut_early": r.cut_early,
        "client_errors": r.client_errors,
        "kb_per_stream": num(r.kb_per_stream),
        "marginal_kb": num(r.marginal_kb),
        "cpu_hold": num(r.cpu_hold),
        "server_cpu_hold": num(r.server_cpu_hold),
        "core_busy_hold": num(r.core_busy_hold),
        "in_hold": r.in_hold,
        "without_ttft": r.without_ttft,
        "ttft_error_p50_ms": num(r.ttft(50)),
        "ttft_error_p99_ms": num(r.ttft(99)),
        "ttft_error_min_ms": num(float(r.ttft_errors_ms.min())) if len(r.ttft_errors_ms) else None,
        "error": r.error,
    }


if __name__ == "__main__":
    raise SystemExit(main())
