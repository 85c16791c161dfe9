"""State that several demo API processes must agree on: the token signing key, rate-limit counters
and webhook event ids.

With one process everything stays in memory. With several, a hardened deployment needs a shared
store (in production, Redis); here it is one SQLite file in WAL mode that the parent creates before
forking, and each check runs in one `BEGIN IMMEDIATE` transaction, so two processes cannot both
admit the last slot of a window. Writers also queue on an advisory file lock first: SQLite's own busy
handler polls with growing sleeps, which under a flood stalls a process's event loop for far longer
than the microseconds a check holds the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.demo_api.ratelimit import Check, Usage

__all__ = ["ProcessContext", "SharedStore", "create_store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hits (bucket TEXT NOT NULL, ts REAL NOT NULL);
CREATE INDEX IF NOT EXISTS hits_bucket_ts ON hits (bucket, ts);
CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY);
"""
_COUNT = "SELECT count(*), min(ts) FROM hits WHERE bucket = ?"
_NTH_OLDEST = "SELECT ts FROM hits WHERE bucket = ? ORDER BY ts LIMIT 1 OFFSET ?"
_MAX_EVENTS = 100_000
_PRUNE_EVERY = 1000


@dataclass(frozen=True)
class ProcessContext:
    """What the parent hands every server process: `store_path` is None when no counters are shared
    (vulnerable, or one process); `stats_dir` is where the processes publish their figures."""

    token_key: bytes
    processes: int = 1
    store_path: str | None = None
    stats_dir: str | None = None


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")  # a scratch file for one demo run: durability buys nothing
    return db


def create_store(directory: str) -> str:
    """Create the store's database in `directory` (the parent does this once) and return its path."""
    path = str(Path(directory) / "shared.sqlite3")
    db = _connect(path)
    try:
        db.executescript(_SCHEMA)
    finally:
        db.close()
    return path


class SharedStore:
    """Exact moving-window counters and seen webhook ids in SQLite. Open one per process, after forking."""

    def __init__(self, path: str) -> None:
        self._db = _connect(path)
        self._lock = open(path + ".lock", "a+b")  # noqa: SIM115 - held for the store's lifetime
        self._until_prune = _PRUNE_EVERY
        self._longest_window = 0.0

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        finally:
            fcntl.flock(self._lock, fcntl.LOCK_UN)

    def acquire(self, checks: Sequence[Check], now: float) -> tuple[bool, list[Usage]]:
        with self._transaction() as db:
            states = []
            for check in checks:
                db.execute("DELETE FROM hits WHERE bucket = ? AND ts <= ?", (check.bucket, now - check.window_s))
                n, oldest = db.execute(_COUNT, (check.bucket,)).fetchone()
                freeing = oldest
                if n >= check.quota:  # full: the (n - quota + 1)-th oldest entry must age out first
                    freeing = db.execute(_NTH_OLDEST, (check.bucket, n - check.quota)).fetchone()[0]
                states.append((n, oldest, freeing))
                self._longest_window = max(self._longest_window, check.window_s)
            admitted = all(n < check.quota for (n, _, _), check in zip(states, checks))
            if admitted:
                db.executemany("INSERT INTO hits (bucket, ts) VALUES (?, ?)", [(c.bucket, now) for c in checks])
            self._until_prune -= 1
            if self._until_prune <= 0:  # buckets nobody hits again would otherwise stay forever
                db.execute("DELETE FROM hits WHERE ts <= ?", (now - self._longest_window,))
                self._until_prune = _PRUNE_EVERY
        usages = []
        for (n, oldest, freeing), check in zip(states, checks):
            if admitted:
                usages.append(Usage(n + 1, (oldest if n else now) + check.window_s - now))
            else:
                usages.append(Usage(n, freeing + check.window_s - now if n else 0.0))
        return admitted, usages

    def add(self, event_id: str) -> bool:
        """Record a webhook event id; False when some process already had it."""
        with self._transaction() as db:
            added = db.execute("INSERT OR IGNORE INTO events (id) VALUES (?)", (event_id,)).rowcount == 1
            if added and db.execute("SELECT max(rowid) FROM events").fetchone()[0] % _PRUNE_EVERY == 0:
                db.execute("DELETE FROM events WHERE rowid <= (SELECT max(rowid) FROM events) - ?", (_MAX_EVENTS,))
        return added

    def close(self) -> None:
        self._db.close()
        self._lock.close()
