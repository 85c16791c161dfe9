"""Processes that end with the harness that started them.

`harness run` starts the Locust master and workers in sessions of their own, so that a Ctrl-C in
the terminal reaches the harness alone and it can stop them in order. The price: when the harness
itself dies without a word (SIGKILL, the out-of-memory killer, a cancelled CI job), nothing tells
them, and they would go on loading the target until the planned end. So each child asks the kernel
for a SIGTERM when its parent dies (Linux's PR_SET_PDEATHSIG), which its usual SIGTERM handling
turns into a quick, recorded stop; elsewhere, the plugin's once-a-second watch notices the new parent.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["PARENT_ENV", "VOCABULARY_MODEL_ENV", "child_environment", "follow_parent", "parent_gone"]

PARENT_ENV = "HARNESS_PARENT_PID"  # set by the harness for the processes it starts
# set by `harness run` for the workers it starts: the model whose tokenizer vocabulary each loads before
# it connects to the master (harness.load.vocabulary)
VOCABULARY_MODEL_ENV = "HARNESS_VOCABULARY_MODEL"
_PR_SET_PDEATHSIG = 1


def child_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child that must not outlive this process."""
    return {**(os.environ if env is None else env), PARENT_ENV: str(os.getpid())}


def _expected_parent() -> int | None:
    value = os.environ.get(PARENT_ENV, "")
    return int(value) if value.isdigit() else None


def parent_gone() -> bool:
    """True when this process was started by the harness and that harness process is gone."""
    expected = _expected_parent()
    return expected is not None and os.getppid() != expected


def follow_parent() -> None:
    """In a child of the harness: get SIGTERM when the parent dies; if it died already, now."""
    if _expected_parent() is None:
        return
    if sys.platform.startswith("linux"):
        try:
            # not ctypes.util.find_library: it runs a subprocess, and in a gevent-patched worker that
            # yields to the runner's greenlets in the middle of Locust's init
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the plugin's watch still notices, within a second
    if parent_gone():  # it died before the request above took effect
        os.kill(os.getpid(), signal.SIGTERM)
