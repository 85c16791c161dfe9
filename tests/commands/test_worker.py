"""`harness worker` and `harness run --expect-workers`: addresses, usage errors, and workers that never come.

The real several-hosts run is tests/test_multihost.py; these run on loopback.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness.commands.worker import check_bind, local_master_host, parse_master, worker_args, workers_missing
from tests.helpers import only_run_dir, read_json, run_cli, run_harness


@pytest.mark.parametrize(
    "text, expected",
    [
        ("10.0.0.5", ("10.0.0.5", 5557)),
        ("10.0.0.5:6000", ("10.0.0.5", 6000)),
        ("master:5557", ("master", 5557)),
        ("[::1]:7000", ("::1", 7000)),
        ("::1", ("::1", 5557)),
    ],
)
def test_master_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_master(text) == expected


@pytest.mark.parametrize("text", ["", ":5557", "host:", "host:0", "host:70000", "host:http"])
def test_bad_master_address_is_one_line(text: str) -> None:
    with pytest.raises(ValueError, match=r"^--master: expected HOST\[:PORT\]"):
        parse_master(text)


def test_bind_address_and_where_local_workers_connect() -> None:
    assert check_bind("0.0.0.0") == "0.0.0.0" and local_master_host("0.0.0.0") == "127.0.0.1"
    assert local_master_host("10.1.2.3") == "10.1.2.3"
    with pytest.raises(ValueError, match="--master-bind: expected an IP address"):
        check_bind("every-interface")
    assert worker_args("10.1.2.3", 6000)[-4:] == ["--master-host", "10.1.2.3", "--master-port", "6000"]


def test_workers_missing_reads_locusts_last_count() -> None:
    log = (
        "Waiting for workers to be ready, 0 of 3 connected\nWaiting for workers to be ready, 2 of 3 connected\n"
        "ERROR/locust.main: Gave up waiting for workers to connect"
    )
    assert workers_missing(log, 3, 60, "0.0.0.0:5557") == "only 2 of 3 workers connected to 0.0.0.0:5557 within 60 s"
    assert workers_missing("Gave up waiting for workers to connect", 2, 5, "x").startswith("fewer than 2 workers")
    assert workers_missing("Shutting down (exit code 0)", 2, 5, "x") is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["worker", "--master", "host:99999"], "--master: expected HOST[:PORT] with a port 1-65535"),
        (["worker", "--master", "host", "--processes", "0"], "--processes: expected 1 or more"),
        (
            ["run", "scenarios/smoke.toml", "--master-bind", "0.0.0.0"],
            "--master-bind and --master-port go with --expect-workers",
        ),
        (["run", "scenarios/smoke.toml", "--expect-workers", "0"], "--expect-workers: expected 1 or more"),
        (
            ["run", "scenarios/smoke.toml", "--expect-workers", "1", "--workers", "2"],
            "--workers 2 is more than --expect-workers 1",
        ),
        (
            ["run", "scenarios/smoke.toml", "--expect-workers", "1", "--master-bind", "any"],
            "--master-bind: expected an IP address",
        ),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.e2e
def test_a_master_whose_workers_never_come_stops_before_any_load(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_harness(
        "run",
        "scenarios/smoke.toml",
        "--expect-workers",
        "2",
        "--master-port",
        str(port),
        "--expect-workers-max-wait",
        "2s",
        "--duration",
        "5s",
        "--out",
        str(tmp_path),
        timeout=90,
    )
    assert result.returncode == 3, result.stderr[-2000:]
    assert f"workers connected to 127.0.0.1:{port} within 2 s" in result.stderr
    assert f"harness worker --master HOST:{port}" in result.stderr
    meta = read_json(only_run_dir(tmp_path) / "run.json")
    assert meta["aborted"] is True and "workers connected" in meta["abort_reason"]
    assert meta["started_at"] is None
