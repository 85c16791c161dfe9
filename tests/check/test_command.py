"""`harness check` as a command: its exit codes and table, in process against a small API in a thread
(fast), and bad input as one line with exit 2."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.cli import main
from harness.scenario import load_scenario
from harness.scenario.probeplan import probe_phase_s
from tests.check.fake_api import reply, serve
from tests.helpers import run_harness

SCENARIO = """
[scenario]
name = "fake"
[accounts]
source = "inline"
inline = [{ email = "maya@example.test", password = "pw-123456" }]
[auth]
token_field = "TOKEN_FIELD"
[endpoints.login]
method = "POST"
path = "/login"
body = { email = "{email}", password = "{password}" }
auth = false
[endpoints.me]
method = "GET"
path = "/me"
[journeys.client]
weight = 0
[journeys.visitor]
weight = 1
[endpoints.leads]
method = "POST"
path = "/leads"
auth = false
"""
ROUTES = {
    "POST /login": lambda r: reply(200, {"user": {"id": 1}, "session": {"token": "tok_" + "z" * 32}}),
    "GET /me": lambda r: (
        reply(200, {"id": 1})
        if r.headers.get("authorization") == "Bearer tok_" + "z" * 32
        else reply(401, {"error": "no"})
    ),
}


def scenario_file(tmp_path: Path, token_field: str) -> Path:
    path = tmp_path / "fake.toml"
    path.write_text(SCENARIO.replace("TOKEN_FIELD", token_field))
    return path


def test_a_right_mapping_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(ROUTES) as (url, seen):
        code = main(["check", str(scenario_file(tmp_path, "session.token")), "--host", url])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[-1] == "check: OK: all 2 steps worked (2 requests sent)"
    assert "not sent: leads (kind lead: check never calls it)" in out
    assert [r.path for r in seen] == ["/login", "/me"]


def test_a_wrong_mapping_exits_1_with_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(ROUTES) as (url, _):
        code = main(["check", str(scenario_file(tmp_path, "access_token")), "--host", url])
    out = capsys.readouterr().out
    assert code == 1
    assert 'fix: set [auth] token_field = "session.token"' in out
    assert out.splitlines()[-1] == "check: FAIL: 2 of 2 steps did not work (1 requests sent)"
    assert "pw-123456" not in out and "z" * 32 not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "no-such.toml"], "no-such.toml: file not found"),
        (["check", "smoke", "--host", "ftp://example.test"], "--host: expected an http:// or https:// URL"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_missing_accounts_file_is_exit_2_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario_file(tmp_path, "access_token")
    path.write_text(path.read_text().replace('source = "inline"', 'source = "file"\nfile = "accounts.csv"'))
    assert main(["check", str(path), "--host", "http://127.0.0.1:9"]) == 2
    assert "accounts file not found" in capsys.readouterr().err


def test_check_warns_when_the_run_is_too_short_for_the_probes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same estimate as `harness validate`, before anything is sent: one line with the fix."""
    path = scenario_file(tmp_path, "session.token")
    path.write_text(
        path.read_text()
        + '[load]\nduration = "20s"\n'
        + '[[limits]]\nroute = "login"\nkey = "ip"\nquota = 5\nwindow = "30s"\n'
        + '[probes]\nstart_after = "5s"\n'
    )
    with serve(ROUTES) as (url, _):
        code = main(["check", str(path), "--host", url])
    err = capsys.readouterr().err
    assert code == 0
    warning = next(line for line in err.splitlines() if "probes.start_after" in line)
    assert warning.startswith(f"harness: warning: {path}: probes.start_after: the bypass matrix needs about ")
    needed = math.ceil(5 + probe_phase_s(load_scenario(path), loopback=True))  # two 30 s windows and more
    assert f"the bypass matrix needs about {needed} s (start_after 5 s + " in warning
    assert f"set load.duration (or --duration) to at least {needed + 5} s" in warning


def test_run_check_first_sends_no_load_when_a_step_does_not_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve(ROUTES) as (url, seen):
        code = main(["run", str(scenario_file(tmp_path, "access_token")), "--host", url, "--check-first"])
    captured = capsys.readouterr()
    assert code == 4
    assert 'fix: set [auth] token_field = "session.token"' in captured.out
    assert "--check-first: a step of the check did not work" in captured.err and "no load was sent" in captured.err
    assert [r.path for r in seen] == ["/login"]  # the check's one login, and nothing after it


@pytest.mark.e2e
def test_run_check_first_runs_the_load_once_every_step_worked(tmp_path: Path) -> None:
    routes = {**ROUTES, "POST /leads": lambda r: reply(201, {"id": 7})}
    with serve(routes) as (url, seen):
        result = run_harness(
            "run", str(scenario_file(tmp_path, "session.token")), "--host", url, "--check-first",
            "--workers", "0", "--users", "1", "--duration", "2s", "--out", str(tmp_path / "runs"),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "check: OK: all 2 steps worked" in result.stdout
    paths = [r.path for r in seen]
    assert paths[:2] == ["/login", "/me"] and "/leads" in paths[2:]  # the check, then the load
    assert len(list((tmp_path / "runs").glob("*/summary.json"))) == 1
