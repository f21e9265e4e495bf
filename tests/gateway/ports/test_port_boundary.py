"""A port that lies, leaks or stalls, over real HTTP on loopback: the gateway in front of the five
simulated ports, with Los Angeles behind a hostile resolver (tests/gateway/hostile.py).

Nothing a port says reaches a client without passing the contract: it cannot add to, replace or
outrank another port's rows, its words never reach a client, what the gateway keeps about it
belongs to one endpoint, and it cannot make the gateway wait or read without bound."""

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.access.apikeys import ApiKeyStore
from gateway.app import create_app
from gateway.config import load_settings
from port_resolvers.loopback import serve_on_loopback
from port_resolvers.sim.cluster import RunningPort, run_simulated_ports
from port_resolvers.sim.data import containers_only_at, generate_all_ports, shared_boxes
from port_resolvers.sim.reference import PORTS
from tests.gateway.conftest import with_test_egress
from tests.gateway.hostile import FAKE_VALUE, LEAKED_WORDS, HostileResolver
from tests.gateway.test_end_to_end import NOW, SEED

SPOOFABLE = """
query Everything($refs: [String!]!) {
  ports { UNLocationCode name terminals { facilitySMDGCode UNLocationCode } }
  portMetrics(period: LAST_30_DAYS) { UNLocationCode facilitySMDGCode metric sampleSize }
  vesselCalls(first: 100) {
    edges { cursor node { UNLocationCode transportCallReference facilitySMDGCode } }
    totalCount
  }
  containers(references: $refs) { equipmentReference sourcePort location { UNLocationCode } }
}
"""


@dataclass
class Setup:
    url: str  # the gateway
    hostile: HostileResolver  # Los Angeles's resolver, as the gateway reaches it
    hostile_url: str
    honest_url: str  # Los Angeles's real resolver
    admin_key: str
    ports: list[RunningPort]

    async def ask(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url, timeout=60) as client:
            response = await client.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def move_lax(self, url: str) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=60) as client:
            response = await client.patch(
                "/admin/ports/USLAX", json={"url": url}, headers={"x-api-key": self.admin_key}
            )
        assert response.status_code == 200, response.text


Start = Callable[..., contextlib.AbstractAsyncContextManager[Setup]]


@pytest.fixture
async def ports() -> AsyncIterator[list[RunningPort]]:
    async with run_simulated_ports(seed=SEED, now=NOW) as running:
        yield running


@pytest.fixture
def start(ports: list[RunningPort], tmp_path: Path) -> Start:
    @contextlib.asynccontextmanager
    async def started(
        *, lax_hostile: bool = True, lax_timeout: str = "20s", **settings: Any
    ) -> AsyncIterator[Setup]:
        lax = next(p for p in ports if p.id == "USLAX")
        hostile = HostileResolver(lax.resolver_url, "USLAX", victim="USOAK")
        store = ApiKeyStore(tmp_path / "keys.sqlite3")
        admin_key, _ = store.create(client_id="ops", organisation="CPDP", roles=["admin"])
        store.close()
        async with serve_on_loopback(hostile.app) as hostile_base:
            hostile_url = f"{hostile_base}/graphql"
            config = load_settings(
                None,
                ports=[
                    {
                        "id": p.id,
                        "name": p.name,
                        "url": hostile_url if p.id == "USLAX" and lax_hostile else p.resolver_url,
                        # Generous: these tests are about what is kept, not about speed.
                        "timeout": lax_timeout if p.id == "USLAX" else "20s",
                        "terminals": [t.facility_code for t in PORTS[p.id].terminals],
                    }
                    for p in ports
                ],
                auth={"api_keys": {"database": tmp_path / "keys.sqlite3"}},
                **with_test_egress({"deadline": "30s"} | settings),
            )
            async with serve_on_loopback(create_app(config)) as url:
                yield Setup(url, hostile, hostile_url, lax.resolver_url, admin_key, ports)

    return started


def sources(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["port"]: s for s in body["extensions"]["sources"]}


def references() -> list[str]:
    data = generate_all_ports(seed=SEED, now=NOW)
    return [containers_only_at(data, port)[0].reference for port in ("USLAX", "USOAK")]


