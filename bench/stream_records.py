"""What the bench's Locust users (bench/locust_streams.py, bench/locust_raw_streams.py) note per stream, kept
in memory (a tuple, about 100 bytes) and written when the worker quits to the file `BENCH_RECORDS` names:
one JSON array per line, bench/streams.py's RECORD_FIELDS (request_id, sent_s, ttft_ms, ok)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from locust import events
from locust.runners import MasterRunner

RECORDS: list[tuple[str, float, float, bool]] = []


@events.quitting.add_listener
def _write_records(environment: Any, **_: Any) -> None:
    out = os.environ.get("BENCH_RECORDS")
    if not out or isinstance(environment.runner, MasterRunner):
        return
    Path(out).write_text("".join(json.dumps(record) + "\n" for record in RECORDS))
