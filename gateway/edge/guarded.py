"""Which requests the edge's checks act on, and in which format each is refused.

Load shedding (:mod:`gateway.edge.overload`), authentication (:mod:`gateway.edge.authenticate`)
and the in-flight limit per client (:mod:`gateway.edge.in_flight`) guard ``/graphql``, whose
refusals are GraphQL errors, and every path under a facade's prefix (``/dcsa/tnt/``), whose
refusals the facade renders in its own format (a DCSA ``error`` body with ``API-Version``).
Other paths (``/healthz``, ``/readyz``, ``/metrics``, the admin and audit APIs) pass unchecked:
they have their own rules.
"""

from collections.abc import Callable, Mapping

from starlette.responses import Response
from starlette.types import Scope

from gateway.edge.responses import error_response
from gateway.errors import GatewayError

# A refusal's answer: the request's scope, the HTTP status, the error, and headers to add
# (``WWW-Authenticate``); ``Retry-After`` comes from an error that has ``retry_after``.
Refusal = Callable[[Scope, int, GatewayError, Mapping[str, str]], Response]


def graphql_refusal(
    scope: Scope, status: int, error: GatewayError, headers: Mapping[str, str]
) -> Response:
    """A refusal in the GraphQL response format: ``error`` as the one error."""
    return error_response(error, status, headers or None)


class Guarded:
    """``graphql``, exactly, and every path that starts with one of ``facades``' prefixes
    (each ending in ``/``), with the refusal each is answered with."""

    def __init__(
        self, graphql: str = "/graphql", facades: Mapping[str, Refusal] | None = None
    ) -> None:
        self.graphql = graphql
        self.facades = tuple((facades or {}).items())

    def refusal(self, path: str) -> Refusal | None:
        """How a refused request to ``path`` is answered; None when the path is not guarded."""
        if path == self.graphql:
            return graphql_refusal
        for prefix, refusal in self.facades:
            if path.startswith(prefix):
                return refusal
        return None


GRAPHQL_ONLY = Guarded()
