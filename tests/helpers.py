"""Helpers shared by the tests: the harness as a real command, run folders, and bench scripts as modules."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def run_harness(*args: str, cwd: Path | None = None, timeout: float = 180, env: dict[str, str] | None = None
                ) -> subprocess.CompletedProcess[str]:
    """`python -m harness ARGS`, bounded in time, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=cwd or REPO, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def load_bench(name: str) -> Any:
    """bench/NAME.py as a module (`bench_NAME`), without running it as a script."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def only_run_dir(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, f"expected one run folder in {out}, found {runs}"
    return runs[0]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def samples_frame(rows: list[dict[str, Any]]) -> Any:
    """Samples as `read_samples` returns them, from row dicts; a column a row leaves out takes its default."""
    import pyarrow as pa

    from harness.samples import DEFAULTS, SCHEMA

    columns = {name: [row.get(name, DEFAULTS[name]) for row in rows] for name in SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=SCHEMA).to_pandas()


CLIENT_ENDPOINTS = """
[accounts]
source = "demo"
[endpoints.login]
method = "POST"
path = "/api/auth/login"
body = { email = "{email}", password = "{password}" }
auth = false
[endpoints.conversations]
method = "GET"
path = "/api/conversations"
[endpoints.me]
method = "GET"
path = "/api/me"
[endpoints.conversation]
method = "GET"
path = "/api/conversations/{conversation_id}"
[endpoints.chat]
method = "POST"
path = "/api/chat"
body = { messages = "{messages}", stream = true }
stream = "sse-openai"
"""


def client_scenario(name: str, duration: str) -> str:
    """A scenario of coaching clients alone (login, conversations, me, streamed chat) with no think time."""
    return (f'[scenario]\nname = "{name}"\n' + CLIENT_ENDPOINTS
            + f'[load]\nusers = 3\nspawn_rate = 3\nduration = "{duration}"\n'
            + "[journeys.client]\nweight = 1\nthink_time = [0, 0]\nchat_turns = [1, 1]\nreset_probability = 0\n")
