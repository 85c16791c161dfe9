"""Endpoint templates: the {placeholders} of a path or a body, filled with a call's values.

The parser refuses any placeholder the harness does not fill (harness.scenario.model.PLACEHOLDERS),
so a value missing here is a value the caller had not got yet (a conversation id before the list
answered): it renders empty, as it always has.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

__all__ = ["render", "PLACEHOLDER"]

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render(template: Any, values: dict[str, Any], *, in_path: bool = False) -> Any:
    """Fill {placeholders}. A string that is exactly "{name}" takes the value itself (a list stays a list)."""
    if isinstance(template, str):
        whole = PLACEHOLDER.fullmatch(template)
        if whole and not in_path:
            return values.get(whole.group(1), "")
        return PLACEHOLDER.sub(
            lambda m: quote(str(values.get(m.group(1), "")), safe="") if in_path else str(values.get(m.group(1), "")),
            template,
        )
    if isinstance(template, dict):
        return {k: render(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, values) for v in template]
    return template
