"""The core of bench/ingest.py: synthetic worker reports through the master's ingest path reach disk whole.

Locust is not imported (bench/ingest.py decodes messages with msgpack as Locust does); no timing is asserted.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from harness.samples import COLUMNS, read_samples
from tests.helpers import load_bench

ingest = load_bench("ingest")
assert "locust" not in sys.modules  # importing Locust would monkey-patch this whole test process with gevent
NOW = 1_796_000_000.0


def _equal(got: Any, want: Any) -> bool:
    if want is None:
        return got is None or (hasattr(got, "__len__") and len(got) == 0)
    if isinstance(want, list):
        return np.allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=1e-6)  # float32 gaps
    if isinstance(want, float) and math.isnan(want):
        return isinstance(got, float) and math.isnan(got)
    return got == want


def test_every_synthetic_row_reaches_disk_as_sent(tmp_path):
    batches = [ingest.synthetic_columns(n, seed=seed, now=NOW, llm_share=0.3) for seed, n in ((1, 40), (2, 1), (3, 25))]
    messages = [ingest.encode_report(columns, f"worker-{i}") for i, columns in enumerate(batches)]

    assert ingest.ingest(messages, tmp_path) == 66

    frame = read_samples(tmp_path, sort=False)
    assert len(frame) == 66 and list(frame.columns) == list(COLUMNS)
    assert sorted(p.name for p in (tmp_path / "samples").glob("*")) == [
        "part-000001.parquet",
        "part-000002.parquet",
        "part-000003.parquet",
    ]  # one part per report, no temp files
    assert list(frame["worker"]) == ["worker-0"] * 40 + ["worker-1"] + ["worker-2"] * 25
    sent = {name: [v for columns in batches for v in columns[name]] for name in COLUMNS if name != "worker"}
    for name, values in sent.items():
        got = frame[name].tolist()
        bad = [i for i, (g, w) in enumerate(zip(got, values)) if not _equal(g, w)]
        assert not bad, f"{name}: row {bad[0]}: {got[bad[0]]!r} != {values[bad[0]]!r}"


def test_the_batches_look_like_a_run(tmp_path):
    columns = ingest.synthetic_columns(400, seed=7, now=NOW, llm_share=0.25)
    assert set(columns) == set(COLUMNS)
    assert all(len(v) == 400 for v in columns.values())
    chats = [i for i, e in enumerate(columns["endpoint"]) if e == "chat" and columns["status"][i] == 200]
    assert chats and all(columns["chunks"][i] == len(columns["chunk_gaps_ms"][i]) + 1 for i in chats)
    assert all(NOW - 3 <= s <= NOW for s in columns["start_s"])
    path = ingest.MasterPath(tmp_path)
    path.handle(ingest.encode_report(columns, "w"))
    path.watch(now=NOW)  # the watcher's part: live p95 and the breaker window over what was written
    assert path.collector.rows == 400 and path.spent_usd > 0
    assert (tmp_path / "progress.json").exists()
