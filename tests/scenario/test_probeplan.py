"""The bypass matrix's plan: its techniques per route, and the time the probes need from the declared
windows, which `harness validate` compares with the run's length."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.commands.validate import run_validate
from harness.scenario import load_scenario
from harness.scenario.probeplan import path_variants, planned_techniques, probe_phase_s, probe_warnings
from tests.helpers import REPO

ABUSE = REPO / "scenarios" / "abuse.toml"


def test_path_variants_spell_the_same_path() -> None:
    assert path_variants("/api/chat") == {
        "trailing-slash": "/api/chat/",
        "upper-case": "/API/CHAT",
        "double-slash": "/api//chat",
        "percent-encoded": "/api%2Fchat",
    }


def test_planned_techniques_per_route() -> None:
    scenario = load_scenario(ABUSE)
    admin = planned_techniques(scenario, "admin_users", loopback=True)
    assert "method-switch:HEAD" in admin  # a GET route: HEAD reaches the GET handler
    assert "method-switch:PUT" in planned_techniques(scenario, "login", loopback=True)
    assert len([t for t in admin if t.startswith("ip-headers:")]) == 5
    assert "many-accounts" not in planned_techniques(scenario, "leads", loopback=True)  # no identity to vary
    assert "many-sources" not in planned_techniques(scenario, "leads", loopback=False)


def test_the_probe_phase_follows_the_windows() -> None:
    """Shipped abuse scenario, 10 s windows: a round with the window edge (1 + 2·10 + 2 s), a gap of one
    window + 1 s, then many-accounts alone (1 s): 35 s. Away from loopback every experiment is a round."""
    scenario = load_scenario(ABUSE)
    assert probe_phase_s(scenario, loopback=True) == 35.0
    assert probe_phase_s(scenario, loopback=False) > 5 * probe_phase_s(scenario, loopback=True)
    assert probe_warnings(scenario, scenario.load.planned_duration_s, loopback=True) == []


def test_a_run_too_short_for_the_probes_and_attacks_beside_them_are_warned() -> None:
    scenario = load_scenario(ABUSE)
    short = probe_warnings(scenario, 30.0, loopback=True)  # the attacks (from 50 s) never start: one warning
    assert len(short) == 1
    assert short[0].startswith("probes.start_after: the bypass matrix needs about 45 s (start_after 10 s + 35 s")
    assert "set load.duration (or --duration) to at least 50 s" in short[0]
    beside = replace(scenario, attacks_start_after_s=20.0)
    (warning,) = probe_warnings(beside, 100.0, loopback=True)
    assert warning.startswith("attacks.start_after: the attacks start at 20 s, while the probes run until about 45 s")
    assert "set attacks.start_after to at least 45 s" in warning


def test_validate_prints_the_probe_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    short = tmp_path / "abuse.toml"
    short.write_text(ABUSE.read_text().replace('duration = "100s"', 'duration = "30s"'))
    assert run_validate(short) == 0
    err = capsys.readouterr().err
    assert f"harness: warning: {short}: probes.start_after: the bypass matrix needs about 45 s" in err
