"""What one waiting greenlet costs before it holds a socket: the floor under memory per stream of any
gevent client (Locust's users, the harness's), beside what one waiting asyncio task costs.

bench/streams.py measures whole clients; this isolates the part no HTTP code can remove. Each variant
runs in a fresh process of its own: it starts N waiters that each sleep on the event loop, and reports
(RSS with them waiting − RSS before) ÷ N.

- `greenlet`: gevent greenlets that call two frames deep, then sleep;
- `greenlet, one deep call`: the same, after each called 60 frames deep once and returned (a user's
  greenlet keeps every page of Python frames it ever touched: CPython 3.11 gives each greenlet its own
  frame stack, and a page once touched stays resident);
- `asyncio task`: asyncio tasks that await two coroutines deep, then sleep (uvloop's loop).

    .venv/bin/python bench/greenlet_floor.py [--waiters 20000] [--quick]

Prints a Markdown section on stdout (bench/run.py pastes it into bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import machine  # noqa: E402

DEEP = 60  # frames: about the deepest a request goes in geventhttpclient's connect path, and then some
VARIANTS = {  # name -> (kind, depth of the one call made before waiting)
    "greenlet": ("gevent", 0),
    "greenlet, one deep call": ("gevent", DEEP),
    "asyncio task": ("asyncio", 0),
}

CHILD = """
import json, sys, psutil
kind, n, deep = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
process = psutil.Process()

def down(n):
    return down(n - 1) if n else None

if kind == "gevent":
    import gevent

    def waiter():
        down(deep)
        gevent.sleep(30)

    gevent.sleep(0)
    before = process.memory_info().rss
    waiters = [gevent.spawn(waiter) for _ in range(n)]
    gevent.sleep(1.0)
    after = process.memory_info().rss
    gevent.killall(waiters)
else:
    import asyncio, uvloop

    async def inner():
        await asyncio.sleep(30)

    async def waiter():
        down(deep)
        await inner()

    async def main():
        await asyncio.sleep(0)
        before = process.memory_info().rss
        tasks = [asyncio.create_task(waiter()) for _ in range(n)]
        await asyncio.sleep(1.0)
        after = process.memory_info().rss
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return before, after

    before, after = uvloop.run(main())
print(json.dumps({"bytes_per_waiter": (after - before) / n}))
"""


def measure(kind: str, waiters: int, deep: int) -> float:
    """KB per waiter, in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(waiters), str(deep)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return float(json.loads(result.stdout)["bytes_per_waiter"]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiters", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="2,000 waiters")
    parser.add_argument("--json", type=Path, help="also write the figures here (for the tests)")
    args = parser.parse_args()
    waiters = 2_000 if args.quick else args.waiters
    figures = {name: measure(kind, waiters, deep) for name, (kind, deep) in VARIANTS.items()}
    if args.json:
        args.json.write_text(json.dumps(figures))
    task = figures["asyncio task"]
    rows = "\n".join(f"| {name} | {kb:.1f} | {kb / task:.2f} |" for name, kb in figures.items())
    command = "python bench/greenlet_floor.py" + (" --quick" if args.quick else f" --waiters {waiters}")
    print(
        f"""## What a waiting greenlet costs

The floor under memory per stream of any gevent client: {waiters:,} waiters that each sleep on the event
loop, each variant in a fresh process, (RSS with them waiting − RSS before) ÷ {waiters:,}. A Locust user is
one such greenlet plus its objects and its connection; an asyncio client's stream, one such task plus its own.

- measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}

| waiter | KB each | ÷ asyncio task |
|---|---:|---:|
{rows}

Rerun: `{command}`
"""
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
