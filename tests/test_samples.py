"""Samples: column batches, atomic Parquet parts, and reading a run's parts back."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow.parquet as pq

from harness.samples import COLUMNS, SCHEMA, PartWriter, SampleBatch, empty_samples, read_samples

STRING_COLUMNS = {"endpoint", "method", "token_source", "role", "identity", "source_ip", "error", "worker"}
NUMERIC_DTYPES = {
    "start_s": "float64",
    "intended_s": "float64",
    "status": "int32",
    "latency_ms": "float64",
    "ttfb_ms": "float64",
    "ttft_ms": "float64",
    "input_tokens": "int32",
    "output_tokens": "int32",
    "blocked": "bool",
    "retry_after_s": "float64",
    "response_bytes": "int64",
}


def assert_schema_dtypes(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(COLUMNS)
    assert {c: str(frame[c].dtype) for c in NUMERIC_DTYPES} == NUMERIC_DTYPES
    # strings: "object" before pandas 3, "str" from pandas 3 on
    assert all(pd.api.types.is_string_dtype(frame[c]) for c in STRING_COLUMNS)


def batch_of(*rows: dict) -> dict[str, list]:
    batch = SampleBatch()
    for row in rows:
        batch.add(row)
    return batch.take()


def row(start: float, endpoint: str = "me", latency: float = 10.0, **extra) -> dict:
    return {"start_s": start, "endpoint": endpoint, "method": "GET", "status": 200, "latency_ms": latency, **extra}


# ---- SampleBatch ----


def test_batch_fills_defaults_for_missing_keys():
    columns = batch_of({"start_s": 5.0, "endpoint": "login", "status": 401})
    assert list(columns) == list(COLUMNS)
    assert columns["endpoint"] == ["login"]
    assert columns["status"] == [401]
    assert columns["role"] == ["legit"]
    assert columns["blocked"] == [False]
    assert columns["error"] == [""]
    assert columns["input_tokens"] == [0]
    assert math.isnan(columns["latency_ms"][0]) and math.isnan(columns["retry_after_s"][0])


def test_batch_ignores_unknown_keys():
    columns = batch_of({"start_s": 1.0, "url": "http://secret.example/?token=abc"})
    assert "url" not in columns
    assert "http://secret.example/?token=abc" not in [v for values in columns.values() for v in values]


def test_take_hands_over_the_rows_and_starts_afresh():
    batch = SampleBatch()
    batch.add(row(1.0))
    batch.add(row(2.0))
    assert len(batch) == 2
    first = batch.take()
    assert first["start_s"] == [1.0, 2.0]
    assert len(batch) == 0
    batch.add(row(3.0))
    assert batch.take()["start_s"] == [3.0]
    assert first["start_s"] == [1.0, 2.0]  # the handed-over columns are not touched by later adds


# ---- PartWriter ----


def test_writer_writes_numbered_parts_without_temp_files(tmp_path):
    writer = PartWriter(tmp_path / "samples")
    assert writer.write(batch_of(row(1.0), row(2.0))) == 2
    assert writer.write(batch_of(row(3.0))) == 1
    assert writer.rows_written == 3
    files = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert files == ["part-000001.parquet", "part-000002.parquet"]
    assert pq.read_table(tmp_path / "samples" / "part-000001.parquet").schema.equals(SCHEMA)


def test_writer_skips_an_empty_batch(tmp_path):
    writer = PartWriter(tmp_path / "samples")
    assert writer.write(SampleBatch().take()) == 0
    assert list((tmp_path / "samples").iterdir()) == []
    assert writer.rows_written == 0


def test_writer_continues_numbering_in_an_existing_folder(tmp_path):
    PartWriter(tmp_path / "samples").write(batch_of(row(1.0)))
    PartWriter(tmp_path / "samples").write(batch_of(row(2.0)))
    writer = PartWriter(tmp_path / "samples")
    writer.write(batch_of(row(3.0)))
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "part-000001.parquet",
        "part-000002.parquet",
        "part-000003.parquet",
    ]
    assert writer.rows_written == 1  # this writer's rows only
    assert list(read_samples(tmp_path)["start_s"]) == [1.0, 2.0, 3.0]


def test_writer_never_overwrites_an_existing_part_after_a_gap(tmp_path):
    """Bug: numbering restarts at the count of parts, so after a gap it overwrites the last part."""
    samples = tmp_path / "samples"
    writer = PartWriter(samples)
    for start in (1.0, 2.0, 3.0):
        writer.write(batch_of(row(start)))
    (samples / "part-000002.parquet").unlink()  # e.g. a damaged part removed by hand
    PartWriter(samples).write(batch_of(row(4.0)))
    assert sorted(read_samples(tmp_path)["start_s"]) == [1.0, 3.0, 4.0]


def test_writer_fills_a_column_of_the_wrong_length_with_defaults(tmp_path):
    columns = batch_of(row(1.0), row(2.0))
    columns["worker"] = ["w1"]  # wrong length: ignored, not a crash
    PartWriter(tmp_path / "samples").write(columns)
    assert list(read_samples(tmp_path)["worker"]) == ["", ""]


# ---- read_samples ----


def write_parts(tmp_path, *batches: list[dict]) -> None:
    writer = PartWriter(tmp_path / "samples")
    for rows in batches:
        writer.write(batch_of(*rows))


def test_read_returns_rows_sorted_by_start_with_schema_dtypes(tmp_path):
    write_parts(tmp_path, [row(3.0, "chat", 900.0), row(1.0, "me", 12.5)], [row(2.0, "login", 40.0, blocked=True)])
    frame = read_samples(tmp_path)
    assert list(frame["start_s"]) == [1.0, 2.0, 3.0]
    assert list(frame["endpoint"]) == ["me", "login", "chat"]
    assert list(frame["latency_ms"]) == [12.5, 40.0, 900.0]
    assert list(frame["blocked"]) == [False, True, False]
    assert list(frame.index) == [0, 1, 2]
    assert_schema_dtypes(frame)


def test_read_with_sort_false_keeps_part_order(tmp_path):
    write_parts(tmp_path, [row(3.0), row(1.0)], [row(2.0)])
    assert list(read_samples(tmp_path, sort=False)["start_s"]) == [3.0, 1.0, 2.0]


def test_read_a_subset_of_columns(tmp_path):
    write_parts(tmp_path, [row(2.0, "chat", 5.0), row(1.0, "me", 7.0)])
    frame = read_samples(tmp_path, columns=["endpoint", "latency_ms"])
    assert list(frame.columns) == ["endpoint", "latency_ms"]
    assert list(frame["endpoint"]) == ["chat", "me"]  # no start_s to sort on: part order


def test_read_a_subset_with_start_is_sorted(tmp_path):
    write_parts(tmp_path, [row(2.0, "chat"), row(1.0, "me")])
    frame = read_samples(tmp_path, columns=["start_s", "endpoint"])
    assert list(frame.columns) == ["start_s", "endpoint"]
    assert list(frame["endpoint"]) == ["me", "chat"]


def test_damaged_part_is_skipped_and_named(tmp_path):
    write_parts(tmp_path, [row(1.0)], [row(2.0)], [row(3.0)])
    samples = tmp_path / "samples"
    whole = (samples / "part-000002.parquet").read_bytes()
    (samples / "part-000002.parquet").write_bytes(whole[: len(whole) // 2])  # truncated by a crash
    (samples / "part-000004.parquet").write_bytes(b"this is not parquet at all")
    skipped: list[str] = []
    frame = read_samples(tmp_path, skipped=skipped)
    assert list(frame["start_s"]) == [1.0, 3.0]
    assert [name.split(" ")[0] for name in skipped] == ["part-000002.parquet", "part-000004.parquet"]
    assert all(name.endswith(")") and "(" in name for name in skipped)  # the exception class is named


def test_damaged_part_without_a_skipped_list_still_reads_the_others(tmp_path):
    write_parts(tmp_path, [row(1.0)])
    (tmp_path / "samples" / "part-000009.parquet").write_bytes(b"")
    assert list(read_samples(tmp_path)["start_s"]) == [1.0]


def test_empty_folder_gives_an_empty_frame_with_every_column(tmp_path):
    (tmp_path / "samples").mkdir()
    frame = read_samples(tmp_path)
    assert len(frame) == 0
    assert_schema_dtypes(frame)


def test_missing_samples_folder_gives_an_empty_frame(tmp_path):
    frame = read_samples(tmp_path, columns=["endpoint", "status"])
    assert list(frame.columns) == ["endpoint", "status"] and len(frame) == 0


def test_empty_samples_matches_the_schema():
    frame = empty_samples()
    assert isinstance(frame, pd.DataFrame)
    assert_schema_dtypes(frame)


def test_batch_holds_each_value_as_given_in_column_order():
    gaps = [1.5, 2.0]
    rows = [
        {"start_s": 1.0, "status": 200, "blocked": True, "chunk_gaps_ms": gaps, "response_bytes": 1 << 40},
        {"role": None, "worker": "w-1", "token_source": "usage", "unknown": 5},
        {},
    ]
    columns = batch_of(*rows)
    assert list(columns) == list(COLUMNS)
    for name, values in columns.items():
        assert len(values) == 3 and isinstance(values, list)
        for row, value in zip(rows, values):
            want = row.get(name, COLUMNS[name][1])
            assert type(value) is type(want) and (value == want or value != value and want != want), name
    assert columns["chunk_gaps_ms"][0] is gaps
    assert columns["role"] == ["legit", None, "legit"]
