"""The labor-privacy promise against inference (issue 15), through the gateway in front of the
five simulated ports over loopback, for every shipped role: each attack a curious caller could
try finds the data withheld, or too coarse to give a rate.

- Sliding windows: polling twice within a week gives identical answers; after the week ends,
  every period moves by exactly one whole local week. No period ends "now".
- Per-call productivity: a TEU figure is never served for a terminal or port whose week had
  fewer than three vessel calls (the attacker counts them from the public vessel calls), and
  never for a longer period whose last week is withheld.
- Small samples: no role, admins included, gets dwell or truck turn time over a week of fewer
  than ten boxes or visits (counted here from the ports' own generated data).
- Labor keys and free text in a port's answer never reach the caller.
"""

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from gateway.access.apikeys import ApiKeyStore
from gateway.app import create_app
from port_resolvers.kit import ContainerRecord, PortRecord, create_resolver_app
from port_resolvers.sim.cluster import run_simulated_ports
from port_resolvers.sim.data import generate_all_ports
from port_resolvers.sim.model import PortData
from port_resolvers.sim.records import InMemoryPortSource
from tests.gateway.conftest import GatewayFactory, settings_for_tests
from tests.gateway.test_policy_enforcement import key_for

NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)  # Saturday 10:00 in Los Angeles
SEED = 2026
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
ROLES = ("public", "trucker", "cargo_owner", "port_operator", "state_analyst", "auditor",
         "port_admin", "admin")  # fmt: skip
SAMPLED = ("CONTAINER_DWELL_DAYS", "TRUCK_TURN_TIME_MINUTES", "TEU_DISCHARGED", "TEU_LOADED")
PERIOD_DAYS = {"LAST_7_DAYS": 7, "LAST_30_DAYS": 28, "LAST_90_DAYS": 91}
FIELDS = "UNLocationCode facilitySMDGCode metric value sampleSize periodStart periodEnd"
METRICS = " ".join(f"{p}: portMetrics(period: {p}) {{ {FIELDS} }}" for p in PERIOD_DAYS)


def last_monday(at: datetime) -> datetime:
    local = at.astimezone(LOS_ANGELES)
    day = local.date() - timedelta(days=local.weekday())
    return datetime(day.year, day.month, day.day, tzinfo=LOS_ANGELES).astimezone(UTC)


Figure = tuple[str, str | None, str, str]  # port, terminal, metric, period


class Caller:
    """Asks the gateway as one shipped role."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    async def ask(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=self.headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def metrics(self) -> dict[Figure, dict[str, Any]]:
        body = await self.ask(f"{{ {METRICS} }}")
        return {
            (m["UNLocationCode"], m["facilitySMDGCode"], m["metric"], period): m
            for period in PERIOD_DAYS
            for m in body["data"][period]
        }


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[list[datetime], dict[str, Caller]]]:
    """The simulated ports and a gateway (shipped policy, no cache), one caller per role; the
    moment the ports' systems and resolvers take as now is the last of the list."""
    moments = [NOW]
    store = ApiKeyStore(tmp_path / "keys.sqlite3")
    async with run_simulated_ports(seed=SEED, now=NOW, clock=lambda: moments[-1]) as ports:
        config = settings_for_tests(
            None,
            ports=[
                {"id": p.id, "name": p.name, "url": p.resolver_url, "timeout": "10s"} for p in ports
            ],
            auth={"api_keys": {"database": store.path}},
            cache={"enabled": False},
            deadline="20s",
        )
        app = create_app(config)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),  # closes its connections to the ports
            httpx.AsyncClient(transport=transport, base_url="http://gw") as client,
        ):
            callers = {}
            for role in ROLES:
                headers = {} if role == "public" else {
                    "X-API-Key": store.create(client_id=role, organisation=role, roles=[role])[0]
                }  # fmt: skip
                callers[role] = Caller(client, headers)
            yield moments, callers


@pytest.fixture(scope="module")
def data() -> dict[str, PortData]:
    return generate_all_ports(seed=SEED, now=NOW)


