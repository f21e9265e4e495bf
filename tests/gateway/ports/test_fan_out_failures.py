"""A slow, dead or broken port never sinks a query: the others answer, its failure is named."""

import asyncio
import time

import httpx
import pytest

from gateway.config import ResolvedPort
from gateway.planning.plan import PortQuery
from gateway.ports.fetch import FanOut
from gateway.ports.upstream import PortAnswer, PortRequest
from tests.gateway.conftest import GatewayFactory, answering, graphql_body

LAX = {
    "portMetrics": [
        {
            "UNLocationCode": "USLAX",
            "_pg_port": "USLAX",
            "_pg_facility": None,
            "_pg_metric": "VESSELS_AT_ANCHOR",
            "_pg_sample": 3,
        }
    ]
}
QUERY = "{ portMetrics { UNLocationCode } }"
DEADLINE_MARGIN_SECONDS = 3.0  # far above any machine's scheduling noise, far below 10 s


def failing(exc: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return httpx.MockTransport(handler)


def never_answering() -> httpx.MockTransport:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()  # cut off by the gateway's timeout, never by this test
        raise AssertionError("unreachable")

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("transport", "status", "code"),
    [
        (failing(httpx.ConnectError("refused")), "error", "PORT_UNAVAILABLE"),
        (failing(httpx.ReadTimeout("slow")), "timeout", "PORT_TIMEOUT"),
        (httpx.MockTransport(lambda _: httpx.Response(500, text="boom")), "error", "PORT_ERROR"),
        (httpx.MockTransport(lambda _: httpx.Response(503)), "error", "PORT_UNAVAILABLE"),
        (httpx.MockTransport(lambda _: httpx.Response(200, json=[1, 2])), "error", "PORT_ERROR"),
        (httpx.MockTransport(lambda _: httpx.Response(200, text="<html>")), "error", "PORT_ERROR"),
    ],
)
async def test_one_failing_port_is_reported_and_the_other_answers(
    make_gateway: GatewayFactory, transport: httpx.MockTransport, status: str, code: str
) -> None:
    gateway = await make_gateway({"USLAX": answering(LAX), "USLGB": transport})
    response = await gateway.query(QUERY)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"portMetrics": [{"UNLocationCode": "USLAX"}]}
    [error] = body["errors"]
    assert error["extensions"]["code"] == code
    assert error["extensions"]["port"] == "USLGB"
    assert error["extensions"]["fields"] == ["portMetrics"]
    assert "USLGB" in error["message"]
    assert "lgb.test" not in error["message"]  # no internal host names
    sources = {s["port"]: s for s in body["extensions"]["sources"]}
    assert sources["USLAX"]["status"] == "ok"
    assert sources["USLGB"]["status"] == status
    assert sources["USLGB"]["code"] == code


