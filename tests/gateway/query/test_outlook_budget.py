"""The outlook lives inside the query's budget: one deadline for the whole operation, its inner
queries asked at the same time, its window aligned so repeated outlooks share their inner
queries through the cache and coalescing, and a window too large for its pages said so.

Each port is the resolver kit over a small in-memory source. The deadline test serves every
port and the gateway on loopback; the others reach the ports through httpx transports, which
count, and where a test needs it hold, the requests each port receives.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.app import create_app
from gateway.config import ConfigError, load_settings
from port_resolvers.kit import (
    ContainerRecord,
    PortMetricRecord,
    PortRecord,
    VesselCallFilter,
    VesselCallRecord,
    create_resolver_app,
)
from port_resolvers.loopback import serve_on_loopback
from tests.gateway.conftest import (
    OPEN_POLICY,
    PORT_NAMES,
    TEST_EGRESS,
    Gateway,
    PortRouter,
    port_url,
    with_test_egress,
)

FIVE = ("USLAX", "USLGB", "USOAK", "USNTD", "USSAN")
T0 = datetime(2026, 11, 21, 18, 0, 42, 500_000, tzinfo=UTC)  # not on a whole minute
MINUTE = T0.replace(second=0, microsecond=0)
DEADLINE = 4.0  # seconds: long enough for the other ports on a busy machine
MARGIN = 4.0  # generous: ten outlooks one after another would take 10 x DEADLINE
OUTLOOK = """outlook(days: 3) {
  windowStart windowEnd generatedAt
  ports { UNLocationCode answered expectedArrivals lateArrivals { transportCallReference } }
}"""


def ten_outlooks() -> str:
    return "{ " + " ".join(f"o{i}: {OUTLOOK}" for i in range(10)) + " }"


@dataclass
class MemoryPort:
    """A port's systems with a few vessel calls around ``T0`` and one metric."""

    port_id: str
    calls: list[VesselCallRecord] = field(default_factory=list)

    async def port(self) -> PortRecord:
        return {"UNLocationCode": self.port_id, "name": PORT_NAMES[self.port_id], "terminals": []}

    async def containers(self, references: Sequence[str]) -> list[ContainerRecord]:
        return []

    async def vessel_calls(self, filter: VesselCallFilter) -> list[VesselCallRecord]:
        return list(self.calls)

    async def vessel(self, imo: str) -> None:
        return None

    async def metrics(self, period: str, metrics: Sequence[str] | None) -> list[PortMetricRecord]:
        return [
            {"UNLocationCode": self.port_id, "metric": "VESSELS_AT_ANCHOR", "value": 3.0,
             "unit": "vessels", "periodStart": T0 - timedelta(days=7), "periodEnd": T0,
             "sampleSize": 3},
        ]  # fmt: skip


def call(port: str, reference: str, planned: datetime, late: timedelta | None = None) -> Any:
    record: dict[str, Any] = {
        "transportCallReference": reference,
        "UNLocationCode": port,
        "plannedArrivalDateTime": planned,
    }
    if late is not None:
        record["estimatedArrivalDateTime"] = planned + late
    return record


def memory_port(port: str) -> MemoryPort:
    """Two calls expected in the window, one of them late (more than the day allowed), and one
    planned before it."""
    return MemoryPort(
        port,
        [
            call(port, f"{port}-1", T0 + timedelta(hours=5)),
            call(port, f"{port}-2", T0 + timedelta(days=1), late=timedelta(hours=30)),
            call(port, f"{port}-0", T0 - timedelta(days=5)),
        ],
    )


def resolver(port: MemoryPort) -> ASGIApp:
    return create_resolver_app(port, port.port_id)


class Clock:
    """The gateway's wall clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextlib.asynccontextmanager
async def gateway(
    transports: Mapping[str, httpx.AsyncBaseTransport], clock: Clock, **settings: Any
) -> AsyncIterator[Gateway]:
    router = PortRouter(transports)
    config = load_settings(
        None,
        ports=[{"id": p, "name": PORT_NAMES[p], "url": port_url(p)} for p in transports],
        # Generous timeouts unless a test sets its own: port requests are counted here, and a
        # port timing out on a busy machine would be asked again.
        **with_test_egress(
            {"policy": {"file": OPEN_POLICY}, "deadline": 30, "port_defaults": {"timeout": 20}}
            | settings
        ),
    )
    async with httpx.AsyncClient(transport=router) as upstream:
        app = create_app(config, client=upstream, clock=clock)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gw"
        ) as client:
            yield Gateway(client, router)


def kit_transports(ports: Sequence[MemoryPort]) -> dict[str, httpx.AsyncBaseTransport]:
    return {p.port_id: httpx.ASGITransport(app=resolver(p)) for p in ports}


def answered(body: dict[str, Any], key: str = "outlook") -> dict[str, bool]:
    return {p["UNLocationCode"]: p["answered"] for p in body["data"][key]["ports"]}


# One deadline for the whole operation.


class HeldPort:
    """A port resolver that holds every request until ``release`` is set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.release = asyncio.Event()
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.requests += 1
            await self.release.wait()
        await self.app(scope, receive, send)


