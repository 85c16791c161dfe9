"""The `harness` command's offline subcommands: validate and cost (no traffic). They answer before they
start anything, so they run in this process (`run_cli`), and once as real commands at the end."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.helpers import REPO, run_cli, run_harness


def test_validate_accepts_the_shipped_scenarios() -> None:
    for name in ("smoke", "load-day", "abuse"):
        result = run_cli("validate", f"scenarios/{name}.toml")
        assert result.returncode == 0, result.stderr
        assert f"scenario '{name}'" in result.stdout


def test_cost_prints_hand_checkable_figures() -> None:
    result = run_cli("cost", "scenarios/smoke.toml")
    assert result.returncode == 0, result.stderr
    # gpt-4o-mini at $0.15 in / $0.60 out per million; a turn is 150 + 62 hidden in, 300 out:
    # 212 × 0.15e-6 + 300 × 0.60e-6 = $0.0002118; 4 turns × 2,000 conversations = $1.69 a day
    assert "$1.69" in result.stdout
    # an attacker request: (2,000 + 62) × 0.15e-6 + 1,000 × 0.60e-6 = $0.0009093; × 2/s × 86,400 = $157.13
    assert "$157.13" in result.stdout and "$1,571.27" in result.stdout


def test_cost_with_an_unknown_model_is_a_one_line_error(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        (REPO / "scenarios" / "smoke.toml").read_text().replace('model = "gpt-4o-mini"', 'model = "gpt-9"')
    )
    result = run_cli("cost", str(scenario))
    assert result.returncode == 2
    assert "gpt-9" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cost_takes_price_overrides_from_the_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    text = (REPO / "scenarios" / "smoke.toml").read_text().replace('model = "gpt-4o-mini"', 'model = "house-model"')
    scenario.write_text(text + '\n[spend.prices."house-model"]\ninput = 1.0\noutput = 2.0\n')
    result = run_cli("cost", str(scenario))
    assert result.returncode == 0, result.stderr
    # 212 × 1e-6 + 300 × 2e-6 = $0.000812 a turn; × 4 × 2,000 = $6.50 a day
    assert "$6.50" in result.stdout


def test_validate_and_run_refuse_a_bad_threshold_in_one_line(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        'thresholds = ["p95(login) < 500ms", "p95(logn) < 500ms"]\n' + (REPO / "scenarios" / "smoke.toml").read_text()
    )
    result = run_cli("validate", str(scenario))
    assert result.returncode == 2
    assert result.stderr == (
        f"harness: {scenario}: thresholds[1]: p95(logn) < 500ms: unknown endpoint 'logn' "
        "(expected one of: chat, conversation, conversations, health, leads, login, me, "
        "reset_request, webhook, or *)\n"
    )
    # a bad --threshold stops `harness run` before the demo API starts or a run folder exists
    out = tmp_path / "out"
    result = run_cli(
        "run",
        "scenarios/smoke.toml",
        "--threshold",
        "p99(*) < 1s",
        "--abort-on-fail",
        "error_rate(*) < 1 percent",
        "--out",
        str(out),
    )
    assert result.returncode == 2
    assert result.stderr == (
        "harness: --abort-on-fail: 'error_rate(*) < 1 percent': error_rate is measured in %, "
        "not 'percent' (e.g. 1% or 0.01)\n"
    )
    assert not out.exists()


def test_a_bad_arrival_rate_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("run", "scenarios/smoke.toml", "--arrival-rate", "0", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "--arrival-rate: expected a number > 0, got '0'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_web_port_without_web_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("run", "scenarios/smoke.toml", "--web-port", "8089", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr == "harness: --web-port goes with --web\n"
    assert not (tmp_path / "out").exists()


def test_a_web_port_in_use_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "run", "scenarios/smoke.toml", "--web", "--web-port", str(port), "--out", str(tmp_path / "out")
        )
    assert result.returncode == 3
    assert result.stderr.startswith(f"harness: --web-port: cannot listen on 127.0.0.1:{port}: ")
    assert "leave --web-port out for a free one" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_help_is_whole_and_has_the_exit_codes() -> None:
    """Bug: the description was the docstring's first line, cut mid-sentence."""
    result = run_cli("--help")
    assert result.returncode == 0
    assert "distributed load and abuse tests for AI chatbot APIs,\non real Locust." in result.stdout
    assert "--help` tells more about each command." in result.stdout
    lines = result.stdout.splitlines()
    table = lines[lines.index("exit codes:") :]
    assert [line.split()[0] for line in table[1:] if line[:3].strip().isdigit()] == ["0", "1", "2", "3", "4"]
    assert "a threshold failed" in table[2] and "bad usage or scenario" in table[3] and "run aborted" in table[4]


