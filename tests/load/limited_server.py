"""A tiny API whose limits are counted the ways a bypass matrix must see: per exact path, per method, per
connection, and one counter for everyone (global). Real HTTP/1.1 with keep-alive, in a thread of the test.

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

import http.server
import threading
import time
from collections import defaultdict, deque
from urllib.parse import unquote

QUOTA = 3
WINDOW_S = 2.0
ROUTES = ("/api/path", "/api/method", "/api/conn", "/api/global", "/api/leads")


class LimitedServer:
    """Start on a free loopback port; `stop()` shuts it and its thread down."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hits: dict[tuple, deque[float]] = defaultdict(deque)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the baseline stays on one connection

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                raw = self.path.split("?", 1)[0]
                route = "/" + "/".join(p for p in unquote(raw).lower().split("/") if p)
                if route not in ROUTES:
                    return self.answer(404, b'{"error": "not found"}')
                ip = self.client_address[0]
                key = {
                    "/api/path": (route, raw, ip),
                    "/api/method": (route, self.command, ip),
                    "/api/conn": (route, id(self)),  # one handler per connection
                }.get(route, (route,))
                admitted = server.admit(key)
                self.answer(200 if admitted else 429, b'{"ok": true}' if admitted else b'{"error": "rate_limited"}')

            def answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "0" if self.command == "HEAD" else str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = handle_any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

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

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)
