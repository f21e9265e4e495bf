"""An in-memory port (USLAX) for the resolver kit's tests, and a client for its app."""

import copy
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from opentelemetry import propagate

from port_resolvers.kit import (
    ContainerRecord,
    PortMetricRecord,
    PortRecord,
    SourceUnavailable,
    VesselCallFilter,
    VesselCallRecord,
    VesselRecord,
    create_resolver_app,
)
from portcontract.periods import PERIOD_WEEKS, closed_weeks

PORT = "USLAX"
T0 = datetime(2026, 11, 21, tzinfo=UTC)
PACIFIC = timezone(timedelta(hours=-8))

VESSELS: dict[str, VesselRecord] = {
    "9321483": {
        "vesselIMONumber": "9321483",
        "MMSINumber": "636019825",
        "vesselName": "PACIFIC DAWN",
        "vesselFlag": "LR",
        "vesselCallSign": "D5AB2",
        "vesselOperatorSMDGLinerCode": "MSC",
    },
    "9319466": {"vesselIMONumber": "9319466", "vesselName": "SIERRA CREST"},
    "9512343": {"vesselIMONumber": "9512343", "vesselName": "MOJAVE STAR"},
}


def make_port() -> PortRecord:
    return {
        "UNLocationCode": PORT,
        "name": "Port of Los Angeles",
        "timeZone": "America/Los_Angeles",
        "terminals": [
            {"facilitySMDGCode": "APMT", "name": "APM Pier 400", "UNLocationCode": PORT},
            {"facilitySMDGCode": "TRAP", "name": "TraPac", "UNLocationCode": PORT},
        ],
    }


def event(
    event_id: str, kind: str, classifier: str, when: datetime, **extra: Any
) -> dict[str, Any]:
    return {
        "eventID": event_id,
        "eventDateTime": when,
        "eventClassifierCode": classifier,
        "equipmentEventTypeCode": kind,
        **extra,
    }


def make_containers() -> list[ContainerRecord]:
    day = timedelta(days=1)
    return [
        {
            "equipmentReference": "CSQU3054383",
            "ISOEquipmentCode": "45G1",
            "emptyIndicatorCode": "LADEN",
            "location": {"UNLocationCode": PORT, "facilitySMDGCode": "APMT", "yardBlock": "B12"},
            "availability": {
                "availableForPickup": False,
                "holds": [{"type": "CUSTOMS", "status": "HOLD", "updatedDateTime": T0}],
                "lastFreeDay": date(2026, 11, 25),
                "outstandingFeesUSD": 0.0,
            },
            # Deliberately out of order: the kit sorts oldest first.
            "events": [
                event("e3", "GTOT", "ACT", T0 + 3 * day),
                event("e1", "DISC", "ACT", T0 + day, transportCall={"vessel": VESSELS["9321483"]}),
                event("e4", "LOAD", "EST", T0 + 9 * day),
                event("e2", "GTIN", "ACT", T0 + 2 * day),
            ],
        },
        {
            "equipmentReference": "APZU4812090",
            "events": [event("a1", "DISC", "EST", T0 + 4 * day)],
        },
        {
            "equipmentReference": "MSCU1234566",
            "events": [
                event("m2", "RSEA", "ACT", T0 + 2 * day),
                event("m1", "DISC", "ACT", T0 + day),
            ],
        },
        {
            "equipmentReference": "TGHU7654320",
            "events": [event("t1", "LOAD", "ACT", T0.astimezone(PACIFIC))],
        },
        {"equipmentReference": "ACMEREF0042", "events": []},
    ]


STATUS_CYCLE = (None, "OMIT", None, "ADHO")
IMO_CYCLE = ("9321483", "9319466", "9512343")
CALL_COUNT = 23


