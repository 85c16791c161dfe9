"""`create_app`: the demo API as a Starlette application.

Every route goes through one small wrapper that first asks the guards (the seam where rate limits
plug in, so that a blocked request is answered fast and skips injected latency), then waits out the
route's injected latency, then runs the handler. The wait is measured from the moment the request
reached the route, so routing and guard overhead do not add to the configured delay.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.distributions import Distribution
from harness.target.api import STARTED_KEY, DemoApi
from harness.target.config import ROUTES, TargetConfig
from harness.target.model import sleep_until
from harness.target.web import ApiError

__all__ = ["Guard", "create_app"]

Handler = Callable[[Request], Awaitable[Response]]
# A guard sees the route name and the request; returning a response answers the request instead.
Guard = Callable[[str, Request], Awaitable[Response | None]]


def _endpoint(
    name: str, handler: Handler, guards: Sequence[Guard], delay: Distribution | None, rng: random.Random
) -> Handler:
    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        try:
            for guard in guards:
                answer = await guard(name, request)
                if answer is not None:
                    return answer
            if delay is not None:
                started += delay.sample(rng) / 1000
                await sleep_until(started)
            request.scope[STARTED_KEY] = started
            return await handler(request)
        except ApiError as exc:
            return exc.response()

    endpoint.__name__ = name
    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse({"error": code}, status_code=exc.status_code, headers=exc.headers)


def create_app(config: TargetConfig, guards: Sequence[Guard] = ()) -> Starlette:
    """The demo API for `config`; `guards` run before every route, in order."""
    api = DemoApi(config)
    routes = []
    for name, method, path in ROUTES:
        rng = random.Random(f"{config.seed}:latency:{name}")
        endpoint = _endpoint(name, getattr(api, name), tuple(guards), config.latency.get(name), rng)
        routes.append(Route(path, endpoint, methods=[method], name=name))
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.api = api
    return app
