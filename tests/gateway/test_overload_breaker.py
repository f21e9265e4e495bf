"""A port timeout while the gateway's own event loop lags is the gateway's backlog, not the
port's fault: it never opens the port's breaker for everyone."""

import asyncio

import httpx

from gateway.app import create_app
from gateway.edge.overload import EventLoopLag
from tests.gateway.conftest import OPEN_POLICY, PortRouter, port_url, settings_for_tests

QUERY = "{ ports { name } }"


class NeverMeasured(EventLoopLag):
    """A lag the test sets by hand (its measuring loop never runs)."""

    async def run(self) -> None:
        await asyncio.Event().wait()


async def test_timeouts_during_the_gateways_own_overload_do_not_open_a_breaker() -> None:
    arrived = asyncio.Event()
    lag = NeverMeasured(0.1)

    async def hanging(request: httpx.Request) -> httpx.Response:
        arrived.set()
        await asyncio.Event().wait()  # cut off by the port's timeout
        raise AssertionError("unreachable")

    config = settings_for_tests(
        None,
        ports=[{"id": "USLAX", "name": "LA", "url": port_url("USLAX")}],
        port_defaults={"timeout": "100ms"},
        breaker={"failure_threshold": 2, "reset_timeout": "1m"},
        retry={"attempts": 1},
        cache={"enabled": False},
        policy={"file": OPEN_POLICY},
    )
    router = PortRouter({"USLAX": httpx.MockTransport(hanging)})
    async with httpx.AsyncClient(transport=router) as upstream:
        app = create_app(config, client=upstream, loop_lag=lag)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gw"
        ) as client:

            async def timed_out(*, lagging: bool) -> str:
                arrived.clear()
                asked = asyncio.create_task(client.post("/graphql", json={"query": QUERY}))
                at_port = asyncio.create_task(arrived.wait())
                await asyncio.wait({asked, at_port}, return_when=asyncio.FIRST_COMPLETED)
                at_port.cancel()  # a port not asked at all (its breaker open) ends here
                # Admitted and at the port: now the loop falls behind.
                lag.sustained = 10.0 if lagging else 0.0
                body = (await asked).json()
                lag.sustained = 0.0
                return str(body["errors"][0]["extensions"]["code"])

            async def breaker() -> str:
                text = (await client.get("/metrics")).text
                line = next(x for x in text.splitlines() if x.startswith("portgate_port_breaker"))
                return line.rsplit(" ", 1)[1]

            assert [await timed_out(lagging=True) for _ in range(3)] == ["PORT_TIMEOUT"] * 3
            assert await breaker() == "0.0"  # closed: none of them was the port's fault
            assert [await timed_out(lagging=False) for _ in range(2)] == ["PORT_TIMEOUT"] * 2
            assert await breaker() == "2.0"  # open: two of the port's own, in a row
