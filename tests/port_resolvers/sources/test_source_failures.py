"""Every way a port's system can fail becomes SourceUnavailable; trace context goes along."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from port_resolvers.kit.source import PortDataSource, SourceUnavailable, VesselCallFilter
from port_resolvers.sim.wiring import source_for
from port_resolvers.sources.dcsa import DcsaTrackAndTraceSource
from port_resolvers.sources.native_json import NativeJsonSource

BOTH_KINDS = ["USLAX", "USLGB"]
Ask = Callable[[PortDataSource], Awaitable[Any]]
QUESTIONS: dict[str, Ask] = {
    "port": lambda s: s.port(),
    "containers": lambda s: s.containers(["MSCU1234565"]),
    "vessel_calls": lambda s: s.vessel_calls(VesselCallFilter()),
    "vessel": lambda s: s.vessel("9321483"),
    "metrics": lambda s: s.metrics("LAST_7_DAYS", None),
}


@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize("port_id", BOTH_KINDS)
async def test_a_system_that_is_down(wire: Callable[..., Any], port_id: str, question: str):
    port = wire(port_id)
    port.system.knobs.down = True
    with pytest.raises(SourceUnavailable, match="HTTP 503"):
        await QUESTIONS[question](port.source)


@pytest.mark.parametrize("port_id", BOTH_KINDS)
async def test_a_system_that_fails(wire: Callable[..., Any], port_id: str):
    port = wire(port_id)
    port.system.knobs.error_rate = 1.0
    with pytest.raises(SourceUnavailable, match="HTTP 500"):
        await port.source.vessel_calls(VesselCallFilter())


@pytest.mark.parametrize("port_id", BOTH_KINDS)
async def test_a_system_slower_than_the_client_timeout(wire: Callable[..., Any], port_id: str):
    port = wire(port_id, timeout=0.01)
    port.system.knobs.latency_ms = 60_000
    with pytest.raises(SourceUnavailable, match="timed out"):
        await port.source.containers(["MSCU1234565"])


def _source(kind: str, client: httpx.AsyncClient) -> PortDataSource:
    if kind == "dcsa":
        return DcsaTrackAndTraceSource(client, "http://port.sim", "USLAX")
    return NativeJsonSource(client, "http://port.sim")


@pytest.mark.parametrize(
    ("kind", "answer", "reason"),
    [
        *[
            (kind, answer, reason)
            for kind in ("dcsa", "native")
            for answer, reason in (
                (httpx.ConnectError("refused"), "ConnectError"),
                (httpx.Response(200, text="<html>maintenance</html>"), "not JSON"),
                (httpx.Response(200, json={"unexpected": True}), "unexpected|not a list"),
            )
        ],
        ("native", httpx.Response(200, json=[{"eventType": "TRANSPORT"}]), "unexpected"),
        # Not DCSA at all: a list, but of things that are no DCSA event.
        ("dcsa", httpx.Response(200, json=[{"id": 1, "status": "ok"}]), "no DCSA event"),
        ("dcsa", httpx.Response(200, json=["a", "b"]), "no DCSA event"),
    ],
)
async def test_unreachable_or_unparseable(
    kind: str, answer: httpx.Response | Exception, reason: str
):
    def respond(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return answer

    async with httpx.AsyncClient(transport=httpx.MockTransport(respond)) as client:
        with pytest.raises(SourceUnavailable, match=reason):
            await _source(kind, client).vessel_calls(VesselCallFilter())


@pytest.mark.parametrize("kind", ["dcsa", "native"])
async def test_outgoing_calls_carry_the_w3c_trace_context(kind: str):
    seen: list[httpx.Headers] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(404, json={"error": {"status": 404, "message": "no"}})

    parent = SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
        span_id=0x00F067AA0BA902B7,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
    try:
        async with httpx.AsyncClient(transport=httpx.MockTransport(respond)) as client:
            with pytest.raises(SourceUnavailable, match="HTTP 404"):
                await _source(kind, client).vessel_calls(VesselCallFilter())
    finally:
        context.detach(token)
    assert seen
    assert seen[0]["traceparent"] == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


async def test_source_for_knows_which_port_speaks_what():
    async with httpx.AsyncClient() as client:
        for port_id in ("USLAX", "USOAK"):
            assert isinstance(source_for(port_id, "http://x", client), DcsaTrackAndTraceSource)
        for port_id in ("USLGB", "USNTD", "USSAN"):
            assert isinstance(source_for(port_id, "http://x", client), NativeJsonSource)
        with pytest.raises(ValueError, match="USXXX"):
            source_for("USXXX", "http://x", client)
