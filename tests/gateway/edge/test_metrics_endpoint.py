"""``/metrics`` on a listener of its own (``metrics.listen``), or for some roles only
(``metrics.roles``), or both; on real uvicorn servers on loopback, as ``portgate serve`` runs
them."""

from pathlib import Path

import httpx
import pytest

from gateway.access.apikeys import ApiKeyStore
from gateway.config import ConfigError, load_settings, parse_listen
from gateway.record.metrics import MAX_OPERATION_NAMES, GatewayMetrics
from tests.gateway.conftest import answering
from tests.gateway.edge_server import HANG_GUARD_SECONDS, uvicorn_gateway

PORTS = {"ports": [{"UNLocationCode": "USLAX", "name": "LA", "_pg_port": "USLAX"}]}


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    store = ApiKeyStore(tmp_path / "keys.sqlite3")
    admin, _ = store.create(client_id="ops", organisation="Ports", roles=["admin"])
    trucker, _ = store.create(client_id="acme", organisation="ACME", roles=["trucker"])
    store.close()
    return {"admin": admin, "trucker": trucker}


async def get(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=HANG_GUARD_SECONDS) as client:
        return await client.get(url, headers=headers)


async def test_metrics_on_a_listener_of_their_own() -> None:
    async with uvicorn_gateway(
        {"USLAX": answering(PORTS)}, metrics={"listen": "127.0.0.1:0"}
    ) as gateway:
        assert gateway.listeners.metrics is not None
        assert gateway.listeners.metrics != gateway.listeners.api
        assert (await gateway.client.post("/graphql", json={"query": "{ __typename }"})).is_success
        on_api = await gateway.client.get("/metrics")
        assert on_api.status_code == 404
        assert "portgate_" not in on_api.text
        scraped = await get(gateway.listeners.metrics + "/metrics")
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        assert 'portgate_requests_total{operation="(unnamed)",outcome="ok"} 1.0' in scraped.text
        # The metrics listener serves nothing else.
        assert (await get(gateway.listeners.metrics + "/graphql")).status_code == 404
        assert (await get(gateway.listeners.metrics + "/healthz")).status_code == 404


async def test_metrics_for_some_roles_only(tmp_path: Path, keys: dict[str, str]) -> None:
    async with uvicorn_gateway(
        {"USLAX": answering(PORTS)},
        metrics={"roles": ["admin"]},
        auth={"api_keys": {"database": tmp_path / "keys.sqlite3"}},
    ) as gateway:
        anonymous = await gateway.client.get("/metrics")  # public, as for the other APIs
        assert anonymous.status_code == 403
        assert "portgate_" not in anonymous.text
        forged = await gateway.client.get("/metrics", headers={"x-api-key": "pgk_nope_nope"})
        assert forged.status_code == 401
        assert forged.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert forged.headers["www-authenticate"].startswith("Bearer")
        trucker = await gateway.client.get("/metrics", headers={"x-api-key": keys["trucker"]})
        assert trucker.status_code == 403
        assert "portgate_" not in trucker.text
        for headers in ({"x-api-key": keys["admin"]}, {"authorization": f"Bearer {keys['admin']}"}):
            admin = await gateway.client.get("/metrics", headers=headers)
            assert admin.status_code == 200
            assert "portgate_requests_refused_total" in admin.text


async def test_without_anonymous_use_metrics_need_a_credential(
    tmp_path: Path, keys: dict[str, str]
) -> None:
    async with uvicorn_gateway(
        {"USLAX": answering(PORTS)},
        metrics={"roles": ["admin"]},
        auth={"api_keys": {"database": tmp_path / "keys.sqlite3"}, "allow_anonymous": False},
    ) as gateway:
        assert (await gateway.client.get("/metrics")).status_code == 401
        admin = await gateway.client.get("/metrics", headers={"x-api-key": keys["admin"]})
        assert admin.status_code == 200


async def test_roles_hold_on_the_metrics_listener_too(tmp_path: Path, keys: dict[str, str]) -> None:
    async with uvicorn_gateway(
        {"USLAX": answering(PORTS)},
        metrics={"listen": "127.0.0.1:0", "roles": ["admin"]},
        auth={"api_keys": {"database": tmp_path / "keys.sqlite3"}},
    ) as gateway:
        assert gateway.listeners.metrics is not None
        url = gateway.listeners.metrics + "/metrics"
        assert (await get(url)).status_code == 403
        assert (await get(url, {"x-api-key": keys["trucker"]})).status_code == 403
        assert (await get(url, {"x-api-key": keys["admin"]})).status_code == 200


@pytest.mark.parametrize(
    ("listen", "parsed"),
    [("127.0.0.1:9464", ("127.0.0.1", 9464)), ("[::1]:9464", ("::1", 9464)),
     ("0.0.0.0:0", ("0.0.0.0", 0))],
)  # fmt: skip
def test_the_listener_is_an_address_and_a_port(listen: str, parsed: tuple[str, int]) -> None:
    assert parse_listen(listen) == parsed
    assert load_settings(None, metrics={"listen": listen}).metrics.listen == listen


@pytest.mark.parametrize("listen", ["9464", "localhost:9464", "127.0.0.1:99999", ":9464"])
def test_a_listener_that_is_not_an_address_and_a_port_is_refused(listen: str) -> None:
    with pytest.raises(ConfigError, match=r"metrics\.listen"):
        load_settings(None, metrics={"listen": listen})


def test_operation_labels_are_bounded_and_never_read_as_a_kind_of_user() -> None:
    metrics = GatewayMetrics(dict)
    assert metrics.operation_label(None) == metrics.operation_label("") == "(unnamed)"
    assert metrics.operation_label("anonymous") == "anonymous"  # a name like any other
    assert metrics.operation_label("other") == "other"
    assert metrics.operation_label("not a name!") == "(other)"
    for index in range(MAX_OPERATION_NAMES):
        metrics.operation_label(f"Op{index}")
    assert metrics.operation_label("OneTooMany") == "(other)"
    assert metrics.operation_label("Op0") == "Op0"  # kept once counted
