"""API keys and the authentication step, through the HTTP API."""

import sqlite3
from pathlib import Path

import pytest

from gateway.access.apikeys import ApiKeyStore
from gateway.access.auth import Principal
from gateway.errors import Unauthenticated
from tests.gateway.conftest import GatewayFactory, answering

PORTS = {"ports": [{"UNLocationCode": "USLAX", "_pg_port": "USLAX"}]}
QUERY = "{ ports { UNLocationCode } }"


@pytest.fixture
def store(tmp_path: Path) -> ApiKeyStore:
    return ApiKeyStore(tmp_path / "keys.sqlite3")


def test_a_key_stands_for_its_client_roles_and_ports(store: ApiKeyStore) -> None:
    key, record = store.create(
        client_id="acme", organisation="ACME Trucking", roles=["trucker"], ports=["USLAX"]
    )
    assert key.startswith(f"pgk_{record.key_id}_")
    assert store.verify(key) == Principal(
        "acme", "ACME Trucking", frozenset({"trucker"}), frozenset({"USLAX"}), "api_key"
    )


def test_only_a_hash_of_the_key_is_stored_and_listing_shows_no_secret(
    store: ApiKeyStore,
) -> None:
    key, record = store.create(client_id="acme", organisation="ACME", roles=["trucker"])
    secret = key.split("_", 2)[2]
    raw = store.path.read_bytes() + b"".join(
        p.read_bytes() for p in store.path.parent.glob("keys.sqlite3-*")
    )
    assert secret.encode() not in raw
    with sqlite3.connect(store.path) as db:
        rows = db.execute("SELECT * FROM api_keys").fetchall()
    assert all(secret not in str(value) for value in rows[0])
    assert store.list() == [record]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"),  # right id, wrong secret
        lambda key: "pgk_000000000000_" + key.split("_", 2)[2],  # unknown id
        lambda key: "pgk_short",  # malformed
    ],
)
def test_a_wrong_key_is_refused(store: ApiKeyStore, mangle: object) -> None:
    key, _ = store.create(client_id="acme", organisation="ACME", roles=["trucker"])
    assert callable(mangle)
    with pytest.raises(Unauthenticated):
        store.verify(mangle(key))


def test_before_any_key_exists_every_key_is_unknown(tmp_path: Path) -> None:
    with pytest.raises(Unauthenticated, match="unknown API key"):
        ApiKeyStore(tmp_path / "none.sqlite3").verify("pgk_0123456789ab_secret")


async def test_a_revoked_key_is_refused_by_the_running_gateway(
    make_gateway: GatewayFactory, store: ApiKeyStore
) -> None:
    key, record = store.create(client_id="acme", organisation="ACME", roles=["trucker"])
    gateway = await make_gateway({"USLAX": answering(PORTS)}, auth=_auth(store), policy={})
    assert (await gateway.query(QUERY, headers={"X-API-Key": key})).status_code == 200
    assert store.revoke(record.key_id)
    response = await gateway.query(QUERY, headers={"X-API-Key": key})
    assert response.status_code == 401
    assert response.json() == {
        "errors": [
            {"message": "this API key has been revoked", "extensions": {"code": "UNAUTHENTICATED"}}
        ]
    }
    assert response.headers["www-authenticate"] == 'Bearer realm="portgate", error="invalid_token"'


async def test_a_key_works_as_a_bearer_credential_too(
    make_gateway: GatewayFactory, store: ApiKeyStore
) -> None:
    key, _ = store.create(client_id="acme", organisation="ACME", roles=["trucker"])
    gateway = await make_gateway({"USLAX": answering(PORTS)}, auth=_auth(store), policy={})
    response = await gateway.query(QUERY, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert response.json()["data"] == {"ports": [{"UNLocationCode": "USLAX"}]}


async def test_no_credential_is_public_when_anonymous_use_is_allowed(
    make_gateway: GatewayFactory, store: ApiKeyStore
) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)}, auth=_auth(store), policy={})
    response = await gateway.query(QUERY)
    assert response.status_code == 200
    assert response.json()["data"] == {"ports": [{"UNLocationCode": "USLAX"}]}


async def test_no_credential_is_refused_when_anonymous_use_is_off(
    make_gateway: GatewayFactory, store: ApiKeyStore
) -> None:
    gateway = await make_gateway(
        {"USLAX": answering(PORTS)}, auth={**_auth(store), "allow_anonymous": False}, policy={}
    )
    for response in (
        await gateway.query(QUERY),
        await gateway.client.get("/graphql", params={"query": QUERY}),
    ):
        assert response.status_code == 401
        assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
        assert response.headers["www-authenticate"] == 'Bearer realm="portgate"'
    assert gateway.router.requests == []  # no port was asked anything


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer pgk_0123456789ab_not-a-real-secret"},
        {"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"},
        {"Authorization": "Bearer "},
        {"X-API-Key": "garbage"},
        {"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"},  # no identity provider
    ],
)
async def test_a_bad_credential_is_never_downgraded_to_public(
    make_gateway: GatewayFactory, store: ApiKeyStore, headers: dict[str, str]
) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)}, auth=_auth(store), policy={})
    response = await gateway.query(QUERY, headers=headers)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert gateway.router.requests == []


async def test_health_and_the_graphiql_page_need_no_credential(
    make_gateway: GatewayFactory, store: ApiKeyStore
) -> None:
    gateway = await make_gateway(
        {"USLAX": answering(PORTS)}, auth={**_auth(store), "allow_anonymous": False}, policy={}
    )
    assert (await gateway.client.get("/healthz")).status_code == 200
    assert (await gateway.client.get("/readyz")).status_code == 200
    page = await gateway.client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]


def _auth(store: ApiKeyStore) -> dict[str, object]:
    """Keys from ``store``; the tests run under the shipped default policy (``policy={}``)."""
    return {"api_keys": {"database": store.path}}
