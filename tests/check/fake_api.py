"""A small API in a thread of the test process, on a free loopback port: each `METHOD /path` answered
by a function of the request, and every request kept for the test to look at."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Request", "Reply", "reply", "serve"]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = field(default=())


def reply(status: int, body: Any = None, *headers: tuple[str, str]) -> Reply:
    """A JSON answer (or raw bytes, untyped)."""
    if isinstance(body, bytes):
        return Reply(status, body, headers)
    return Reply(
        status, b"" if body is None else json.dumps(body).encode(), (("content-type", "application/json"), *headers)
    )


Route = Callable[[Request], Reply]


@contextmanager
def serve(routes: dict[str, Route]) -> Iterator[tuple[str, list[Request]]]:
    """(base URL, the requests received so far) while the server runs; an unknown route is a 404."""
    seen: list[Request] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            path, _, query = self.path.partition("?")
            headers = {k.lower(): v for k, v in self.headers.items()}
            request = Request(self.command, path, query, headers, self.rfile.read(length))
            seen.append(request)
            route = routes.get(f"{self.command} {path}")
            if route is None:
                prefix = next(
                    (k for k in routes if k.endswith("/*") and f"{self.command} {path}".startswith(k[:-1])), ""
                )
                route = routes.get(prefix)
            answer = route(request) if route else reply(404, {"detail": "Not Found"})
            self.send_response(answer.status)
            for name, value in answer.headers:
                self.send_header(name, value)
            self.send_header("content-length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
