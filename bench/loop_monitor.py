"""What the event-loop monitor costs (harness.load.loop_monitor), the one greenlet every load process runs.

1. Whole: fresh gevent processes that otherwise do nothing for D s, with the monitor and without,
   rounds alternating: the CPU time it adds, per wake-up and as a share of a core (the kernel waking a
   sleeping process included, which a busy worker, its loop awake anyway, does not pay).
2. Its own work: `LoopMonitor.note`, what a wake-up runs besides the sleep (clock readings, the lag
   kept, a window closed every second), timed in a loop of a million.

    .venv/bin/python bench/loop_monitor.py [--quick] [--rounds 5] [--duration 5]

Prints a Markdown section (`## Loop monitor`) on stdout; logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import machine  # noqa: E402

VARIANTS = ("none", "monitor")
NOTES = 1_000_000


def child(variant: str, duration: float) -> dict[str, float]:
    """One variant in this process: CPU seconds, wall seconds, wake-ups."""
    import gevent

    from harness.load.loop_monitor import LoopMonitor

    monitor = LoopMonitor()
    gevent.sleep(0.2)  # settled
    cpu, wall = time.process_time(), time.perf_counter()
    if variant == "monitor":
        monitor.start()
    gevent.sleep(duration)
    wakeups = sum(monitor.take(final=True).get("ticks", []))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    monitor.stop()
    return {"cpu_s": cpu, "wall_s": wall, "wakeups": float(wakeups)}


def own_work_us() -> float:
    """µs of `LoopMonitor.note` per wake-up, a window closed every 20 as in a run."""
    from harness.load.loop_monitor import LoopMonitor

    monitor = LoopMonitor(window_s=0.0)  # a window closed at every 20th note below
    monitor._open(time.time(), time.perf_counter(), time.process_time())
    clock = time.perf_counter
    started = clock()
    for i in range(NOTES):
        now = clock()
        monitor.window_s = 0.0 if i % 20 == 19 else 1e9
        monitor.note(now - 0.0002, now)  # 0.2 ms late: no stall
    return (clock() - started) / NOTES * 1e6


def measure(variant: str, duration: float) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", variant, "--duration", str(duration)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    if result.returncode != 0:
        raise SystemExit(f"child failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 3 s")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(child(options.child, options.duration)))
        return 0
    rounds, duration = (3, 3.0) if options.quick else (options.rounds, options.duration)
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    for r in range(rounds):
        order = VARIANTS[r % 2 :] + VARIANTS[: r % 2]  # the order alternates each round
        for variant in order:
            print(f"round {r + 1}: {variant}", file=sys.stderr, flush=True)
            runs[variant].append(measure(variant, duration))

    def busy(variant: str) -> float:
        """Median CPU-seconds per second of wall time."""
        return statistics.median(run["cpu_s"] / run["wall_s"] for run in runs[variant])

    per_second = statistics.median(run["wakeups"] / run["wall_s"] for run in runs["monitor"])
    whole, own = busy("monitor") - busy("none"), own_work_us()
    print("## Loop monitor\n")
    print(
        f"The event-loop monitor of every load process (`harness/load/loop_monitor.py`), {rounds} rounds of "
        f"{duration:g} s per variant, each a fresh process that otherwise does nothing, the order rotated "
        "each round; CPU time over wall time, medians.\n"
    )
    print(f"- machine: {machine('gevent')}\n")
    print("| measure | per wake-up | share of a core |\n|---|---:|---:|")
    print(f"| wake-ups per second | | {per_second:.1f} |")
    print(f"| the monitor in a process otherwise asleep (with − without) | {whole / per_second * 1e6:.0f} µs | {whole * 100:.3f} % |")  # fmt: skip
    print(f"| its own work (`LoopMonitor.note`, {NOTES:,} timed) | {own:.2f} µs | {own * per_second / 1e4:.4f} % |")  # fmt: skip
    print(
        "\nMost of a wake-up's cost is the kernel waking a sleeping process and gevent's timer; a busy "
        "worker's loop is awake anyway, and pays the second line, a timer and two greenlet switches."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
