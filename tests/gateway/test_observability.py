"""Traces, metrics and the audit trail of real operations (issue: auditors can review every
query). Ports are resolver kits over in-memory sources, reached in process; the app runs its
lifespan, so its audit trail is open."""

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import ProxyTracer

from gateway.access.apikeys import ApiKeyStore
from gateway.app import create_app
from gateway.config import load_settings
from gateway.record.audit import AuditRecord
from port_resolvers.kit import create_resolver_app
from tests.gateway.conftest import PORT_NAMES, EmptyPort, PortRouter, port_url, with_test_egress

PORTS = ("USLAX", "USOAK")


Stack = Callable[..., Awaitable[tuple[httpx.AsyncClient, InMemorySpanExporter, dict[str, str]]]]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """A gateway (lifespan running) with two resolver kits and one span exporter for all."""
    async with AsyncExitStack() as exits:

        async def make(
            source: Callable[[str], Any] = EmptyPort,
            *,
            gateway_traced: bool = True,
            **settings: Any,
        ) -> tuple[httpx.AsyncClient, InMemorySpanExporter, dict]:
            exporter = InMemorySpanExporter()
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            router = PortRouter(
                {
                    p: httpx.ASGITransport(
                        app=create_resolver_app(source(p), p, tracer_provider=provider)
                    )
                    for p in PORTS
                }
            )
            keys_file = tmp_path / "keys.sqlite3"
            keys = ApiKeyStore(keys_file)
            roles = ("auditor", "trucker", "cargo_owner")
            issued = {r: keys.create(client_id=f"{r}-1", organisation="Acme", roles=[r])[0]
                      for r in roles}  # fmt: skip
            keys.close()
            config = load_settings(
                None,
                ports=[{"id": p, "name": PORT_NAMES[p], "url": port_url(p)} for p in PORTS],
                auth={"api_keys": {"database": keys_file}},
                **with_test_egress(settings),
            )
            upstream = await exits.enter_async_context(httpx.AsyncClient(transport=router))
            app = create_app(
                config, client=upstream, tracer_provider=provider if gateway_traced else None
            )
            await exits.enter_async_context(app.router.lifespan_context(app))
            client = await exits.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")
            )
            return client, exporter, issued

        yield make


QUERY = """query TruckerCheck {
  containers(references: ["CSQU3054383"]) { equipmentReference events { eventID } }
  ports { UNLocationCode }
}"""


async def test_one_trace_from_gateway_into_each_port_and_the_audit_record_names_it(
    stack: Stack,
) -> None:
    client, exporter, keys = await stack()
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    response = await client.post(
        "/graphql",
        json={"query": QUERY},
        headers={"x-api-key": keys["trucker"], "traceparent": traceparent},
    )
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN_FIELD"  # trucker: no events

    spans = exporter.get_finished_spans()
    trace_ids = {span.context.trace_id for span in spans}
    assert trace_ids == {0x0AF7651916CD43DD8448EB211C80319C}  # one trace, the caller's
    names = [span.name for span in spans]
    for stage in ("graphql.operation", "graphql.parse", "graphql.validate", "portgate.plan",
                  "portgate.fetch_all", "portgate.merge"):  # fmt: skip
        assert stage in names, stage
    fetches = {s.attributes["portgate.port"]: s for s in spans if s.name == "portgate.fetch"}
    assert set(fetches) == set(PORTS)
    servers = [s for s in spans if s.kind.name == "SERVER" and s.name != "graphql.operation"]
    assert {s.parent.span_id for s in servers if s.parent} == {
        f.context.span_id for f in fetches.values()
    }  # each resolver continued the gateway's span for its port
    assert fetches["USLAX"].attributes["portgate.status"] == "ok"
    assert "CSQU3054383" not in str([dict(s.attributes or {}) for s in spans])  # masked

    found = await client.get(
        "/audit/records", params={"client": "trucker-1"}, headers={"x-api-key": keys["auditor"]}
    )
    [line] = found.text.splitlines()
    stored = orjson.loads(line)
    record = AuditRecord.model_validate(stored["record"])
    assert record.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert record.operation_name == "TruckerCheck"
    assert record.roles == ("trucker",)
    assert "Container.events" in record.denied
    assert {"Query.containers", "Container.equipmentReference", "Query.ports"} <= set(
        record.requested
    )
    assert {p.port for p in record.ports} == set(PORTS)
    assert record.outcome == "partial"
    assert record.error_codes == ("FORBIDDEN_FIELD",)