def make_vessel_calls() -> list[VesselCallRecord]:
    """23 calls, three to a planned time (ties broken by reference), in a shuffled order."""
    calls: list[VesselCallRecord] = []
    for i in range(CALL_COUNT):
        planned = T0 + timedelta(hours=6 * (i // 3))
        if i == 4:
            planned = planned.astimezone(PACIFIC)  # same instant, another offset
        calls.append(
            {
                "transportCallReference": f"LAX{(i * 7) % CALL_COUNT:03d}",
                "UNLocationCode": PORT,
                "facilitySMDGCode": "APMT",
                "vessel": VESSELS[IMO_CYCLE[i % 3]],
                "statusCode": STATUS_CYCLE[i % 4],
                "phase": "SCHEDULED",
                "plannedArrivalDateTime": planned,
                "plannedDepartureDateTime": planned + timedelta(hours=30),
            }
        )
    random.Random(7).shuffle(calls)
    return calls


def make_metrics(period: str = "LAST_7_DAYS") -> list[PortMetricRecord]:
    """The port's figures over the whole Los Angeles weeks of ``period`` closed by T0: each
    week 5,120 boxes gated out after 3.4 days on average, 45,000 boxes (81,000 TEU) loaded
    from 40 vessel calls, the largest 4,000 TEU; and 2 vessels at anchor at T0."""
    weeks = closed_weeks(period, T0, ZoneInfo("America/Los_Angeles"))

    def metric(name: str, value: float | None, unit: str, sample: int, **week: Any) -> Any:
        record: dict[str, Any] = {
            "UNLocationCode": PORT,
            "metric": name,
            "value": value,
            "unit": unit,
            "periodStart": weeks[0].start if week else T0,
            "periodEnd": weeks[-1].end if week else T0,
            "sampleSize": sample,
        }
        if week:
            record["weeks"] = [
                {"periodStart": w.start, "periodEnd": w.end, "sampleSize": sample, **week}
                for w in weeks
            ]
        return record

    return [
        metric("CONTAINER_DWELL_DAYS", 3.4, "days", 5120, total=3.4 * 5120),
        metric("TEU_LOADED", 81000.0, "TEU", 45000, total=81000.0, calls=40, largestCallTEU=4000.0),
        metric("VESSELS_AT_ANCHOR", 2.0, "vessels", 2),
    ]


class FakeSource:
    """A port's systems in memory. ``failing`` methods raise SourceUnavailable, ``broken`` ones
    raise an unexpected error; every call is logged with the traceparent an adapter would send.
    Like a lazy adapter, it returns everything it has and leaves filtering to the kit."""

    def __init__(self) -> None:
        self.port_record: dict[str, Any] = dict(make_port())
        self.container_records: list[dict[str, Any]] = list(make_containers())
        self.call_records: list[dict[str, Any]] = list(make_vessel_calls())
        self.vessel_records: dict[str, dict[str, Any]] = dict(VESSELS)
        self.metrics_by_period: dict[str, list[dict[str, Any]]] = {
            period: list(make_metrics(period)) for period in PERIOD_WEEKS
        }
        self.calls: list[tuple[str, Any]] = []
        self.injected: list[dict[str, str]] = []
        self.failing: set[str] = set()
        self.broken: set[str] = set()

    def _enter(self, method: str, argument: Any) -> None:
        self.calls.append((method, argument))
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        self.injected.append(carrier)
        if method in self.failing:
            raise SourceUnavailable("db01.lax.internal:5432 refused the connection")
        if method in self.broken:
            raise RuntimeError("password=hunter2 in /srv/tos/secret.py")

    def methods_called(self) -> list[str]:
        return [method for method, _ in self.calls]

    async def port(self) -> PortRecord:
        self._enter("port", None)
        return copy.deepcopy(self.port_record)

    async def containers(self, references: Sequence[str]) -> list[ContainerRecord]:
        self._enter("containers", list(references))
        wanted = set(references)
        found = [r for r in self.container_records if r["equipmentReference"] in wanted]
        return copy.deepcopy(found)

    async def vessel_calls(self, filter: VesselCallFilter) -> list[VesselCallRecord]:
        self._enter("vessel_calls", filter)
        return copy.deepcopy(self.call_records)

    async def vessel(self, imo: str) -> VesselRecord | None:
        self._enter("vessel", imo)
        return copy.deepcopy(self.vessel_records.get(imo))

    @property
    def metric_records(self) -> list[dict[str, Any]]:
        """The figures of LAST_7_DAYS (the default period)."""
        return self.metrics_by_period["LAST_7_DAYS"]

    @metric_records.setter
    def metric_records(self, records: list[dict[str, Any]]) -> None:
        self.metrics_by_period["LAST_7_DAYS"] = records

    async def metrics(self, period: str, metrics: Sequence[str] | None) -> list[PortMetricRecord]:
        self._enter("metrics", (period, metrics))
        return copy.deepcopy(self.metrics_by_period[period])  # type: ignore[arg-type]


GraphQL = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
def app_options() -> dict[str, Any]:
    return {}


@pytest.fixture
async def client(
    source: FakeSource, app_options: dict[str, Any]
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_resolver_app(source, PORT, **app_options)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://uslax.test") as client:
        yield client


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQL:
    async def post(
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        operation_name: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        if operation_name is not None:
            body["operationName"] = operation_name
        return await client.post("/graphql", json=body, headers=headers)

    return post
