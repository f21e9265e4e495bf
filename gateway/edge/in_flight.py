"""Limit the requests one client has in flight at once: HTTP 429 ``CONCURRENCY_LIMITED``.

A rate limit counts requests over a minute; it does not stop one client from having many slow
requests open at the same moment, each holding a share of the gateway's CPU, memory and port
connections. Past ``rate_limit.max_in_flight`` requests being served for one client (its
client id, or its IP address without a credential: the same key as the rate limit's), the next
one is refused at once with ``Retry-After: 1``; it is not counted against the rate. Like the
rate, it is off with ``rate_limit.enabled: false``.

A subscription's request counts until its stream opens; from then on the subscription limits
hold it (``subscriptions.max_per_client``): the stream says so with :func:`release_in_flight`.

The requests are those to ``/graphql`` and to the DCSA facade (:mod:`gateway.edge.guarded`: a
refusal there is the facade's DCSA ``error`` body). Pure ASGI middleware after authentication,
before the rate limit. Per request: one dict read and
two writes; the dict holds only clients that have a request in flight.
"""

import logging
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.edge.counts import EdgeCounts
from gateway.edge.guarded import GRAPHQL_ONLY, Guarded
from gateway.edge.rate_limit import DEFAULT_IPV6_PREFIX, client_key
from gateway.errors import ConcurrencyLimited

log = logging.getLogger(__name__)

RETRY_AFTER = 1  # seconds: the client's own requests in flight are what it waits for


class ClientConcurrency:
    def __init__(
        self,
        app: ASGIApp,
        counts: EdgeCounts,
        *,
        limit: int,
        retry_after: int = RETRY_AFTER,
        ipv6_prefix: int = DEFAULT_IPV6_PREFIX,
        paths: Guarded = GRAPHQL_ONLY,
    ) -> None:
        self.app = app
        self.counts = counts
        self.limit = limit
        self.retry_after = retry_after
        self.ipv6_prefix = ipv6_prefix
        self.paths = paths
        self._in_flight: dict[str, int] = {}

    def in_flight(self, key: str) -> int:
        return self._in_flight.get(key, 0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refuse = self.paths.refusal(scope["path"]) if scope["type"] == "http" else None
        if refuse is None:
            await self.app(scope, receive, send)
            return
        key, _ = client_key(scope, self.ipv6_prefix)
        in_flight = self._in_flight
        held = in_flight.get(key, 0)
        if held >= self.limit:
            self.counts.refused["client_in_flight"] += 1
            error = ConcurrencyLimited(
                f"{held} of your requests are still being served (at most {self.limit} at "
                f"once); retry after {self.retry_after}s",
                self.retry_after,
            )
            log.info("429 %s: %s", key, error.message)
            await refuse(scope, 429, error, {})(scope, receive, send)
            return
        in_flight[key] = held + 1
        scope[_HELD] = (self, key)  # see release_in_flight
        try:
            await self.app(scope, receive, send)
        finally:
            if scope.pop(_HELD, None) is not None:
                self._release(key)

    def _release(self, key: str) -> None:
        left = self._in_flight[key] - 1
        if left:
            self._in_flight[key] = left
        else:
            del self._in_flight[key]


# Where a request's place among its client's requests in flight is kept, for its stream.
_HELD: Final = "portgate.in_flight"


def release_in_flight(scope: Scope) -> None:
    """A subscription's stream has opened: from now on the subscription limits hold it
    (gateway/query/live.py), so its request no longer counts as one in flight for as long as
    it lasts. Called once by the stream's owner; nothing when the limit is off."""
    held = scope.pop(_HELD, None)
    if held is not None:
        limiter, key = held
        limiter._release(key)
