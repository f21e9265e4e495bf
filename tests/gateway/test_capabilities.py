"""Optional capabilities through the gateway: a port that lacks one is listed under
``notOffered`` in its sources entry, its answer stays whole (not partial, no error), and the
ports that have it answer as usual."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from port_resolvers.kit import (
    CutOffTimeRecord,
    PortRecord,
    VesselCallFilter,
    VesselCallRecord,
    notices,
)
from tests.gateway.conftest import GatewayFactory
from tests.gateway.query.test_merge import T0, MemoryPort, call, transports

CUTS = (
    "{ vesselCalls(first: 10) { nodes { transportCallReference UNLocationCode "
    "cutOffTimes { cutOffDateTimeCode cutOffDateTime reefer } } } }"
)


class CuttingPort(MemoryPort):
    """A port whose systems give cut-offs and gate hours."""

    offers = frozenset({"VesselCall.cutOffTimes", "Terminal.gateHours"})

    async def port(self) -> PortRecord:
        record = await super().port()
        day = T0.date()
        record["terminals"] = [
            {"facilitySMDGCode": "T1", "name": "One", "UNLocationCode": self.port_id,
             "gateHours": [{"date": day, "open": False, "periods": [],
                            "closureReason": "WEATHER"}]},
        ]  # fmt: skip
        return record


def cut_call(port: str, ref: str) -> VesselCallRecord:
    record = call(port, ref, T0)
    cut_offs: list[CutOffTimeRecord] = [
        {"cutOffDateTimeCode": "FCO", "cutOffDateTime": T0 - timedelta(days=1), "reefer": False},
        {"cutOffDateTimeCode": "EFC", "cutOffDateTime": T0 - timedelta(days=5), "reefer": False},
    ]
    record["cutOffTimes"] = cut_offs
    return record


def sources(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["port"]: s for s in body["extensions"]["sources"]}


async def test_a_port_without_cut_offs_is_listed_not_failed(make_gateway: GatewayFactory) -> None:
    lax = CuttingPort("USLAX", calls=[cut_call("USLAX", "L1")])
    san = MemoryPort("USSAN", calls=[cut_call("USSAN", "S1")])  # has them, offers none
    gateway = await make_gateway(transports(lax, san))
    body = (await gateway.query(CUTS)).json()

    assert "errors" not in body  # lacking a capability is not an error
    nodes = {n["transportCallReference"]: n for n in body["data"]["vesselCalls"]["nodes"]}
    assert [c["cutOffDateTimeCode"] for c in nodes["L1"]["cutOffTimes"]] == ["FCO", "EFC"]
    assert nodes["S1"]["cutOffTimes"] is None  # never an invented or empty list
    entries = sources(body)
    assert entries["USSAN"]["status"] == "ok"
    assert entries["USSAN"]["notOffered"] == ["VesselCall.cutOffTimes"]
    assert "code" not in entries["USSAN"]
    assert "notOffered" not in entries["USLAX"]


async def test_not_offered_is_served_again_from_the_cache(make_gateway: GatewayFactory) -> None:
    san = MemoryPort("USSAN", calls=[call("USSAN", "S1", T0)])
    gateway = await make_gateway(transports(san))
    first = (await gateway.query(CUTS)).json()
    again = (await gateway.query(CUTS)).json()
    assert sources(again)["USSAN"].get("cacheAgeSeconds") is not None
    assert sources(again)["USSAN"]["notOffered"] == sources(first)["USSAN"]["notOffered"]


class QuarantiningPort(MemoryPort):
    """Leaves one event of its system out of every vessel-call answer."""

    async def vessel_calls(self, filter: VesselCallFilter) -> list[VesselCallRecord]:
        notices.report("EVENTS_QUARANTINED", 1)
        return await super().vessel_calls(filter)


async def test_a_real_notice_beside_a_capability_not_offered_still_shows(
    make_gateway: GatewayFactory,
) -> None:
    san = QuarantiningPort("USSAN", calls=[call("USSAN", "S1", T0)])
    gateway = await make_gateway(transports(san))
    body = (await gateway.query(CUTS)).json()
    entry = sources(body)["USSAN"]
    assert entry["status"] == "partial"  # from what it left out, not from what it lacks
    assert entry["code"] == "PORT_ERROR"
    assert entry["notOffered"] == ["VesselCall.cutOffTimes"]
    assert [e["extensions"]["code"] for e in body["errors"]] == ["PORT_ERROR"]


async def test_terminal_services_by_port(make_gateway: GatewayFactory) -> None:
    lax = CuttingPort("USLAX")
    oak = MemoryPort("USOAK")
    gateway = await make_gateway(transports(lax, oak))
    body = (
        await gateway.query(
            "{ ports { UNLocationCode terminals { facilitySMDGCode "
            "gateHours { date open closureReason periods { opensDateTime } } "
            "emptyReturns { carrierSCACCode } } } }"
        )
    ).json()
    ports = {p["UNLocationCode"]: p for p in body["data"]["ports"]}
    assert ports["USLAX"]["terminals"] == [
        {"facilitySMDGCode": "T1", "emptyReturns": None,
         "gateHours": [{"date": T0.date().isoformat(), "open": False,
                        "closureReason": "WEATHER", "periods": []}]}
    ]  # fmt: skip
    assert sources(body)["USLAX"]["notOffered"] == ["Terminal.emptyReturns"]
    assert sources(body)["USOAK"]["notOffered"] == ["Terminal.emptyReturns", "Terminal.gateHours"]


class TerminalServicesPort(MemoryPort):
    """Two terminals: one closed today for wind and refusing one carrier's 45' empties, one
    closed every Sunday (not a closure: it never opens then) and taking everything."""

    offers = frozenset({"Terminal.gateHours", "Terminal.emptyReturns"})

    async def port(self) -> PortRecord:
        record = await super().port()
        today = datetime.now(UTC).date()
        later = today + timedelta(days=30)  # beyond any window asked here
        record["terminals"] = [
            {"facilitySMDGCode": "T1", "name": "One", "UNLocationCode": self.port_id,
             "gateHours": [{"date": today, "open": False, "periods": [],
                            "closureReason": "WEATHER"},
                           {"date": later, "open": False, "periods": [],
                            "closureReason": "HOLIDAY"}],
             "emptyReturns": [{"date": today, "carrierSCACCode": "MAEU",
                               "ISOEquipmentCode": "L5G1", "accepted": False},
                              {"date": today, "carrierSCACCode": "MAEU",
                               "ISOEquipmentCode": "45G1", "accepted": True}]},
            {"facilitySMDGCode": "T2", "name": "Two", "UNLocationCode": self.port_id,
             "gateHours": [{"date": today, "open": False, "periods": []}],
             "emptyReturns": []},
        ]  # fmt: skip
        return record


OUTLOOK = """{ outlook(days: 2) { ports { UNLocationCode answered notOffered
  gateClosures { facilitySMDGCode terminalName date closureReason }
  emptyReturnRestrictions { facilitySMDGCode date carrierSCACCode ISOEquipmentCode } } } }"""


async def test_the_outlook_shows_gate_closures_and_refused_empties_by_port(
    make_gateway: GatewayFactory,
) -> None:
    lgb = TerminalServicesPort("USLGB")
    san = MemoryPort("USSAN")
    gateway = await make_gateway(transports(lgb, san))
    body = (await gateway.query(OUTLOOK)).json()
    assert "errors" not in body
    ports = {p["UNLocationCode"]: p for p in body["data"]["outlook"]["ports"]}
    today = datetime.now(UTC).date().isoformat()
    assert ports["USLGB"] == {
        "UNLocationCode": "USLGB", "answered": True, "notOffered": [],
        "gateClosures": [{"facilitySMDGCode": "T1", "terminalName": "One", "date": today,
                          "closureReason": "WEATHER"}],
        "emptyReturnRestrictions": [{"facilitySMDGCode": "T1", "date": today,
                                     "carrierSCACCode": "MAEU", "ISOEquipmentCode": "L5G1"}],
    }  # fmt: skip
    assert ports["USSAN"] == {
        "UNLocationCode": "USSAN", "answered": True,
        "notOffered": ["Terminal.emptyReturns", "Terminal.gateHours"],
        "gateClosures": None, "emptyReturnRestrictions": None,  # lacking, never "none"
    }  # fmt: skip


class Corrupting(httpx.AsyncBaseTransport):
    """A port that answers through the kit, then spoils every gate day and empty-return rule
    of its first terminal the way a careless or hostile system might."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = orjson.loads(await response.aread())
        for port in (body.get("data") or {}).get("ports") or []:
            terminal = port["terminals"][0]
            for day in terminal.get("gateHours") or []:
                day.update(date="tomorrow", open="yes", closureReason="EXPLODED")
            for rule in terminal.get("emptyReturns") or []:
                rule.update(accepted="no", ISOEquipmentCode=["45G1"])
        return httpx.Response(200, json=body, headers={"content-type": "application/json"})


async def test_spoiled_terminal_services_are_dropped_and_the_outlook_still_answers(
    make_gateway: GatewayFactory,
) -> None:
    lgb = TerminalServicesPort("USLGB")
    san = MemoryPort("USSAN")
    ports = transports(lgb, san)
    ports["USLGB"] = Corrupting(ports["USLGB"])
    gateway = await make_gateway(ports)
    response = await gateway.query(OUTLOOK)
    assert response.status_code == 200
    body = response.json()
    lgb_row = next(p for p in body["data"]["outlook"]["ports"] if p["UNLocationCode"] == "USLGB")
    assert lgb_row["gateClosures"] == []  # what broke the contract is gone, never believed
    assert lgb_row["emptyReturnRestrictions"] == []
    direct = (await gateway.query(
        "{ ports(ports: [\"USLGB\"]) { terminals { facilitySMDGCode gateHours { date } } } }"
    )).json()  # fmt: skip
    entry = sources(direct)["USLGB"]
    assert entry["status"] == "partial"
    assert entry["code"] == "PORT_CONTRACT_VIOLATION"
