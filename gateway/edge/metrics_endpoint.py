"""``GET /metrics``: the Prometheus text, open or for some roles only, on the API's listener or
on one of its own.

``metrics.roles`` empty: anyone who reaches the listener reads it; else a credential (API key or
bearer token, as for ``/graphql``) holding one of those roles: another role is 403, and so is
none (the ``public`` role) unless anonymous use is off (then 401), as for the other APIs.
``metrics.listen`` moves it to a listener of its own (:func:`metrics_app`, served by
:mod:`gateway.cli.server`), so it can stay on a private interface while the API is public.
"""

from collections.abc import Awaitable, Callable, Collection

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.access.auth import Authenticator
from gateway.edge.authorize import principal_with_role
from gateway.record.metrics import CONTENT_TYPE, GatewayMetrics

PATH = "/metrics"
Endpoint = Callable[[Request], Awaitable[Response]]


def metrics_endpoint(
    metrics: GatewayMetrics, authenticator: Authenticator, roles: Collection[str]
) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        if roles:
            allowed = await principal_with_role(authenticator, request, roles, "reading metrics")
            if isinstance(allowed, Response):
                return allowed
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return endpoint


def metrics_app(endpoint: Endpoint) -> Starlette:
    """An app that serves only ``/metrics``, for a listener of its own."""
    return Starlette(routes=[Route(PATH, endpoint)])
