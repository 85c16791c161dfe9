"""Cross-origin policy of the demo API (Starlette's CORSMiddleware), answered before routing.

Hardened allows only the origins in `cors_origins` (none by default: the demo's web shell is served
from the API's own origin), the methods and headers the API uses, and no credentials (it takes bearer
tokens, not cookies). Vulnerable is the common copy-paste `allow_origins=["*"]` with
`allow_credentials=True` (flaw 12): Starlette then echoes whatever Origin a request names, `null`
included, with `Access-Control-Allow-Credentials: true`, so any website can read a logged-in user's
answers. Preflights are answered by the middleware itself in both profiles (200, or 400 "Disallowed
CORS origin" without an allow header), so they never reach the counted, rate-limited routes.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from harness.demo_api.config import TargetConfig

__all__ = ["cors_middleware"]


def cors_middleware(config: TargetConfig) -> Middleware:
    if config.profile == "vulnerable":  # flaw 12: any origin, with credentials
        return Middleware(
            CORSMiddleware, allow_origins=["*"], allow_credentials=True, allow_methods=["*"], allow_headers=["*"]
        )
    return Middleware(
        CORSMiddleware,
        allow_origins=list(config.cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["authorization", "content-type"],
        max_age=600,
    )
