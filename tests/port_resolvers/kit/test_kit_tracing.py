"""W3C trace context: the request's SERVER span continues the caller's trace, and so do the
source's outgoing calls. The tracer provider is the test's own, never the global one."""

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


@pytest.fixture
def tracer_provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def app_options(tracer_provider):
    return {"tracer_provider": tracer_provider}


async def test_server_span_continues_the_incoming_trace(gql, exporter, source):
    query = "query FindBox($ref: String!) { container(reference: $ref) { status } }"
    response = await gql(
        query,
        {"ref": "CSQU3054383"},
        headers={"traceparent": TRACEPARENT, "tracestate": "lax=1"},
    )
    assert response.status_code == 200
    (span,) = exporter.get_finished_spans()
    assert span.kind is SpanKind.SERVER
    assert span.parent is not None
    assert span.parent.span_id == int(PARENT_SPAN_ID, 16)
    assert span.parent.is_remote
    assert span.context.trace_id == int(TRACE_ID, 16)
    assert span.context.trace_state.get("lax") == "1"
    attributes = dict(span.attributes or {})
    assert attributes["portgate.port"] == "USLAX"
    assert attributes["graphql.operation.name"] == "FindBox"
    assert attributes["graphql.operation.type"] == "query"
    assert attributes["http.response.status_code"] == 200
    # Never variable values (nor the document, whose literals could carry them).
    assert not any("CSQU3054383" in str(value) for value in attributes.values())

    # The source adapter's outgoing call carries the same trace, child of the server span.
    (carrier,) = source.injected
    _version, trace_id, span_id, _flags = carrier["traceparent"].split("-")
    assert trace_id == TRACE_ID
    assert carrier["tracestate"] == "lax=1"
    assert int(span_id, 16) == span.context.span_id


async def test_without_traceparent_the_span_starts_a_trace(gql, exporter):
    await gql("{ ports { name } }")
    (span,) = exporter.get_finished_spans()
    assert span.parent is None
    assert "graphql.operation.name" not in (span.attributes or {})


async def test_failed_requests_are_traced_too(gql, client, exporter, source):
    source.failing = {"port"}
    await gql("{ ports { name } }")
    await client.post("/graphql", content=b"{nope")
    unavailable, bad_request = exporter.get_finished_spans()
    assert unavailable.status.status_code is StatusCode.ERROR
    assert bad_request.attributes["http.response.status_code"] == 400
    assert bad_request.status.status_code is StatusCode.UNSET


async def test_health_checks_are_not_traced(client, exporter):
    await client.get("/healthz")
    assert exporter.get_finished_spans() == ()
