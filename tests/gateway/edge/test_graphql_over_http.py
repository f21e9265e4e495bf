"""GraphQL over HTTP rules, on a real uvicorn on loopback (where headers arrive as the server
hands them over): which operation of a document runs, and one credential per request.

- Several operations and no ``operationName``, or an ``operationName`` the document does not
  hold: HTTP 400 ``OPERATION_RESOLUTION_FAILURE``, nothing runs, no port is asked (the GraphQL
  over HTTP specification: GetOperation() raised a request error, so the request is not
  executed; 400 is the status it gives for that with ``application/graphql-response+json``,
  and the gateway's status for every request error). An empty ``operationName`` is no name.
- ``X-API-Key`` twice, ``Authorization`` twice, or one of each: HTTP 400
  ``AMBIGUOUS_CREDENTIALS``, on /graphql and on the gateway's own APIs alike."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.access.apikeys import ApiKeyStore
from tests.gateway.conftest import answering
from tests.gateway.edge_server import UvicornGateway, uvicorn_gateway

PORTS = {"ports": [{"UNLocationCode": "USLAX", "name": "LA", "_pg_port": "USLAX"}]}
TWO = "query Codes { ports { UNLocationCode } } query Names { ports { name } }"


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, str]:
    store = ApiKeyStore(tmp_path / "keys.sqlite3")
    admin, _ = store.create(client_id="ops", organisation="Ports", roles=["admin"])
    other, _ = store.create(client_id="acme", organisation="ACME", roles=["public"])
    store.close()
    return {"admin": admin, "other": other}


@pytest.fixture
async def gateway(tmp_path: Path, keys: dict[str, str]) -> AsyncIterator[UvicornGateway]:
    async with uvicorn_gateway(
        {"USLAX": answering(PORTS)},
        auth={"api_keys": {"database": tmp_path / "keys.sqlite3"}},
        cache={"enabled": False},
    ) as served:
        yield served


def only_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert "data" not in body or body["data"] is None
    [error] = body["errors"]
    return dict(error)


async def test_several_operations_without_a_name_run_none(gateway: UvicornGateway) -> None:
    response = await gateway.client.post("/graphql", json={"query": TWO})
    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"
    assert "2 operations (Codes, Names)" in error["message"]
    assert "operationName" in error["message"]
    assert gateway.router.requests == []


async def test_several_operations_in_a_get_run_none(gateway: UvicornGateway) -> None:
    response = await gateway.client.get(
        "/graphql", params={"query": TWO}, headers={"x-portgate-csrf": "1"}
    )
    assert response.status_code == 400
    assert only_error(response)["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"
    assert gateway.router.requests == []


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("Codes", {"ports": [{"UNLocationCode": "USLAX"}]}),
        ("Names", {"ports": [{"name": "LA"}]}),
    ],
)
async def test_the_named_operation_runs_and_only_it(
    gateway: UvicornGateway, name: str, data: dict[str, Any]
) -> None:
    response = await gateway.client.post("/graphql", json={"query": TWO, "operationName": name})
    assert response.status_code == 200
    assert response.json()["data"] == data


@pytest.mark.parametrize(
    "query", [TWO, "query Codes { ports { UNLocationCode } }", "{ ports { name } }"]
)
async def test_an_operation_name_the_document_lacks_runs_nothing(
    gateway: UvicornGateway, query: str
) -> None:
    response = await gateway.client.post(
        "/graphql", json={"query": query, "operationName": "Elsewhere"}
    )
    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"
    assert "'Elsewhere'" in error["message"]
    assert gateway.router.requests == []


async def test_a_document_of_fragments_only_runs_nothing(gateway: UvicornGateway) -> None:
    response = await gateway.client.post("/graphql", json={"query": "fragment F on Port { name }"})
    assert response.status_code == 400
    error = only_error(response)
    assert error["extensions"]["code"] == "OPERATION_RESOLUTION_FAILURE"
    assert "no operation" in error["message"]
    assert gateway.router.requests == []


@pytest.mark.parametrize(
    "body",
    [
        {"query": "query Codes { ports { UNLocationCode } }", "operationName": ""},
        {"query": "{ ports { UNLocationCode } }", "operationName": None},
        # Words that only look like operations (a comment, a fragment) do not count.
        {
            "query": "# query mutation\nquery Codes { ports { ...F } } fragment F on Port "
            "{ UNLocationCode }"
        },
    ],
)
async def test_one_operation_runs_without_a_name(
    gateway: UvicornGateway, body: dict[str, Any]
) -> None:
    response = await gateway.client.post("/graphql", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"ports": [{"UNLocationCode": "USLAX"}]}


async def test_two_anonymous_operations_do_not_validate(gateway: UvicornGateway) -> None:
    response = await gateway.client.post(
        "/graphql", json={"query": "{ ports { name } } { ports { UNLocationCode } }"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert gateway.router.requests == []


def credential_pairs(keys: dict[str, str]) -> list[list[tuple[str, str]]]:
    admin, other = keys["admin"], keys["other"]
    return [
        [("x-api-key", admin), ("x-api-key", other)],
        [("x-api-key", admin), ("x-api-key", admin)],  # even the same key twice
        [("authorization", f"Bearer {admin}"), ("authorization", f"Bearer {other}")],
        [("x-api-key", other), ("authorization", f"Bearer {admin}")],
        [("X-Api-Key", admin), ("x-api-key", "")],
    ]


async def test_more_than_one_credential_header_is_refused(
    gateway: UvicornGateway, keys: dict[str, str]
) -> None:
    for headers in credential_pairs(keys):
        response = await gateway.client.post(
            "/graphql", json={"query": "{ ports { name } }"}, headers=headers
        )
        assert response.status_code == 400, headers
        error = only_error(response)
        assert error["extensions"]["code"] == "AMBIGUOUS_CREDENTIALS"
        assert keys["admin"] not in response.text
        assert keys["other"] not in response.text
    assert gateway.router.requests == []
    alone = await gateway.client.post(
        "/graphql", json={"query": "{ ports { name } }"}, headers={"x-api-key": keys["admin"]}
    )
    assert alone.status_code == 200


async def test_the_gateways_own_apis_refuse_more_than_one_credential_too(
    gateway: UvicornGateway, keys: dict[str, str]
) -> None:
    for headers in credential_pairs(keys):
        response = await gateway.client.get("/admin/ports", headers=headers)
        assert response.status_code == 400, headers
        assert only_error(response)["extensions"]["code"] == "AMBIGUOUS_CREDENTIALS"
    alone = await gateway.client.get("/admin/ports", headers={"x-api-key": keys["admin"]})
    assert alone.status_code == 200
