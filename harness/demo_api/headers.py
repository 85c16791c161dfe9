"""What the hardened demo adds at its edge: browser security headers, no-store on API answers, and
gzip for text answers.

The demo serves plain HTTP on loopback, so TLS, HSTS and a CDN are not its to give; what an app can do
itself, hardened does: `X-Content-Type-Options`, `X-Frame-Options`, a Content-Security-Policy (the web
shell loads only same-origin scripts), a Referrer-Policy, `Cache-Control: no-store` on `/api/` answers
(they carry tokens and user data), and HSTS when the request did arrive over HTTPS (behind a TLS proxy).
Headers a route set itself are kept. Text answers of 500 bytes or more are gzipped when the client
asks; server-sent events never are (compressing a stream buffers its tokens). The vulnerable profile
sends none of this.
"""

from __future__ import annotations

from starlette.middleware import Middleware, gzip
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from harness.demo_api.config import TargetConfig

__all__ = ["SECURITY_HEADERS", "SecurityHeaders", "edge_middleware"]

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
NO_STORE = (b"cache-control", b"no-store")
GZIP_MIN_BYTES = 500


class SecurityHeaders:
    """Add the security headers (and no-store under /api/) to every answer that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(SECURITY_HEADERS)
        if scope.get("scheme") == "https":
            extra.append(HSTS)
        if scope.get("path", "").lower().lstrip("/").startswith("api/"):  # before paths are normalised
            extra.append(NO_STORE)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def edge_middleware(config: TargetConfig) -> list[Middleware]:
    """The middleware for `config`'s profile, outermost first: none for vulnerable."""
    if config.profile != "hardened":
        return []
    middleware = [Middleware(SecurityHeaders)]
    # An older Starlette's GZipMiddleware would compress (and so hold back) server-sent events: skip it there.
    if "text/event-stream" in getattr(gzip, "DEFAULT_EXCLUDED_CONTENT_TYPES", ()):
        middleware.append(Middleware(gzip.GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=6))
    return middleware
