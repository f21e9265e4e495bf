"""Refuse a client's requests past its rate: HTTP 429 ``RATE_LIMITED`` with ``Retry-After``.

Pure ASGI middleware after authentication: a request to ``/graphql`` is counted against its
principal's client id (``rate_limit.requests`` per window), or, without a credential, against
the client's IP address (``rate_limit.anonymous_requests``), an IPv6 address by its network of
``rate_limit.anonymous_ipv6_prefix`` bits. The IP address is ``scope["client"]``: behind reverse
proxies, :mod:`gateway.edge.client_address` has put the client's own there (only when the
proxies are listed in ``server.trusted_proxies``). The counting is in
:mod:`gateway.access.ratelimit`.

The rate itself is a :class:`ClientRate`, which the WebSocket edge (:mod:`gateway.edge.websocket`)
shares: an upgrade and each ``subscribe`` on an open socket count against the same allowance,
keyed the same way, as an HTTP request.
"""

import ipaddress
import logging
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.access.auth import Principal, principal_of
from gateway.access.ratelimit import RateLimiter
from gateway.edge.counts import EdgeCounts
from gateway.edge.responses import error_response
from gateway.errors import RateLimited

log = logging.getLogger(__name__)

DEFAULT_IPV6_PREFIX = 64


def client_key(scope: Scope, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> tuple[str, bool]:
    """Who a request counts against, and whether that is an authenticated client: its client id
    (``client:<id>``), else its IP address (``ip:<address>``, an IPv6 one as its network)."""
    state = scope.get("state")
    principal = state.get("principal") if type(state) is dict else principal_of(state)
    if not isinstance(principal, Principal):
        principal = None
    return key_of(principal, scope.get("client"), ipv6_prefix)


def key_of(
    principal: Principal | None,
    client: Sequence[Any] | None,
    ipv6_prefix: int = DEFAULT_IPV6_PREFIX,
) -> tuple[str, bool]:
    """:func:`client_key` of a ``principal`` (None: not authenticated) calling from ``client``
    (an ASGI scope's ``(host, port)``)."""
    if principal is not None and principal.method != "anonymous":
        return f"client:{principal.client_id}", True
    host = str(client[0]) if client else "unknown"
    if ":" in host:
        host = _ipv6_network(host, ipv6_prefix)
    return f"ip:{host}", False


def _ipv6_network(host: str, prefix: int) -> str:
    try:
        address = ipaddress.IPv6Address(host)
    except ValueError:
        return host
    if address.ipv4_mapped is not None:  # an IPv4 client of a dual-stack socket
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, prefix), strict=False))


class ClientRate:
    """The rate each client is held to: ``requests`` per window for an authenticated client,
    ``anonymous_requests`` for an address; refusals counted in ``counts``."""

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        requests: int,
        anonymous_requests: int,
        ipv6_prefix: int = DEFAULT_IPV6_PREFIX,
        counts: EdgeCounts | None = None,
    ) -> None:
        self.limiter = limiter
        self.requests = requests
        self.anonymous_requests = anonymous_requests
        self.ipv6_prefix = ipv6_prefix
        self.counts = counts or EdgeCounts()

    async def take(self, key: str, authenticated: bool) -> RateLimited | None:
        """Count one request of ``key`` (from :func:`client_key`): None when it fits the rate,
        else the refusal (counted and logged; a refused request is not counted)."""
        limit = self.requests if authenticated else self.anonymous_requests
        decision = await self.limiter.take(key, limit)
        if decision.allowed:
            return None
        self.counts.refused["rate_limited"] += 1
        error = RateLimited(
            f"rate limit of {limit} requests per {self.limiter.window:g}s exceeded; retry after "
            f"{decision.retry_after}s",
            decision.retry_after,
        )
        log.info("429 %s: %s", key, error.message)
        return error


class RateLimit:
    def __init__(self, app: ASGIApp, rate: ClientRate, *, path: str = "/graphql") -> None:
        self.app = app
        self.rate = rate
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        error = await self.rate.take(*client_key(scope, self.rate.ipv6_prefix))
        if error is None:
            await self.app(scope, receive, send)
            return
        await error_response(error, 429)(scope, receive, send)
