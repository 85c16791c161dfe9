"""The placeholders a route's templates hold: the parser's checks and the callers read them the same way."""

from __future__ import annotations

from harness.scenario.callers import id_placeholders
from harness.scenario.model import Endpoint
from harness.scenario.templates import placeholders


def test_each_placeholder_counts_once_in_order_of_path_then_body() -> None:
    ep = Endpoint(
        name="copy",
        method="POST",
        path="/items/{item_id}/copy/{item_id}",
        body={"to": "{folder_id}", "by": "{email}", "note": ["{item_id}", {"again": "{id}"}]},
        kind="other",
    )
    assert placeholders([ep.path, ep.body]) == ["item_id", "folder_id", "email", "id"]
    # one id repeated in a path is one id to fill (it was counted twice, and the route refused as unpaired)
    assert id_placeholders(ep) == ["item_id", "folder_id", "id"]
