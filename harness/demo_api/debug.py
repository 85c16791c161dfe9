"""Flaw 14: the vulnerable profile runs in debug mode, and its lead form parses its body unguarded.

A malformed body then raises out of the handler, and Starlette's debug mode answers the unhandled
exception with a 500 and the whole Python traceback (file paths, code lines, the framework's
internals). Hardened parses every body through `web.read_object`, which answers 422 with a short
JSON error, and runs without debug, so even a bug is a bare "Internal Server Error".
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from harness.demo_api.config import TargetConfig
from harness.demo_api.web import FORM_BODY_LIMIT, ApiError, read_body

__all__ = ["debug_mode", "read_object_unguarded"]


def debug_mode(config: TargetConfig) -> bool:
    return config.profile == "vulnerable"


async def read_object_unguarded(request: Request) -> dict[str, Any]:
    """The body as a JSON object, trusting it is JSON: a malformed one raises (flaw 14)."""
    data = json.loads(await read_body(request, FORM_BODY_LIMIT))
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_json", "body must be a JSON object")
    return data
