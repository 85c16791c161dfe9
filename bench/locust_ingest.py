"""Locust side of bench/ingest.py: the real master with the harness plugin, and fake workers.

Workers are real Locust worker processes; instead of recording requests they put big synthetic
sample batches into their `report_to_master` payload (where the plugin puts the real ones) and send
such reports at the offered rate of each step of `BENCH_SCHEDULE`. The master runs the plugin
unchanged; a listener registered after the plugin's notes when each report was handled, and writes
that to `BENCH_OUT` at the end.

A worker stops offering more once the master is over a second's worth of rows behind (the master's
listener keeps a count in `BENCH_HANDLED`), so a step the master cannot keep up with ends the
schedule instead of queueing gigabytes in ZeroMQ.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from locust import User, constant, events, task
from locust.runners import MasterRunner, WorkerRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import synthetic_columns  # noqa: E402

from harness.load import plugin  # noqa: E402  (the master's real ingest path)

SCHEDULE = json.loads(os.environ.get("BENCH_SCHEDULE") or "{}")
BENCH_KEY = "bench_ingest"


class Idle(User):
    """Locust wants a user class; the load here is the reports themselves."""

    wait_time = constant(60)

    @task
    def idle(self) -> None:
        pass


_pending: list[tuple[dict[str, list[Any]], dict[str, Any]]] = []
_handled: list[tuple[float, dict[str, Any]]] = []
_rows = [0]  # rows handled so far (master)
_feeder: list[gevent.Greenlet] = []


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        environment.events.report_to_master.add_listener(_attach)  # after the plugin's own: replaces its batch
        environment.events.test_start.add_listener(lambda **kw: _feeder.append(gevent.spawn(_feed, environment)))
        environment.events.test_stop.add_listener(lambda **kw: [g.kill(block=False) for g in _feeder])
    elif isinstance(environment.runner, MasterRunner):
        environment.events.worker_report.add_listener(_on_report)  # after the plugin's: the rows are written
        environment.events.quitting.add_listener(_dump)


def _attach(client_id: str, data: dict[str, Any]) -> None:
    if _pending:
        columns, info = _pending.pop()
        data[plugin.SAMPLES_KEY] = columns
        data[BENCH_KEY] = info


def _on_report(client_id: str, data: dict[str, Any]) -> None:
    info = data.get(BENCH_KEY)
    if info:
        _handled.append((time.time(), info))
        _rows[0] += info["rows"]
        path = Path(os.environ["BENCH_HANDLED"])  # how far the master is, for the workers' back-off
        path.with_suffix(".tmp").write_text(str(_rows[0]))
        os.replace(path.with_suffix(".tmp"), path)


def _dump(environment: Any, **_: Any) -> None:
    session = plugin.active_session
    out = os.environ.get("BENCH_OUT")
    if out and session is not None:
        Path(out).write_text(json.dumps({"reports": _handled, "samples_written": session.collector.rows}))


def _handled_rows() -> int:
    try:
        return int(Path(os.environ["BENCH_HANDLED"]).read_text())
    except (OSError, ValueError):
        return 0


def _feed(environment: Any) -> None:
    """Send reports at each step's rate (this worker's share), with a pause between steps."""
    runner = environment.runner
    workers, batch = SCHEDULE["workers"], SCHEDULE["batch"]
    template = synthetic_columns(batch, seed=os.getpid(), now=0.0, llm_share=SCHEDULE["llm_share"])
    offsets = [-s for s in template["start_s"]]
    sent = 0
    for index, rate in enumerate(SCHEDULE["rates"]):
        interval = batch * workers / rate
        start = time.time()
        due = start
        while due < start + SCHEDULE["step_s"]:
            gevent.sleep(max(0.0, due - time.time()))
            behind = sent * workers - _handled_rows()
            if behind > rate + 2 * batch * workers:  # over a second's worth queued
                print(f"bench worker: master {behind:,} rows behind at {rate:,}/s: no further steps", file=sys.stderr)
                return
            now = time.time()
            columns = {**template, "start_s": [now - o for o in offsets]}
            _pending.append((columns, {"step": index, "sent_at": now, "rows": batch, "late": now - due}))
            runner._send_stats()  # what Locust's stats reporter calls every 3 s; our listener fills the batch
            sent += batch
            due += interval
        gevent.sleep(SCHEDULE["gap_s"])
