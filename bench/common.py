"""What the bench scripts share: the line that says which machine their figures were measured on."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path


def machine(*packages: str) -> str:
    """CPU count and model, OS, Python and the versions of Locust and PACKAGES, read without importing them."""
    model = "unknown CPU"
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    versions = f", Locust {_version('locust')}" + "".join(f", {name} {_version(name)}" for name in packages)
    return (
        f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}{versions}"
    )


def _version(name: str) -> str:
    try:
        return metadata.version(name)  # no import: importing Locust would patch the process with gevent
    except metadata.PackageNotFoundError:
        return "not installed"
