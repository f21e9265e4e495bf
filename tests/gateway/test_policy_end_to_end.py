"""The shipped policy over real HTTP on loopback, in front of the five simulated ports: the request
log of every port resolver shows that a field the caller may not see was never asked for."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gateway.access.apikeys import ApiKeyStore
from gateway.app import create_app
from gateway.config import load_settings
from port_resolvers.loopback import serve_on_loopback
from port_resolvers.sim.cluster import RunningPort, run_simulated_ports
from port_resolvers.sim.data import containers_only_at, generate_all_ports
from tests.gateway.conftest import TEST_EGRESS
from tests.gateway.test_end_to_end import NOW, SEED

QUERY = """
query Boxes($refs: [String!]!) {
  containers(references: $refs) {
    equipmentReference sourcePort status
    availability { lastFreeDay holds { type status } outstandingFeesUSD }
  }
}
"""


@pytest.fixture
async def ports() -> AsyncIterator[list[RunningPort]]:
    async with run_simulated_ports(seed=SEED, now=NOW) as running:
        yield running


async def test_the_port_resolvers_never_see_a_field_the_caller_may_not_see(
    ports: list[RunningPort], tmp_path: Path
) -> None:
    sent: list[tuple[str, str]] = []  # (port resolver URL, document): the resolvers' request log

    async def log(request: httpx.Request) -> None:
        sent.append((str(request.url), orjson.loads(request.content)["query"]))

    store = ApiKeyStore(tmp_path / "keys.sqlite3")
    trucker, _ = store.create(client_id="acme", organisation="ACME", roles=["trucker"])
    settings = load_settings(
        None,
        ports=[{"id": p.id, "name": p.name, "url": p.resolver_url, "timeout": "5s"} for p in ports],
        auth={"api_keys": {"database": store.path}},
        cache={"enabled": False},
        registry={"egress": TEST_EGRESS},
    )
    data = generate_all_ports(seed=SEED, now=NOW)
    refs = [containers_only_at(data, p.id)[0].reference for p in ports]
    async with (
        httpx.AsyncClient(event_hooks={"request": [log]}) as upstream,
        serve_on_loopback(create_app(settings, client=upstream)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        public = await _ask(client, {"refs": refs})
        public_log, sent[:] = list(sent), []
        as_trucker = await _ask(client, {"refs": refs}, {"X-API-Key": trucker})

    assert len(public_log) == len(sent) == 5
    assert all("availability" not in document for _, document in public_log)
    assert all("availability" in document for _, document in sent)
    assert {c["sourcePort"] for c in public["data"]["containers"]} == {p.id for p in ports}
    assert all(c["availability"] is None for c in public["data"]["containers"])
    assert [e["extensions"]["coordinate"] for e in public["errors"]] == ["Container.availability"]
    assert "errors" not in as_trucker
    assert any(c["availability"] for c in as_trucker["data"]["containers"])


async def _ask(
    client: httpx.AsyncClient, variables: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": QUERY, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