async def test_ten_outlooks_end_by_the_deadline_while_a_port_holds_its_answer() -> None:
    held = HeldPort(resolver(memory_port("USNTD")))
    async with contextlib.AsyncExitStack() as stack:
        urls = {
            p: await stack.enter_async_context(serve_on_loopback(resolver(memory_port(p))))
            for p in FIVE
            if p != "USNTD"
        }
        urls["USNTD"] = await stack.enter_async_context(serve_on_loopback(held))
        stack.callback(held.release.set)  # before the servers stop
        config = load_settings(
            None,
            ports=[{"id": p, "name": PORT_NAMES[p], "url": urls[p] + "/graphql"} for p in FIVE],
            deadline=DEADLINE,
            # Each port may take the whole deadline (no longer: the config refuses it); before,
            # every inner query started a deadline of its own, and ten outlooks took ten times.
            port_defaults={"timeout": DEADLINE},
            policy={"file": OPEN_POLICY},
            limits={"max_cost": 10_000_000},  # the deadline is on trial here, not the cost
            registry={"egress": TEST_EGRESS},
        )
        app = create_app(config)
        gateway_url = await stack.enter_async_context(serve_on_loopback(app))
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=60))
        others = [p for p in FIVE if p != "USNTD"]
        warm = {"query": "query W($p: [String!]) { ports(ports: $p) { name } }"}
        await client.post(f"{gateway_url}/graphql", json=warm | {"variables": {"p": others}})
        started = time.monotonic()
        response = await client.post(f"{gateway_url}/graphql", json={"query": ten_outlooks()})
        elapsed = time.monotonic() - started
    body = response.json()
    assert elapsed < DEADLINE + MARGIN, f"{elapsed:.2f}s for a deadline of {DEADLINE}s"
    assert held.requests == 1  # the ten outlooks are one outlook, asked once
    for i in range(10):
        assert answered(body, f"o{i}") == {
            "USLAX": True, "USLGB": True, "USOAK": True, "USNTD": False, "USSAN": True
        }  # fmt: skip
    timed_out = [s for s in body["extensions"]["sources"] if s["port"] == "USNTD"]
    assert len(timed_out) == 10
    assert {(s["status"], s["code"]) for s in timed_out} == {("timeout", "DEADLINE_EXCEEDED")}
    errors = {(e["path"][0], e["extensions"]["code"], e["extensions"]["port"])
              for e in body["errors"]}  # fmt: skip
    assert errors == {(f"o{i}", "DEADLINE_EXCEEDED", "USNTD") for i in range(10)}


# Inner queries at the same time.