async def test_a_port_cannot_add_to_or_replace_another_ports_rows(start: Start) -> None:
    async with start(cache={"enabled": False}) as setup:
        variables = {"refs": references()}
        honest = await setup.ask(SPOOFABLE, variables)
        setup.hostile.mode = "spoof"
        spoofed = await setup.ask(SPOOFABLE, variables)
    assert setup.hostile.requests == 2
    # Every fake Oakland row (ports, terminals, metrics, calls, containers) is gone; the
    # answer is exactly what the honest ports give.
    assert spoofed["data"] == honest["data"]
    oakland = [p for p in spoofed["data"]["ports"] if p["UNLocationCode"] == "USOAK"]
    assert [p["name"] for p in oakland] == ["Port of Oakland"]
    lax = sources(spoofed)["USLAX"]
    assert (lax["status"], lax["code"]) == ("partial", "PORT_CONTRACT_VIOLATION")
    assert lax["dropped"]["OTHER_PORT"] >= 4  # at least one fake row of each kind
    assert sources(spoofed)["USOAK"]["status"] == "ok"
    assert "dropped" not in sources(honest)["USLAX"]


async def test_a_port_cannot_outrank_another_port_by_dating_its_answer_ahead(
    start: Start,
) -> None:
    box = next(
        b for b in shared_boxes(SEED, NOW) if b.import_port == "USLAX" and b.return_port != "USLAX"
    )
    query = "query Box($ref: String!) { container(reference: $ref) { sourcePort } }"
    async with start(cache={"enabled": False}) as setup:
        honest = await setup.ask(query, {"ref": box.pickup.reference})
        setup.hostile.mode = "future"
        dated_ahead = await setup.ask(query, {"ref": box.pickup.reference})
    assert honest["data"]["container"]["sourcePort"] == box.return_port
    assert dated_ahead["data"]["container"]["sourcePort"] == box.return_port
    assert sources(dated_ahead)["USLAX"]["dropped"] == {"FUTURE_TIME": 1}


async def test_values_outside_the_schema_are_dropped_and_counted(start: Start) -> None:
    query = """query Q($refs: [String!]!) {
      containers(references: $refs) { equipmentReference sourcePort status }
      portMetrics(ports: ["USLAX"], period: LAST_30_DAYS) { metric value }
    }"""
    async with start(cache={"enabled": False}) as setup:
        honest = await setup.ask(query, {"refs": references()})
        setup.hostile.mode = "bad_values"
        bad = await setup.ask(query, {"refs": references()})

    lax_box = next(c for c in bad["data"]["containers"] if c["sourcePort"] == "USLAX")
    assert lax_box["status"] is None  # an enum value the schema lacks: a nullable field nulled
    assert honest["data"]["portMetrics"]
    assert bad["data"]["portMetrics"] == []  # `metric` is non-null: each row dropped whole
    dropped = sources(bad)["USLAX"]["dropped"]
    assert dropped["UNKNOWN_ENUM_VALUE"] >= 1 + len(honest["data"]["portMetrics"])
    assert "TELEPORTED" not in str(bad)


async def test_a_ports_error_text_never_reaches_a_client(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    query = "{ ports { UNLocationCode } portMetrics { UNLocationCode metric } }"
    async with start() as setup:
        setup.hostile.mode = "people_errors"
        with caplog.at_level(logging.INFO, logger="gateway"):
            body = await setup.ask(query)
    text = str(body)
    for word in LEAKED_WORDS:
        assert word not in text
    lax_errors = [e for e in body["errors"] if e["extensions"].get("port") == "USLAX"]
    assert {e["message"] for e in lax_errors} == {
        "port USLAX: it failed inside its resolver",
        "port USLAX: it reported an error",
    }
    assert sorted(str(e["extensions"].get("portCode")) for e in lax_errors) == [
        "INTERNAL_ERROR",
        "None",
    ]
    # The operator's log has the report, but not the labor in it.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "port USLAX reported INTERNAL_ERROR: (withheld: the message names labor)" in logged
    for word in LEAKED_WORDS:
        assert word not in logged


async def test_keys_and_tokens_in_a_ports_error_are_redacted_in_the_log(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    async with start() as setup:
        setup.hostile.mode = "people_errors"
        setup.hostile.error_message = (
            "retry with key pgk_live_0123456789abcdef or Bearer eyJhbGciOi.secret.token at "
            "http://10.1.2.3:8080/internal"
        )
        with caplog.at_level(logging.INFO, logger="gateway"):
            body = await setup.ask("{ ports { UNLocationCode } }")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "port USLAX reported INTERNAL_ERROR: retry with key <redacted> or <redacted>" in logged
    for secret in ("pgk_live_0123456789abcdef", "eyJhbGciOi", "10.1.2.3"):
        assert secret not in logged
        assert secret not in str(body)


async def test_free_text_naming_labor_is_dropped(start: Start) -> None:
    held = next(
        c
        for c in containers_only_at(generate_all_ports(seed=SEED, now=NOW), "USLAX")
        if c.availability is not None and c.availability.holds
    )
    query = """query Q($ref: String!) {
      container(reference: $ref, ports: ["USLAX"]) {
        availability { holds { type status description } }
      }
    }"""
    async with start(cache={"enabled": False}) as setup:
        setup.hostile.mode = "labor_text"
        body = await setup.ask(query, {"ref": held.reference}, **{"x-api-key": setup.admin_key})
    holds = body["data"]["container"]["availability"]["holds"]
    assert holds
    assert all(h["description"] is None for h in holds)
    assert sources(body)["USLAX"]["dropped"]["LABOR_TEXT"] == len(holds)
    assert "foreman" not in str(body)


async def test_an_answer_too_large_is_cut_off_and_the_others_answer(start: Start) -> None:
    async with start(port_defaults={"max_answer_bytes": 64 * 1024}) as setup:
        setup.hostile.mode = "huge"
        setup.hostile.huge_bytes = 4 * 1024 * 1024
        body = await setup.ask("{ ports { UNLocationCode } }")

    assert [p["UNLocationCode"] for p in body["data"]["ports"]] == [
        "USLAX", "USLGB", "USOAK", "USNTD", "USSAN"
    ]  # fmt: skip
    lax = sources(body)["USLAX"]
    assert (lax["status"], lax["code"]) == ("error", "PORT_ERROR")
    [error] = [e for e in body["errors"] if e["extensions"]["port"] == "USLAX"]
    assert error["message"] == "port USLAX: its answer is larger than 65536 bytes"


async def test_an_answer_that_drips_is_cut_off_at_the_ports_timeout(start: Start) -> None:
    async with start(lax_timeout="300ms") as setup:
        setup.hostile.mode = "drip"
        body = await setup.ask("{ ports { UNLocationCode } }")
    assert len(body["data"]["ports"]) == 5
    assert sources(body)["USLAX"]["code"] == "PORT_TIMEOUT"
    assert sources(body)["USOAK"]["status"] == "ok"


async def test_a_redirect_is_never_followed(start: Start) -> None:
    reached: list[str] = []

    async def internal(request: Request) -> Response:
        reached.append(request.url.path)
        return Response(b'{"data": {"ports": []}}', media_type="application/json")

    internal_app = Starlette(routes=[Route("/{path:path}", internal, methods=["GET", "POST"])])
    async with serve_on_loopback(internal_app) as internal_url, start() as setup:
        setup.hostile.mode = "redirect"
        setup.hostile.redirect_to = f"{internal_url}/internal/admin"
        body = await setup.ask("{ ports { UNLocationCode } }")
    assert reached == []
    assert sources(body)["USLAX"]["code"] == "PORT_ERROR"


async def test_what_is_cached_belongs_to_one_endpoint(start: Start) -> None:
    """Made-up answers of one endpoint are never served for another, even as stale stand-ins, and
    a port's answers are dropped when its registration changes."""
    query = '{ portMetrics(ports: ["USLAX"], period: LAST_30_DAYS) { metric value } }'
    async with start(lax_hostile=False) as setup:
        real = await setup.ask(query)
        assert FAKE_VALUE not in [m["value"] for m in real["data"]["portMetrics"]]
        setup.hostile.mode = "fake_values"
        await setup.move_lax(setup.hostile_url)
        faked = await setup.ask(query)
        assert {m["value"] for m in faked["data"]["portMetrics"]} <= {FAKE_VALUE, None}
        # Back to the real resolver: its answer, not the cached fakes of the other endpoint.
        await setup.move_lax(setup.honest_url)
        assert (await setup.ask(query))["data"] == real["data"]
        # Back to the lying endpoint, which now fails: its old fakes were dropped when the port
        # moved away, so no stale stand-in comes back.
        setup.hostile.mode = "honest"  # passes the check made before it takes traffic
        await setup.move_lax(setup.hostile_url)
        setup.hostile.mode = "unavailable"
        failed = await setup.ask(query)
    assert failed["data"]["portMetrics"] is None
    assert sources(failed)["USLAX"]["status"] == "error"
    assert str(FAKE_VALUE) not in str(failed)


async def test_pausing_a_port_drops_what_was_cached_from_it(start: Start) -> None:
    query = '{ ports(ports: ["USLAX"]) { UNLocationCode name } }'
    async with start() as setup:
        await setup.ask(query)
        await setup.ask(query)
        assert setup.hostile.requests == 1  # the second answer came from the cache
        async with httpx.AsyncClient(base_url=setup.url) as client:
            for action in ("pause", "resume"):
                response = await client.post(
                    f"/admin/ports/USLAX/{action}", headers={"x-api-key": setup.admin_key}
                )
                assert response.status_code == 200, response.text
        before = setup.hostile.requests  # the resume's own check asked it too
        body = await setup.ask(query)
    assert setup.hostile.requests == before + 1
    assert sources(body)["USLAX"]["status"] == "ok"
