"""ASGI middleware that applies a simulated system's knobs to every request it serves.

In order: count the request per endpoint, answer 503 when the system is down, wait
``latency_ms``, answer 500 when the seeded error draw says so, else pass the request on.
``/_sim`` routes (the knobs themselves) go straight through.
"""

from collections.abc import Callable, Sequence
from typing import Any

import anyio
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from port_resolvers.sim.knobs import SimKnobs, SystemStats

ErrorBody = Callable[[Scope, int, str], Any]
"""Builds the JSON body of an injected error, in the system's own error format."""

SIM_PREFIX = "/_sim"


def plain_error_body(scope: Scope, status: int, reason: str) -> Any:
    return {"error": {"status": status, "message": reason}}


class SimulatedConditions:
    def __init__(
        self,
        app: ASGIApp,
        knobs: SimKnobs,
        stats: SystemStats,
        routes: Sequence[BaseRoute] = (),
        error_body: ErrorBody = plain_error_body,
    ) -> None:
        self.app = app
        self.knobs = knobs
        self.stats = stats
        self.routes = routes
        self.error_body = error_body

    def _endpoint(self, scope: Scope) -> str:
        for route in self.routes:
            if isinstance(route, Route) and route.matches(scope)[0] is Match.FULL:
                return f"{scope['method']} {route.path}"
        return f"{scope['method']} {scope['path']}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(SIM_PREFIX):
            await self.app(scope, receive, send)
            return
        self.stats.requests[self._endpoint(scope)] += 1
        if self.knobs.down:
            self.stats.down_rejections += 1
            body = self.error_body(scope, 503, "the system is down (simulated)")
            await JSONResponse(body, 503, headers={"Retry-After": "5"})(scope, receive, send)
            return
        if self.knobs.latency_ms > 0:
            await anyio.sleep(self.knobs.latency_ms / 1000)
        if self.knobs.draw_error():
            self.stats.errors_injected += 1
            body = self.error_body(scope, 500, "internal error (simulated)")
            await JSONResponse(body, 500)(scope, receive, send)
            return
        await self.app(scope, receive, send)
