"""bench/greenlet_floor.py, run small (2,000 waiters in each of three fresh processes, a few seconds):
the figures it reports are what the processes' RSS showed, with the page a deep call leaves behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.e2e  # it starts processes


def test_a_waiting_greenlet_costs_more_than_a_task_and_keeps_the_page_of_its_deepest_call(tmp_path: Path) -> None:
    figures = tmp_path / "floor.json"
    result = subprocess.run(
        [sys.executable, "bench/greenlet_floor.py", "--quick", "--json", str(figures)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    kb = json.loads(figures.read_text())
    assert 1.0 < kb["asyncio task"] < kb["greenlet"] < 16.0
    assert kb["greenlet, one deep call"] - kb["greenlet"] >= 2.0  # a 4 KB page, give or take the noise
    assert "| greenlet | " in result.stdout and "Rerun: `python bench/greenlet_floor.py --quick`" in result.stdout
