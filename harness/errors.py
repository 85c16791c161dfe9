"""Exit codes, defined once, and the one error that carries one.

Every error meant for the user (a bad scenario, a bad option, an unreachable target) is a
`HarnessError`: its text is one line naming the file or option, the field and the fix, and its
class says how the command ends. The commands let it rise to `harness.cli.main`, which prints it
and exits with its code; nothing else prints a traceback at the user.
"""

from __future__ import annotations

import enum
import re

__all__ = ["ExitCode", "HarnessError", "UsageError", "AbortedError"]


class ExitCode(enum.IntEnum):
    PASS = 0  # every threshold passed, every limit held, no finding
    FAIL = 1  # a threshold, a limit, an attack, a probe or the audit found something
    USAGE = 2  # bad usage or scenario: nothing was sent
    ABORTED = 3  # the run could not finish (target unreachable, interrupted, a guardrail, a failed disk)
    UNTESTED = 4  # nothing failed, but a verdict the gate needs could not be judged (no login, ...): not a pass


_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # str.splitlines splits on some of these


class HarnessError(Exception):
    """An error for the user: `str(error)` is one line; `exit_code` is how the command ends."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str) -> None:  # a file's key or value may hold a line break: show it escaped
        super().__init__(_LINE_BREAKS.sub(lambda m: repr(m.group())[1:-1], message))


class UsageError(HarnessError):
    """Bad usage, option, scenario or file, found before anything was sent (exit 2)."""

    exit_code = ExitCode.USAGE


class AbortedError(HarnessError):
    """The work could not be done or finished (exit 3): the target did not answer, the demo API did not start."""

    exit_code = ExitCode.ABORTED
