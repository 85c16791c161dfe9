"""The master's collector: each batch becomes one part, counted per worker; the live p95 window."""

from __future__ import annotations

import json
import math

import pytest

from harness.load.collector import Collector
from harness.runfolder import write_json_atomic
from harness.samples import SampleBatch, read_samples

NOW = 1_796_000_100.0


def batch(*rows: dict) -> dict[str, list]:
    b = SampleBatch()
    for r in rows:
        b.add(r)
    return b.take()


def legit(start: float, latency: float, **extra) -> dict:
    return {"start_s": start, "endpoint": "me", "method": "GET", "status": 200, "latency_ms": latency, **extra}


def test_add_writes_one_part_and_fills_the_worker_column(tmp_path):
    collector = Collector(tmp_path / "samples")
    assert collector.add(batch(legit(NOW, 10), legit(NOW + 1, 20)), worker="w-1") == 2
    assert [p.name for p in (tmp_path / "samples").glob("part-*.parquet")] == ["part-000001.parquet"]
    frame = read_samples(tmp_path)
    assert list(frame["worker"]) == ["w-1", "w-1"]
    assert list(frame["latency_ms"]) == [10.0, 20.0]


def test_add_counts_rows_per_worker_and_errors(tmp_path):
    collector = Collector(tmp_path / "samples")
    collector.add(batch(legit(NOW, 10), legit(NOW, 0, status=0, error="connection: ConnectTimeout")), worker="a")
    collector.add(batch(legit(NOW, 10), legit(NOW, 10, status=500, error="http 500"), legit(NOW, 10)), worker="b")
    collector.add(batch(legit(NOW, 10)), worker="a")
    assert collector.rows == 6
    assert dict(collector.rows_by_worker) == {"a": 3, "b": 3}
    assert collector.errors == 2
    assert collector.writer.rows_written == 6
    frame = read_samples(tmp_path, sort=False)
    assert list(frame["worker"]) == ["a", "a", "b", "b", "b", "a"]


def test_empty_batch_writes_nothing(tmp_path):
    collector = Collector(tmp_path / "samples")
    assert collector.add(batch(), worker="a") == 0
    assert collector.rows == 0 and dict(collector.rows_by_worker) == {}
    assert list((tmp_path / "samples").iterdir()) == []


def test_live_p95_covers_only_the_last_ten_seconds(tmp_path):
    collector = Collector(tmp_path / "samples")
    collector.add(batch(*[legit(NOW - 30, 5000.0) for _ in range(50)]), worker="a")  # too old
    recent = [legit(NOW - 5, float(ms)) for ms in range(1, 101)]  # 1..100 ms
    collector.add(batch(*recent), worker="a")
    assert collector.live_p95_ms(now=NOW) == 95.0


def test_live_p95_ignores_blocked_errors_and_attack_traffic(tmp_path):
    collector = Collector(tmp_path / "samples")
    rows = [legit(NOW - 1, float(ms)) for ms in range(1, 21)]  # 1..20 ms: p95 = 19
    rows += [legit(NOW - 1, 1.0, status=429, blocked=True) for _ in range(50)]  # fast 429s must not flatter it
    rows += [legit(NOW - 1, 9000.0, status=500, error="http 500") for _ in range(5)]
    rows += [legit(NOW - 1, 9000.0, role="credential_stuffing") for _ in range(5)]
    collector.add(batch(*rows), worker="a")
    assert collector.live_p95_ms(now=NOW) == 19.0


def test_live_p95_mixes_batches_across_the_window_edge(tmp_path):
    collector = Collector(tmp_path / "samples")
    # one batch straddles the edge: only its rows inside the window count
    collector.add(batch(legit(NOW - 12, 1000.0), legit(NOW - 9, 30.0)), worker="a")
    collector.add(batch(legit(NOW - 2, 10.0), legit(NOW - 1, 20.0)), worker="b")
    assert collector.live_p95_ms(now=NOW) == 30.0
    assert collector.live_p95_ms(now=NOW + 8.5) == 20.0  # window from NOW - 1.5: only the NOW - 1 row is left


def test_live_p95_is_nan_when_nothing_is_recent(tmp_path):
    collector = Collector(tmp_path / "samples")
    assert math.isnan(collector.live_p95_ms(now=NOW))
    collector.add(batch(legit(NOW - 60, 10.0)), worker="a")
    assert math.isnan(collector.live_p95_ms(now=NOW))
    collector.add(batch(legit(NOW - 1, 10.0, error="http 502", status=502)), worker="a")
    assert math.isnan(collector.live_p95_ms(now=NOW))


def test_write_json_atomic_replaces_the_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "live.json"
    path.write_text("old")
    write_json_atomic(path, {"rows": 3, "p95_ms": 12.5, "started": NOW})
    assert json.loads(path.read_text()) == {"rows": 3, "p95_ms": 12.5, "started": NOW}
    assert [p.name for p in tmp_path.iterdir()] == ["live.json"]


def test_write_json_atomic_refuses_nan_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "live.json"
    write_json_atomic(path, {"p95_ms": 1.0})
    with pytest.raises(ValueError):
        write_json_atomic(path, {"p95_ms": math.nan})  # NaN is not JSON
    assert json.loads(path.read_text()) == {"p95_ms": 1.0}
    assert [p.name for p in tmp_path.iterdir()] == ["live.json"]


def test_write_json_atomic_stringifies_other_types(tmp_path):
    path = tmp_path / "s.json"
    write_json_atomic(path, {"dir": tmp_path})
    assert json.loads(path.read_text()) == {"dir": str(tmp_path)}


def test_recent_errors_count_every_role_in_the_window(tmp_path):
    collector = Collector(tmp_path / "samples")
    collector.add(batch(legit(NOW - 20, 10, error="http 500")), worker="a")  # outside the 10 s window
    collector.add(
        batch(
            legit(NOW - 5, 10),
            legit(NOW - 4, 0, status=0, error="connection: ConnectError"),
            legit(NOW - 3, 10, role="credential_stuffing", status=503, error="http 503"),
            legit(NOW - 2, 5, status=429, blocked=True),
        ),
        worker="a",
    )
    assert collector.recent_errors(10.0, NOW) == (2, 4)
    assert collector.recent_errors(3.5, NOW) == (1, 2)  # a shorter window
    assert collector.live_p95_ms(NOW) == 10.0  # the one legit success
    assert Collector(tmp_path / "other").recent_errors(10.0, NOW) == (0, 0)
