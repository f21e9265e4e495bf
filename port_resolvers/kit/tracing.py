"""W3C trace context: each GraphQL request runs in a SERVER span continuing the caller's trace.

The parent comes from the request's ``traceparent`` / ``tracestate`` headers (through
:func:`opentelemetry.propagate.extract`). The span is current while the resolvers run, so a
source adapter that calls :func:`opentelemetry.propagate.inject` on its outgoing requests
carries the same trace on to the port's own systems. Attributes name the port and the
operation, never variable values or the document (its literals can be container numbers).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from opentelemetry import propagate, trace
from starlette.requests import Request

PORT_ATTRIBUTE: Final = "portgate.port"
OPERATION_NAME_ATTRIBUTE: Final = "graphql.operation.name"
OPERATION_TYPE_ATTRIBUTE: Final = "graphql.operation.type"


def tracer_for(tracer_provider: trace.TracerProvider | None) -> trace.Tracer:
    """The kit's tracer from ``tracer_provider``, or from the global provider when None."""
    return trace.get_tracer(__name__, tracer_provider=tracer_provider)


@contextmanager
def server_span(tracer: trace.Tracer, request: Request, port_id: str) -> Iterator[trace.Span]:
    parent = propagate.extract(request.headers)
    with tracer.start_as_current_span(
        f"{request.method} {request.url.path}",
        context=parent,
        kind=trace.SpanKind.SERVER,
        attributes={
            PORT_ATTRIBUTE: port_id,
            "http.request.method": request.method,
            "url.path": request.url.path,
        },
    ) as span:
        yield span


def record_operation(span: trace.Span, operation_name: str | None) -> None:
    span.set_attribute(OPERATION_TYPE_ATTRIBUTE, "query")
    if operation_name:
        span.set_attribute(OPERATION_NAME_ATTRIBUTE, operation_name)


def record_outcome(span: trace.Span, status: int, *, failed: bool) -> None:
    span.set_attribute("http.response.status_code", status)
    if failed:
        span.set_status(trace.StatusCode.ERROR)
