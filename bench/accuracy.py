"""How close the harness's p50/p95/p99 come to the true latency, with Locust's own figures beside them.

One real `harness run` (a Locust master and its workers) against a demo API that this script starts
on a free loopback port, with latency injected on two routes from known distributions. The truth is
not the distributions' textbook quantiles (the p99 of a few thousand draws is itself a few per cent
off those) but what the server really did to the requests behind the harness's figures:

- the delays it drew: its generator, seeded `"{seed}:latency:{route}"`, replayed for as many requests
  as it counted on the route (one draw per admitted request);
- how late it woke up from each wait, on its own clock (bench/timed_target.py times every injected
  wait; a busy machine makes these ms, not µs);
- requests still in flight when the run stopped drew a delay but were never recorded: their draws
  are found by aligning the recorded requests (in start order) with the draws, and left out;
- the round trip a client sees on top (loopback, the server, the load generator): the latency of a
  route with nothing injected (`me`) in the same run, convolved with the waits.

Locust's figures are its master's own percentiles of the same requests (`run.json`
`locust_percentiles`, from Locust's rounded response-time buckets). Goal: harness within 1 % or 1 ms
of the truth, whichever is larger. Prints a Markdown section (`## Accuracy`) to stdout, logs to
stderr. Exit 0 once measured, goals met or not; 1 when the run gave nothing to measure.

    .venv/bin/python bench/accuracy.py [--quick] [--users 20] [--duration 150] [--workers 2] [--keep]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine  # noqa: E402
from harness.demo_api.config import TargetConfig  # noqa: E402
from harness.demo_api.distributions import Distribution  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
QUANTILES = (0.50, 0.95, 0.99)
SEED = 7
REFERENCE = "me"  # nothing injected: its latency is the round trip every route pays
INJECTED: dict[str, dict[str, Any]] = {
    "conversations": {"dist": "lognormal", "median_ms": 120, "sigma": 0.5},
    "conversation": {"dist": "uniform", "low_ms": 50, "high_ms": 450},
}
# No rate limits (nothing blocked, every request draws a delay) and a model fast enough that chat
# turns, which the client journey also makes, take a few ms.
TARGET = {"seed": SEED, "limits": {}, "latency": INJECTED, "ttft": 1, "token_delay": 0, "output_tokens": [1, 1]}
SCENARIO = """[scenario]
name = "accuracy"
description = "bench/accuracy.py: latency injected on conversations and conversation, none on me"
[accounts]
source = "demo"
[endpoints.login]
method = "POST"
path = "/api/auth/login"
body = { email = "{email}", password = "{password}" }
auth = false
[endpoints.conversations]
method = "GET"
path = "/api/conversations"
[endpoints.conversation]
method = "GET"
path = "/api/conversations/{conversation_id}"
[endpoints.me]
method = "GET"
path = "/api/me"
[endpoints.chat]
method = "POST"
path = "/api/chat"
body = { messages = "{messages}", stream = true }
stream = "sse-openai"
[load]
users = 20
spawn_rate = 20
duration = "150s"
[journeys.client]
weight = 1
think_time = [0, 0]
chat_turns = [1, 1]
reset_probability = 0
"""
GOAL_PCT, GOAL_MS = 1.0, 1.0


def log(message: str) -> None:
    print(f"accuracy: {message}", file=sys.stderr, flush=True)


# ---- pure helpers (tests/test_bench_accuracy.py) ----------------------------------------------


def nearest_rank(values: Sequence[float] | np.ndarray, q: float) -> float:
    """The ceil(q·n)-th smallest value: written here, not borrowed from the harness, so that the truth
    does not share the code it judges."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return math.nan
    k = min(max(math.ceil(round(q * v.size, 9)), 1), v.size) - 1
    return float(np.partition(v, k)[k])


def drawn_delays(dist: Distribution, seed: int, route: str, n: int) -> np.ndarray:
    """The first `n` delays the demo API drew for `route`: its generator, replayed (harness/target/app.py)."""
    rng = random.Random(f"{seed}:latency:{route}")
    return np.array([dist.sample(rng) for _ in range(n)], dtype=np.float64)


