"""The stdlib HTTP server the tests' small APIs share: a ThreadingHTTPServer on a free loopback port,
in a thread of the test process, keep-alive (HTTP/1.1), quiet; `stop()` shuts it down and joins its
thread. A subclass answers every method in `handle`, with the request handler (path, headers, rfile,
one handler per connection) in hand."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # a burst of new connections queues, rather than having SYNs dropped (1 s retries)


class ThreadServer:
    """Start with `start()`, read `url`, stop with `stop()`."""

    name = "test-server"

    def __init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # head and body in one segment: no Nagle and delayed-ACK stall per answer

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def handle_any(self) -> None:
                server.handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=self.name, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError
