"""A tiny API whose limits are counted the ways a bypass matrix must see: per exact path, per method, per
connection, and one counter for everyone (global). Real HTTP/1.1 with keep-alive, in a thread of the test (a
tests.thread_server.ThreadServer).

Every route answers 200 `{"ok": true}` while its counter has room, else 429. The router is lenient, as
many are: the path is matched case-insensitively, with `%2F`, doubled and trailing slashes normalised,
and any method reaches the handler; only the counters differ:

  /api/path    counted per (raw path as sent, client address)
  /api/method  counted per (method, client address)
  /api/conn    counted per TCP connection
  /api/global  one counter for every client
  /api/leads   one counter for every client (the lead_spam attack drains it)
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote

from tests.thread_server import ThreadServer

QUOTA = 3
WINDOW_S = 2.0
ROUTES = ("/api/path", "/api/method", "/api/conn", "/api/global", "/api/leads")


class LimitedServer(ThreadServer):
    """Started on a free loopback port; `stop()` shuts it and its thread down."""

    name = "limited-server"

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.hits: dict[tuple, deque[float]] = defaultdict(deque)
        self.start()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        if length:
            request.rfile.read(length)
        raw = request.path.split("?", 1)[0]
        route = "/" + "/".join(p for p in unquote(raw).lower().split("/") if p)
        if route not in ROUTES:
            return _answer(request, 404, b'{"error": "not found"}')
        ip = request.client_address[0]
        key = {
            "/api/path": (route, raw, ip),
            "/api/method": (route, request.command, ip),
            "/api/conn": (route, id(request)),  # one handler per connection
        }.get(route, (route,))
        admitted = self.admit(key)
        _answer(request, 200 if admitted else 429, b'{"ok": true}' if admitted else b'{"error": "rate_limited"}')

    def admit(self, key: tuple) -> bool:
        """A sliding log of QUOTA per WINDOW_S; a blocked request is not recorded."""
        now = time.monotonic()
        with self.lock:
            log = self.hits[key]
            while log and log[0] <= now - WINDOW_S:
                log.popleft()
            if len(log) >= QUOTA:
                return False
            log.append(now)
            return True


def _answer(request: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", "0" if request.command == "HEAD" else str(len(body)))
    request.end_headers()
    if request.command != "HEAD":
        request.wfile.write(body)
