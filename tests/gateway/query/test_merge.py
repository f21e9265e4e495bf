"""Merging real resolver answers from several ports: winners, order, paging across ports.

Each port is the resolver kit over a small in-memory source, reached through ASGITransport.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from port_resolvers.kit import (
    ContainerRecord,
    PortMetricRecord,
    PortRecord,
    VesselCallFilter,
    VesselCallRecord,
    VesselRecord,
    create_resolver_app,
)
from portcontract.periods import closed_weeks
from tests.gateway.conftest import PORT_NAMES, GatewayFactory

T0 = datetime(2026, 11, 21, tzinfo=UTC)


@dataclass
class MemoryPort:
    port_id: str
    containers_known: list[ContainerRecord] = field(default_factory=list)
    calls: list[VesselCallRecord] = field(default_factory=list)
    vessels: dict[str, VesselRecord] = field(default_factory=dict)

    async def port(self) -> PortRecord:
        return {"UNLocationCode": self.port_id, "name": PORT_NAMES[self.port_id], "terminals": []}

    async def containers(self, references: Sequence[str]) -> list[ContainerRecord]:
        return [c for c in self.containers_known if c["equipmentReference"] in references]

    async def vessel_calls(self, filter: VesselCallFilter) -> list[VesselCallRecord]:
        return list(self.calls)

    async def vessel(self, imo: str) -> VesselRecord | None:
        return self.vessels.get(imo)

    async def metrics(self, period: str, metrics: Sequence[str] | None) -> list[PortMetricRecord]:
        # Dwell over the period's whole weeks (UTC: the port names no time zone), 40 boxes and
        # 3.5 days on average each week.
        weeks = closed_weeks(period, T0, ZoneInfo("UTC"))
        return [
            {"UNLocationCode": self.port_id, "metric": "VESSELS_AT_BERTH", "value": 2.0,
             "unit": "vessels", "periodStart": T0, "periodEnd": T0, "sampleSize": 2},
            {"UNLocationCode": self.port_id, "facilitySMDGCode": "T1",
             "metric": "CONTAINER_DWELL_DAYS", "value": 3.5, "unit": "days",
             "periodStart": weeks[0].start, "periodEnd": weeks[-1].end,
             "sampleSize": 40 * len(weeks),
             "weeks": [{"periodStart": w.start, "periodEnd": w.end, "total": 140.0,
                        "sampleSize": 40} for w in weeks]},
        ]  # fmt: skip


def container(reference: str, discharged: datetime, port: str) -> ContainerRecord:
    return {
        "equipmentReference": reference,
        "events": [
            {"eventID": f"{port}-{reference}", "eventDateTime": discharged,
             "eventClassifierCode": "ACT", "equipmentEventTypeCode": "DISC"},
        ],
    }  # fmt: skip


def call(port: str, ref: str, planned: datetime) -> VesselCallRecord:
    return {
        "transportCallReference": ref,
        "UNLocationCode": port,
        "plannedArrivalDateTime": planned,
    }


def transports(*ports: MemoryPort) -> dict[str, httpx.AsyncBaseTransport]:
    return {p.port_id: httpx.ASGITransport(app=create_resolver_app(p, p.port_id)) for p in ports}


async def test_container_comes_from_the_port_that_saw_it_last(make_gateway: GatewayFactory) -> None:
    lax = MemoryPort("USLAX", [container("CSQU3054383", T0 - timedelta(days=30), "USLAX")])
    lgb = MemoryPort("USLGB", [container("CSQU3054383", T0 - timedelta(days=2), "USLGB")])
    oak = MemoryPort("USOAK", [container("APZU4812090", T0, "USOAK")])
    gateway = await make_gateway(transports(lax, lgb, oak))
    body = (
        await gateway.query(
            '{ container(reference: "CSQU3054383") { sourcePort events { eventID } } }'
        )
    ).json()
    assert body["data"]["container"] == {
        "sourcePort": "USLGB",
        "events": [{"eventID": "USLGB-CSQU3054383"}],
    }
    assert {s["port"]: s["status"] for s in body["extensions"]["sources"]} == {
        "USLAX": "ok", "USLGB": "ok", "USOAK": "ok",
    }  # fmt: skip


async def test_containers_in_the_order_asked_unknown_ones_left_out(
    make_gateway: GatewayFactory,
) -> None:
    lax = MemoryPort("USLAX", [container("CSQU3054383", T0, "USLAX")])
    oak = MemoryPort("USOAK", [container("APZU4812090", T0, "USOAK")])
    gateway = await make_gateway(transports(lax, oak))
    body = (
        await gateway.query(
            '{ containers(references: ["APZU4812090", "MSCU1234566", "CSQU3054383"]) '
            "{ equipmentReference sourcePort isISO6346Valid status } }"
        )
    ).json()
    assert body["data"]["containers"] == [
        {"equipmentReference": "APZU4812090", "sourcePort": "USOAK", "isISO6346Valid": True,
         "status": "IN_TERMINAL"},
        {"equipmentReference": "CSQU3054383", "sourcePort": "USLAX", "isISO6346Valid": True,
         "status": "IN_TERMINAL"},
    ]  # fmt: skip


async def test_vessel_calls_page_across_ports_in_one_order(make_gateway: GatewayFactory) -> None:
    ports = [
        MemoryPort(
            p, calls=[call(p, f"{p}-{i}", T0 + timedelta(hours=h)) for i, h in enumerate(hs)]
        )
        for p, hs in {"USLAX": [1, 4, 4, 9], "USLGB": [2, 4, 8], "USOAK": [3, 10]}.items()
    ]
    gateway = await make_gateway(transports(*ports))
    query = """query Page($after: String) {
      vesselCalls(first: 2, after: $after) {
        edges { cursor node { transportCallReference UNLocationCode } }
        pageInfo { hasNextPage endCursor }
        totalCount
      }
    }"""
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = (await gateway.query(query, {"after": after})).json()
        page = body["data"]["vesselCalls"]
        assert page["totalCount"] == 9
        seen += [e["node"]["transportCallReference"] for e in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]
    assert seen == [
        "USLAX-0", "USLGB-0", "USOAK-0", "USLAX-1", "USLAX-2", "USLGB-1", "USLGB-2", "USLAX-3",
        "USOAK-1",
    ]  # fmt: skip
    assert pages == 5


async def test_nodes_and_aliases_in_a_page(make_gateway: GatewayFactory) -> None:
    ports = [MemoryPort(p, calls=[call(p, f"{p}-0", T0 + timedelta(hours=h))])
             for p, h in (("USLAX", 2), ("USSAN", 1))]  # fmt: skip
    gateway = await make_gateway(transports(*ports))
    body = (
        await gateway.query(
            "{ calls: vesselCalls(first: 5) { list: nodes { ref: transportCallReference } "
            "info: pageInfo { more: hasNextPage } } }"
        )
    ).json()
    assert body["data"] == {
        "calls": {"list": [{"ref": "USSAN-0"}, {"ref": "USLAX-0"}], "info": {"more": False}}
    }


async def test_vessel_from_the_first_port_that_knows_it(make_gateway: GatewayFactory) -> None:
    lax = MemoryPort("USLAX")
    oak = MemoryPort("USOAK", vessels={"9321483": {"vesselIMONumber": "9321483",
                                                   "vesselName": "PACIFIC DAWN"}})  # fmt: skip
    gateway = await make_gateway(transports(lax, oak))
    body = (await gateway.query('{ vessel(imo: "9321483") { vesselName } }')).json()
    assert body["data"] == {"vessel": {"vesselName": "PACIFIC DAWN"}}


async def test_metrics_and_ports_from_each_port_in_registry_order(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(transports(MemoryPort("USOAK"), MemoryPort("USLAX")))
    body = (
        await gateway.query(
            "{ ports { UNLocationCode name } portMetrics { UNLocationCode facilitySMDGCode metric "
            "sampleSize } }"
        )
    ).json()
    assert [p["UNLocationCode"] for p in body["data"]["ports"]] == ["USOAK", "USLAX"]
    assert [(m["UNLocationCode"], m["facilitySMDGCode"]) for m in body["data"]["portMetrics"]] == [
        ("USOAK", None), ("USOAK", "T1"), ("USLAX", None), ("USLAX", "T1"),
    ]  # fmt: skip


async def test_ports_argument_limits_who_is_asked(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(transports(MemoryPort("USOAK"), MemoryPort("USLAX")))
    body = (await gateway.query('{ ports(ports: ["USLAX"]) { UNLocationCode } }')).json()
    assert body["data"] == {"ports": [{"UNLocationCode": "USLAX"}]}
    assert [s["port"] for s in body["extensions"]["sources"]] == ["USLAX"]
    assert [r.url.host for r in gateway.router.requests] == ["uslax.test"]


async def test_one_request_per_port_for_all_root_fields(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(transports(MemoryPort("USOAK"), MemoryPort("USLAX")))
    body = (
        await gateway.query(
            '{ ports { name } a: container(reference: "CSQU3054383") { sourcePort } '
            "portMetrics { value } calls: vesselCalls { totalCount } }"
        )
    ).json()
    assert "errors" not in body
    assert sorted(r.url.host for r in gateway.router.requests) == ["uslax.test", "usoak.test"]
