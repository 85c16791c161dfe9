"""What each route of a finished run was for (its kind), from run.json `kinds`.

A run written before routes had kinds has none: its routes were the fixed legacy names, whose kinds
`harness.scenario.LEGACY_KINDS` gives, so its figures come out as they always did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.scenario import LEGACY_KINDS

__all__ = ["kind_of", "routes_of_kind"]


def kind_of(kinds: Mapping[str, Any] | None, route: str) -> str:
    """`route`'s kind: as run.json says, else by its legacy name ("other" for any other name)."""
    kind = (kinds or {}).get(route)
    return kind if isinstance(kind, str) and kind else LEGACY_KINDS.get(route, "other")


def routes_of_kind(kinds: Mapping[str, Any] | None, routes: Any, kind: str) -> list[str]:
    """Those of `routes` (names) that are of `kind`."""
    return [str(r) for r in routes if kind_of(kinds, str(r)) == kind]
