"""Starting and stopping the demo API as a process, its command line, determinism across processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from harness.demo_api.app import create_app
from harness.demo_api.config import TargetConfig
from harness.demo_api.distributions import Distribution
from harness.demo_api.process import TargetStartError, start_target
from tests.helpers import REPO

FAST = {"ttft": {"dist": "constant", "ms": 1}, "token_delay": {"dist": "constant", "ms": 0}}


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "harness.demo_api", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )  # fmt: skip


def _first_chat(url: str) -> str:
    with httpx.Client(base_url=url) as c:
        acct = c.get("/__demo__/accounts").json()["accounts"][1]
        token = c.post("/api/auth/login", json={"email": acct["email"], "password": acct["password"]}).json()
        body = {"messages": [{"role": "user", "content": "hello"}], "stream": False}
        r = c.post("/api/chat", json=body, headers={"Authorization": "Bearer " + token["access_token"]})
        return r.json()["choices"][0]["message"]["content"]


@pytest.mark.e2e
def test_same_seed_same_accounts_and_first_reply() -> None:
    config = TargetConfig.from_dict({"seed": 11, **FAST})
    with start_target(config) as a, start_target(config) as b:
        assert a.url != b.url and a.pid != b.pid
        accounts_a = httpx.get(a.url + "/__demo__/accounts").json()
        accounts_b = httpx.get(b.url + "/__demo__/accounts").json()
        assert accounts_a == accounts_b and accounts_a["seed"] == 11
        assert _first_chat(a.url) == _first_chat(b.url)
    with start_target(TargetConfig.from_dict({"seed": 12, **FAST})) as c:
        assert httpx.get(c.url + "/__demo__/accounts").json()["accounts"] != accounts_a["accounts"]


@pytest.mark.e2e
def test_stop_is_clean_and_only_stops_its_child() -> None:
    target = start_target(TargetConfig())
    assert target.running and str(target.pid) and target.url.startswith("http://127.0.0.1:")
    assert target.stop() == 0
    assert not target.running
    assert target.stop() == 0  # idempotent


@pytest.mark.e2e
def test_sigint_exits_zero_without_traceback() -> None:
    child = _spawn("--port", "0", "--profile", "vulnerable")
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    assert line.startswith("harness target: listening on http://127.0.0.1:") and line.endswith("(profile vulnerable)")
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=10)
    assert child.returncode == 0 and "Traceback" not in stderr, stderr


@pytest.mark.e2e
def test_child_exits_when_parent_closes_stdin() -> None:
    child = _spawn("--exit-on-stdin-eof")
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline().startswith("harness target: listening")
    child.stdin.close()
    assert child.wait(timeout=10) == 0


@pytest.mark.e2e
def test_start_error_carries_the_child_stderr() -> None:
    with pytest.raises(TargetStartError, match="cannot listen on 203.0.113.9"):
        start_target(TargetConfig(), host="203.0.113.9", timeout_s=10)


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--profile", "open"], "profile"),
        (["--port", "http"], "--port"),
        (["--port", "70000"], "--port"),
        (["--seed", "x"], "--seed"),
        (["--processes", "two"], "--processes"),
        (["--processes", "0"], "processes"),
        (["--config", "/nonexistent/target.json"], "--config"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(args: list[str], needle: str) -> None:
    child = _spawn(*args)
    _, stderr = child.communicate(timeout=20)
    assert child.returncode == 2
    assert len(stderr.strip().splitlines()) == 1 and needle in stderr and "Traceback" not in stderr, stderr


@pytest.mark.e2e
def test_cli_config_file_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "target.json"
    path.write_text(json.dumps({"latency": {"chat": {"dist": "normal", "mean_ms": 5}}}))
    child = _spawn("--config", str(path))
    _, stderr = child.communicate(timeout=20)
    assert child.returncode == 2 and "latency.chat.sd_ms" in stderr and len(stderr.strip().splitlines()) == 1


def test_guards_answer_before_latency_and_handler() -> None:
    seen: list[str] = []

    async def block_leads(route: str, request: Request) -> Response | None:
        seen.append(route)
        if route == "leads":
            return JSONResponse({"error": "rate_limited"}, status_code=429, headers={"Retry-After": "1"})
        return None

    config = TargetConfig(latency={"leads": Distribution("constant", {"ms": 5000})})

    async def exercise() -> None:
        transport = httpx.ASGITransport(app=create_app(config, guards=[block_leads]))
        async with httpx.AsyncClient(transport=transport, base_url="http://target") as client:
            start = time.perf_counter()
            assert (await client.post("/api/leads", json={})).status_code == 429
            assert time.perf_counter() - start < 1  # blocked before the injected 5 s
            assert (await client.get("/health")).status_code == 200

    asyncio.run(exercise())
    assert seen == ["leads", "health"]


# -- several server processes ----------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def _server_pids(url: str, tries: int = 30) -> set[int]:
    with httpx.Client(headers={"Connection": "close"}) as c:  # a new connection each time
        return {c.get(url + "/__demo__/stats").json()["pid"] for _ in range(tries)}


def _wait_gone(pids: set[int], timeout_s: float = 8) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.e2e
def test_processes_share_one_port_and_stop_together() -> None:
    target = start_target(TargetConfig(processes=2))
    try:
        pids = _server_pids(target.url)
        assert len(pids) == 2 and target.pid not in pids
        assert httpx.get(target.url + "/__demo__/stats").json()["processes"] == 2
    finally:
        assert target.stop() == 0
    assert _wait_gone(pids)


@pytest.mark.e2e
def test_processes_stop_when_their_parent_is_killed() -> None:
    target = start_target(TargetConfig(processes=2, profile="vulnerable"))
    pids = _server_pids(target.url)
    os.kill(target.pid, signal.SIGKILL)  # no chance to stop its children: they notice on their own
    target.stop()
    assert _wait_gone(pids)


@pytest.mark.e2e
def test_a_dead_server_process_stops_the_rest_with_exit_1() -> None:
    target = start_target(TargetConfig(processes=2))
    pids = _server_pids(target.url)
    os.kill(min(pids), signal.SIGKILL)
    assert target.process.wait(timeout=10) == 1
    assert "exited with code -9" in target.stderr_tail()
    target.stop()
    assert _wait_gone(pids)


@pytest.mark.e2e
def test_cli_processes_sigint_exits_zero_without_traceback() -> None:
    child = _spawn("--port", "0", "--processes", "2", "--profile", "vulnerable")
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    assert line.startswith("harness target: listening on http://127.0.0.1:") and line.endswith("(profile vulnerable)")
    url = line.split()[4]
    pids = _server_pids(url)
    assert len(pids) == 2
    child.send_signal(signal.SIGINT)
    out, stderr = child.communicate(timeout=10)
    assert child.returncode == 0 and "Traceback" not in stderr and out == "", stderr
    assert _wait_gone(pids)
