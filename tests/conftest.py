"""Shared fixtures: the harness as a real command, and demo API processes on free loopback ports."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.demo_api.config import TargetConfig
from harness.demo_api.process import RunningTarget, start_target
from tests import scheduling
from tests.helpers import REPO, CappedRun, finish, only_run_dir, run_harness, start_run

GROUPS_FOLDER = pytest.StashKey[Path]()


# --- sharing two cores (pytest -n 5): see tests/scheduling.py ----------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Iterator[None]:
    on_worker = hasattr(config, "workerinput")
    if on_worker:
        scheduling.mark_groups(items)
    yield
    if on_worker:
        scheduling.order_and_share(config, items)


def _groups_folder(config: pytest.Config) -> Path:
    if GROUPS_FOLDER not in config.stash:
        config.stash[GROUPS_FOLDER] = Path(tempfile.mkdtemp(prefix="harness-test-groups-"))
    return config.stash[GROUPS_FOLDER]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput[scheduling.GROUPS_KEY] = str(_groups_folder(node.config))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None
    return scheduling.scheduler(config, log, _groups_folder(config))


def pytest_unconfigure(config: pytest.Config) -> None:
    if GROUPS_FOLDER in config.stash:
        shutil.rmtree(config.stash[GROUPS_FOLDER], ignore_errors=True)


@pytest.fixture
def target_factory() -> Iterator[Callable[..., RunningTarget]]:
    """Start demo API processes from TargetConfig.from_dict settings; each is stopped after the test."""
    started: list[RunningTarget] = []

    def start(settings: dict[str, Any] | None = None) -> RunningTarget:
        running = start_target(TargetConfig.from_dict(settings or {}))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture(scope="session")
def vulnerable_audit(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`harness audit --profile vulnerable`, once: tests/audit/test_command.py and the golden rows
    (tests/analysis/test_golden.py) both read it, on one worker (tests/scheduling.py)."""
    out = tmp_path_factory.mktemp("vulnerable-audit")
    result = run_harness("audit", "--profile", "vulnerable", "--out", str(out), timeout=240)
    return result, only_run_dir(out)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`harness run smoke` with two workers against the embedded demo API, once: tests/commands/test_run.py
    and the schema check of a fresh run (tests/documents/test_schemas.py) read it, on one worker."""
    out = tmp_path_factory.mktemp("embedded")
    result = run_harness("run", "scenarios/smoke.toml", "--workers", "2", "--duration", "10s", "--out", str(out))
    return result, only_run_dir(out)


@pytest.fixture(scope="session")
def capped_run(tmp_path_factory: pytest.TempPathFactory) -> CappedRun:
    """`harness run smoke` with a spend cap far below one chat, its progress writes failing from the start
    (progress.json made a folder before the master first writes it), once: tests/load/test_guardrails.py
    checks that the cap stopped it, tests/commands/test_fail_safe.py that the failing writes did not
    silence the cap."""
    folder = tmp_path_factory.mktemp("capped")
    scenario = folder / "capped.toml"
    scenario.write_text((REPO / "scenarios" / "smoke.toml").read_text() + "\n[guardrails]\nmax_spend_usd = 0.00001\n")
    out = folder / "out"
    target = start_target(TargetConfig.from_dict({"ttft": 1, "token_delay": 1, "output_tokens": [5, 10]}))
    try:
        harness = start_run(out, target.url, "--workers", "1", "--duration", "40s", scenario=scenario)
        blocked = False
        deadline = time.time() + 60
        while not blocked and time.time() < deadline and harness.poll() is None:
            for run_dir in out.glob("*"):
                progress = run_dir / "progress.json"
                try:
                    progress.unlink(missing_ok=True)
                    progress.mkdir()
                    blocked = True
                except OSError:
                    pass
            time.sleep(0.05)
        stderr = finish(harness)
    finally:
        target.stop()
    assert blocked, "the run folder never appeared"
    return CappedRun(harness.returncode, stderr, only_run_dir(out))


@pytest.fixture(autouse=True)
def _unit_tests_start_no_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast tier (`-m "not e2e"`) starts no process: a test that does must say so with `e2e`."""
    if request.node.get_closest_marker("e2e") is None:

        def refuse(*args: Any, **kwargs: Any) -> None:
            raise AssertionError(f"{request.node.nodeid} starts a process: mark it @pytest.mark.e2e")

        monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