def sampled(figures: dict[Figure, dict[str, Any]]) -> dict[Figure, dict[str, Any]]:
    return {k: m for k, m in figures.items() if k[2] in SAMPLED}


async def test_polling_within_a_week_gives_the_same_answer_and_no_period_ends_now(world):
    moments, callers = world
    boundary = last_monday(NOW)
    for role, caller in callers.items():
        moments[:] = [NOW]
        first = await caller.metrics()
        moments.append(NOW + timedelta(days=1, hours=13, minutes=7))  # Sunday night, same week
        assert await caller.metrics() == first, role  # nothing to subtract
        assert sampled(first), role
        for (_, _, _, period), figure in sampled(first).items():
            start = datetime.fromisoformat(figure["periodStart"])
            end = datetime.fromisoformat(figure["periodEnd"])
            assert end == boundary < NOW  # ended, at the last Monday 00:00 in Los Angeles
            assert (end.astimezone(LOS_ANGELES).date() - start.astimezone(LOS_ANGELES).date()) \
                == timedelta(days=PERIOD_DAYS[period])  # fmt: skip
            assert start == last_monday(start)  # whole weeks: the periods differ by weeks
        moments.append(boundary + timedelta(days=7, hours=3))  # the next Monday has begun
        later = sampled(await caller.metrics())
        assert {m["periodEnd"] for m in later.values()} == {
            (boundary + timedelta(days=7)).isoformat()
        }, role


async def public_calls(caller: Caller) -> list[dict[str, Any]]:
    """Every vessel call the public sees, with its actual berth times."""
    query = """query($after: String) { vesselCalls(first: 100, after: $after) {
      edges { node {
        UNLocationCode facilitySMDGCode actualArrivalDateTime actualDepartureDateTime
      } }
      pageInfo { hasNextPage endCursor } } }"""
    calls, after = [], None
    while True:
        page = (await caller.ask(query, {"after": after}))["data"]["vesselCalls"]
        calls += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return calls
        after = page["pageInfo"]["endCursor"]


def calls_at_berth(
    calls: list[dict[str, Any]], port: str, terminal: str | None, start: datetime, end: datetime
) -> int:
    """Calls of a terminal (or the whole port) whose berth stay overlaps [start, end)."""
    count = 0
    for call in calls:
        if call["UNLocationCode"] != port or terminal not in (None, call["facilitySMDGCode"]):
            continue
        arrived, left = call["actualArrivalDateTime"], call["actualDepartureDateTime"]
        if arrived and datetime.fromisoformat(arrived) < end:
            count += left is None or datetime.fromisoformat(left) > start
    return count


async def test_no_teu_figure_narrows_down_to_a_vessel_call_or_two(world):
    """The attack of the issue: a terminal's TEU over a week, divided among its few calls and
    their public berth hours. With fewer than three calls at berth in the week, the figure is
    never served; nor is a longer period whose last week is withheld."""
    _, callers = world
    calls = await public_calls(callers["public"])
    week_end = last_monday(NOW)
    week_start = week_end - timedelta(days=7)
    few_calls = 0
    for role, caller in callers.items():
        figures = await caller.metrics()
        for (port, terminal, metric, period), figure in figures.items():
            if not metric.startswith("TEU_"):
                continue
            at_berth = calls_at_berth(calls, port, terminal, week_start, week_end)
            if period == "LAST_7_DAYS" and at_berth < 3:
                few_calls += 1
                assert figure["value"] is None, (role, port, terminal, metric, at_berth)
            if figure["value"] is not None:
                latest = figures[port, terminal, metric, "LAST_7_DAYS"]
                assert latest["value"] is not None, (role, port, terminal, metric, period)
    assert few_calls >= len(ROLES)  # terminals with a call or two a week: not vacuous