async def test_port_timeout_is_its_own_timeout(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(
        {"USLAX": answering(LAX), "USOAK": never_answering()},
        port_defaults={"timeout": "50ms"},
        deadline="10s",
    )
    body = (await gateway.query(QUERY)).json()
    assert body["data"]["portMetrics"] == [{"UNLocationCode": "USLAX"}]
    assert [e["extensions"]["code"] for e in body["errors"]] == ["PORT_TIMEOUT"]


async def test_deadline_cuts_off_a_port_with_a_longer_timeout(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(
        {"USLAX": answering(LAX), "USOAK": never_answering()},
        # A timeout may not exceed the deadline; as long as it, only the deadline (already
        # running when the port is asked) can cut the port off first: DEADLINE_EXCEEDED.
        port_defaults={"timeout": "500ms"},
        deadline="500ms",
    )
    started = time.monotonic()
    body = (await gateway.query(QUERY)).json()
    assert time.monotonic() - started < DEADLINE_MARGIN_SECONDS
    assert body["data"]["portMetrics"] == [{"UNLocationCode": "USLAX"}]
    [error] = body["errors"]
    assert error["extensions"]["code"] == "DEADLINE_EXCEEDED"
    assert error["extensions"]["port"] == "USOAK"


async def test_every_port_failing_gives_null_not_an_empty_list(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway({"USLAX": failing(httpx.ConnectError("refused"))})
    body = (await gateway.query(QUERY)).json()
    assert body["data"] == {"portMetrics": None}


async def test_a_port_error_is_named_and_coded(make_gateway: GatewayFactory) -> None:
    port_answer = {
        "data": {"portMetrics": None},
        "errors": [
            {"message": "terminal system down", "path": ["portMetrics"],
             "extensions": {"code": "SOURCE_UNAVAILABLE"}},
        ],
    }  # fmt: skip
    gateway = await make_gateway(
        {
            "USLAX": answering(LAX),
            "USLGB": httpx.MockTransport(lambda _: httpx.Response(200, json=port_answer)),
        }
    )
    body = (await gateway.query(QUERY)).json()
    assert body["data"]["portMetrics"] == [{"UNLocationCode": "USLAX"}]
    [error] = body["errors"]
    assert error["extensions"] == {
        "code": "PORT_UNAVAILABLE",
        "port": "USLGB",
        "portCode": "SOURCE_UNAVAILABLE",
    }
    assert error["path"] == ["portMetrics"]
    assert error["message"] == "port USLGB: it could not reach its own system"
    assert "terminal system down" not in str(body)  # the port's own words stay out
    # Its entry in sources says the same as its error: one code for one failure.
    [source] = [s for s in body["extensions"]["sources"] if s["port"] == "USLGB"]
    assert (source["status"], source["code"]) == ("error", "PORT_UNAVAILABLE")


async def test_any_other_port_error_is_a_port_error_in_errors_and_in_sources(
    make_gateway: GatewayFactory,
) -> None:
    error = {"message": "x", "extensions": {"code": "INTERNAL_ERROR"}}
    port_answer = {"data": {"portMetrics": None}, "errors": [error]}
    gateway = await make_gateway(
        {"USLGB": httpx.MockTransport(lambda _: httpx.Response(200, json=port_answer))}
    )
    body = (await gateway.query(QUERY)).json()
    [error] = body["errors"]
    [source] = body["extensions"]["sources"]
    assert error["extensions"]["code"] == source["code"] == "PORT_ERROR"


async def test_labor_keys_a_port_adds_never_reach_the_client(make_gateway: GatewayFactory) -> None:
    rogue = {
        "container": {
            "equipmentReference": "CSQU3054383",
            "craneOperatorID": "OP-7",
            "events": [{"eventID": "e1", "gangID": "G4", "driverName": "Jane Roe"}],
            "_pg_reference": "CSQU3054383",
            "_pg_seen": None,
        }
    }
    gateway = await make_gateway({"USLAX": answering(rogue)})
    response = await gateway.query(
        '{ container(reference: "CSQU3054383") { equipmentReference events { eventID } } }'
    )
    assert response.json()["data"] == {
        "container": {"equipmentReference": "CSQU3054383", "events": [{"eventID": "e1"}]}
    }
    for leaked in ("craneOperatorID", "OP-7", "gangID", "driverName", "Jane Roe", "_pg_"):
        assert leaked not in response.text


async def test_ports_get_only_their_fields_and_the_normalised_arguments(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway(
        {"USLAX": answering({"container": None}), "USOAK": answering({"container": None})}
    )
    await gateway.query(
        'query Find { container(reference: "csqu 305438-3", ports: ["USOAK"]) '
        "{ equipmentReference } }"
    )
    [request] = gateway.router.requests
    assert request.url.host == "usoak.test"
    sent = graphql_body(request)
    assert "container(reference: $a0)" in sent["query"]  # the document is the same for any box
    assert sent["variables"] == {"a0": "CSQU3054383"}
    assert "ports" not in sent["query"]
    # The client's operation name is its own choice: ports never see it.
    assert "operationName" not in sent
    assert "Find" not in sent["query"]


async def test_a_caller_joining_a_longer_fetch_leaves_at_its_own_deadline() -> None:
    """Coalescing shares a fetch, not a deadline: a follower with a short deadline is not held
    by the leader's long one."""
    arrived, release = asyncio.Event(), asyncio.Event()

    class HeldPort:
        port = "USLAX"
        calls = 0

        async def execute(self, request: PortRequest, *, timeout: float) -> PortAnswer:
            HeldPort.calls += 1
            arrived.set()
            await release.wait()
            return PortAnswer({"ports": []}, [])

    port = ResolvedPort(
        id="USLAX", name="LA", url="http://lax/graphql", timeout=30, capabilities=frozenset()
    )
    query = PortQuery(port, "{ ports { UNLocationCode } }", {}, ["ports"], ["ports"])
    fan = FanOut(lambda _: HeldPort(), cache=None)
    leader = asyncio.create_task(fan.fetch([query], time.monotonic() + 30))
    await arrived.wait()  # the leader's fetch is at the port; the follower joins it
    started = time.monotonic()
    [follower] = await fan.fetch([query], started + 0.05)
    waited = time.monotonic() - started
    release.set()
    [led] = await leader
    assert waited < DEADLINE_MARGIN_SECONDS
    assert follower.failure is not None
    assert follower.failure.code == "DEADLINE_EXCEEDED"
    assert (led.status, HeldPort.calls) == ("ok", 1)


async def test_a_port_request_is_abandoned_at_the_deadline(make_gateway: GatewayFactory) -> None:
    """Past the deadline nothing goes on waiting for the port: its request is cancelled then
    (its own timeout, as long as the deadline, would come later: it started later)."""
    abandoned = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            abandoned.set()
            raise
        raise AssertionError("unreachable")

    gateway = await make_gateway(
        {"USLAX": answering(LAX), "USOAK": httpx.MockTransport(handler)},
        port_defaults={"timeout": "500ms"},
        deadline="500ms",
    )
    body = (await gateway.query(QUERY)).json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["DEADLINE_EXCEEDED"]
    # A guard, not a measurement: the request is cancelled, not left waiting.
    await asyncio.wait_for(abandoned.wait(), timeout=DEADLINE_MARGIN_SECONDS)