class Rendezvous(httpx.AsyncBaseTransport):
    """Holds each request until ``expected`` different requests have reached this port: asked
    one after another, the first would wait for the others forever (here, to the deadline)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, expected: int) -> None:
        self.inner = inner
        self.expected = expected
        self.bodies: set[bytes] = set()
        self.all_in = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.add(await request.aread())
        if len(self.bodies) >= self.expected:
            self.all_in.set()
        await self.all_in.wait()
        return await self.inner.handle_async_request(request)


def meeting(expected: int) -> dict[str, Rendezvous]:
    """The five ports, each holding its requests until ``expected`` different ones are in."""
    ports = kit_transports([memory_port(p) for p in FIVE])
    return {p: Rendezvous(transport, expected) for p, transport in ports.items()}


async def test_an_outlooks_calls_and_containers_are_asked_at_the_same_time() -> None:
    transports = meeting(2)
    query = '{ outlook(containers: ["MSCU1234566"]) { ports { answered } containers { found } } }'
    async with gateway(transports, Clock(T0), deadline=3, port_defaults={"timeout": 3}) as gw:
        body = (await gw.query(query)).json()
    assert "errors" not in body, body["errors"]
    assert all(p["answered"] for p in body["data"]["outlook"]["ports"])
    assert all(len(t.bodies) == 2 for t in transports.values())


async def test_different_outlooks_in_one_request_are_asked_at_the_same_time() -> None:
    transports = meeting(2)
    query = (
        "{ a: outlook(days: 1) { ports { answered } } b: outlook(days: 2) { ports { answered } } }"
    )
    async with gateway(transports, Clock(T0), deadline=3, port_defaults={"timeout": 3}) as gw:
        body = (await gw.query(query)).json()
    assert "errors" not in body, body["errors"]
    assert all(p["answered"] for key in "ab" for p in body["data"][key]["ports"])


# The window is aligned, so the inner queries are shared.


async def test_the_window_starts_at_the_whole_minute() -> None:
    async with gateway(kit_transports([memory_port("USLAX")]), Clock(T0)) as gw:
        body = (await gw.query("{" + OUTLOOK + "}")).json()
    outlook = body["data"]["outlook"]
    assert outlook["windowStart"] == "2026-11-21T18:00:00+00:00"
    assert outlook["windowEnd"] == "2026-11-24T18:00:00+00:00"
    assert outlook["generatedAt"] == T0.isoformat()  # when it was computed, not aligned
    [port] = outlook["ports"]
    assert (port["expectedArrivals"], port["lateArrivals"]) == (
        2, [{"transportCallReference": "USLAX-2"}]
    )  # fmt: skip


async def test_the_alignment_is_a_setting() -> None:
    clock = Clock(datetime(2026, 11, 21, 18, 29, 59, tzinfo=UTC))
    async with gateway(
        kit_transports([memory_port("USLAX")]), clock, outlook={"window_alignment": "15m"}
    ) as gw:
        body = (await gw.query("{ outlook { windowStart } }")).json()
    assert body["data"]["outlook"]["windowStart"] == "2026-11-21T18:15:00+00:00"


async def test_a_repeated_outlook_asks_no_port_again_within_the_minute() -> None:
    clock = Clock(MINUTE + timedelta(seconds=1))
    async with gateway(kit_transports([memory_port(p) for p in FIVE]), clock) as gw:
        first = (await gw.query("{" + OUTLOOK + "}")).json()
        asked = len(gw.router.requests)
        assert asked == len(FIVE)  # one document per port: calls, metrics and ports at once
        clock.now = MINUTE + timedelta(seconds=59)
        again = (await gw.query("{" + OUTLOOK + "}")).json()
        assert len(gw.router.requests) == asked  # no port asked anything new
        assert again["data"]["outlook"]["ports"] == first["data"]["outlook"]["ports"]
        assert {s["status"] for s in again["extensions"]["sources"]} == {"cached"}
        clock.now = MINUTE + timedelta(minutes=1)  # the next window: asked anew
        await gw.query("{" + OUTLOOK + "}")
        assert len(gw.router.requests) == 2 * asked


async def test_ten_concurrent_outlooks_cost_the_port_requests_of_one() -> None:
    ports = [memory_port(p) for p in FIVE]
    async with gateway(kit_transports(ports), Clock(T0)) as gw:
        await gw.query("{" + OUTLOOK + "}")
        one = len(gw.router.requests)
    # Ten at once from one client: about sharing, so its in-flight limit is off.
    async with gateway(kit_transports(ports), Clock(T0), rate_limit={"enabled": False}) as gw:
        bodies = await asyncio.gather(*(gw.query("{" + OUTLOOK + "}") for _ in range(10)))
        assert len(gw.router.requests) == one
    assert all(all(answered(b.json()).values()) for b in bodies)


async def test_ten_aliased_outlooks_cost_the_port_requests_of_one() -> None:
    ports = [memory_port(p) for p in FIVE]
    async with gateway(kit_transports(ports), Clock(T0)) as gw:
        await gw.query("{" + OUTLOOK + "}")
        one = len(gw.router.requests)
    async with gateway(kit_transports(ports), Clock(T0), limits={"max_cost": 10**7}) as gw:
        body = (await gw.query(ten_outlooks())).json()
        assert len(gw.router.requests) == one
    assert "errors" not in body
    assert len({orjson.dumps(body["data"][f"o{i}"]) for i in range(10)}) == 1


# Pages are bounded, and a window holding more says so.


def busy_port(calls: int) -> MemoryPort:
    """``calls`` calls expected in the window, a minute apart, none of them estimated."""
    planned = [T0 + timedelta(hours=1, minutes=i) for i in range(calls)]
    return MemoryPort("USLAX", [call("USLAX", f"C{i:03}", t) for i, t in enumerate(planned)])


@pytest.mark.parametrize(("pages", "counted", "truncated"), [(2, 200, True), (3, 250, False)])
async def test_calls_beyond_the_last_page_are_not_counted_and_it_says_so(
    pages: int, counted: int, truncated: bool
) -> None:
    async with gateway(
        kit_transports([busy_port(250)]), Clock(T0), outlook={"max_call_pages": pages}
    ) as gw:
        body = (await gw.query("{ outlook(days: 1) { ports { expectedArrivals } } }")).json()
        assert len(gw.router.requests) == min(pages, 3)  # 250 calls: three pages at most
    assert body["data"]["outlook"]["ports"] == [{"expectedArrivals": counted}]
    if not truncated:
        assert "errors" not in body
        return
    [error] = body["errors"]
    assert error["path"] == ["outlook"]
    assert error["extensions"] == {"code": "OUTLOOK_TRUNCATED"}
    last = T0 + timedelta(hours=1, minutes=199)  # the 200th call
    assert f"planned after {last.isoformat()}" in error["message"]


@pytest.mark.parametrize(
    ("outlook", "message"),
    [
        ({"window_alignment": "25h"}, "at most a day"),
        ({"max_call_pages": 0}, "greater than or equal to 1"),
        ({"max_call_pages": 21}, "less than or equal to 20"),
    ],
)
def test_outlook_settings_out_of_bounds_are_refused(outlook: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, outlook=outlook)
