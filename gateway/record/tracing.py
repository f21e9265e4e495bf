"""OpenTelemetry for the gateway: a span per operation, per stage, per port fetch.

Spans: ``graphql.operation`` (SERVER, continuing the caller's W3C trace context) with children
``graphql.parse``, ``graphql.validate``, ``portgate.plan``, ``portgate.fetch`` (one CLIENT span per
port, whose context travels to the port resolver in ``traceparent``) and ``portgate.merge``.

Spans never carry a query's literal values or its variables (container numbers, references):
the document is recorded with every literal masked, plus its hash.

Export: :func:`configure_tracing` installs an OTLP/HTTP exporter when the standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` variable is set (with
the other ``OTEL_*`` settings the SDK reads itself), and nothing when neither is.
"""

import hashlib
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    FloatValueNode,
    IntValueNode,
    OperationDefinitionNode,
    StringValueNode,
    Visitor,
    print_ast,
    visit,
)
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

if TYPE_CHECKING:  # the SDK loads only when an exporter is configured
    from opentelemetry.sdk.trace import TracerProvider

INSTRUMENTATION = "portgate"
MASK = "<masked>"


def tracer_provider_from_env(
    environ: Mapping[str, str] = os.environ, service_name: str = "portgate"
) -> "TracerProvider | None":
    """A provider exporting over OTLP/HTTP when the standard OTEL_EXPORTER_OTLP_* settings ask
    for it (the exporter reads the rest of them itself); None when they do not."""
    if not (
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = environ.get("OTEL_SERVICE_NAME", service_name)
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def configure_tracing() -> "TracerProvider | None":
    """Install :func:`tracer_provider_from_env`'s provider globally (once, at start-up)."""
    provider = tracer_provider_from_env()
    if provider is not None:
        trace.set_tracer_provider(provider)
    return provider


def tracer(provider: trace.TracerProvider | None = None) -> trace.Tracer:
    return trace.get_tracer(INSTRUMENTATION, tracer_provider=provider)


_NO_SPAN: AbstractContextManager[trace.Span] = nullcontext(trace.INVALID_SPAN)


class Spans:
    """The gateway's spans, started only when they can go somewhere: a tracer provider was
    given, or one was installed globally (:func:`configure_tracing`, at start-up) by the time
    of the first operation, when this is decided once (asking OpenTelemetry for its global
    provider reads the environment each time). Otherwise no span is made at all:
    OpenTelemetry's no-op tracer still costs a few microseconds a span in context managers and
    context switches, ten spans an operation.

    Without spans the caller's trace context (``traceparent``) still travels: the operation
    attaches it (:meth:`continued`), so the audit record names the caller's trace and each port
    is asked in it, as it would be with non-recording spans."""

    def __init__(self, provider: trace.TracerProvider | None = None) -> None:
        self.tracer = tracer(provider)
        self._on = True if provider is not None else None

    @property
    def on(self) -> bool:
        on = self._on
        if on is None:
            installed = trace.get_tracer_provider()
            on = self._on = type(installed) is not trace.ProxyTracerProvider
        return on

    def span(self, name: str, **options: Any) -> AbstractContextManager[trace.Span]:
        """``start_as_current_span``, or a context holding the invalid span when off."""
        return self.tracer.start_as_current_span(name, **options) if self.on else _NO_SPAN

    def start(self, name: str) -> trace.Span:
        """``start_span`` (end it yourself), or the invalid span when off."""
        return self.tracer.start_span(name) if self.on else trace.INVALID_SPAN

    @staticmethod
    @contextmanager
    def continued(headers: Mapping[str, str] | None) -> Iterator[None]:
        """The caller's trace context from ``headers`` made current (nothing when it sent
        none), for an operation that makes no span of its own."""
        if headers is None or "traceparent" not in headers:
            yield
            return
        token = otel_context.attach(propagate.extract(headers))
        try:
            yield
        finally:
            otel_context.detach(token)


class _MaskLiterals(Visitor):
    """Strings and numbers can be data (container numbers); enums and booleans name schema
    values and stay."""

    def enter_string_value(self, node: StringValueNode, *_: Any) -> StringValueNode:
        return StringValueNode(value=MASK)

    def enter_int_value(self, node: IntValueNode, *_: Any) -> StringValueNode:
        return StringValueNode(value=MASK)

    def enter_float_value(self, node: FloatValueNode, *_: Any) -> StringValueNode:
        return StringValueNode(value=MASK)


def masked_document(document: DocumentNode) -> str:
    """The document with every string and number literal replaced (enums and booleans kept)."""
    return print_ast(visit(document, _MaskLiterals()))


def document_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def describe_operation(span: trace.Span, context: Any) -> None:
    """The operation span's attributes once the operation is done (``context``: strawberry's
    execution context): name, type, the document with its literals masked, its hash, and the
    error codes answered."""
    document = context.graphql_document
    if context.operation_name:
        span.set_attribute("graphql.operation.name", context.operation_name)
    if document is not None:
        operation = next(
            (d for d in document.definitions if isinstance(d, OperationDefinitionNode)), None
        )
        if operation is not None:
            span.set_attribute("graphql.operation.type", operation.operation.value)
        span.set_attribute("graphql.document", masked_document(document))
    if context.query:
        span.set_attribute("graphql.document.hash", document_hash(context.query))
    errors = getattr(context.result, "errors", None) or []
    codes = sorted({str((e.extensions or {}).get("code", "")) for e in errors} - {""})
    if codes:
        span.set_attribute("portgate.error_codes", codes)
