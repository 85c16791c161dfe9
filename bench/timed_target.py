"""The demo API (`python -m harness.demo_api`) with its injected waits timed, for bench/accuracy.py.

The demo API draws a route's delay and sleeps until it is due. On a busy machine its process wakes
up late (a few ms at times), and that lateness is part of what a client really waits, so a truth
built from the drawn delays alone would count it as the load generator's error. This process times
every injected wait on its own clock, without changing the harness: each one appends a line
`route index drawn_ms late_ms` to the file given by --wait-log (index: the draw's rank on its route;
late: woke up this long after the wait was due, negative when early).

    python bench/timed_target.py --wait-log FILE [any `harness target` option]
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness.demo_api.app as app  # noqa: E402
import harness.demo_api.supervisor as supervisor  # noqa: E402  (serve() builds the app there)
from harness.demo_api.config import TargetConfig  # noqa: E402
from harness.demo_api.distributions import Distribution  # noqa: E402

_pending: list[Any] = []  # (route, index, drawn) of the draw whose wait comes next
_counts: dict[str, int] = {}
_log: TextIO | None = None


@dataclass(frozen=True)
class _Timed(Distribution):
    """A route's distribution that remembers each draw for the wait that follows it."""

    route: str = ""

    def sample(self, rng: Any) -> float:
        value = super().sample(rng)
        _counts[self.route] = index = _counts.get(self.route, -1) + 1
        _pending[:] = [self.route, index, value]
        return value


_create_app, _sleep_until = supervisor.create_app, app.sleep_until


def _timed_create_app(config: TargetConfig, *args: Any, **kwargs: Any) -> Any:
    config.latency = {name: _Timed(d.kind, d.params, route=name) for name, d in config.latency.items()}
    return _create_app(config, *args, **kwargs)


async def _timed_sleep_until(deadline: float) -> None:
    # The endpoint draws, then awaits this with nothing in between: a pending draw is this wait's.
    # Any other wait of the endpoint (none pending) is left alone.
    pending, _pending[:] = list(_pending), []
    await _sleep_until(deadline)
    if pending and _log is not None:
        route, index, drawn = pending
        _log.write(f"{route} {index} {drawn:.6f} {(time.perf_counter() - deadline) * 1000:.6f}\n")


def main() -> int:
    global _log
    args = sys.argv[1:]
    if "--wait-log" not in args or args.index("--wait-log") + 1 >= len(args):
        print("timed_target: --wait-log FILE is required", file=sys.stderr)
        return 2
    at = args.index("--wait-log")
    path = args[at + 1]
    del args[at : at + 2]
    _log = open(path, "w", buffering=1, encoding="utf-8")  # one line per wait, written as it happens
    # this process only: the app's own waits (the model's token timing has its own) and its routes' draws
    supervisor.create_app, app.sleep_until = _timed_create_app, _timed_sleep_until
    from harness.demo_api.__main__ import main as target_main

    sys.argv = ["harness.demo_api", *args]
    try:
        return target_main()
    finally:
        _log.close()


if __name__ == "__main__":
    raise SystemExit(main())
