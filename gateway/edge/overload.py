"""Shed new work when the gateway itself falls behind: HTTP 503 ``OVERLOADED`` with Retry-After.

Two signals, both about the gateway and never about a port:

- **event loop lag** (:class:`EventLoopLag`): a timer set for ``lag_interval`` is measured as it
  fires; how late it fires is how long every ready task waits for the CPU. When two
  measurements in a row are past ``load_shedding.max_event_loop_lag`` (a sustained backlog, not
  one pause of the collector or one slow call), each new request is refused at once, until a
  measurement is back under it.
- **requests in flight**: past ``load_shedding.max_in_flight`` requests being served.

The requests are those to ``/graphql`` and to the DCSA facade (:mod:`gateway.edge.guarded`: a
refusal there is the facade's DCSA ``error`` body).

A refused request costs a few microseconds and asks no port, so a gateway short of CPU answers
the clients it has taken on within their deadlines, instead of every client's queries running
late, timing out against the ports and opening their breakers. ``/healthz``, ``/readyz`` and
``/metrics`` are never shed (an orchestrator must not restart or unroute a busy replica).

Pure ASGI middleware, early in the stack (before authentication). Per request: two comparisons
and the in-flight count kept up to date.
"""

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.edge.counts import EdgeCounts
from gateway.edge.guarded import GRAPHQL_ONLY, Guarded
from gateway.errors import Overloaded

log = logging.getLogger(__name__)

LOG_EVERY = 10.0  # seconds between two log lines about shedding


class EventLoopLag:
    """How late the event loop runs, measured every ``interval`` seconds: ``latest`` is the last
    measurement, ``sustained`` the smaller of the last two."""

    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self.latest = 0.0  # seconds the last timer fired late
        self.sustained = 0.0  # the least of the last two measurements
        self._clock = clock
        self._sleep = sleep

    async def run(self) -> None:
        while True:
            started = self._clock()
            await self._sleep(self.interval)
            previous, self.latest = self.latest, max(0.0, self._clock() - started - self.interval)
            self.sustained = min(previous, self.latest)


class Overload:
    def __init__(
        self,
        app: ASGIApp,
        counts: EdgeCounts,
        loop_lag: EventLoopLag,
        *,
        max_in_flight: int,
        max_lag: float | None,
        retry_after: int,
        paths: Guarded = GRAPHQL_ONLY,
    ) -> None:
        self.app = app
        self.counts = counts
        self.loop_lag = loop_lag
        self.max_in_flight = max_in_flight
        self.max_lag = math.inf if max_lag is None else max_lag
        self.retry_after = retry_after
        self.paths = paths
        self._logged = -math.inf

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refuse = self.paths.refusal(scope["path"]) if scope["type"] == "http" else None
        if refuse is None:
            await self.app(scope, receive, send)
            return
        counts = self.counts
        if counts.in_flight >= self.max_in_flight:
            reason, why = "overloaded_in_flight", f"{counts.in_flight} requests in flight"
        elif self.loop_lag.sustained > self.max_lag:
            reason, why = "overloaded_lag", f"its event loop runs {self.loop_lag.latest:.2f}s late"
        else:
            counts.in_flight += 1
            try:
                await self.app(scope, receive, send)
            finally:
                counts.in_flight -= 1
            return
        counts.refused[reason] += 1
        now = time.monotonic()
        if now - self._logged >= LOG_EVERY:
            self._logged = now
            log.warning("shedding load: %s (503 OVERLOADED)", why)
        error = Overloaded(
            f"the gateway is overloaded ({why}); retry after {self.retry_after}s",
            self.retry_after,
        )
        await refuse(scope, 503, error, {})(scope, receive, send)
