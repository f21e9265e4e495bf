"""``ports { status }``: the gateway's view of each port, filled in by the gateway."""

import httpx

from gateway.config import BreakerSettings, ResolvedPort
from gateway.errors import PortUnavailable
from gateway.ports.fetch import FanOut, PortOutcome
from gateway.ports.upstream import PortAnswer
from tests.gateway.conftest import GatewayFactory

QUERY = "{ ports { UNLocationCode name status } }"


def port(port_id: str, name: str, up: list[bool]) -> httpx.MockTransport:
    """A port resolver that answers while ``up[0]`` is true, else refuses connections."""

    def handler(request: httpx.Request) -> httpx.Response:
        if not up[0]:
            raise httpx.ConnectError("refused")
        item = {"UNLocationCode": port_id, "name": name, "status": None, "_pg_port": port_id}
        return httpx.Response(200, json={"data": {"ports": [item]}})

    return httpx.MockTransport(handler)


async def test_a_port_that_does_not_answer_is_listed_down(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(
        {"USLAX": port("USLAX", "Los Angeles (its own name)", [True]),
         "USLGB": port("USLGB", "unused", [False])},
        breaker={"failure_threshold": 2},
    )  # fmt: skip
    body = (await gateway.query(QUERY)).json()
    assert body["data"]["ports"] == [
        {"UNLocationCode": "USLAX", "name": "Los Angeles (its own name)", "status": "UP"},
        {"UNLocationCode": "USLGB", "name": "Port of Long Beach", "status": "DOWN"},
    ]
    assert [e["extensions"]["port"] for e in body["errors"]] == ["USLGB"]

    await gateway.query(QUERY)  # a second failure in a row opens USLGB's breaker
    body = (await gateway.query(QUERY)).json()
    assert body["data"]["ports"][1]["status"] == "DOWN"
    sources = {s["port"]: s["status"] for s in body["extensions"]["sources"]}
    assert sources["USLGB"] == "circuit_open"


def test_health_follows_the_breaker_and_this_querys_outcomes() -> None:
    """Stale-if-error itself is tested with fake clocks in test_fetch.py."""
    fan = FanOut(lambda _: object(), breaker_settings=BreakerSettings(failure_threshold=1))  # type: ignore[arg-type,return-value]
    for port in ("USLAX", "USLGB", "USOAK"):
        fan.breaker(port)

    def outcome(port_id: str, status: str, failed: bool) -> PortOutcome:
        resolved = ResolvedPort(
            id=port_id, name=port_id, url="http://x/graphql", timeout=1, capabilities=frozenset()
        )
        failure = PortUnavailable(port_id, "refused") if failed else None
        answer = PortAnswer({}, []) if status in ("ok", "stale") else None
        return PortOutcome(resolved, [], 0.0, status, answer, failure)

    assert fan.health() == {"USLAX": "UP", "USLGB": "UP", "USOAK": "UP"}
    fan.breaker("USOAK").record_failure()  # open
    assert fan.health([outcome("USLAX", "ok", False), outcome("USLGB", "stale", True)]) == {
        "USLAX": "UP",
        "USLGB": "DEGRADED",
        "USOAK": "DOWN",
    }