SMOKE = (REPO / "scenarios" / "smoke.toml").read_text()
RUN_WOULD_REFUSE = [  # (change to smoke.toml, the line validate must print): each passed validate before
    (
        lambda t: t.replace('source = "demo"', 'source = "file"\nfile = "accounts.csv"'),
        "{dir}/accounts.csv: accounts file not found (accounts.file is relative to the scenario's folder): create it or "
        "fix the path",
    ),
    (
        lambda t: t.replace(
            'source = "demo"', 'source = "inline"\ninline = [{email = "c@x.example", password = "pw", role = "coach"}]'
        ),
        "{path}: accounts.roles: no account has one of the roles ['client'] (the accounts have: coach); add one, or "
        "change accounts.roles",
    ),
    (
        lambda t: t.replace('model = "gpt-4o-mini"', 'model = "gpt-9"'),
        "{path}: spend.model: unknown model 'gpt-9': genai-prices ",
    ),
    (
        lambda t: t + '\n[spend.prices."gpt-4o-mini"]\noutput = -1\n',
        "{path}: spend.prices.gpt-4o-mini.output: expected a non-negative number, got -1",
    ),
    (
        lambda t: t + "\n[target.latency]\nlgin = 5\n",
        "{path}: target.latency.lgin: unknown route; expected one of health, login, ",
    ),
    (
        lambda t: t.replace("[target]\n", "[target]\nprocesses = 100\n"),
        "{path}: target.processes: expected at most 64, got 100",
    ),
    (
        lambda t: t.replace("[target]\n", "[target]\ntenants = 100000\n"),
        "{path}: target.tenants: expected at most 1000, got 100000",
    ),
    (
        lambda t: (
            t.replace('host = ""', 'host = "https://staging.example.com"') + "\n[attacks.brute_force]\nusers = 1\n"
        ),
        "{path}: guardrails.allowed_hosts: attacks only go to loopback or to hosts listed there; staging.example.com is "
        'not (add "staging.example.com" to [guardrails] allowed_hosts only if you own it)',
    ),
]


@pytest.mark.parametrize("change, expected", RUN_WOULD_REFUSE)
def test_validate_catches_what_run_would_refuse(tmp_path: Path, change, expected) -> None:
    path = tmp_path / "s.toml"
    path.write_text(change(SMOKE))
    result = run_cli("validate", str(path))
    out, err = result.stdout, result.stderr
    assert result.returncode == 2 and out == ""
    assert err.startswith("harness: " + expected.format(path=path, dir=tmp_path)), err
    assert err.count("\n") == 1 and err.endswith("\n")


def test_unknown_model_hint_names_the_spend_tables(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SMOKE.replace('model = "gpt-4o-mini"', 'model = "gpt-9"'))
    err = run_cli("validate", str(path)).stderr
    assert err.endswith(
        '(gpt-4o-mini, claude-sonnet-4-5, gemini-2.5-flash, ...), or add [spend.prices."gpt-9"] with input, cached_input '
        "and output (USD per million tokens)\n"
    )


@pytest.mark.e2e
def test_validate_as_a_command_end_to_end(tmp_path: Path) -> None:
    ramp = tmp_path / "ramp.toml"
    ramp.write_text(
        SMOKE.replace("users = 12\n", "users = 200\n")
        .replace("spawn_rate = 6", "spawn_rate = 1")
        .replace('duration = "45s"', 'duration = "15s"')
    )
    result = run_harness("validate", str(ramp), timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"harness: warning: {ramp}: load: ramping to 200 users at 1/s takes 200 s, longer than "
        "the 15 s run: about 15 users will have started when it ends\n"
    )
    assert result.stdout.startswith(f"{ramp}: ok: scenario 'smoke'")
    bogus = tmp_path / "bogus.toml"
    bogus.write_text(SMOKE.replace("/api/conversations/{conversation_id}", "/api/conversations/{bogus}"))
    nan = tmp_path / "nan.toml"
    nan.write_text(SMOKE.replace("users = 12\n", "users = 12\narrival_rate = nan\n"))
    utf16 = tmp_path / "utf16.toml"
    utf16.write_bytes(SMOKE.encode("utf-16"))
    for path, expected in [
        (bogus, f"harness: {bogus}: endpoints.conversation.path: unknown placeholder {{bogus}} (known: "),
        (nan, f"harness: {nan}: load.arrival_rate: expected a finite number >= 0.001, got nan\n"),
        (utf16, f"harness: {utf16}: not UTF-8 text: save it as UTF-8\n"),
    ]:
        result = run_harness("validate", str(path), timeout=60)
        assert result.returncode == 2 and result.stderr.startswith(expected), result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
