"""The house follows the pipeline: each package imports only the stages before it, no module imports
itself in a circle, and the offline stages (analysis, report) and the orchestrator never load Locust
or gevent, whose monkey-patching would change how the parent process behaves.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.helpers import REPO

HARNESS = REPO / "harness"
# package -> the packages it may import (besides itself and harness/__init__'s version). The order is
# the pipeline's: scenario -> load (inside Locust) -> samples -> analysis -> report, with the commands
# on top and the audit and the demo API apart. The load stage judges abort-on-fail thresholds on the
# analysis while the run goes, and writes the report of a plain `locust -f` run at its end.
BASE = {
    "errors",
    "runfolder",
    "host",
    "lifeline",
    "documents",
}  # documents: the typed run.json, summary.json, audit.json
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "documents": set(),
    "runfolder": set(),
    "lifeline": set(),
    "host": {"errors"},
    "sample_rows": set(),
    "samples": {"sample_rows"},
    "protocol": {"errors"},
    "demo_api": {"errors", "protocol"},
    "scenario": BASE | {"demo_api"},
    "analysis": BASE | {"scenario", "sample_rows", "samples"},
    "report": BASE | {"scenario", "sample_rows", "samples", "analysis"},
    "load": BASE | {"scenario", "protocol", "sample_rows", "samples", "analysis", "report"},
    "locustfiles": {"load"},
    "audit": BASE | {"scenario", "protocol", "analysis", "report", "demo_api"},
    "check": BASE | {"scenario", "protocol", "load", "demo_api"},
    "commands": BASE | {"scenario", "samples", "analysis", "report", "audit", "demo_api"},
    "cli": BASE | {"scenario", "commands", "audit", "check", "demo_api"},
    "__main__": {"cli"},
}
LOCUST_WORLD = ("locust", "gevent", "geventhttpclient", "zmq")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """module -> the harness modules it imports anywhere in its body (lazy imports included)."""
    modules = {_module_name(p): p for p in HARNESS.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from harness.load import plugin` imports a module; `from harness.scenario import X`, a package
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    graph[name].add(target if target in modules else node.module)
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names)
        graph[name] = {t for t in graph[name] if t in modules and t != name}
    return graph


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "harness"


def test_no_package_imports_a_later_stage() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in _imports().items()
        for target in targets
        if _package(target) not in ({_package(module), "harness"} | ALLOWED[_package(module)])
    )
    assert wrong == []


def test_no_module_imports_itself_in_a_circle() -> None:
    graph = _imports()
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                circles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


@pytest.mark.e2e
def test_the_offline_stages_and_the_orchestrator_never_load_locust_or_gevent() -> None:
    offline = sorted(_module_name(p) for stage in ("analysis", "report") for p in (HARNESS / stage).rglob("*.py"))
    entry = [
        "harness.cli",
        "harness.commands.run",
        "harness.commands.report",
        "harness.commands.compare",
        "harness.commands.validate",
        "harness.commands.cost",
        "harness.check.command",
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {offline + entry!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {LOCUST_WORLD!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


@pytest.mark.e2e
def test_a_locust_worker_never_loads_pandas_or_pyarrow() -> None:
    """A worker only fills sample batches and ships them; the files and the figures are the master's."""
    code = (
        "import sys\n"
        "import harness.locustfiles.journeys, harness.locustfiles.abuse\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'pyarrow', 'matplotlib')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout
