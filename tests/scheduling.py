"""How the suite shares two cores (`pytest -n 5`, pytest-xdist): which tests run together, and in what order.

Five workers on two cores: an e2e test mostly waits (on its run's planned duration, on processes
starting), so two workers left the cores half idle (802 s for the suite with -n 2, 545 s with -n 4,
same machine, quiet; on 2026-12-07, 498 s with -n 4 and 436 s with -n 5, the cores then 83 % and 89 %
busy). Tests that measure time hold to tolerances made for that sharing.

An e2e test that uses a module- or session-scoped fixture of ours (a whole harness run, a demo API)
joins a group with every test that shares that fixture with it, directly or through another test of
the group; a group goes to one worker, so the fixture runs once. Then the longest work goes first:
the groups, the other e2e tests, and last the unit tests, which fill in while the other worker ends
its last long test.

xdist's own `--dist loadgroup` reads the groups from a suffix it adds to each test's node id, which
pytest 9.2 no longer lets it change (pytest-dev/pytest-xdist#1386): the groups would be silently
ignored. So each worker writes the groups it collected to a file and the controller's scheduler (its
loadgroup scheduler, told the groups by that file) reads them, whatever the pytest version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

GROUPS_KEY = "harness_test_groups"  # workerinput key: the folder where each worker writes its groups


def shared_fixture_groups(items: list[pytest.Item]) -> dict[pytest.Item, str]:
    """e2e item -> group name: items joined, directly or through one another, by a module- or
    session-scoped fixture defined under tests/ (pytest's own session fixtures do not join)."""
    leader: dict[str, str] = {}

    def find(key: str) -> str:
        while leader.setdefault(key, key) != key:
            key = leader[key]
        return key

    joined: dict[pytest.Item, str] = {}
    for item in items:
        if item.get_closest_marker("e2e") is None:
            continue
        info = getattr(item, "_fixtureinfo", None)
        shared = [
            f"{defs[-1].baseid}::{name}"
            for name, defs in (info.name2fixturedefs.items() if info else ())
            if defs and defs[-1].scope in ("module", "session") and defs[-1].baseid.startswith("tests")
        ]
        for key in shared:
            leader[find(key)] = find(shared[0])
        if shared:
            joined[item] = shared[0]
    return {item: find(key) for item, key in joined.items()}


def group_of(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    if mark is None:
        return None
    return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))


def rank(item: pytest.Item) -> int:
    """0: a group (a shared run), 1: another e2e test, 2: a unit test."""
    if group_of(item) is not None:
        return 0
    return 1 if item.get_closest_marker("e2e") is not None else 2


def mark_groups(items: list[pytest.Item]) -> None:
    """On a worker, before xdist reads the marks: the shared-fixture groups as xdist_group marks."""
    for item, group in shared_fixture_groups(items).items():
        if group_of(item) is None:
            item.add_marker(pytest.mark.xdist_group(group))


def order_and_share(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a worker, once pytest has ordered the tests by fixture: longest work first, and the groups
    written where the controller's scheduler reads them."""
    items.sort(key=rank)  # stable: a module's tests keep their order, and so their module fixtures
    workerinput: dict[str, Any] = config.workerinput  # type: ignore[attr-defined]
    if GROUPS_KEY in workerinput:
        groups = {item.nodeid: group for item in items if (group := group_of(item)) is not None}
        (Path(workerinput[GROUPS_KEY]) / f"{workerinput['workerid']}.json").write_text(json.dumps(groups))


def scheduler(config: pytest.Config, log: Any, folder: Path) -> Any:
    """xdist's loadgroup scheduler, its groups read from what the workers wrote (they all collect
    the same tests, so any worker's file will do), in the order the workers sorted the tests."""
    from xdist.scheduler import LoadGroupScheduling

    class FileGroups(LoadGroupScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # first asked once every worker has collected, so written
                written = sorted(folder.glob("*.json"))
                self.groups = json.loads(written[0].read_text()) if written else {}
            group = self.groups.get(nodeid)
            return group if group is not None else super()._split_scope(nodeid)

    config.option.loadscopereorder = False  # keep the workers' order: longest work first
    return FileGroups(config, log)
