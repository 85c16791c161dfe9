"""`create_app`: the demo API as a Starlette application.

Before routing, middleware records the TCP peer and folds spelling variants of a path onto their
route. Every route then goes through one small wrapper that counts the request, asks the guards (the
rate limiter first, so that a blocked request is answered fast and skips injected latency and all
cost), then waits out the route's injected latency, then runs the handler. The wait is measured from
the moment the app first saw the request, so routing and guard overhead do not add to the delay.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from harness.demo_api.api import STARTED_KEY, DemoApi
from harness.demo_api.config import ROUTES, UNLIMITED_ROUTES, TargetConfig
from harness.demo_api.cors import cors_middleware
from harness.demo_api.debug import debug_mode
from harness.demo_api.distributions import Distribution
from harness.demo_api.headers import edge_middleware
from harness.demo_api.limiter import LIMIT_HEADERS_KEY, build_limiter, peer
from harness.demo_api.middleware import ARRIVED_KEY, NormalizePath, RecordPeer
from harness.demo_api.model import sleep_until
from harness.demo_api.shared import ProcessContext, SharedStore
from harness.demo_api.static import static_routes
from harness.demo_api.stats import Stats
from harness.demo_api.web import ApiError

__all__ = ["Guard", "create_app"]

Handler = Callable[[Request], Awaitable[Response]]
# A guard sees the route name and the request; returning a response answers the request instead.
Guard = Callable[[str, Request], Awaitable[Response | None]]


def _endpoint(
    name: str,
    handler: Handler,
    guards: Sequence[Guard],
    delay: Distribution | None,
    rng: random.Random,
    stats: Stats,
    stall_remaining: Callable[[float], float] = lambda now: 0.0,
) -> Handler:
    counted = name not in UNLIMITED_ROUTES  # reading the figures must not change them

    async def endpoint(request: Request) -> Response:
        started = request.scope.get(ARRIVED_KEY) or time.perf_counter()
        if counted:
            stats.request(name, peer(request))
        try:
            for guard in guards:
                answer = await guard(name, request)
                if answer is not None:
                    if counted:
                        stats.block(name)
                    return answer
            stalled = stall_remaining(time.time()) if counted else 0.0
            if stalled:  # frozen: nothing is answered until the stall ends
                started = time.perf_counter() + stalled
                await sleep_until(started)
            if delay is not None:
                started += delay.sample(rng) / 1000
                await sleep_until(started)
            request.scope[STARTED_KEY] = started
            response = await handler(request)
        except ApiError as exc:
            response = exc.response()
        limit_headers = request.scope.get(LIMIT_HEADERS_KEY)
        if limit_headers:  # an admitted request of a limited route: say how much is left
            response.headers.update(limit_headers)
        return response

    endpoint.__name__ = name
    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse({"error": code}, status_code=exc.status_code, headers=exc.headers)


def create_app(config: TargetConfig, guards: Sequence[Guard] = (), context: ProcessContext | None = None) -> Starlette:
    """The demo API for `config`; the rate limiter, then `guards`, run before every route, in order.

    `context` comes from a parent that forked several server processes: their shared signing key
    and, for the hardened profile, the store that keeps limits and webhook ids common to all, and
    the folder where every process publishes its `/__demo__/stats` figures."""
    store = SharedStore(context.store_path) if context is not None and context.store_path else None
    api = DemoApi(
        config,
        token_key=context.token_key if context is not None else None,
        processes=context.processes if context is not None else 1,
        events=store,
        stats_dir=context.stats_dir if context is not None else None,
    )
    limiter = build_limiter(config, api.tokens, store, identify=api.sessions.user_id)
    all_guards = ((limiter,) if limiter is not None else ()) + tuple(guards)
    routes = []
    for name, method, path in ROUTES:
        rng = random.Random(f"{config.seed}:latency:{name}")
        endpoint = _endpoint(
            name, getattr(api, name), all_guards, config.latency.get(name), rng, api.stats, config.stall_remaining
        )
        routes.append(Route(path, endpoint, methods=[method], name=name))
    middleware = [Middleware(RecordPeer)]
    middleware += edge_middleware(config)  # hardened: security headers, no-store on /api/, gzip (not SSE)
    if config.profile == "vulnerable":  # trusts X-Forwarded-For from loopback, as uvicorn does by default
        trusted = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
        middleware.append(Middleware(ProxyHeadersMiddleware, trusted_hosts=trusted))
    middleware.append(Middleware(NormalizePath, paths=[path for _, _, path in ROUTES]))
    middleware.append(cors_middleware(config))  # answers preflights itself: never counted nor limited
    routes += static_routes(config)  # the web app shell, served like a CDN would: not counted
    shared_stats = api.shared_stats

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # With several processes: publish this one's figures while it serves, and once more at the end.
        if shared_stats is not None:
            shared_stats.start()
        try:
            yield
        finally:
            if shared_stats is not None:
                await shared_stats.stop()

    app = Starlette(
        debug=debug_mode(config),  # vulnerable: tracebacks in 500 answers (flaw 14)
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.api = api
    app.state.limiter = limiter
    return app