def samples_in_last_week(data: PortData) -> dict[tuple[str | None, str], int]:
    """Boxes gated out after discharge and truck visits ended in the last closed week, per
    terminal and for the port, counted from the generated data."""
    end = last_monday(data.now)
    start = end - timedelta(days=7)
    counts: dict[tuple[str | None, str], int] = defaultdict(int)
    for box in data.containers:
        discharged = False
        for event in box.actual_events:
            discharged |= event.type_code == "DISC"
            if event.type_code == "GTOT" and discharged and start <= event.event_datetime < end:
                counts[event.facility_code, "CONTAINER_DWELL_DAYS"] += 1
                counts[None, "CONTAINER_DWELL_DAYS"] += 1
    for visit in data.truck_visits:
        if start <= visit.gate_out < end:
            counts[visit.facility_code, "TRUCK_TURN_TIME_MINUTES"] += 1
            counts[None, "TRUCK_TURN_TIME_MINUTES"] += 1
    return counts


async def test_no_role_admins_included_gets_a_figure_over_a_small_sample(world, data):
    _, callers = world
    seen: dict[str, set[Figure]] = {}
    for role, caller in callers.items():
        figures = sampled(await caller.metrics())
        small = 0
        for key, figure in figures.items():
            port, terminal, metric, _ = key
            if figure["value"] is not None:
                assert figure["sampleSize"] >= 10, (role, key)
            means = metric in ("CONTAINER_DWELL_DAYS", "TRUCK_TURN_TIME_MINUTES")
            if means and samples_in_last_week(data[port])[terminal, metric] < 10:
                small += 1
                assert figure["value"] is None, (role, key)  # in every period
        assert small > 0, role  # the ports do have weeks of fewer than ten: not vacuous
        seen[role] = {k for k, f in figures.items() if f["value"] is not None}
    assert seen["public"]
    assert all(shown == seen["public"] for shown in seen.values()), "no role sees more"


class LeakyPort(InMemoryPortSource):
    """A port whose systems leak labor keys and free text into what they return."""

    async def port(self) -> PortRecord:
        record: Any = await super().port()
        record["terminals"][0] |= {"craneId": "QC-07", "walkingBoss": "Okafor"}
        record["terminals"][0]["name"] = "Gang 3 berth, first shift"
        return record  # type: ignore[no-any-return]

    async def containers(self, references: Any) -> list[ContainerRecord]:
        boxes: Any = await super().containers(references)
        for box in boxes:
            box |= {"createdBy": "jsmith", "truckNumber": "T-4411", "GMPH": 28.5}
            for event in box["events"]:
                event |= {"cheId": "RTG-12", "pointOfWork": "POW-4", "hoot": "hoot-2"}
            for hold in (box.get("availability") or {}).get("holds") or []:
                hold["description"] = "Released by J. Smith, 32 moves/hr"
        return boxes  # type: ignore[no-any-return]


async def test_labor_keys_and_text_in_a_ports_answer_never_reach_a_caller(
    make_gateway: GatewayFactory, tmp_path: Path, data: dict[str, PortData]
) -> None:
    lax = data["USLAX"]
    held = next(b for b in lax.containers if b.availability and b.availability.holds)
    app = create_resolver_app(LeakyPort(lax), "USLAX")
    store = ApiKeyStore(tmp_path / "keys.sqlite3")
    gateway = await make_gateway(
        {"USLAX": httpx.ASGITransport(app=app)},
        auth={"api_keys": {"database": store.path}},
        policy={},  # the shipped policy
    )
    query = (
        f'{{ container(reference: "{held.reference}") {{ equipmentReference '
        "availability { holds { type description } } events { eventID } } "
        "ports { terminals { facilitySMDGCode name } } }"
    )
    for role in ROLES:
        headers = {} if role == "public" else key_for(store, role, client=role)
        response = await gateway.query(query, headers=headers)
        body = response.json()
        for leaked in ("QC-07", "Okafor", "Gang 3", "jsmith", "T-4411", "28.5", "RTG-12",
                       "POW-4", "hoot", "Smith", "moves/hr"):  # fmt: skip
            assert leaked not in response.text, (role, leaked)
        if body["data"]["container"] is not None:  # the state analyst may not ask for it
            assert body["data"]["container"]["equipmentReference"] == held.reference
        codes = {e["extensions"].get("portCode") for e in body.get("errors", [])}
        assert "LABOR_TEXT_WITHHELD" in codes, role
        [source] = body["extensions"]["sources"]
        assert source["status"] == "partial", role