def read_wait_log(text: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """bench/timed_target.py's lines `route index drawn_ms late_ms` as, per route, the drawn delays and
    the lateness of each wait by draw index (NaN for an index with no line)."""
    rows: dict[str, list[tuple[int, float, float]]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4:  # a last line cut by the stop is left out
            rows.setdefault(parts[0], []).append((int(parts[1]), float(parts[2]), float(parts[3])))
    waits = {}
    for route, entries in rows.items():
        drawn = np.full(max(i for i, _, _ in entries) + 1, np.nan)
        late = drawn.copy()
        for i, d, lateness in entries:
            drawn[i], late[i] = d, lateness
        waits[route] = (drawn, late)
    return waits


def align_draws(
    latencies: Sequence[float] | np.ndarray, draws: np.ndarray, shift: float, cap_ms: float = 50.0
) -> np.ndarray:
    """Which draw each request took: `latencies` are a route's requests in start order, `draws` the
    server's delays in arrival order (as many or more: requests still in flight when the run stopped
    drew a delay but were never recorded). An order-keeping alignment that skips exactly the surplus
    draws, matching each latency to a draw about `shift` ms below it; the cost is capped so that two
    requests that swapped places on the way cannot pull the alignment off. NaN latencies match anything.
    Returns one index into `draws` per request."""
    lat = np.asarray(latencies, dtype=np.float64)
    m, k = lat.size, draws.size - lat.size
    if k < 0:
        raise ValueError(f"{m} requests but only {draws.size} draws")
    states = np.arange(k + 1)  # draws skipped so far
    total = np.zeros(k + 1)
    back = np.empty((m, k + 1), dtype=np.int64)
    for j in range(m):
        best = np.minimum.accumulate(total)  # skip any number of further draws before request j
        back[j] = np.maximum.accumulate(np.where(total == best, states, 0))
        cost = np.minimum(np.abs(lat[j] - draws[j : j + k + 1] - shift), cap_ms)
        total = best + np.where(np.isnan(cost), 0.0, cost)
    skipped = int(np.argmin(total))
    taken = np.empty(m, dtype=np.int64)
    for j in range(m - 1, -1, -1):
        taken[j] = j + skipped
        skipped = int(back[j][skipped])
    return taken


def truth_quantiles(
    drawn: np.ndarray, overhead: np.ndarray, qs: Iterable[float] = QUANTILES, grid: int = 400
) -> dict[float, float]:
    """Quantiles of delay + round trip, the two independent: every drawn delay paired with `grid`
    evenly spaced quantiles of the uninjected route's latency (all of them when there are fewer)."""
    o = np.sort(np.asarray(overhead, dtype=np.float64))
    if o.size > grid:
        o = o[((np.arange(grid) + 0.5) * o.size / grid).astype(np.int64)]
    sums = (np.asarray(drawn, dtype=np.float64)[:, None] + o[None, :]).ravel()
    return {q: nearest_rank(sums, q) for q in qs}


@dataclass(frozen=True)
class Judged:
    """One figure against the truth: signed error, and whether it is within max(1 %, 1 ms)."""

    value: float | None
    error_ms: float | None
    error_pct: float | None
    passed: bool | None


def judge(value: float | None, truth: float, pct: float = GOAL_PCT, ms: float = GOAL_MS) -> Judged:
    if value is None or not math.isfinite(value):
        return Judged(None, None, None, None)
    error = value - truth
    allowed = max(truth * pct / 100, ms)
    return Judged(value, error, 100 * error / truth if truth else math.nan, abs(error) <= allowed + 1e-9)


def locust_figures(run_meta: Mapping[str, Any], route: str) -> dict[float, float | None]:
    """Locust's own p50/p95/p99 of `route` as its master reported them (run.json `locust_percentiles`)."""
    entry = (run_meta.get("locust_percentiles") or {}).get(route) or {}
    figures: dict[float, float | None] = {}
    for q in QUANTILES:
        value = entry.get(f"p{round(q * 100)}_ms")
        figures[q] = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return figures


def served(samples: pd.DataFrame) -> pd.Series:
    """What the harness's percentiles are over: legit, successful, unblocked responses with a latency."""
    return (
        (samples["role"] == "legit")
        & (samples["error"] == "")
        & ~samples["blocked"].astype(bool)
        & samples["status"].between(200, 399)
        & samples["latency_ms"].notna()
    )


def served_latencies(samples: pd.DataFrame, route: str) -> np.ndarray:
    ok = served(samples) & (samples["endpoint"] == route)
    return samples.loc[ok, "latency_ms"].to_numpy(dtype=np.float64)


def describe(dist: Distribution) -> str:
    p = dist.params
    if dist.kind == "lognormal":
        return f"lognormal, median {p['median_ms']:g} ms, σ {p['sigma']:g}"
    if dist.kind == "uniform":
        return f"uniform {p['low_ms']:g}–{p['high_ms']:g} ms"
    return json.dumps(dist.to_dict())


def fmt(value: float | None, digits: int = 1, sign: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def fmt_count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def mark(passed: bool | None) -> str:
    return "–" if passed is None else ("pass" if passed else "**fail**")


# ---- the run ------------------------------------------------------------------------------------


@dataclass
class RouteResult:
    route: str
    dist: Distribution
    server_requests: int  # what the demo API counted (= delays drawn)
    recorded: int  # the route's sample rows, served or not
    samples: int  # latencies behind the harness's percentiles
    late_ms: dict[float, float]  # the server's lateness over the waits behind the figures
    residual_ms: float  # median over served requests of latency − the request's own server wait
    drawn: dict[float, float]
    waited: dict[float, float]
    truth: dict[float, float]
    harness: dict[float, Judged]
    locust: dict[float, Judged]


@dataclass
class Measured:
    routes: list[RouteResult]
    overhead: dict[float, float]
    overhead_samples: int
    locust_requests: int | None
    sample_rows: int
    harness_command: list[str]
    harness_exit: int
    seconds: float


_READY = re.compile(r"harness target: listening on (\S+) ")


class TimedTarget:
    """bench/timed_target.py in a child process: the demo API with its waits timed. `stop()` stops
    exactly that process; its stdin is a pipe, so it also goes when this process dies."""

    def __init__(self, config: TargetConfig, work: Path, timeout_s: float = 30) -> None:
        self.wait_log = work / "waits.txt"
        (work / "target.json").write_text(json.dumps(config.to_dict()))
        self.stderr = open(work / "target-stderr.log", "wb")
        command = [
            sys.executable,
            str(REPO / "bench" / "timed_target.py"),
            "--wait-log",
            str(self.wait_log),
            "--config",
            str(work / "target.json"),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--exit-on-stdin-eof",
        ]
        self.process = subprocess.Popen(
            command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr
        )
        self.url = self._ready(time.monotonic() + timeout_s)

    def _ready(self, deadline: float) -> str:
        assert self.process.stdout is not None
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while (remaining := deadline - time.monotonic()) > 0:
                if selector.select(remaining):
                    chunk = os.read(self.process.stdout.fileno(), 4096)
                    if not chunk:
                        break
                    buffer += chunk
                    match = _READY.search(buffer.decode("utf-8", "replace"))
                    if match:
                        return match.group(1)
        self.stop()
        stderr = self.wait_log.parent / "target-stderr.log"
        log(f"the demo API said:\n{stderr.read_text(errors='replace')[-3000:]}")
        raise RuntimeError(f"the demo API did not start (exit code {self.process.returncode}; its stderr: {stderr})")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        self.stderr.close()


def run_harness(url: str, work: Path, args: argparse.Namespace) -> tuple[Path, list[str], int]:
    scenario = work / "accuracy.toml"
    scenario.write_text(SCENARIO)
    out = work / "out"
    command = [
        "harness",
        "run",
        str(scenario),
        "--host",
        url,
        "--workers",
        str(args.workers),
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.users),
        "--duration",
        f"{args.duration}s",
        "--out",
        str(out),
    ]
    log(f"running {shlex.join(command)}")
    # the harness's table and logs go to our stderr: stdout is the Markdown section alone
    proc = subprocess.Popen(
        [sys.executable, "-m", *command], cwd=REPO, stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr
    )
    try:
        proc.wait(timeout=args.duration + 150)
    except subprocess.TimeoutExpired:
        log("the harness ran past its deadline: interrupting it (it stops its own master and workers)")
    finally:
        if proc.poll() is None:  # past the deadline, or Ctrl-C here: the harness stops its own children
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    code = proc.returncode
    runs = [p for p in out.iterdir() if p.is_dir()] if out.exists() else []
    if len(runs) != 1:
        raise RuntimeError(f"harness exited {code} and left {len(runs)} run folders in {out}")
    return runs[0], command, code


def route_result(
    route: str,
    dist: Distribution,
    server: int,
    waits: tuple[np.ndarray, np.ndarray] | None,
    samples: pd.DataFrame,
    reference: np.ndarray,
    summary: Mapping[str, Any],
    meta: Mapping[str, Any],
) -> RouteResult:
    """One injected route: its truth from the server's draws and waits, and the figures judged against it."""
    every = drawn_delays(dist, SEED, route, server)
    late = np.full(server, np.nan)
    if waits is not None:
        logged, lateness = (a[:server] for a in waits)
        late[: lateness.size] = lateness
        seen = ~np.isnan(logged)
        if not np.allclose(logged[seen], every[: logged.size][seen], atol=1e-5):
            log(f"warning: {route}: the waits the server logged are not its generator replayed")
    if np.isnan(late).any():
        log(f"warning: {route}: {int(np.isnan(late).sum())} of {server} waits not timed; counted as on time")
    waited = every + np.nan_to_num(late)
    rows = samples[samples["endpoint"] == route].sort_values("start_s", kind="stable")
    ok = served(rows).to_numpy()
    latencies = rows["latency_ms"].to_numpy(dtype=np.float64)[ok]
    taken = align_draws(rows["latency_ms"].to_numpy(dtype=np.float64), waited, float(np.median(reference)))
    mine = taken[ok]  # the draws behind the harness's figures
    log(
        f"{route}: {server} delays drawn, {len(rows)} requests recorded, {int(ok.sum())} served; "
        f"draws left out (in flight at the stop): {sorted(set(range(server)) - set(taken.tolist()))}"
    )
    truth = truth_quantiles(waited[mine], reference)
    endpoint = summary["endpoints"].get(route, {})
    harness = {q: judge(endpoint.get(f"p{round(q * 100)}_ms"), truth[q]) for q in QUANTILES}
    locust = {q: judge(v, truth[q]) for q, v in locust_figures(meta, route).items()}
    for q in QUANTILES:  # the summary's figure must be the samples' own, or this is not about what it says
        own = nearest_rank(latencies, q)
        if harness[q].value is not None and abs(own - harness[q].value) > 6e-4:  # summary.json: 3 decimals
            log(f"warning: {route} p{round(q * 100)}: summary.json {harness[q].value}, the samples {own}")
    return RouteResult(
        route=route,
        dist=dist,
        server_requests=server,
        recorded=len(rows),
        samples=int(latencies.size),
        late_ms={q: nearest_rank(np.nan_to_num(late[mine]), q) for q in QUANTILES},
        residual_ms=float(np.median(latencies - waited[mine])) if mine.size else math.nan,
        drawn={q: nearest_rank(every[mine], q) for q in QUANTILES},
        waited={q: nearest_rank(waited[mine], q) for q in QUANTILES},
        truth=truth,
        harness=harness,
        locust=locust,
    )


def measure(args: argparse.Namespace, work: Path) -> Measured:
    config = TargetConfig.from_dict(TARGET)
    started = time.monotonic()
    target = TimedTarget(config, work)
    log(f"demo API {target.url} (pid {target.process.pid}), seed {SEED}, latency {json.dumps(INJECTED)}")
    try:
        run_dir, command, code = run_harness(target.url, work, args)
        stats = httpx.get(target.url + "/__demo__/stats", timeout=10).json()
    finally:
        target.stop()
    log(f"harness exited {code}; run folder {run_dir}")
    summary = json.loads((run_dir / "summary.json").read_text())
    meta = json.loads((run_dir / "run.json").read_text())
    samples = pd.read_parquet(run_dir / "samples")
    reference = served_latencies(samples, REFERENCE)
    if reference.size == 0:
        raise RuntimeError(f"no served `{REFERENCE}` responses to take the round trip from")
    waits = read_wait_log(target.wait_log.read_text(encoding="utf-8"))
    results = []
    for route, dist in config.latency.items():
        server = int(stats["requests"].get(route, 0)) - int(stats.get("blocked", {}).get(route, 0))
        results.append(route_result(route, dist, server, waits.get(route), samples, reference, summary, meta))
    totals = meta.get("locust_totals") or {}
    return Measured(
        routes=results,
        overhead={q: nearest_rank(reference, q) for q in QUANTILES},
        overhead_samples=int(reference.size),
        locust_requests=totals.get("requests"),
        sample_rows=len(samples),
        harness_command=command,
        harness_exit=code,
        seconds=time.monotonic() - started,
    )


# ---- the section --------------------------------------------------------------------------------


def rerun_command(args: argparse.Namespace) -> str:
    parts = [".venv/bin/python", "bench/accuracy.py"]
    if args.quick:
        parts.append("--quick")
    defaults = quick_defaults() if args.quick else full_defaults()
    for name in ("users", "duration", "workers"):
        if getattr(args, name) != defaults[name]:
            parts += [f"--{name}", str(getattr(args, name))]
    return shlex.join(parts)


def render(m: Measured, args: argparse.Namespace, started: datetime) -> str:
    inner = list(m.harness_command)
    inner[2], inner[4], inner[-1] = "SCENARIO", "URL", "TMP"
    passed = sum(bool(r.harness[q].passed) for r in m.routes for q in QUANTILES)
    locust_passed = sum(bool(r.locust[q].passed) for r in m.routes for q in QUANTILES)
    total = len(m.routes) * len(QUANTILES)
    o = m.overhead
    load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    lines = [
        "## Accuracy",
        "",
        f"Exact percentiles of the harness against the injected truth, with Locust's own beside them, from one "
        f"run: `{shlex.join(inner)}` (exit code {m.harness_exit}) against the demo API on a loopback port "
        f"(`bench/timed_target.py`: `harness target` with its waits timed; seed {SEED}, no rate limits), "
        f"{args.workers} Locust worker(s) and a master, {args.users} users without think time for "
        f"{args.duration} s. Measured {started:%Y-%m-%d %H:%M} UTC on {machine()}, load average at the end "
        f"{load}; the bench took {m.seconds:.0f} s.",
        "",
        "- **Truth** = what the demo API really waited for the requests behind the harness's figures, plus "
        "the round trip a client sees on top. Waited = the delay it drew (its seeded generator replayed for "
        "as many requests as it counted) + how late it woke up from that wait, on its own clock "
        "(`bench/timed_target.py`); the draws of requests still in flight at the stop, never recorded, are "
        "found by aligning the recorded requests in start order with the draws, and left out. Round trip = "
        f"the latency of `{REFERENCE}` (nothing injected) in the same run: {m.overhead_samples:,} responses, "
        f"p50 {fmt(o[0.5], 2)} / p95 {fmt(o[0.95], 2)} / p99 {fmt(o[0.99], 2)} ms, convolved with the waits "
        "(independent). It is measured by the harness itself, so a bias common to every route would cancel "
        "here; the server's waits alone are a hard lower bound for every latency.",
        "- Columns: **distribution** is the textbook quantile (`Distribution.quantile`), for reference only: "
        "the drawn delays' own percentiles differ from it by sampling noise. **drawn** and **waited** are "
        "percentiles of the server's delays for the requests behind the figures, before and after its "
        "lateness; **truth** adds the round trip.",
        f"- **Goal**: |harness − truth| ≤ max({GOAL_PCT:g} % of truth, {GOAL_MS:g} ms). Locust's figures are "
        "its master's percentiles of the same requests (`run.json` `locust_percentiles`: Locust rounds "
        "each response time to 2 significant digits, 10 ms steps between 100 and 1000 ms), judged the same way.",
        f"- **Result**: harness {passed}/{total} within the goal, Locust {locust_passed}/{total}.",
        "",
    ]
    for r in m.routes:
        lines += [
            f"### `{r.route}`: {describe(r.dist)}",
            "",
            f"The demo API drew {r.server_requests:,} delays; the harness recorded {r.recorded:,} requests "
            f"({r.server_requests - r.recorded} still in flight at the stop: left out) and {r.samples:,} served "
            f"latencies behind its percentiles. The server woke up late by p50 {fmt(r.late_ms[0.5], 2)} / "
            f"p95 {fmt(r.late_ms[0.95], 2)} / p99 {fmt(r.late_ms[0.99], 2)} ms. Latency − the request's own "
            f"server wait (requests paired in start order): median {fmt(r.residual_ms, 2)} ms, against "
            f"{fmt(o[0.5], 2)} ms for the whole of `{REFERENCE}`.",
            "",
            "| percentile | distribution | drawn | waited | truth | harness | harness error | Locust | Locust error "
            "| harness goal | Locust goal |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for q in QUANTILES:
            h, lo = r.harness[q], r.locust[q]
            lines.append(
                f"| p{round(q * 100)} | {fmt(r.dist.quantile(q))} | {fmt(r.drawn[q], 2)} | {fmt(r.waited[q], 2)} "
                f"| {fmt(r.truth[q], 2)} "
                f"| {fmt(h.value, 2)} | {fmt(h.error_ms, 2, True)} ms ({fmt(h.error_pct, 2, True)} %) "
                f"| {fmt(lo.value, 0)} | {fmt(lo.error_ms, 2, True)} ms ({fmt(lo.error_pct, 2, True)} %) "
                f"| {mark(h.passed)} | {mark(lo.passed)} |"
            )
        lines.append("")
    lines += [
        "All figures in ms. Locust keeps no per-route count in `run.json`; its run total was "
        f"{fmt_count(m.locust_requests)} requests against {m.sample_rows:,} "
        "sample rows.",
        "",
        f"Rerun (about {m.seconds:.0f} s; {'without' if args.quick else 'with'} `--quick` about "
        f"{m.seconds - args.duration + (full_defaults() if args.quick else quick_defaults())['duration']:.0f} s):",
        "",
        f"    {rerun_command(args)}",
        "",
    ]
    return "\n".join(lines)


def full_defaults() -> dict[str, int]:
    return {"users": 20, "duration": 150, "workers": 2}


def quick_defaults() -> dict[str, int]:
    return {"users": 20, "duration": 30, "workers": 2}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="30 s of load instead of 150 s (under a minute)")
    parser.add_argument("--users", type=int, help="concurrent users (default 20)")
    parser.add_argument("--duration", type=int, help="seconds of load (default 150, --quick 30)")
    parser.add_argument("--workers", type=int, help="Locust worker processes (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the run folder (it is kept anyway on failure)")
    args = parser.parse_args(argv)
    for name, value in (quick_defaults() if args.quick else full_defaults()).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.workers < 1:
        parser.error("--workers: at least 1 (the bench measures a master with its workers)")
    started = datetime.now(UTC)
    work = Path(tempfile.mkdtemp(prefix="harness-accuracy-"))
    try:
        measured = measure(args, work)
    except Exception as exc:  # noqa: BLE001 - say what failed in the section, keep the folder
        log(f"failed: {exc!r}; files kept in {work}")
        print(f"## Accuracy\n\nNot measured: {exc}. Rerun: `{rerun_command(args)}`\n")
        return 1
    print(render(measured, args, started))
    if args.keep:
        log(f"run folder kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
