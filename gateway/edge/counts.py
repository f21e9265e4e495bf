"""What the HTTP edge counts, for ``/metrics``: requests it refused and why, clients that went
away, requests in flight.

Middleware and the server's protocol only add to plain integers here: nothing on a request's
path takes a lock or allocates for the metrics; :mod:`gateway.record.metrics` reads them when
scraped.
"""

from dataclasses import dataclass, field

REFUSAL_REASONS = (
    "rate_limited",  # past the client's rate (429)
    "client_in_flight",  # too many of the client's requests at once (429)
    "overloaded_in_flight",  # too many requests at once in the gateway (503)
    "overloaded_lag",  # the event loop runs late (503)
    "body_too_large",  # 413
    "body_timeout",  # the body did not arrive in time (408)
    "header_timeout",  # the headers did not arrive in time (408)
    "headers_too_large",  # 431
    "idle_timeout",  # a connection that never sent a request, closed
    "cross_origin",  # a WebSocket upgrade from a page of another site (403)
)


@dataclass(slots=True)
class EdgeCounts:
    """Counters of the edge."""

    refused: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REFUSAL_REASONS, 0))
    client_disconnects: int = 0  # clients gone before their request body was read
    in_flight: int = 0  # GraphQL requests being served now
