"""A tiny configurable web site on 127.0.0.1 for the transport and edge audit tests: fixed answers per
`METHOD /path`, optionally over TLS with a certificate made at test time by the `openssl` command."""

from __future__ import annotations

import ssl
import subprocess
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["Page", "FakeSite", "make_cert", "tls_context"]


@dataclass
class Page:
    status: int = 200
    headers: Mapping[str, str | list[str]] = field(default_factory=dict)
    body: bytes = b""


Answer = Page | Callable[[str], Page]  # a callable gets the request path (with its query)


def make_cert(folder: Path, name: str, days: int = 30) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (an EC key: instant), as (cert, key)."""
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            f"/CN={name}",
            "-days",
            str(days),
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def tls_context(
    cert: Path, key: Path, minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2, maximum: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    """A server context; a minimum under TLS 1.2 also lowers OpenSSL's security level so it really is offered."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = minimum
        if maximum is not None:
            context.maximum_version = maximum
    if minimum < ssl.TLSVersion.TLSv1_2:
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


class FakeSite:
    """Answers `pages["GET /path"]` (or `default`); 404 otherwise. Records the requests it saw."""

    def __init__(
        self,
        pages: Mapping[str, Answer] | None = None,
        default: Answer | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.pages = dict(pages or {})
        self.default = default
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                site.requests.append((self.command, self.path, dict(self.headers)))
                answer = site.pages.get(f"{self.command} {self.path.split('?')[0]}", site.default)
                page = answer(self.path) if callable(answer) else answer or Page(404, {}, b"not found")
                self.send_response(page.status)
                for name, value in page.headers.items():
                    for one in value if isinstance(value, list) else [value]:
                        self.send_header(name, one)
                self.send_header("content-length", str(len(page.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(page.body)

            do_GET = do_POST = do_HEAD = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=2)
