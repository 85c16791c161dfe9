"""A real wheel: `pip install` (not editable) into a fresh venv, then a shipped scenario by name from a
folder that is not the checkout.

The package is built from a copy of only the files the wheel is made from (`WHEEL_SOURCES`, the same
the Dockerfile copies), so a module or data file that the package needs but the wheel leaves out, or a
path that assumes a checkout, fails here; building from a copy also leaves no `build/` in the checkout
and no stale `build/lib` in the wheel. pip builds it as a user's `pip install .` does (isolated, with the
setuptools that pyproject.toml asks for, from the configured index).

The venv is fresh and holds nothing but the harness: its dependencies (Locust, pandas, pyarrow, ...)
come from the running environment's site-packages through a `.pth` file, which pip sees as installed,
so nothing else is downloaded and the test takes well under a minute. Not `--system-site-packages`: a
.pth only adds a folder to the path and runs none of that folder's own .pth files, so the editable
install of the checkout there stays off, and the test checks that the harness comes from the venv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import REPO, WHEEL_SOURCES, only_run_dir

pytestmark = pytest.mark.e2e


def _clean_env() -> dict[str, str]:
    """This environment without anything that would put the checkout on the path."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the harness installed from its wheel; returns the venv's bin folder."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    for name in WHEEL_SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, source / name)

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root, 60).stdout.strip()
    )
    ours = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    assert not any(Path(p).resolve() == REPO for p in ours)
    (site / "dependencies-from-the-test-environment.pth").write_text("".join(f"{p}\n" for p in ours))

    result = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-input", str(source)], root, 300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return venv / "bin"


def test_the_wheel_holds_every_file_of_the_package(installed: Path, tmp_path: Path) -> None:
    """Every file under harness/ (modules, shipped scenarios, prices, red-team set, Locust entry points,
    templates) is installed, and the harness imported from the venv is that copy, not the checkout."""
    probe = "import json, sys, harness; print(json.dumps({'package': harness.__file__, 'path': sys.path}))"
    result = _run([str(installed / "python"), "-c", probe], tmp_path, 60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    package = Path(seen["package"]).parent
    assert package.is_relative_to(installed.parent), package
    assert not any(p and Path(p).resolve() == REPO for p in seen["path"]), seen["path"]

    wanted = {
        p.relative_to(REPO / "harness")
        for p in (REPO / "harness").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    have = {p.relative_to(package) for p in package.rglob("*") if p.is_file()}
    assert wanted - have == set()
    for data in (
        "scenarios/smoke.toml",
        "protocol/vocabularies/o200k_base.tiktoken.gz",
        "audit/redteam.toml",
        "locustfiles/journeys.py",
    ):
        assert Path(data) in have, data


def test_a_shipped_scenario_runs_by_name_from_any_folder(installed: Path, tmp_path: Path) -> None:
    """A 5 s `harness run smoke` from a folder of its own: exit 0, and a run folder whose samples agree
    with its summary, priced from the wheel's own price table."""
    # The p95 targets are the smoke scenario's business, not the wheel's: a shared machine's stall
    # must not fail a packaging test (an explicit p95(*) replaces every default p95).
    result = _run(
        [
            str(installed / "harness"),
            "run",
            "smoke",
            "--duration",
            "5s",
            "--workers",
            "1",
            "--out",
            "OUT",
            "--threshold",
            "p95(*) < 30s",
        ],
        tmp_path,
        180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = only_run_dir(tmp_path / "OUT")
    summary = json.loads((run_dir / "summary.json").read_text())
    run = json.loads((run_dir / "run.json").read_text())
    samples = pd.read_parquet(run_dir / "samples")
    assert run["scenario"] == "smoke" and summary["verdict"] == "pass"
    assert len(samples) == summary["totals"]["requests"] == sum(run["samples_by_worker"].values()) > 0
    assert {"login", "chat"} <= set(samples["endpoint"]) and summary["totals"]["errors"] == 0
    assert summary["spend"]["model"] == "gpt-4o-mini" and summary["spend"]["price_table_date"]
    assert summary["spend"]["run_cost_usd"]["legit"] > 0
