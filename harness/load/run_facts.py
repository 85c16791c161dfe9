"""What the master knows only at the end of a run, kept in run.json for the analysis: the journeys
whose users ran (and the routes each must reach), how many accounts they shared, and the exceptions
users raised inside their tasks.

Locust's master gathers every user exception in `runner.exceptions` (workers send theirs; a single
local process logs its own), but shows them only in its log and web UI. A task that raises on every
call sends no request at all, so without these rows a broken journey would look like a quiet one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from harness.documents.run import JourneyRan, TaskError
from harness.scenario import Scenario
from harness.scenario.accounts import Credentials, account_pools
from harness.scenario.callers import required_routes

__all__ = ["final_facts", "journeys_ran", "task_errors", "MAX_TASK_ERRORS"]

MAX_TASK_ERRORS = 20  # distinct exceptions kept, most frequent first
MAX_MESSAGE = 300
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line \d+, in (?P<func>\S+)\s*$')
_RAISE = re.compile(r"^raise\s+(?P<name>[A-Za-z_][\w.]*)")
_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic|token)(\s+)[^\s'\"]+")


def final_facts(
    runner: Any, scenario: Scenario, credentials: Credentials
) -> tuple[dict[str, JourneyRan], int, list[TaskError]]:
    """run.json `journeys`, `accounts` and `task_errors`."""
    classes = list(runner.environment.user_classes)
    return (
        journeys_ran(classes, _users_by_class(runner), scenario),
        len(account_pools(credentials, scenario)[0]),
        task_errors(runner.exceptions.values(), classes, credentials.secrets()),
    )


def _users_by_class(runner: Any) -> dict[str, int]:
    """Users per class when the load stopped (Locust's own count, filled as the runner stops), or
    running now if it never stopped."""
    counts = dict(getattr(runner, "final_user_classes_count", None) or {})
    if not any(counts.values()):
        counts = dict(getattr(runner, "reported_user_classes_count", None) or runner.user_classes_count)
    return {name: int(n) for name, n in counts.items()}


def journeys_ran(user_classes: Iterable[type], users: Mapping[str, int], scenario: Scenario) -> dict[str, JourneyRan]:
    """journey -> its users, the routes each must call and the login among them: the journeys of the
    scenario (presets and its own) whose users ran."""
    ran: dict[str, JourneyRan] = {}
    for cls in user_classes:
        journey = getattr(cls, "journey", None)
        if journey in scenario.journeys and users.get(cls.__name__, 0) > 0:
            required, login = required_routes(scenario.endpoints, journey, scenario.custom_journeys)
            ran[journey] = JourneyRan(
                users=users[cls.__name__], user_class=cls.__name__, required=required, login=login
            )
    return ran


def task_errors(
    rows: Iterable[Mapping[str, Any]], user_classes: Iterable[type], secrets: Iterable[str] = ()
) -> list[TaskError]:
    """One entry per distinct exception (Locust's rows: msg, count, traceback, nodes), most
    frequent first: its type when the raising line tells it, the message (credentials redacted),
    the last traceback line, and the user class method it happened in."""
    methods = _methods(user_classes)
    secrets = sorted((s for s in secrets if s), key=len, reverse=True)
    entries = []
    for row in rows:
        lines = [line.strip() for line in str(row.get("traceback") or "").splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        raised = _RAISE.match(last)
        entries.append(
            TaskError(
                count=int(row.get("count") or 0),
                exception=raised.group("name").rsplit(".", 1)[-1] if raised else None,
                message=_redact(str(row.get("msg") or ""), secrets)[:MAX_MESSAGE],
                last_line=_redact(last, secrets)[:MAX_MESSAGE],
                in_=_task_of(lines, methods),
                nodes=sorted(str(n) for n in row.get("nodes") or ()),
            )
        )
    entries.sort(key=lambda e: -e.count)
    return entries[:MAX_TASK_ERRORS]


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    return _CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)


def _methods(user_classes: Iterable[type]) -> dict[tuple[str, str], str]:
    """(file name, function name) -> "Class.method" for the methods of the user classes, their bases
    included (a worker on another host may keep the locustfile under another folder)."""
    found: dict[tuple[str, str], str] = {}
    for cls in user_classes:
        for klass in cls.__mro__:
            for value in vars(klass).values():
                code = getattr(value, "__code__", None)
                if code is not None and not klass.__module__.startswith("locust."):
                    found.setdefault((os.path.basename(code.co_filename), code.co_name), value.__qualname__)
    return found


def _task_of(lines: list[str], methods: Mapping[tuple[str, str], str]) -> str | None:
    """The outermost frame that is a user class's method: the task (or on_start) that raised."""
    for line in lines:
        frame = _FRAME.match(line)
        if frame:
            name = methods.get((os.path.basename(frame.group("file")), frame.group("func")))
            if name:
                return name
    return None
