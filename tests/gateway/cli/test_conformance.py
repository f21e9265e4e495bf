"""The conformance check passes each simulated port's resolver, over loopback, and fails a
resolver that breaks the contract with a report that says what is wrong."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from graphql import build_schema
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.cli.conformance import (
    CheckResult,
    Fault,
    ResolverConformance,
    check_resolver,
    contract_schema,
    format_report,
    schema_differences,
)
from port_resolvers.kit import create_resolver_app
from port_resolvers.loopback import serve_on_loopback
from port_resolvers.sim.cluster import RunningPort, run_simulated_ports
from port_resolvers.sim.data import DEFAULT_SEED, generate_all_ports
from port_resolvers.sim.records import InMemoryPortSource

PORTGATE = Path(sys.executable).parent / "portgate"  # the installed entry point
CLI_GUARD_SECONDS = 60  # far past a normal run: reaching it means a hang

# One simulated cluster for the module's tests; every check only reads from it.
on_the_cluster_loop = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def known_containers() -> dict[str, list[str]]:
    data = generate_all_ports(seed=DEFAULT_SEED)
    return {port: [c.reference for c in list(d.containers)[:3]] for port, d in data.items()}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ports() -> AsyncIterator[list[RunningPort]]:
    async with run_simulated_ports(seed=DEFAULT_SEED) as running:
        yield running


def failed(results: list[CheckResult]) -> dict[str, str]:
    return {r.name: r.detail for r in results if not r.passed}


@on_the_cluster_loop
async def test_every_simulated_resolver_conforms(
    ports: list[RunningPort], known_containers: dict[str, list[str]]
) -> None:
    reports = await asyncio.gather(
        *(check_resolver(p.resolver_url, p.id, containers=known_containers[p.id]) for p in ports)
    )
    for port, results in zip(ports, reports, strict=True):
        assert failed(results) == {}, format_report(port.resolver_url, port.id, results)
        assert len(results) == 10


def breaking(resolver_url: str) -> Starlette:
    """A resolver in front of a good one that breaks the contract: it names another port,
    leaves the first call out of every page after the first, adds a labor key, drops
    Cache-Control, and has no /healthz."""

    async def graphql(request: Request) -> Response:
        body = await request.body()
        async with httpx.AsyncClient() as client:
            answer = (await client.post(resolver_url, content=body)).json()
        variables = orjson.loads(body).get("variables") or {}
        data = answer.get("data") or {}
        for port in data.get("ports") or []:
            port["UNLocationCode"] = "USLGB"
            port["craneOperatorName"] = "someone"
        calls = data.get("vesselCalls")
        if calls and variables.get("after"):
            calls["edges"] = calls["edges"][1:]
        return Response(orjson.dumps(answer), media_type="application/json")

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])


@on_the_cluster_loop
async def test_a_broken_resolver_fails_with_a_readable_report(ports: list[RunningPort]) -> None:
    lax = ports[0]
    async with serve_on_loopback(breaking(lax.resolver_url)) as url:
        results = await check_resolver(f"{url}/graphql", lax.id)
    problems = failed(results)
    assert set(problems) == {"healthz", "ports", "vessel calls paging", "no labor keys",
                             "cache-control"}  # fmt: skip
    assert "HTTP 404" in problems["healthz"]
    assert "ports answered ['USLGB'], expected ['USLAX']" in problems["ports"]
    assert "but the pages held" in problems["vessel calls paging"]
    assert "craneOperatorName" in problems["no labor keys"]
    assert "lack Cache-Control" in problems["cache-control"]
    report = format_report(url, lax.id, results)
    assert "  FAIL  ports " in report
    assert "  PASS  schema " in report
    assert report.endswith("USLAX does not conform: 5 check(s) failed (of 10 checks)")


def test_schema_differences_name_each_missing_or_changed_coordinate() -> None:
    sdl = """
      type Query { ports(ports: [String!]): [Port!] container(reference: Int!): Container }
      type Port { UNLocationCode: String! }
      type Container { equipmentReference: String }
    """
    differences = list(schema_differences(contract_schema(), build_schema(sdl)))
    assert "Container.equipmentReference is String, not String!" in differences
    assert "Query.container(reference:) is Int!, not String!" in differences
    assert "Query.vesselCalls is missing" in differences
    assert "type VesselCall is missing" in differences
    assert not any("outlook" in d for d in differences)  # gateway-only: not a port's job


async def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(PORTGATE),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    async with asyncio.timeout(CLI_GUARD_SECONDS):
        output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


@on_the_cluster_loop
async def test_the_cli_exits_zero_on_a_conforming_resolver_and_one_on_a_broken_one(
    ports: list[RunningPort], known_containers: dict[str, Any]
) -> None:
    oak = ports[2]
    containers = [arg for ref in known_containers[oak.id] for arg in ("--container", ref)]
    code, output = await run_cli("conformance", oak.resolver_url, "--port", oak.id, *containers)
    assert code == 0, output
    assert "USOAK conforms (of 10 checks)" in output
    lines = output.splitlines()  # the title first, a line per check, the verdict last
    assert lines[0] == f"conformance of {oak.resolver_url} as USOAK"
    assert [line.split()[1] for line in lines[1:-1]] == ["healthz", "schema", "ports", "bad",
                                                         "vessel", "derived", "optional",
                                                         "credential", "no",
                                                         "cache-control"]  # fmt: skip
    async with serve_on_loopback(breaking(oak.resolver_url)) as url:
        code, output = await run_cli("conformance", f"{url}/graphql", "--port", oak.id)
    assert code == 1
    assert "FAIL  ports" in output


TOKEN = "conformance-test-token-4711"


@on_the_cluster_loop
async def test_a_resolver_that_wants_a_token_is_checked_with_it_and_refuses_without_it() -> None:
    data = generate_all_ports(seed=DEFAULT_SEED)["USNTD"]
    protected = create_resolver_app(InMemoryPortSource(data), "USNTD", gateway_token=TOKEN)
    async with serve_on_loopback(protected) as url:
        seen: list[CheckResult] = []
        results = await check_resolver(
            f"{url}/graphql", "USNTD", token=TOKEN, on_result=seen.append
        )
        assert failed(results) == {}, format_report(url, "USNTD", results)
        assert seen == results  # each one told as it ended, in order
        assert "a request without the token is refused (401)" in {r.detail for r in results}
        without = failed(await check_resolver(f"{url}/graphql", "USNTD"))
        wrong = failed(await check_resolver(f"{url}/graphql", "USNTD", token="not-it"))
        code, output = await run_cli(
            "conformance", f"{url}/graphql", "--port", "USNTD",
            env={"PORTGATE_PORT_TOKEN": TOKEN},
        )  # fmt: skip
    # Without it, every GraphQL check fails and says what to do; nothing passes on a 401 body.
    assert set(without) == {"schema", "ports", "bad container number", "vessel calls paging",
                            "optional capabilities", "credential", "no labor keys",
                            "cache-control"}  # fmt: skip
    assert "pass its gateway_token with --token (or in PORTGATE_PORT_TOKEN)" in without["schema"]
    nothing = "no GraphQL answer to look at (the resolver answered HTTP [401])"
    assert without["no labor keys"] == without["cache-control"] == nothing
    assert without["credential"] == "without a credential: HTTP 401"
    assert "the token was refused" in wrong["ports"]
    assert (code, "USNTD conforms (of 10 checks)" in output) == (0, True), output


@on_the_cluster_loop
async def test_a_token_the_resolver_does_not_ask_for_fails_the_credential_check(
    ports: list[RunningPort],
) -> None:
    results = await check_resolver(ports[1].resolver_url, ports[1].id, token=TOKEN)
    assert failed(results) == {"credential": "a request without the token got HTTP 200"}


# The optional capabilities check, against answers written here (a resolver is a stand-in).
ARRIVAL = "2026-11-21T08:00:00+00:00"
GOOD_DAY = {
    "date": "2026-11-21",
    "open": True,
    "closureReason": None,
    "periods": [
        {
            "opensDateTime": "2026-11-21T15:00:00+00:00",
            "closesDateTime": "2026-11-22T01:00:00+00:00",
            "offPeak": False,
        }
    ],
}
BACKWARDS = {**GOOD_DAY["periods"][0], "closesDateTime": "2026-11-21T14:00:00+00:00"}  # type: ignore[index]


def cut(code: str, at: str, reefer: bool = False) -> dict[str, Any]:
    return {"cutOffDateTimeCode": code, "cutOffDateTime": at, "reefer": reefer}


def slot(availability: str, left: int) -> dict[str, Any]:
    return {"startDateTime": "2026-11-21T16:00:00+00:00", "availability": availability,
            "endDateTime": "2026-11-21T17:00:00+00:00", "transaction": "IMPORT_PICKUP",
            "appointmentsLeft": left}  # fmt: skip


def rule(accepted: bool) -> dict[str, Any]:
    return {"date": "2026-11-21", "carrierSCACCode": "MAEU", "ISOEquipmentCode": "45G1",
            "accepted": accepted}  # fmt: skip


def optional_answer(**changes: Any) -> dict[str, Any]:
    """An answer to the check's query in which every optional field is offered and sensible,
    with ``changes`` (terminal, call or box keys) applied."""
    terminal = {"facilitySMDGCode": "T1", "gateHours": [GOOD_DAY], "usesAppointments": True,
                "appointmentSlots": [slot("FULL", 0)], "emptyReturns": [rule(True)]}  # fmt: skip
    call = {"transportCallReference": "C1", "plannedArrivalDateTime": ARRIVAL,
            "cutOffTimes": [cut("EFC", "2026-11-16T08:00:00+00:00"),
                            cut("FCO", "2026-11-20T08:00:00+00:00")]}  # fmt: skip
    box = {"equipmentReference": "CSQU3054383", "status": "LOADED_ON_RAIL",
           "availability": {"emptyReturnDeadline": None},
           "railLeg": {"onDock": True, "loadedOnRailDateTime": ARRIVAL,
                       "departureDateTime": None, "departureClassifierCode": None}}  # fmt: skip
    for key, value in changes.items():
        for record in (terminal, call, box):
            if key in record:
                record[key] = value
    return {"data": {"ports": [{"terminals": [terminal]}], "vesselCalls": {"nodes": [call]},
                     "containers": [box]}}  # fmt: skip


async def check_optional(answer: dict[str, Any], offers: tuple[str, ...] = ()) -> str:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer)

    async with httpx.AsyncClient(transport=httpx.MockTransport(respond)) as client:
        checks = ResolverConformance(
            "http://resolver.test/graphql", "USLAX", client, ["CSQU3054383"], offers=offers
        )
        try:
            return await checks.check_optional()
        except Fault as fault:
            return f"FAULT {fault}"


def not_offered(*coordinates: str) -> list[dict[str, Any]]:
    return [
        {"message": "m", "path": ["ports"], "extensions": {"code": "NOT_OFFERED", "coordinate": c}}
        for c in coordinates
    ]


async def test_a_port_offering_everything_sensibly_passes() -> None:
    detail = await check_optional(optional_answer())
    assert detail.startswith("offers Container.railLeg, ImportAvailability.emptyReturnDeadline, ")
    assert detail.endswith("; does not offer none")


async def test_a_port_may_say_what_it_lacks_unless_it_claims_it() -> None:
    answer = optional_answer(gateHours=None)
    answer["errors"] = not_offered("Terminal.gateHours")
    assert (await check_optional(answer)).endswith("does not offer Terminal.gateHours")
    claimed = await check_optional(answer, offers=("Terminal.gateHours",))
    assert claimed == "FAULT claimed with --offers but not offered: Terminal.gateHours"
    unknown = await check_optional(optional_answer(), offers=("Terminal.name",))
    assert unknown == "FAULT --offers Terminal.name: not an optional field"


LATE_EFC = [cut("EFC", "2026-11-20T09:00:00+00:00"), cut("FCO", "2026-11-20T08:00:00+00:00")]
RAIL_WITHOUT_CLASSIFIER = {"onDock": True, "loadedOnRailDateTime": None,
                           "departureDateTime": ARRIVAL,
                           "departureClassifierCode": None}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "errors", "fault"),
    [
        ({}, not_offered("Terminal.gateHours"),
         "Terminal.gateHours: said NOT_OFFERED, yet answered"),
        ({}, not_offered("Terminal.name"),
         "NOT_OFFERED names 'Terminal.name', not an optional field"),
        ({"cutOffTimes": [cut("FCO", ARRIVAL, reefer=True)]}, [],
         "VesselCall.cutOffTimes: C1: FCO is not before the planned arrival"),
        ({"cutOffTimes": LATE_EFC}, [],
         "VesselCall.cutOffTimes: C1: receiving opens (EFC) after it closes (FCO)"),
        ({"cutOffTimes": [cut("FCO", ARRIVAL), cut("FCO", ARRIVAL)]}, [],
         "VesselCall.cutOffTimes: C1: a cut-off comes twice"),
        ({"gateHours": [{**GOOD_DAY, "periods": []}]}, [],
         "Terminal.gateHours: 2026-11-21: open is True with 0 period(s)"),
        ({"gateHours": [{**GOOD_DAY, "open": False}]}, [],
         "Terminal.gateHours: 2026-11-21: open is False with 1 period(s)"),
        ({"gateHours": [{**GOOD_DAY, "closureReason": "WEATHER"}]}, [],
         "Terminal.gateHours: 2026-11-21: open, yet with a closure reason"),
        ({"gateHours": [GOOD_DAY, GOOD_DAY]}, [],
         "Terminal.gateHours: gate days are not in order, or one comes twice"),
        ({"gateHours": [{**GOOD_DAY, "periods": [BACKWARDS]}]}, [],
         "Terminal.gateHours: 2026-11-21: a period closes before it opens"),
        ({"gateHours": [{**GOOD_DAY, "periods": GOOD_DAY["periods"] * 2}]}, [],  # type: ignore[operator]
         "Terminal.gateHours: 2026-11-21: periods overlap or are out of order"),
        ({"appointmentSlots": [slot("FULL", 3)]}, [],
         "Terminal.appointmentSlots: a FULL slot has 3 appointment(s) left"),
        ({"appointmentSlots": [slot("OPEN", 0)]}, [],
         "Terminal.appointmentSlots: a OPEN slot has 0 appointment(s) left"),
        ({"usesAppointments": False}, [],
         "Terminal.appointmentSlots: T1 uses no appointments but has slots"),
        ({"emptyReturns": [rule(True), rule(False)]}, [],
         "Terminal.emptyReturns: a rule comes twice for one day, carrier and size type"),
        ({"railLeg": RAIL_WITHOUT_CLASSIFIER}, [],
         "Container.railLeg: departureDateTime and departureClassifierCode come only together"),
    ],
)  # fmt: skip
async def test_what_makes_no_sense_in_an_offered_field_fails(
    changes: dict[str, Any], errors: list[dict[str, Any]], fault: str
) -> None:
    answer = optional_answer(**changes)
    if errors:
        answer["errors"] = errors
    assert await check_optional(answer) == f"FAULT {fault}"
