"""The run folder on disk: its name, atomic writes, and the stop request `harness run` leaves in it.

Every file of a run folder is written whole or not at all (a temporary file, then a rename): a full
disk or a crash mid-write leaves the previous version or nothing, never a 0-byte `summary.json`
that a CI job would read as a result.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["STOP_FILE", "new_run_dir", "request_stop", "stop_file_reason", "write_atomic", "write_json_atomic"]

STOP_FILE = "STOP"  # created in the run folder by `harness run` on Ctrl-C or SIGTERM: finish now, gracefully


def new_run_dir(reports_dir: Path, scenario_name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(reports_dir) / f"{stamp}-{scenario_name}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path(reports_dir) / f"{stamp}-{scenario_name}-{suffix}"
    (path / "samples").mkdir(parents=True)
    (path / "logs").mkdir()
    return path


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write `data` to `path` whole, or raise and leave `path` as it was."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(data, indent=2, allow_nan=False, default=str))


def request_stop(run_dir: Path, reason: str) -> None:
    """Ask the master to finish the run now, saying why (it reads this within a second)."""
    (Path(run_dir) / STOP_FILE).write_text(reason, encoding="utf-8")


def stop_file_reason(path: Path) -> str:
    """The reason a stop request gives; an empty or unreadable one is a Ctrl-C (older runs touched it)."""
    try:
        reason = path.read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        reason = ""
    return reason or "interrupted by the user (Ctrl-C)"
