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


US_DATE = re.compile(r"^\d\d/\d\d/\d{4}$")


async def test_gate_schedule_appointments_and_empty_returns_in_the_systems_own_words(
    lgb: SimulatedPortSystem, client_for: Client
):
    client = client_for(lgb)
    schedule = (await client.get("/api/v1/gate-schedule")).json()
    lbct = next(t for t in schedule["terminals"] if t["terminal_id"] == "LBCT")
    monday, *_, sunday = lbct["days"]
    assert monday == {
        "date": "03/02/2026",
        "status": "OPEN",
        "closed_for": None,
        "hours": [
            {"from": "2026-03-02 07:00 PST", "to": "2026-03-02 17:00 PST", "off_peak": False},
            {"from": "2026-03-02 18:00 PST", "to": "2026-03-03 03:00 PST", "off_peak": True},
        ],
    }
    assert sunday == {"date": "03/08/2026", "status": "CLOSED", "closed_for": None, "hours": []}
    appointments = (await client.get("/api/v1/appointments")).json()
    slots = [s for t in appointments["terminals"] for s in t["slots"]]
    assert all(t["appointments_required"] for t in appointments["terminals"])
    assert {s["appt_type"] for s in slots} == {
        "Import Pick Up", "Export Drop Off", "Empty Drop Off", "Empty Pick Up"
    }  # fmt: skip
    assert {s["status"] for s in slots} == {"Open", "Few Left", "Full"}
    assert all(LOCAL_TIME.match(s["from"]) and LOCAL_TIME.match(s["to"]) for s in slots)
    empties = (await client.get("/api/v1/empty-returns")).json()["empties"]
    assert {e["receiving"] for e in empties} == {"Y", "N"}
    assert all(US_DATE.match(e["date"]) for e in empties)


async def test_visits_carry_cut_offs_and_boxes_their_rail_leg_and_empty_due_date(
    lgb: SimulatedPortSystem, client_for: Client
):
    client = client_for(lgb)
    visits = (await client.get("/api/v1/vessel-visits")).json()["visits"]
    sailing = next(v for v in visits if v["visit_state"] != "CANCELLED")
    assert set(sailing["cutoffs"]) == {
        "dry_receiving_from",
        "reefer_receiving_from",
        "doc_cutoff",
        "vgm_cutoff",
        "dry_cutoff",
        "reefer_cutoff",
    }
    assert all(LOCAL_TIME.match(at) for at in sailing["cutoffs"].values())
    assert {v["visit_id"] for v in visits if v["cutoffs"] == {}} == {
        c.reference for c in lgb.data.vessel_calls if c.status_code == "OMIT"
    }
    railed = next(b for b in lgb.data.containers if b.status == "LOADED_ON_RAIL")
    picked_up = next(b for b in lgb.data.containers if b.status == "GATED_OUT" and b.availability)
    ids = f"{railed.reference},{picked_up.reference}"
    boxes = (await client.get("/api/v1/containers", params={"ids": ids})).json()["containers"]
    rail = boxes[0]["rail"]
    assert rail["on_dock"] is True
    assert rail["railroad"] in {"UP", "BNSF"}
    assert isinstance(rail["loaded_ts"], int)
    assert LOCAL_TIME.match(rail["departs"])
    assert rail["departure_stage"] in {"Expected", "Done"}
    assert boxes[1]["rail"] is None
    assert US_DATE.match(boxes[1]["import_status"]["empty_due"])


async def test_san_diegos_older_system_publishes_none_of_it(
    system_for: Callable[[str], SimulatedPortSystem], client_for: Client
):
    san = system_for("USSAN")
    client = client_for(san)
    for path in ("/api/v1/gate-schedule", "/api/v1/appointments", "/api/v1/empty-returns"):
        assert (await client.get(path)).status_code == 404
    (visit, *_) = (await client.get("/api/v1/vessel-visits")).json()["visits"]
    assert "cutoffs" not in visit
    ids = ",".join(b.reference for b in san.data.containers)
    boxes = (await client.get("/api/v1/containers", params={"ids": ids})).json()["containers"]
    assert not any("rail" in b for b in boxes)
    assert not any("empty_due" in (b["import_status"] or {}) for b in boxes)
    hueneme = system_for("USNTD")
    appointments = (await client_for(hueneme).get("/api/v1/appointments")).json()
    assert appointments["terminals"] == [
        {"terminal_id": "HUE", "appointments_required": False, "slots": []}
    ]