async def test_untraced_the_gateway_makes_no_span_and_still_passes_the_caller_s_trace_on(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No tracer provider given or installed: not even OpenTelemetry's no-op spans are started
    (each costs microseconds on every operation), yet the caller's trace context reaches every
    port and the audit record, as it would through non-recording spans."""

    def no_span(*_: Any, **__: Any) -> Any:
        raise AssertionError("a span was started with tracing off")

    monkeypatch.setattr(ProxyTracer, "start_span", no_span)
    monkeypatch.setattr(ProxyTracer, "start_as_current_span", no_span)
    # The ports still trace; no cache, so the second request asks them again.
    client, exporter, keys = await stack(gateway_traced=False, cache={"enabled": False})
    caller_trace, caller_span = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331
    traceparent = f"00-{caller_trace:032x}-{caller_span:016x}-01"
    for headers in ({"traceparent": traceparent}, {}):
        response = await client.post(
            "/graphql", json={"query": QUERY}, headers={"x-api-key": keys["trucker"], **headers}
        )
        assert response.status_code == 200
    spans = exporter.get_finished_spans()
    assert {s.name for s in spans if s.name.startswith(("graphql.", "portgate."))} == set()
    servers = [s for s in spans if s.kind.name == "SERVER"]
    assert len(servers) == 2 * len(PORTS)
    continued = [s for s in servers if s.context.trace_id == caller_trace]
    assert len(continued) == len(PORTS)  # the first request's, in the caller's trace
    assert {s.parent.span_id for s in continued if s.parent} == {caller_span}
    found = await client.get(
        "/audit/records", params={"client": "trucker-1"}, headers={"x-api-key": keys["auditor"]}
    )
    records = [AuditRecord.model_validate(orjson.loads(line)["record"])
               for line in found.text.splitlines()]  # fmt: skip
    assert sorted(str(r.trace_id) for r in records) == [f"{caller_trace:032x}", "None"]


# Values only a port's answer carries: none may reach the audit trail.
CANARIES = {
    "yardBlock": "YB-CANARY-7F3A",
    "eventID": "EV-CANARY-7F3A",
    "vesselName": "MV CANARY 7F3A",
}


class CargoPort(EmptyPort):
    """A port's systems that know one container; each value it answers is a canary."""

    async def containers(self, references: Sequence[str]) -> list[Any]:
        if "CSQU3054383" not in references:
            return []
        vessel = {"vesselIMONumber": "9321483", "vesselName": CANARIES["vesselName"]}
        return [
            {
                "equipmentReference": "CSQU3054383",
                "location": {"UNLocationCode": self.port_id, "yardBlock": CANARIES["yardBlock"]},
                "events": [
                    {
                        "eventID": CANARIES["eventID"],
                        "eventDateTime": datetime(2026, 11, 21, 8, 0, tzinfo=UTC),
                        "eventClassifierCode": "ACT",
                        "equipmentEventTypeCode": "DISC",
                        "transportCall": {"vessel": vessel},
                    }
                ],
            }
        ]


async def test_the_audit_trail_keeps_no_data_a_port_returned(stack: Stack, tmp_path: Path) -> None:
    client, _, keys = await stack(CargoPort)
    query = """query OwnerCheck { containers(references: ["CSQU3054383"]) {
      equipmentReference location { yardBlock }
      events { eventID transportCall { vessel { vesselName vesselIMONumber } } } } }"""
    response = await client.post(
        "/graphql", json={"query": query}, headers={"x-api-key": keys["cargo_owner"]}
    )
    [box] = response.json()["data"]["containers"]
    assert box["location"]["yardBlock"] == CANARIES["yardBlock"]  # the canaries were returned
    [event] = box["events"]
    assert event["eventID"] == CANARIES["eventID"]
    assert event["transportCall"]["vessel"] == {
        "vesselName": CANARIES["vesselName"],
        "vesselIMONumber": "9321483",
    }

    found = await client.get(
        "/audit/records",
        params={"client": "cargo_owner-1"},
        headers={"x-api-key": keys["auditor"]},
    )
    [line] = found.text.splitlines()
    assert orjson.loads(line)["record"]["operation_name"] == "OwnerCheck"  # the right record
    with sqlite3.connect(tmp_path / "audit.sqlite3") as db:
        stored = "\n".join(str(row) for row in db.execute("SELECT * FROM audit_records"))
    assert "OwnerCheck" in stored
    for field, value in CANARIES.items():
        assert value not in line, field
        assert value not in stored, field


async def test_auditors_search_over_http_others_may_not(stack: Stack) -> None:
    client, _, keys = await stack()
    await client.post("/graphql", json={"query": QUERY}, headers={"x-api-key": keys["trucker"]})
    await client.post("/graphql", json={"query": "{ nope }"})  # rejected, anonymous

    auditor = {"x-api-key": keys["auditor"]}
    found = await client.get("/audit/records", params={"client": "trucker-1"}, headers=auditor)
    assert found.status_code == 200
    lines = [orjson.loads(line) for line in found.text.splitlines()]
    assert [line["record"]["client_id"] for line in lines] == ["trucker-1"]
    rejected = await client.get("/audit/records", params={"outcome": "rejected"}, headers=auditor)
    [line] = rejected.text.splitlines()
    assert orjson.loads(line)["record"]["error_codes"] == ["GRAPHQL_VALIDATION_FAILED"]
    verify = (await client.get("/audit/verify", headers=auditor)).json()
    assert (verify["ok"], verify["count"]) == (True, 2)

    assert (
        await client.get("/audit/records", headers={"x-api-key": keys["trucker"]})
    ).status_code == 403
    assert (await client.get("/audit/records")).status_code == 403  # public
    bad = await client.get("/audit/records", params={"since": "soon"}, headers=auditor)
    assert bad.status_code == 400


async def test_metrics_count_operations_ports_denials_and_audit_records(stack: Stack) -> None:
    client, _, keys = await stack()
    await client.post("/graphql", json={"query": QUERY}, headers={"x-api-key": keys["trucker"]})
    await client.post("/graphql", json={"query": QUERY}, headers={"x-api-key": keys["trucker"]})
    text = (await client.get("/metrics")).text
    assert 'portgate_requests_total{operation="TruckerCheck",outcome="partial"} 2.0' in text
    assert 'portgate_cache_lookups_total{port="USLAX",result="hit"} 1.0' in text
    assert 'portgate_policy_denials_total{coordinate="Container.events"} 2.0' in text
    assert 'portgate_port_breaker_state{port="USOAK"} 0.0' in text
    assert 'portgate_audit_records_total{result="failed"} 0.0' in text


async def test_a_required_audit_that_cannot_be_written_fails_the_query_closed(
    stack: Stack, tmp_path: Path
) -> None:
    client, _, keys = await stack(audit={"required": True})
    (tmp_path / "audit.sqlite3").unlink()
    (tmp_path / "audit.sqlite3").mkdir()  # the store can no longer be written
    response = await client.post(
        "/graphql", json={"query": QUERY}, headers={"x-api-key": keys["cargo_owner"]}
    )
    assert response.status_code == 503
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["AUDIT_UNAVAILABLE"]
