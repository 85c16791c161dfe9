"""ASGI middleware that runs before routing: remember who really connected, and route spelling
variants of an API path to the route they name.

The real peer is recorded first, before any proxy-header handling can rewrite `scope["client"]`,
so `ip` rate-limit keys and the demo statistics always see the TCP peer address.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["ARRIVED_KEY", "PEER_KEY", "RAW_PATH_KEY", "RecordPeer", "NormalizePath", "normalize_path"]

ARRIVED_KEY = "harness.arrived"  # scope key: perf_counter time the app first saw the request
PEER_KEY = "harness.peer"  # scope key: the TCP peer's address, as accepted by the server
RAW_PATH_KEY = "harness.raw_path"  # scope key: the path as the client wrote it (still percent-encoded)


class RecordPeer:
    """Keep the TCP peer address in `scope[PEER_KEY]` (later middleware may rewrite `client`), and
    when the request arrived, so injected latency also covers routing and rate-limit checks."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and PEER_KEY not in scope:
            scope[ARRIVED_KEY] = time.perf_counter()
            client = scope.get("client")
            scope[PEER_KEY] = client[0] if client else None
        await self.app(scope, receive, send)


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def normalize_path(path: str, templates: Iterable[list[str]]) -> str:
    """The canonical spelling of `path`: empty segments dropped (double and trailing slashes), and
    the fixed segments of the route template it matches case-insensitively written as in the template.
    Parameter segments (`{id}`) keep their case. A path that matches no template is only collapsed."""
    parts = _segments(path)
    for template in templates:
        if len(template) != len(parts):
            continue
        if all(t.startswith("{") or t.lower() == p.lower() for t, p in zip(template, parts)):
            parts = [p if t.startswith("{") else t for t, p in zip(template, parts)]
            break
    return "/" + "/".join(parts)


class NormalizePath:
    """Route `/api/chat/`, `/API/Chat`, `//api//chat` and `/api/%63hat` all to `/api/chat`.

    The server has already percent-decoded `scope["path"]`; the path as sent stays in
    `scope["raw_path"]` (bytes) and, as text without the query, in `scope[RAW_PATH_KEY]`.
    """

    def __init__(self, app: ASGIApp, paths: Iterable[str]) -> None:
        self.app = app
        self.templates = [_segments(p) for p in paths]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path")
            raw_text = raw.decode("latin-1").partition("?")[0] if raw else scope["path"]
            scope[RAW_PATH_KEY] = raw_text
            scope["path"] = normalize_path(scope["path"], self.templates)
        await self.app(scope, receive, send)
