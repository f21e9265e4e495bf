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

from gateway.conformance import (
    CheckResult,
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
        assert len(results) == 9


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
    assert report.endswith("USLAX does not conform: 5 check(s) failed (of 9 checks)")


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
    assert "USOAK conforms (of 9 checks)" in output
    lines = output.splitlines()  # the title first, a line per check, the verdict last
    assert lines[0] == f"conformance of {oak.resolver_url} as USOAK"
    assert [line.split()[1] for line in lines[1:-1]] == ["healthz", "schema", "ports", "bad",
                                                         "vessel", "derived", "credential",
                                                         "no", "cache-control"]  # fmt: skip
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
                            "credential", "no labor keys", "cache-control"}  # fmt: skip
    assert "pass its gateway_token with --token (or in PORTGATE_PORT_TOKEN)" in without["schema"]
    nothing = "no GraphQL answer to look at (the resolver answered HTTP [401])"
    assert without["no labor keys"] == without["cache-control"] == nothing
    assert without["credential"] == "without a credential: HTTP 401"
    assert "the token was refused" in wrong["ports"]
    assert (code, "USNTD conforms (of 9 checks)" in output) == (0, True), output


@on_the_cluster_loop
async def test_a_token_the_resolver_does_not_ask_for_fails_the_credential_check(
    ports: list[RunningPort],
) -> None:
    results = await check_resolver(ports[1].resolver_url, ports[1].id, token=TOKEN)
    assert failed(results) == {"credential": "a request without the token got HTTP 200"}
