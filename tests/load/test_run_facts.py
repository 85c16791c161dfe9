"""What the master writes into run.json at the end (journeys that ran, task exceptions), and the
login back-off: pure functions on Locust's own data shapes, no processes."""

from __future__ import annotations

import math
import traceback

from harness.documents import to_builtins
from harness.load.client import CallResult
from harness.load.login import Backoff
from harness.load.run_facts import MAX_TASK_ERRORS, journeys_ran, task_errors
from harness.protocol.auth import Credential
from harness.scenario import load_scenario


class _Base:
    def on_start(self) -> None:
        self.helper()

    def helper(self) -> None:
        raise RuntimeError("no run plan")


class FakeClient(_Base):
    journey = "client"

    def chat(self) -> None:
        self.send({"X Token": "Bearer secret-session-token"})

    def send(self, headers: dict) -> None:
        for name, value in headers.items():
            raise ValueError(f"invalid value for header field {name!r}: {value!r} (password hunter2)")


class FakeVisitor(_Base):
    journey = "visitor"


def locust_row(call, count: int, nodes: set[str]) -> dict:
    """A row of `runner.exceptions` as Locust builds it: str(exception) and format_tb's text."""
    try:
        call()
    except Exception as exc:
        return {
            "count": count,
            "msg": str(exc),
            "traceback": "".join(traceback.format_tb(exc.__traceback__)),
            "nodes": nodes,
        }
    raise AssertionError("did not raise")


def test_task_errors_name_the_exception_the_task_and_hide_credentials():
    rows = [
        locust_row(lambda: FakeVisitor().on_start(), 2, {"w2"}),
        locust_row(lambda: FakeClient().chat(), 3412, {"w2", "w1"}),
    ]
    first, second = (to_builtins(e) for e in task_errors(rows, [FakeClient, FakeVisitor], secrets=["hunter2"]))
    assert first == {
        "count": 3412,
        "exception": "ValueError",
        "message": "invalid value for header field 'X Token': 'Bearer [redacted]' (password [redacted])",
        "last_line": 'raise ValueError(f"invalid value for header field {name!r}: {value!r} (password hunter2)")'.replace(
            "hunter2", "[redacted]"
        ),
        "in": "FakeClient.chat",
        "nodes": ["w1", "w2"],
    }
    # a method of a base class is named as defined: the outermost user frame is the one that ran
    assert (second["count"], second["exception"], second["in"]) == (2, "RuntimeError", "_Base.on_start")
    # a raise that does not name its class, or a traceback of no known class: left unsaid
    bare = task_errors(
        [{"count": 1, "msg": "boom", "traceback": '  File "x.py", line 1, in f\n    g()\n', "nodes": {"local"}}],
        [FakeClient],
    )
    assert [to_builtins(e) for e in bare] == [
        {"count": 1, "exception": None, "message": "boom", "last_line": "g()", "in": None, "nodes": ["local"]}
    ]
    many = [{"count": i, "msg": f"m{i}", "traceback": "", "nodes": set()} for i in range(1, 30)]
    kept = task_errors(many, [])
    assert len(kept) == MAX_TASK_ERRORS and kept[0].count == 29  # most frequent first


def test_journeys_that_ran_are_those_with_users():
    class Custom:  # a user's own locustfile class: no journey
        pass

    ran = journeys_ran(
        [FakeClient, FakeVisitor, Custom], {"FakeClient": 12, "FakeVisitor": 0, "Custom": 3}, load_scenario("smoke")
    )
    assert {name: to_builtins(j) for name, j in ran.items()} == {
        "client": {
            "users": 12,
            "user_class": "FakeClient",
            "required": ["login", "conversations", "chat"],
            "login": "login",
        }
    }


def login_result(status: int = 200, blocked: bool = False, retry_after_s: float = math.nan) -> CallResult:
    return CallResult(status=status, ok=False, blocked=blocked, error="", retry_after_s=retry_after_s)


def test_a_failed_login_backs_off_exponentially_and_honours_retry_after():
    backoff = Backoff()
    delays = []
    for _ in range(8):
        backoff.record(None, login_result())
        delays.append(backoff.delay_s(login_result()))
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff.delay_s(login_result(429, blocked=True, retry_after_s=7.0)) == 7.0  # the server said when
    assert backoff.delay_s(login_result(429, blocked=True)) == 30.0  # blocked, no Retry-After: never at once
    backoff.record(Credential(token="t"), login_result())
    assert (backoff.failures, backoff.due) == (0, 0.0)
