"""The simulated terminal API: its own names, codes and time formats."""

import re
from collections.abc import Callable

import httpx
import pytest

from port_resolvers.sim.systems import SimulatedPortSystem, SystemKind

Client = Callable[[SimulatedPortSystem], httpx.AsyncClient]
LOCAL_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d P[SD]T$")


@pytest.fixture
def lgb(system_for: Callable[[str], SimulatedPortSystem]) -> SimulatedPortSystem:
    return system_for("USLGB")


async def test_facility_lists_the_terminals(lgb: SimulatedPortSystem, client_for: Client):
    assert lgb.kind is SystemKind.NATIVE
    body = (await client_for(lgb).get("/api/v1/facility")).json()
    assert body["port_code"] == "USLGB"
    assert body["tz"] == "America/Los_Angeles"
    assert [t["terminal_id"] for t in body["terminals"]] == [
        "LBCT",
        "TTI",
        "SSAPCT",
        "SSATA",
        "ITS",
        "MATU",
    ]


async def test_containers_speak_the_systems_own_language(
    lgb: SimulatedPortSystem, client_for: Client
):
    box = next(b for b in lgb.data.containers if b.status == "IN_TERMINAL" and b.flow == "IMPORT")
    response = await client_for(lgb).get(
        "/api/v1/containers", params={"ids": f"{box.reference},NOPE1234567"}
    )
    body = response.json()
    assert body["unknown_ids"] == ["NOPE1234567"]
    (raw,) = body["containers"]
    assert raw["container_no"] == box.reference
    assert raw["full_empty"] == "F"
    assert raw["category"] == "IMPORT"
    assert raw["yard"]["block"] == box.yard.block
    assert {"row", "tier"} <= raw["yard"].keys()
    assert raw["moves"][0]["move_type"] in {
        "Discharge",
        "Load",
        "Gate In",
        "Gate Out",
        "Inspection",
    }
    assert isinstance(raw["moves"][0]["ts"], int)
    status = raw["import_status"]
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", status["last_free_day"])
    assert isinstance(status["fees_due_cents"], int)
    assert all(LOCAL_TIME.match(h["changed"]) for h in status["holds"])


async def test_vessel_visits_by_window_and_vessel(lgb: SimulatedPortSystem, client_for: Client):
    client = client_for(lgb)
    calls = lgb.data.vessel_calls
    start, end = calls[10].planned_arrival, calls[20].planned_arrival
    params = {"arrival_from": int(start.timestamp()), "arrival_to": int(end.timestamp())}
    visits = (await client.get("/api/v1/vessel-visits", params=params)).json()["visits"]
    assert [v["visit_id"] for v in visits] == [
        c.reference for c in calls if start <= c.planned_arrival < end
    ]
    assert all(LOCAL_TIME.match(v["berth_window"]["planned_arrival"]) for v in visits)
    imo = calls[0].vessel.imo
    mine = (await client.get("/api/v1/vessel-visits", params={"imo": imo})).json()["visits"]
    assert mine
    assert {v["vessel"]["imo"] for v in mine} == {imo}
    cancelled = (await client.get("/api/v1/vessel-visits", params={"state": "CANCELLED"})).json()
    assert [v["visit_id"] for v in cancelled["visits"]] == [
        c.reference for c in calls if c.status_code == "OMIT"
    ]


async def test_vessel_by_imo(lgb: SimulatedPortSystem, client_for: Client):
    client = client_for(lgb)
    vessel = lgb.data.vessels[0]
    assert (await client.get(f"/api/v1/vessels/{vessel.imo}")).json()["mmsi"] == vessel.mmsi
    assert (await client.get("/api/v1/vessels/9321483")).status_code == 404


async def test_stats_by_window(lgb: SimulatedPortSystem, client_for: Client):
    body = (await client_for(lgb).get("/api/v1/stats", params={"window": "30d"})).json()
    figures = {(f["terminal_id"], f["figure"]) for f in body["figures"]}
    assert (None, "teu_in") in figures
    assert ("LBCT", "truck_turn_minutes_avg") in figures
    assert len(figures) == 6 * 7  # the port and its six terminals


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/containers", {}),
        ("/api/v1/containers", {"ids": ",".join(f"MSCU{i:07d}" for i in range(101))}),
        ("/api/v1/vessel-visits", {"arrival_from": "yesterday"}),
        ("/api/v1/vessel-visits", {"state": "SUNK"}),
        ("/api/v1/stats", {"window": "1y"}),
    ],
)
async def test_bad_parameters_are_a_400(
    lgb: SimulatedPortSystem, client_for: Client, path: str, params: dict[str, str]
):
    response = await client_for(lgb).get(path, params=params)
    assert response.status_code == 400
    assert response.json()["error"]["message"]


async def test_dcsa_ports_serve_the_terminal_api_without_moves(
    system_for: Callable[[str], SimulatedPortSystem], client_for: Client
):
    oak = system_for("USOAK")
    assert oak.kind is SystemKind.DCSA
    box = oak.data.containers[0]
    body = (await client_for(oak).get("/api/v1/containers", params={"ids": box.reference})).json()
    assert body["containers"][0]["moves"] == []
