"""Refuse a client's requests past its rate: HTTP 429 ``RATE_LIMITED`` with ``Retry-After``.

Pure ASGI middleware after authentication: a request to ``/graphql`` is counted against its
principal's client id (``rate_limit.requests`` per window), or, without a credential, against
the client's IP address (``rate_limit.anonymous_requests``). Behind a reverse proxy, run the
server with the proxy's forwarded-for headers trusted (``uvicorn --forwarded-allow-ips``) so the
IP is the client's and not the proxy's. The counting is in :mod:`gateway.ratelimit`.
"""

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.auth import principal_of
from gateway.errors import RateLimited
from gateway.http.responses import ORJSONResponse
from gateway.ratelimit import RateLimiter

log = logging.getLogger(__name__)


class RateLimit:
    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        *,
        requests: int,
        anonymous_requests: int,
        path: str = "/graphql",
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.requests = requests
        self.anonymous_requests = anonymous_requests
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        principal = principal_of(scope.get("state", {}))
        if principal is not None and principal.method != "anonymous":
            key, limit = f"client:{principal.client_id}", self.requests
        else:
            client = scope.get("client")
            key, limit = f"ip:{client[0] if client else 'unknown'}", self.anonymous_requests
        decision = await self.limiter.take(key, limit)
        if decision.allowed:
            await self.app(scope, receive, send)
            return
        error = RateLimited(
            f"rate limit of {limit} requests per {self.limiter.window:g}s exceeded; retry after "
            f"{decision.retry_after}s",
            decision.retry_after,
        )
        log.info("429 %s: %s", key, error.message)
        response = ORJSONResponse(
            {"errors": [{"message": error.message, "extensions": error.extensions()}]},
            status_code=429,
        )
        response.headers["Retry-After"] = str(decision.retry_after)
        await response(scope, receive, send)
