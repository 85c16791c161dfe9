"""The collector of a process that sends traffic (harness.load.gc_policy): fewer young passes, and each
spawn step's users out of the generations once spawned."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.load.gc_policy import OLDER_THRESHOLDS, YOUNG_THRESHOLD, collect_less_often


class _Hook:
    """The one part of Locust's event hook it uses (importing Locust would gevent-patch the test process)."""

    def __init__(self) -> None:
        self.listeners: list[Callable[..., Any]] = []

    def add_listener(self, listener: Callable[..., Any]) -> None:
        self.listeners.append(listener)

    def fire(self, **kwargs: Any) -> None:
        for listener in self.listeners:
            listener(**kwargs)


class _Events:
    def __init__(self) -> None:
        self.spawning_complete = _Hook()


@pytest.fixture
def collector_restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_a_young_pass_waits_for_many_more_objects(collector_restored: None) -> None:
    collect_less_often(_Events())
    assert gc.get_threshold() == (YOUNG_THRESHOLD, *OLDER_THRESHOLDS) and YOUNG_THRESHOLD > 700 * 50


def test_each_spawn_steps_users_leave_the_generations(collector_restored: None) -> None:
    events = _Events()
    collect_less_often(events)
    gc.unfreeze()
    users = [[n] for n in range(1000)]  # lists: tracked by the collector
    assert gc.get_freeze_count() == 0 and all(gc.is_tracked(u) for u in users)
    events.spawning_complete.fire(user_count=1000)
    assert gc.get_freeze_count() >= len(users)
    gc.collect(1)
    assert gc.get_freeze_count() >= len(users)  # a pass leaves them where they are


def test_the_garbage_made_since_the_last_young_pass_is_freed_not_frozen(collector_restored: None) -> None:
    """Locust's worker leaves cycles behind for each spawn message (an argument parser per option)."""
    import weakref

    class Parser:
        pass

    events = _Events()
    collect_less_often(events)
    gc.unfreeze()
    gc.collect()
    users = [[n] for n in range(100)]
    parser = Parser()
    parser.itself = parser  # type: ignore[attr-defined]  # a cycle: only the collector frees it
    gone = weakref.ref(parser)
    del parser
    assert gone() is not None
    events.spawning_complete.fire(user_count=100)
    assert gone() is None and gc.get_freeze_count() >= len(users)
