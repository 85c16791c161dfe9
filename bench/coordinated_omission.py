"""Coordinated omission: a target that stalls for 1 s every 10 s, under a fixed arrival rate.

A load generator whose users wait for each answer before sending the next request (Locust's closed
model, and an open model whose pool of users is too small) sends nothing while the target is
frozen, so the stall shows in one request per user instead of in every request that should have
gone out. This starts the demo API with a stall (`stall = {every_s = 10, for_s = 1}`), runs the
same arrival rate with a pool that can absorb the stall and with one that cannot, and sets side by
side, per run: p50/p95/p99 from the intended start (corrected, as wrk2 does), from the actual send
(uncorrected), Locust's own percentiles (from the send, rounded), and the truth.

The truth: an arrival at phase u of the 10 s cycle that lands in the stall (u < 1 s) cannot be
answered before the stall ends, so its latency is (1 s − u) + s, s being the route's own service
time outside stalls (measured in the same run). Arrivals are evenly spaced, so the true quantile q
is, in closed form, max(0, 1 s − (1 − q) · 10 s) + s: p95 = 0.5 s + s, p99 = 0.9 s + s. The empirical
truth over the very arrivals of the run is printed beside it.

    .venv/bin/python bench/coordinated_omission.py [--quick] [--rate 20] [--duration 60]

Prints a Markdown section on stdout (bench/run.py collects it into bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.analysis.open_model import corrected_latency_ms  # noqa: E402
from harness.analysis.outcomes import classify  # noqa: E402
from harness.analysis.summary import percentile  # noqa: E402
from harness.demo_api.config import TargetConfig  # noqa: E402
from harness.demo_api.process import start_target  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
EVERY_S, FOR_S = 10.0, 1.0
QUANTILES = (0.5, 0.95, 0.99)

SCENARIO = """
[scenario]
name = "coordinated-omission"
[accounts]
source = "demo"
[endpoints.leads]
method = "POST"
path = "/api/leads"
body = {{ tenant = "{{tenant}}", name = "{{name}}", email = "{{lead_email}}", message = "{{message}}" }}
auth = false
latency_target_ms = 500
[load]
arrival_rate = {rate}
users = {users}
max_lateness = 30
duration = "{duration}s"
[journeys.visitor]
weight = 1
"""


def truth_ms(intended: np.ndarray, service_ms: float) -> np.ndarray:
    """What each arrival would have waited on a server that never makes anyone queue but the stall."""
    phase = np.mod(intended, EVERY_S)
    return np.where(phase < FOR_S, (FOR_S - phase) * 1000.0, 0.0) + service_ms


def closed_form_ms(q: float, service_ms: float) -> float:
    return max(0.0, FOR_S - (1.0 - q) * EVERY_S) * 1000.0 + service_ms


def run_once(url: str, users: int, rate: float, duration: int, workdir: Path) -> dict:
    scenario = workdir / f"co-{users}.toml"
    scenario.write_text(SCENARIO.format(rate=rate, users=users, duration=duration))
    out = workdir / f"out-{users}"
    result = subprocess.run(
        [sys.executable, "-m", "harness", "run", str(scenario), "--host", url, "--workers", "1", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=duration + 180,
    )
    print(result.stderr[-1500:], file=sys.stderr)
    run_dir = next(p for p in out.iterdir() if p.is_dir())
    run = json.loads((run_dir / "run.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    samples = pd.read_parquet(run_dir / "samples")
    rows = samples[(samples["endpoint"] == "leads") & classify(samples).latency]
    sent = rows["latency_ms"].to_numpy(dtype=np.float64)
    corrected = corrected_latency_ms(rows)
    intended = rows["intended_s"].to_numpy(dtype=np.float64)
    outside = np.mod(intended, EVERY_S) > FOR_S + 0.2  # well clear of a stall and of its queue
    service = float(np.median(sent[outside])) if outside.any() else 0.0
    truth = truth_ms(intended, service)
    om = summary["open_model"]
    locust = (run.get("locust_percentiles") or {}).get("leads", {})
    return {
        "users": users,
        "samples": int(rows.shape[0]),
        "service_ms": service,
        "exit": result.returncode,
        "due": om["due"],
        "started": om["started"],
        "late": om["late"],
        "dropped": om["dropped"],
        "corrected": {q: percentile(corrected, q) for q in QUANTILES},
        "uncorrected": {q: percentile(sent, q) for q in QUANTILES},
        "locust": {q: locust.get(f"p{round(q * 100)}_ms") for q in QUANTILES},
        "truth": {q: percentile(truth, q) for q in QUANTILES},
        "closed_form": {q: closed_form_ms(q, service) for q in QUANTILES},
    }


def fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"


def ratio(value: float | None, truth: float) -> str:
    return "–" if value is None or not truth else f"{value / truth:.2f}"


def render(results: list[dict], rate: float, duration: int, command: str) -> str:
    lines = [
        "## Coordinated omission",
        "",
        f"The demo API freezes for {FOR_S:g} s every {EVERY_S:g} s (wall clock); the harness sends `leads` journeys "
        f"at a fixed {rate:g} arrivals/s for {duration} s from one worker, once with a pool that absorbs the stall "
        "and once with 2 users, which cannot: arrivals then queue behind the stalled users, as behind a closed-model "
        "user. Latency in ms; ratio = figure ÷ truth (1.00 is exact). Truth: the latency each arrival would have "
        "had on a server that makes nobody queue except for the stall, over the run's own arrivals; closed form: "
        "p_q = max(0, 1 s − (1 − q) · 10 s) + service time.",
        "",
    ]
    for r in results:
        lines += [
            f"**Pool of {r['users']} users**: {r['samples']:,} responses, {r['started']:,} of {r['due']:,} arrivals "
            f"started ({r['late']:,} late, {r['dropped']:,} dropped); service time outside stalls {r['service_ms']:.1f} ms.",
            "",
            "| percentile | truth | closed form | harness, from intended start | ratio | harness, from send | ratio "
            "| Locust | ratio |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for q in QUANTILES:
            t = r["truth"][q]
            lines.append(
                f"| p{round(q * 100)} | {fmt(t)} | {fmt(r['closed_form'][q])} | {fmt(r['corrected'][q])} | "
                f"{ratio(r['corrected'][q], t)} | {fmt(r['uncorrected'][q])} | {ratio(r['uncorrected'][q], t)} | "
                f"{fmt(r['locust'][q])} | {ratio(r['locust'][q], t)} |"
            )
        lines.append("")
    small = results[-1]
    good = abs(small["corrected"][0.99] / small["truth"][0.99] - 1.0) <= 0.1
    lines += [
        f"Reading: with 2 users the p99 from the send is {fmt(small['uncorrected'][0.99])} ms and Locust's "
        f"{fmt(small['locust'][0.99])} ms, while arrivals really waited {fmt(small['truth'][0.99])} ms at p99; the "
        f"harness's p99 from the intended start says {fmt(small['corrected'][0.99])} ms "
        f"({'within' if good else 'NOT within'} 10 % of the truth). With a pool large enough, every request is sent "
        "on time, so both of the harness's figures agree with the truth and only Locust's rounding differs.",
        "",
        f"Rerun: `{command}`",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 s runs (2 stalls) instead of 60 s")
    parser.add_argument("--rate", type=float, default=20.0, help="arrivals per second (default 20)")
    parser.add_argument("--duration", type=int, default=60, help="seconds per run (default 60)")
    args = parser.parse_args()
    duration = 20 if args.quick else args.duration
    command = "python bench/coordinated_omission.py" + (" --quick" if args.quick else "")
    config = TargetConfig.from_dict({"limits": {}, "stall": {"every_s": EVERY_S, "for_s": FOR_S}})
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-co-") as tmp, start_target(config) as target:
        pool = int(args.rate * (FOR_S + 1.0)) + 10  # every arrival of a stall has a free user
        for users in (pool, 2):
            results.append(run_once(target.url, users, args.rate, duration, Path(tmp)))
    print(render(results, args.rate, duration, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
