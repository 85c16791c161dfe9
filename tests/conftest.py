"""Shared fixtures: the harness as a real command, and demo API processes on free loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import subprocess

import pytest

from harness.demo_api.config import TargetConfig
from harness.demo_api.process import RunningTarget, start_target

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


@pytest.fixture(autouse=True)
def _unit_tests_start_no_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast tier (`-m "not e2e"`) starts no process: a test that does must say so with `e2e`."""
    if request.node.get_closest_marker("e2e") is None:
        def refuse(*args: Any, **kwargs: Any) -> None:
            raise AssertionError(f"{request.node.nodeid} starts a process: mark it @pytest.mark.e2e")

        monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
