"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The compose file is validated against the Compose Specification's JSON schema (vendored from
compose-spec/compose-spec, schema/compose-spec.json, in tests/fixtures/), and its services must agree
with each other and with the harness's own command line: the worker points at the master's port, the
master waits for as many workers as the file starts, and the reports folder is mounted where the
master writes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import jsonschema
import pytest
import yaml

from harness.cli import _parser
from harness.scenario import SHIPPED_SCENARIOS, scenario_path
from tests.helpers import REPO, WHEEL_SOURCES

COMPOSE = REPO / "docker-compose.yml"
SCHEMA = REPO / "tests" / "fixtures" / "compose-spec.json"
# The schema says draft-07 by an https URL that jsonschema does not map to a draft: name it ourselves.
VALIDATOR = jsonschema.Draft7Validator


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _interpolate(value: Any) -> Any:
    """Compose's `${VAR:-default}` with nothing set: the defaults, as a plain `docker compose up` sees them."""
    if isinstance(value, list):
        return [_interpolate(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    return value


def _option(command: list[str], name: str) -> str:
    assert name in command, f"{name} missing from {command}"
    return command[command.index(name) + 1]


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    VALIDATOR.check_schema(schema)
    errors = [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in VALIDATOR(schema).iter_errors(_compose())
    ]
    assert not errors, "\n".join(errors)


def test_the_schema_catches_a_broken_compose_file() -> None:
    """The vendored schema is the real one: a misspelt key is refused."""
    schema = json.loads(SCHEMA.read_text())
    broken = _compose()
    broken["services"]["worker"]["comand"] = broken["services"]["worker"].pop("command")
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR(schema).validate(broken)


def test_services_agree_with_each_other_and_with_the_harness() -> None:
    services = _compose()["services"]
    assert set(services) == {"target", "master", "worker"}
    commands = {name: _interpolate(service["command"]) for name, service in services.items()}
    for command in commands.values():  # each is a valid `harness` command line
        _parser().parse_args(command)

    target, master, worker = commands["target"], commands["master"], commands["worker"]
    assert target[0] == "target" and _option(target, "--host") == "0.0.0.0"
    target_port = _option(target, "--port")

    # a shipped scenario by name: the image holds the wheel, not a checkout
    assert master[:2] == ["run", "smoke"] and scenario_path(master[1]).parent == SHIPPED_SCENARIOS
    assert _option(master, "--host") == f"http://target:{target_port}"
    assert _option(master, "--master-bind") == "0.0.0.0" and _option(master, "--workers") == "0"
    master_port = _option(master, "--master-port") if "--master-port" in master else "5557"

    # the worker joins the master's service name and port
    assert worker[0] == "worker" and _option(worker, "--master") == f"master:{master_port}"
    # the master waits for as many workers as the file starts, with the same variable
    scale = services["worker"].get("scale", 1)
    assert int(_interpolate(str(scale))) == int(_option(master, "--expect-workers")) >= 1
    assert "${WORKERS" in str(scale) and "${WORKERS" in " ".join(services["master"]["command"])

    # the reports land on the host, where the master writes them
    out = _option(master, "--out")
    assert any(str(v).endswith(f":{out}") and str(v).startswith("./reports") for v in services["master"]["volumes"])
    # the master starts once the demo API answers
    assert services["master"]["depends_on"]["target"]["condition"] == "service_healthy"
    assert "healthcheck" in services["target"]


def test_dockerfile_installs_the_wheel_with_its_command_as_entrypoint() -> None:
    """The image is built from what tests/commands/test_wheel.py builds and runs the wheel from, and
    installs the wheel (not an editable checkout)."""
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    copied = {name for line in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M) for name in line.split()}
    assert copied == set(WHEEL_SOURCES)
    assert re.search(r"^RUN pip wheel --no-deps --wheel-dir /wheels \.$", text, re.M)
    assert re.search(r"^RUN pip install /wheels/\*\.whl\b", text, re.M) and "pip install -e" not in text
    assert re.search(r'^ENTRYPOINT \["harness"\]', text, re.M)
    for service in _compose()["services"].values():
        assert service["build"] == "."


@pytest.mark.e2e
def test_docker_compose_config_accepts_the_file() -> None:
    """The real client's own check, where the Compose plugin is installed (it needs no engine)."""
    if shutil.which("docker") is None:
        pytest.skip("no docker client")
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
    if version.returncode != 0:
        pytest.skip(f"docker compose is not available: {(version.stderr or version.stdout).strip()[:200]}")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
