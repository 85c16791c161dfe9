"""What the demo API has seen and spent, for `GET /__demo__/stats`.

These are the server's own figures, so a test can check what an attack cost rather than what the
load generator believes: tokens are counted as the model produces them (admitted chats only), an
e-mail only when a reset is actually queued, and a chat refused for its size before the model ran.

Each process counts in memory (`Stats`). With several processes, `SharedStats` makes the answer
cover all of them: every process publishes its figures to a folder the supervisor shares, as one
JSON file per pid replaced atomically, at most every `PUBLISH_INTERVAL_S` while they change (and once
at shutdown), and the process that answers `/__demo__/stats` publishes its own at once and merges
every file. Figures of the other processes may therefore lag by up to `lag_s`. A file stays after its
process dies: what it counted happened. A reset writes a new epoch to the folder; every process
zeroes its figures when it sees the epoch change, and snapshots of an older epoch are left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["MAX_PEERS", "PUBLISH_INTERVAL_S", "SharedStats", "Stats", "merge"]

MAX_PEERS = 1000  # distinct peer addresses kept per route
PUBLISH_INTERVAL_S = 0.1  # how often a process publishes changed figures for the others

_EPOCH_FILE = "reset-epoch"
_PREFIX = "stats-"
_COUNTS = ("emails_sent", "webhooks_processed", "webhooks_duplicate", "prompts_rejected")
log = logging.getLogger(__name__)


class Stats:
    """One process's figures. `changed` is set by every update, for a publisher to clear."""

    def __init__(self, processes: int = 1) -> None:
        self.processes = processes
        self.reset()

    def reset(self) -> None:
        self.requests: dict[str, int] = {}
        self.blocked: dict[str, int] = {}
        self.peers: dict[str, set[str]] = {}
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.emails_sent = 0
        self.webhooks_processed = 0
        self.webhooks_duplicate = 0
        self.prompts_rejected = 0
        self.changed = True

    def request(self, route: str, peer: str | None) -> None:
        self.requests[route] = self.requests.get(route, 0) + 1
        if peer is not None:
            seen = self.peers.setdefault(route, set())
            if len(seen) < MAX_PEERS:
                seen.add(peer)
        self.changed = True

    def block(self, route: str) -> None:
        self.blocked[route] = self.blocked.get(route, 0) + 1
        self.changed = True

    def spend(self, prompt: int = 0, completion: int = 0) -> None:
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.changed = True

    def email(self) -> None:
        self.emails_sent += 1
        self.changed = True

    def webhook(self, duplicate: bool) -> None:
        if duplicate:
            self.webhooks_duplicate += 1
        else:
            self.webhooks_processed += 1
        self.changed = True

    def reject_prompt(self) -> None:
        """A chat refused for its size (413): proof that a huge prompt cost nothing."""
        self.prompts_rejected += 1
        self.changed = True

    def figures(self) -> dict[str, Any]:
        """The counts alone, in the response's shape: what `merge` adds up."""
        return {
            "requests": dict(self.requests),
            "blocked": dict(self.blocked),
            "peers": {route: sorted(peers) for route, peers in self.peers.items()},
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            "emails_sent": self.emails_sent,
            "webhooks_processed": self.webhooks_processed,
            "webhooks_duplicate": self.webhooks_duplicate,
            "prompts_rejected": self.prompts_rejected,
        }

    def snapshot(self) -> dict[str, Any]:
        """The response when this process is the only one (or, without a shared folder, its own part)."""
        pid = os.getpid()
        figures = self.figures()
        return merge([(pid, figures)], pid, self.processes, scope="all" if self.processes == 1 else "process")


def merge(parts: list[tuple[int, dict[str, Any]]], pid: int, processes: int, scope: str = "all",
          lag_s: float = 0.0) -> dict[str, Any]:  # fmt: skip
    """One response from the `figures()` of several processes: counts summed, peers united."""
    requests: dict[str, int] = {}
    blocked: dict[str, int] = {}
    peers: dict[str, set[str]] = {}
    tokens = {"prompt": 0, "completion": 0}
    counts = dict.fromkeys(_COUNTS, 0)
    per_process: dict[str, int] = {}
    for part_pid, figures in parts:
        for total, part in ((requests, figures["requests"]), (blocked, figures["blocked"])):
            for route, n in part.items():
                total[route] = total.get(route, 0) + n
        for route, seen in figures["peers"].items():
            peers.setdefault(route, set()).update(seen)
        for kind in tokens:
            tokens[kind] += figures["tokens"][kind]
        for key in _COUNTS:
            counts[key] += figures[key]
        per_process[str(part_pid)] = per_process.get(str(part_pid), 0) + sum(figures["requests"].values())
    return {
        "pid": pid,
        "processes": processes,
        "scope": scope,
        "lag_s": lag_s,
        "per_process": per_process,
        "requests": requests,
        "blocked": blocked,
        "peers": {route: sorted(seen)[:MAX_PEERS] for route, seen in sorted(peers.items())},
        "tokens": tokens,
        **counts,
    }


class SharedStats:
    """Publishes one process's `stats` to `directory` and answers for every process that publishes there.

    Runs on the process's event loop (`start`/`stop` from the app's lifespan), so no locks."""

    def __init__(
        self, stats: Stats, directory: str, interval_s: float = PUBLISH_INTERVAL_S, pid: int | None = None
    ) -> None:
        self.stats = stats
        self.directory = Path(directory)
        self.interval_s = interval_s
        self.pid = os.getpid() if pid is None else pid  # tests stand in for several processes
        self._path = self.directory / f"{_PREFIX}{self.pid}.json"
        self._tmp = self.directory / f".{_PREFIX}{self.pid}.json.tmp"
        self._epoch = self._read_epoch()  # a process started after a reset starts in its epoch
        self._published = False
        self._task: asyncio.Task[None] | None = None

    def _read_epoch(self) -> str:
        try:
            return (self.directory / _EPOCH_FILE).read_text()
        except FileNotFoundError:
            return ""

    def _sync_epoch(self) -> None:
        """Zero this process's figures if another process reset them all since we last looked."""
        epoch = self._read_epoch()
        if epoch != self._epoch:
            self._epoch = epoch
            self.stats.reset()

    def publish(self, force: bool = False) -> None:
        """Write this process's figures (atomically) if they changed since the last time, or `force`."""
        self._sync_epoch()
        if not (force or self.stats.changed or not self._published):
            return
        self.stats.changed = False
        data = {"pid": self.pid, "epoch": self._epoch, "written": time.time(), "figures": self.stats.figures()}
        _write_atomic(self._path, self._tmp, json.dumps(data, separators=(",", ":")))
        self._published = True

    def merged(self) -> dict[str, Any]:
        """Every process's figures of the current epoch, this one's fresh, the others' as last published."""
        self.publish()
        parts = []
        for path in sorted(self.directory.glob(f"{_PREFIX}*.json")):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):  # replaced atomically, so only a file deleted under us
                continue
            if data.get("epoch") == self._epoch:  # older ones were published before a reset
                parts.append((int(data["pid"]), data["figures"]))
        return merge(parts, self.pid, self.stats.processes, lag_s=self.interval_s)

    def reset_all(self) -> None:
        """Zero the figures of every process: this one now, the others on their next publish tick."""
        epoch = f"{time.time_ns()}-{self.pid}"
        _write_atomic(self.directory / _EPOCH_FILE, self.directory / f".{_EPOCH_FILE}.{self.pid}.tmp", epoch)
        self._epoch = epoch
        self.stats.reset()
        self.publish(force=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                self.publish()
            except OSError as exc:  # e.g. the folder removed while the supervisor stops us
                log.warning("demo stats: could not publish: %s", exc)

    def start(self) -> None:
        self.publish(force=True)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="demo-stats-publisher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(OSError):
            self.publish(force=True)


def _write_atomic(path: Path, tmp: Path, text: str) -> None:
    tmp.write_text(text)
    os.replace(tmp, path)
