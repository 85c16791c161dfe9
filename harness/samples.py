"""The sample: one row per request, stored as Parquet parts in a run folder's `samples/`.

Workers collect rows into column lists (cheap to append, cheap to ship through Locust's msgpack
messages); the master writes each arriving batch as its own Parquet part, so a crash or a SIGKILL
never leaves a half-written file that hides the rows before it.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from harness.sample_rows import COLUMNS, DEFAULTS, SampleBatch

__all__ = ["COLUMNS", "DEFAULTS", "SCHEMA", "SampleBatch", "PartWriter", "read_samples", "read_column", "empty_samples"]

# the Arrow type of each type name in COLUMNS
ARROW_TYPES: dict[str, pa.DataType] = {
    "float64": pa.float64(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "bool": pa.bool_(),
    "string": pa.string(),
    "list<float32>": pa.list_(pa.float32()),
}
SCHEMA = pa.schema([(name, ARROW_TYPES[typ]) for name, (typ, _) in COLUMNS.items()])


def _table(columns: dict[str, list[Any]]) -> pa.Table:
    n = len(columns.get("start_s", []))
    arrays = []
    for name, (typ, default) in COLUMNS.items():
        values = columns.get(name)
        if values is None or len(values) != n:
            values = [default] * n
        arrays.append(pa.array(values, type=ARROW_TYPES[typ], from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


class PartWriter:
    """Writes each batch to `samples/part-<seq>.parquet`, atomically (temp file, then rename).

    Not thread-safe: one writer thread at a time (the collector sees to it).
    """

    def __init__(self, samples_dir: Path) -> None:
        self.dir = Path(samples_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        # continue after the highest part already there, so that no write ever replaces a part
        self._seq = max((int(p.stem.split("-")[1]) for p in self.dir.glob("part-*.parquet")), default=0)
        self.rows_written = 0

    def write(self, columns: dict[str, list[Any]]) -> int:
        table = _table(columns)
        if table.num_rows == 0:
            return 0
        self._seq += 1
        final = self.dir / f"part-{self._seq:06d}.parquet"
        tmp = final.with_suffix(".tmp")
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, final)
        self.rows_written += table.num_rows
        return table.num_rows


def empty_samples() -> pd.DataFrame:
    return SCHEMA.empty_table().to_pandas()


def read_samples(
    run_dir: Path,
    columns: list[str] | None = None,
    *,
    sort: bool = True,
    skipped: list[str] | None = None,
    compact: bool = False,
    parts: list[tuple[Path, int]] | None = None,
) -> pd.DataFrame:
    """The samples of a run (only `columns`, if given), in send order unless `sort` is False.

    A part that cannot be read is skipped and its name added to `skipped`, so that one damaged file
    never hides the others. `parts` gets the parts read and their row counts, in row order:
    `read_column` reads one more column of the same rows from them (unsorted frames only).

    `compact` is how a report holds ten million rows in under 2 GB: the string columns come as
    categoricals, in string order (a code per row instead of a string each; a null is NaN as
    before), `chunk_gaps_ms` stays an Arrow list column (`pd.ArrowDtype`) instead of a numpy array
    per row, and Arrow hands freed memory back soon. The values are the same, but `.replace` and
    `.value_counts` of a categorical differ from a string column's (a new value raises; unseen
    categories count 0): convert a small subset with `.astype(object)` first.
    """
    schema = pa.schema([SCHEMA.field(c) for c in columns]) if columns else SCHEMA
    read_schema = _dictionary_schema(SCHEMA) if compact else SCHEMA
    paths = sorted((Path(run_dir) / "samples").glob("part-*.parquet"))
    if compact:
        _return_freed_memory()
        frame = _read_into_arrays(paths, schema, skipped, parts)
        if frame is not None:
            return frame.sort_values("start_s", kind="stable").reset_index(drop=True) if sort else frame
    tables = []
    for part in paths:
        try:
            tables.append(_read_part(part, schema.names, read_schema))
        except Exception as exc:  # pyarrow raises several types for a truncated or foreign file
            if skipped is not None:
                skipped.append(f"{part.name} ({type(exc).__name__})")
            continue
        if parts is not None:
            parts.append((part, tables[-1].num_rows))
    if not tables:
        return schema.empty_table().to_pandas()
    table = pa.concat_tables(tables)
    del tables
    if not compact:
        frame = table.to_pandas()
    else:  # column by column, each Arrow column freed once converted: no second copy of the run
        frame = table.to_pandas(split_blocks=True, self_destruct=True, types_mapper=_arrow_backed)
        for name in frame.columns:
            if isinstance(frame[name].dtype, pd.CategoricalDtype):
                frame[name] = _sorted_categories(frame[name], DEFAULTS[name])
    del table
    if sort and "start_s" in frame:
        frame = frame.sort_values("start_s", kind="stable").reset_index(drop=True)
    return frame


class _Codes:
    """A string column read part by part: each part's dictionary and its small indices (a byte or
    two per row, -1 for a missing value) are kept, and unified once at the end, straight into the
    final codes (one hash of the words, not a Python loop per row)."""

    def __init__(self) -> None:
        self.pieces: list[tuple[int, np.ndarray, pa.Array]] = []  # (first row, indices, dictionary)

    def add(self, at: int, column: pa.ChunkedArray) -> None:
        for chunk in column.chunks:  # a few per part at most
            size = len(chunk.dictionary)
            small = np.int8 if size < 127 else np.int16 if size < 32767 else np.int32
            indices = pc.fill_null(chunk.indices, -1) if chunk.indices.null_count else chunk.indices
            self.pieces.append((at, indices.to_numpy().astype(small), chunk.dictionary))
            at += len(chunk)

    def categorical(self, size: int, default: Any) -> pd.Categorical:
        """Categories in string order (as `_sorted_categories`), the default among them when a value is missing."""
        dictionaries = [dictionary for _, _, dictionary in self.pieces]
        words = pa.concat_arrays(dictionaries) if dictionaries else pa.array([], pa.string())
        words = words.to_numpy(zero_copy_only=False)
        word_codes, uniques = pd.factorize(words)  # a missing word: -1
        names = list(uniques)
        missing = (word_codes < 0).any() or any((indices < 0).any() for _, indices, _ in self.pieces)
        if missing and default not in names:
            names.append(default)
        categories = pd.Index(names, dtype=object).astype(str) if names else pd.Index([], dtype=object)
        order = categories.argsort()
        small = np.int8 if order.size < 127 else np.int16 if order.size < 32767 else np.int32
        rank = np.empty(order.size + 1, dtype=small)  # the last one: where a missing value points
        rank[order], rank[-1] = np.arange(order.size), -1
        lookup = rank[np.append(word_codes, -1)]  # per word of every dictionary, then the missing slot
        codes = np.empty(size, dtype=small)
        first = 0
        for at, indices, dictionary in self.pieces:  # a loop over parts, not rows
            where = np.where(indices < 0, lookup.size - 1, indices.astype(np.int64) + first)
            codes[at : at + indices.size] = lookup[where]
            first += len(dictionary)
        self.pieces.clear()
        return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories.take(order)), validate=False)


def _read_into_arrays(
    paths: list[Path], schema: pa.Schema, skipped: list[str] | None, parts: list[tuple[Path, int]] | None
) -> pd.DataFrame | None:
    """`read_samples(compact=True)` without ever holding the run twice: each part is read and copied
    into arrays sized for the whole run (from the parts' footers), then dropped, so the peak is the
    frame plus one part. None when a part holds a null in an integer or boolean column (an older
    run): pandas would make floats or objects of it, which `to_pandas` does best."""
    read_schema = _dictionary_schema(SCHEMA)
    sizes: list[tuple[Path, int]] = []
    bad: list[str] = []
    for path in paths:
        try:
            sizes.append((path, pq.ParquetFile(path).metadata.num_rows))
        except Exception as exc:  # as read_samples: a truncated or foreign file is skipped
            bad.append(f"{path.name} ({type(exc).__name__})")
    total = sum(n for _, n in sizes)
    arrays: dict[str, Any] = {}
    for field in schema:
        if field.type == pa.string():
            arrays[field.name] = _Codes()
        elif pa.types.is_list(field.type):
            arrays[field.name] = []
        else:
            arrays[field.name] = np.empty(total, dtype=field.type.to_pandas_dtype())
    at, read = 0, []
    for (path, n), table in _ahead(lambda part: _read_part(part[0], schema.names, read_schema), sizes):
        if isinstance(table, Exception):
            bad.append(f"{path.name} ({type(table).__name__})")
            continue
        if table.num_rows != n:
            return None
        for name, target in arrays.items():
            column = table.column(name)
            if isinstance(target, np.ndarray):
                if column.null_count and target.dtype.kind != "f":
                    return None
                target[at : at + n] = column.to_numpy()  # floats: a null is NaN
            elif isinstance(target, list):
                target.extend(column.chunks)
            else:
                target.add(at, column)
        read.append((path, n))
        at += n
    if not read:  # nothing readable: the empty frame of the usual path
        return None
    columns: dict[str, Any] = {}
    for field in schema:
        target = arrays.pop(field.name)
        if isinstance(target, np.ndarray):
            columns[field.name] = target[:at]
        elif isinstance(target, list):
            lists = pa.chunked_array(target, type=field.type)
            columns[field.name] = pd.array(lists, dtype=pd.ArrowDtype(field.type))
        else:
            columns[field.name] = target.categorical(at, DEFAULTS[field.name])
    if skipped is not None:
        skipped.extend(bad)
    if parts is not None:
        parts.extend(read)
    return pd.DataFrame(columns, copy=False)  # one block per column, as read: no consolidating copy


def read_column(parts: Sequence[tuple[Path, int]], name: str, every: int = 1) -> Iterator[tuple[int, pa.Array]]:
    """Column `name` of the rows `read_samples` read from `parts`, as (index of its first row,
    values) per part, in row order; only every `every`-th part, for a first look. A column too
    large to hold beside the others (the chunk gaps of a long LLM run) is read when it is needed,
    a part at a time; a thread reads a few parts ahead (Arrow decodes without the GIL)."""
    starts = np.concatenate(([0], np.cumsum([rows for _, rows in parts], dtype=np.int64)))

    def column(i: int, table: pa.Table) -> tuple[int, pa.Array]:
        values = table.column(0).combine_chunks()
        if len(values) != parts[i][1]:  # parts are never rewritten: this is not the part once read
            raise ValueError(f"{parts[i][0].name}: {len(values)} rows, {parts[i][1]} when first read")
        return int(starts[i]), values

    wanted = range(0, len(parts), max(every, 1))
    for i, table in _ahead(lambda i: _read_part(parts[i][0], [name], SCHEMA), wanted):
        if isinstance(table, Exception):
            raise table
        yield column(i, table)


T = TypeVar("T")


def _ahead(
    read: Callable[[T], pa.Table], items: Iterable[T], depth: int = 4
) -> Iterator[tuple[T, pa.Table | Exception]]:
    """(item, read(item)) in order, a thread reading up to `depth` items ahead: Arrow decodes
    without the GIL while the caller copies or computes (in a Locust process, whose gevent makes
    threads greenlets, one after the other). A failed read comes as its exception."""

    def attempt(item: T) -> pa.Table | Exception:
        try:
            return read(item)
        except Exception as exc:  # pyarrow raises several types for a truncated or foreign file
            return exc

    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        yield from ((item, attempt(item)) for item in items)
        return
    with ThreadPoolExecutor(max_workers=1) as reader:
        pending: deque[tuple[T, Future[pa.Table | Exception]]] = deque()
        for item in items:
            pending.append((item, reader.submit(attempt, item)))
            if len(pending) > depth:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()


def _read_part(part: Path, names: list[str], schema: pa.Schema) -> pa.Table:
    """`names` of one part as `schema` types them; a part written with other columns or types (an
    older run) goes through Arrow's slower schema-aware reader, which also fills a missing column."""
    dictionary = [n for n in names if pa.types.is_dictionary(schema.field(n).type)]
    file = pq.ParquetFile(part, read_dictionary=dictionary)
    wanted = pa.schema([schema.field(n) for n in names])
    found = file.schema_arrow
    if all(n in found.names and found.field(n).type == wanted.field(n).type for n in names):
        return file.read(columns=names).cast(wanted)  # the same types, list field names included
    return pq.read_table(part, columns=names, schema=schema).select(names)


def _return_freed_memory() -> None:
    """Have Arrow return freed memory to the system within 0.1 s (jemalloc) where it can: its
    default allocator keeps what Parquet decoding freed, a gigabyte over ten million rows (no delay
    at all costs a page fault per reuse: seconds of system time)."""
    try:
        if pa.default_memory_pool().backend_name != "jemalloc":
            pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(100)
    except NotImplementedError:  # a pyarrow built without jemalloc: keep its default
        pass


# `compact`: the string columns become categoricals (even `conversation`, an id per conversation: a
# code per row is smaller than the string, and takes and filters stay numpy's), and the list column
# stays in Arrow buffers, chunk by chunk as read
_CATEGORICAL = frozenset(name for name, (typ, _) in COLUMNS.items() if typ == "string")


def _arrow_backed(typ: pa.DataType) -> pd.ArrowDtype | None:
    return pd.ArrowDtype(typ) if pa.types.is_list(typ) else None


def _dictionary_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with the string columns read dictionary-encoded."""
    return pa.schema(
        [pa.field(f.name, pa.dictionary(pa.int32(), pa.string())) if f.name in _CATEGORICAL else f for f in schema]
    )


def _sorted_categories(column: pd.Series, default: Any) -> pd.Series:
    """Categories in string order, so that a sorted groupby or factorize lists them as it would
    strings; plus the column's default when a value is missing, so that `fillna(default)` works."""
    codes, categories = column.cat.codes.to_numpy(), column.cat.categories
    if column.hasnans and default not in categories:
        categories = categories.append(pd.Index([default]))
    order = categories.argsort()  # in C: a million conversation ids take a fraction of a second
    if len(categories) == len(column.cat.categories) and (order == np.arange(order.size)).all():
        return column
    small = np.int8 if order.size < 127 else np.int16 if order.size < 32767 else np.int32
    rank = np.empty(order.size + 1, dtype=small)  # the last one: where a missing value's code -1 points
    rank[order], rank[-1] = np.arange(order.size), -1
    dtype = pd.CategoricalDtype(categories.take(order))
    recoded = pd.Categorical.from_codes(rank[codes], dtype=dtype, validate=False)
    return pd.Series(recoded, index=column.index, name=column.name)
