"""The cross-port outlook, checked against the simulated ports' own data for the same window."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.access.apikeys import ApiKeyStore
from gateway.access.policy_file import default_policy_text
from gateway.app import create_app
from gateway.config import load_settings
from gateway.record.audit import AuditFilter, open_audit_store
from port_resolvers.sim.cluster import RunningPort, run_simulated_ports
from port_resolvers.sim.data import containers_only_at, generate_all_ports
from port_resolvers.sim.model import PortData
from tests.gateway.conftest import TEST_EGRESS, besides_withheld_metrics, with_test_egress

NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
SEED = 7
DAYS = 3
OPEN_POLICY = Path(__file__).parent.parent / "policies" / "open.yaml"
QUERY = """query Outlook($days: Int!, $boxes: [String!]) {
  outlook(days: $days, containers: $boxes) {
    windowStart windowEnd
    ports { UNLocationCode answered vesselsAtAnchor vesselsAtBerth expectedArrivals
            lateArrivals { transportCallReference delayHours } averageDelayHours
            containerDwellDays truckTurnTimeMinutes }
    comparison { mostVesselsAtAnchor mostDelayed missing }
    containers { equipmentReference found sourcePort lastFreeDay firstAvailableDate
                 holdsPending atRisk reasons }
  }
}"""


@pytest.fixture
async def ports() -> AsyncIterator[list[RunningPort]]:
    async with run_simulated_ports(seed=SEED, now=NOW) as running:
        yield running


async def ask(
    ports: list[RunningPort], variables: dict[str, Any], **settings: Any
) -> dict[str, Any]:
    config = load_settings(
        None,
        ports=[{"id": p.id, "name": p.name, "url": p.resolver_url} for p in ports],
        # Generous timeouts: the five ports share this process, and the figures are on trial.
        **with_test_egress(
            {"policy": {"file": OPEN_POLICY}, "deadline": 30, "port_defaults": {"timeout": 20}}
            | settings
        ),
    )
    app = create_app(config, clock=lambda: NOW)
    async with (
        app.router.lifespan_context(app),  # closes its connections to the ports
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c,
    ):
        response = await c.post("/graphql", json={"query": QUERY, "variables": variables})
    body: dict[str, Any] = response.json()
    return body


def expected_port(data: PortData, late: timedelta = timedelta(days=1)) -> dict[str, Any]:
    """What the outlook must say of one port, from its generated data."""
    end = NOW + timedelta(days=DAYS)
    coming = [
        c for c in data.vessel_calls
        if c.actual_arrival is None and c.status_code not in ("OMIT", "BLNK")
        and NOW - timedelta(days=2) <= c.planned_arrival < end
        and NOW <= (c.estimated_arrival or c.planned_arrival) < end
    ]  # fmt: skip
    delays = [
        (c.estimated_arrival - c.planned_arrival).total_seconds() / 3600
        for c in coming
        if c.estimated_arrival is not None
    ]
    metric = {
        m.metric: m.value
        for m in data.metrics
        if m.period == "LAST_7_DAYS" and m.facility_code is None
    }
    return {
        "expectedArrivals": len(coming),
        "late": sorted(
            c.reference
            for c in coming
            if c.estimated_arrival is not None and c.estimated_arrival - c.planned_arrival >= late
        ),
        "averageDelayHours": round(sum(delays) / len(delays), 1) if delays else None,
        "vesselsAtAnchor": metric.get("VESSELS_AT_ANCHOR"),
        "vesselsAtBerth": metric.get("VESSELS_AT_BERTH"),
    }


async def test_figures_match_each_ports_own_data(ports: list[RunningPort]) -> None:
    data = generate_all_ports(seed=SEED, now=NOW)
    body = await ask(ports, {"days": DAYS})
    assert besides_withheld_metrics(body) == []
    outlook = body["data"]["outlook"]
    assert outlook["windowEnd"] == (NOW + timedelta(days=DAYS)).isoformat()
    rows = {p["UNLocationCode"]: p for p in outlook["ports"]}
    assert list(rows) == ["USLAX", "USLGB", "USOAK", "USNTD", "USSAN"]
    for port_id, row in rows.items():
        want = expected_port(data[port_id])
        assert row["answered"] is True
        assert row["expectedArrivals"] == want["expectedArrivals"], port_id
        assert sorted(c["transportCallReference"] for c in row["lateArrivals"]) == want["late"]
        assert row["averageDelayHours"] == want["averageDelayHours"], port_id
        assert row["vesselsAtAnchor"] == want["vesselsAtAnchor"], port_id
        assert row["vesselsAtBerth"] == want["vesselsAtBerth"], port_id
        # Null where the port's week counts too few boxes to share (labor privacy).
        assert row["containerDwellDays"] is None or 0.5 < row["containerDwellDays"] < 10
    anchors = {p: r["vesselsAtAnchor"] for p, r in rows.items()}
    assert anchors[outlook["comparison"]["mostVesselsAtAnchor"]] == max(anchors.values())
    assert outlook["comparison"]["missing"] == []
    assert sum(r["expectedArrivals"] for r in rows.values()) > 0  # the check is not vacuous


async def test_late_means_a_day_late_unless_the_operator_sets_another_threshold(
    ports: list[RunningPort],
) -> None:
    data = generate_all_ports(seed=SEED, now=NOW)
    hour: dict[str, Any] = {"outlook": {"late_after": "1h"}}
    for threshold, settings in ((timedelta(days=1), {}), (timedelta(hours=1), hour)):
        body = await ask(ports, {"days": DAYS}, **settings)
        rows = {p["UNLocationCode"]: p for p in body["data"]["outlook"]["ports"]}
        for port_id, row in rows.items():
            late = sorted(c["transportCallReference"] for c in row["lateArrivals"])
            assert late == expected_port(data[port_id], threshold)["late"], (port_id, threshold)
    hourly = sum(len(expected_port(d, timedelta(hours=1))["late"]) for d in data.values())
    daily = sum(len(expected_port(d)["late"]) for d in data.values())
    assert hourly > daily  # the two thresholds differ on this data: the check is not vacuous


async def test_a_port_that_is_down_is_missing_not_zero(ports: list[RunningPort]) -> None:
    next(p for p in ports if p.id == "USLGB").system.knobs.down = True
    body = await ask(ports, {"days": DAYS})
    outlook = body["data"]["outlook"]
    rows = {p["UNLocationCode"]: p for p in outlook["ports"]}
    assert rows["USLGB"]["answered"] is False
    assert {k: v for k, v in rows["USLGB"].items() if k not in ("UNLocationCode", "answered")} \
        == dict.fromkeys(["vesselsAtAnchor", "vesselsAtBerth", "expectedArrivals",
                          "lateArrivals", "averageDelayHours", "containerDwellDays",
                          "truckTurnTimeMinutes"])  # fmt: skip
    assert outlook["comparison"]["missing"] == ["USLGB"]
    assert rows["USLAX"]["answered"] is True
    assert {e["extensions"]["port"] for e in besides_withheld_metrics(body)} == {"USLGB"}
    assert all(e["path"] == ["outlook"] for e in body["errors"])


async def test_a_port_whose_system_fails_after_its_resolver_knew_it_is_still_missing(
    ports: list[RunningPort],
) -> None:
    await ask(ports, {"days": DAYS})  # the resolver now knows the port (name, terminals)
    next(p for p in ports if p.id == "USLGB").system.knobs.down = True
    body = await ask(ports, {"days": DAYS})  # a new gateway: nothing in its cache
    rows = {p["UNLocationCode"]: p for p in body["data"]["outlook"]["ports"]}
    assert rows["USLGB"]["answered"] is False
    assert rows["USLGB"]["expectedArrivals"] is None  # missing, never zero
    assert body["data"]["outlook"]["comparison"]["missing"] == ["USLGB"]


async def test_the_outlook_reports_one_source_per_port(ports: list[RunningPort]) -> None:
    body = await ask(ports, {"days": DAYS})
    sources = body["extensions"]["sources"]
    assert [s["port"] for s in sources] == ["USLAX", "USLGB", "USOAK", "USNTD", "USSAN"]
    assert all(s["status"] == "ok" and s["fields"] == ["outlook"] for s in sources)
    assert all(s["latencyMs"] > 0 for s in sources)


def risky(box: Any, today: date) -> bool:
    availability = box.availability
    if availability is None:
        return False
    last, first = availability.last_free_day, availability.first_available_date
    holds = [h for h in availability.holds if h.status == "HOLD"]
    return bool(
        (last and first and last < first)
        or (last and holds and (last - today).days <= 2)
        or (last and last < today and box.status == "IN_TERMINAL")
    )


async def test_my_containers_and_those_at_risk(ports: list[RunningPort]) -> None:
    data = generate_all_ports(seed=SEED, now=NOW)
    boxes = [c for p in data for c in containers_only_at(data, p)[:8]]
    references = [b.reference for b in boxes] + ["MSCU1234566"]  # a number no port knows
    body = await ask(ports, {"days": DAYS, "boxes": references})
    rows = body["data"]["outlook"]["containers"]
    assert [r["equipmentReference"] for r in rows] == references
    assert rows[-1]["found"] is False
    for box, row in zip(boxes, rows, strict=False):
        assert row["found"] is True
        assert row["atRisk"] == risky(box, NOW.date()), (box.reference, row["reasons"])
        assert bool(row["reasons"]) == row["atRisk"]
    assert any(r["atRisk"] for r in rows[:-1])  # the data has boxes at risk
    bad = await ask(ports, {"days": DAYS, "boxes": ["MSCU1234565"]})
    assert bad["data"]["outlook"] is None
    [error] = bad["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "should be 6, not 5" in error["message"]


async def test_the_public_sees_the_outlook_but_not_its_containers_availability(
    ports: list[RunningPort],
) -> None:
    data = generate_all_ports(seed=SEED, now=NOW)
    box = containers_only_at(data, "USLAX")[0].reference
    body = await ask(ports, {"days": DAYS, "boxes": [box]}, policy={})
    outlook = body["data"]["outlook"]
    assert all(p["answered"] for p in outlook["ports"])
    [row] = outlook["containers"]
    assert (row["found"], row["atRisk"], row["lastFreeDay"]) == (True, None, None)
    assert "not visible to your role" in row["reasons"][0]
    # The client selected the outlook, not the fields it is made of: no error, and
    # extensions.withheld says what its role kept out of it.
    assert "errors" not in body
    withheld = {w["coordinate"] for w in body["extensions"]["withheld"]}
    assert "Container.availability" in withheld
    assert all(w["path"] == ["outlook"] for w in body["extensions"]["withheld"])


async def test_the_audit_record_names_what_the_outlook_asked_of_which_ports(
    ports: list[RunningPort], tmp_path: Path
) -> None:
    config = load_settings(
        None,
        ports=[{"id": p.id, "name": p.name, "url": p.resolver_url} for p in ports],
        policy={"file": OPEN_POLICY},
        registry={"egress": TEST_EGRESS},
    )
    app = create_app(config, clock=lambda: NOW)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c,
    ):
        await c.post("/graphql", json={"query": QUERY, "variables": {"days": DAYS}})
    store = await open_audit_store(f"sqlite:///{tmp_path / 'audit.sqlite3'}")  # tests/conftest.py
    try:
        [stored] = await store.search(AuditFilter(operation_name="Outlook"))
    finally:
        await store.close()
    record = stored.record
    assert {"Query.outlook", "Query.vesselCalls", "VesselCall.estimatedArrivalDateTime",
            "Query.portMetrics", "PortMetric.value"} <= set(record.requested)  # fmt: skip
    assert {p.port for p in record.ports} == {"USLAX", "USLGB", "USOAK", "USNTD", "USSAN"}
    # Dwell over too few boxes at some ports is withheld: the outlook shows it as missing and
    # extensions.withheld says so; no port failed, so the operation is not partial.
    assert record.outcome == "ok"


async def test_no_role_gets_an_error_for_figures_it_did_not_select(
    ports: list[RunningPort], tmp_path: Path
) -> None:
    """Every role of the default policy asks the whole outlook, with a container, while every
    port answers: no errors (the metrics' values and the boxes' availability it is made of
    are the gateway's to ask, not the client's); what its role kept out is in
    extensions.withheld, on the outlook's path."""
    roles = list(yaml.safe_load(default_policy_text())["roles"])
    keys = ApiKeyStore(tmp_path / "keys.sqlite3")
    issued = {role: keys.create(client_id=role, organisation="t", roles=[role])[0]
              for role in roles if role != "public"}  # fmt: skip
    keys.close()
    data = generate_all_ports(seed=SEED, now=NOW)
    box = containers_only_at(data, "USLAX")[0].reference
    config = load_settings(
        None,
        ports=[{"id": p.id, "name": p.name, "url": p.resolver_url} for p in ports],
        auth={"api_keys": {"database": tmp_path / "keys.sqlite3"}},
        **with_test_egress({"deadline": 30, "port_defaults": {"timeout": 20}}),
    )
    app = create_app(config, clock=lambda: NOW)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c,
    ):
        for role in roles:
            headers = {"x-api-key": issued[role]} if role in issued else {}
            variables = {"days": DAYS, "boxes": [box]}
            response = await c.post(
                "/graphql", json={"query": QUERY, "variables": variables}, headers=headers
            )
            body = response.json()
            assert response.status_code == 200, (role, body)
            if body["data"]["outlook"] is None:  # a role the outlook itself is not for: the
                # one error is about the field it selected (the state analysts' aggregates
                # are portMetrics)
                [error] = body["errors"]
                assert error["extensions"]["coordinate"] == "Query.outlook", role
                continue
            assert "errors" not in body, (role, body.get("errors"))
            assert all(p["answered"] for p in body["data"]["outlook"]["ports"]), role
            for withheld in body["extensions"].get("withheld", []):
                assert withheld["path"] == ["outlook"], role
                assert withheld["coordinate"] in {"PortMetric.value", "Container.availability",
                                                  "Container.location"}, withheld  # fmt: skip
