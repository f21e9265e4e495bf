"""Bad input never gets a 500 or a stack trace: a 4xx and a stable code."""

import httpx
import pytest

from tests.gateway.conftest import GatewayFactory, answering

PORTS = {"ports": [{"UNLocationCode": "USLAX", "name": "LA", "_pg_port": "USLAX"}]}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"not json", 400, "BAD_REQUEST"),
        (b'{"query": "{ ports { "}', 400, "GRAPHQL_PARSE_FAILED"),
        (b'{"query": "{ nope }"}', 400, "GRAPHQL_VALIDATION_FAILED"),
        (b'{"query": "{ ports { unknownField } }"}', 400, "GRAPHQL_VALIDATION_FAILED"),
        (b'{"variables": {}}', 400, "BAD_REQUEST"),
        (b'{"query": "{ ports { name } }", "operationName": 5}', 400, "BAD_REQUEST"),
        (b'{"query": "{ ports { name } }", "operationName": ["a"]}', 400, "BAD_REQUEST"),
        (b'{"query": "{ ports { name } }", "variables": [1]}', 400, "BAD_REQUEST"),
        (b'{"query": 7}', 400, "BAD_REQUEST"),
        (b"null", 400, "BAD_REQUEST"),
        (
            b'{"query": "query($n: Int!) { vesselCalls(first: $n) { totalCount } }",'
            b' "variables": {"n": "ten"}}',
            400,
            "BAD_USER_INPUT",
        ),
    ],
)
async def test_bad_requests_get_a_4xx_and_a_code(
    make_gateway: GatewayFactory, body: bytes, status: int, code: str
) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    response = await gateway.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    errors = response.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == [code] * len(errors)
    assert "Traceback" not in response.text
    assert gateway.router.requests == []  # no port was asked anything


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ('container(reference: "CSQU3054384")', "should be 3, not 4"),
        ('container(reference: "CSQU30543")', "has 9 characters"),
        ('vessel(imo: "9321484")', "should be 3, not 4"),
        ('vessel(imo: "932")', "7 digits"),
        ('container(reference: "CSQU3054383", ports: ["USLA"])', "UN/LOCODE"),
        ('container(reference: "CSQU3054383", ports: ["USXXX"])', "not a port of this gateway"),
    ],
)
async def test_malformed_identifiers_are_bad_user_input(
    make_gateway: GatewayFactory, argument: str, message: str
) -> None:
    gateway = await make_gateway({"USLAX": answering({})})
    field = argument.split("(")[0]
    response = await gateway.query("{ " + argument + " { __typename } }")
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {field: None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert message in error["message"]
    assert error["path"] == [field]
    assert gateway.router.requests == []


async def test_a_bad_argument_nulls_only_its_own_field(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    response = await gateway.query('{ ports { UNLocationCode } vessel(imo: "1") { vesselName } }')
    body = response.json()
    assert body["data"] == {"ports": [{"UNLocationCode": "USLAX"}], "vessel": None}
    assert [e["path"] for e in body["errors"]] == [["vessel"]]


async def test_too_many_references_and_bad_page_size(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering({})})
    many = ",".join(['"CSQU3054383"'] * 101)
    response = await gateway.query(
        "{ containers(references: [" + many + "]) { sourcePort } "
        "vesselCalls(first: 0) { totalCount } }"
    )
    messages = [e["message"] for e in response.json()["errors"]]
    assert any("at most 100" in m for m in messages)
    assert any("between 1 and 100" in m for m in messages)


async def test_oversized_body_is_refused_before_it_is_read(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)}, max_body_bytes=4096)

    chunks_sent = 0

    async def body() -> httpx.AsyncByteStream:  # type: ignore[misc]
        nonlocal chunks_sent
        for _ in range(1000):
            chunks_sent += 1
            yield b" " * 1024

    response = await gateway.client.post(
        "/graphql", content=body(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert chunks_sent < 1000


FIFTY_MB = 50 * 1024 * 1024
CHUNK = 64 * 1024


async def test_a_50_mb_body_is_refused_without_being_read_whole(
    make_gateway: GatewayFactory,
) -> None:
    """Streamed (chunked, no Content-Length): read only up to the limit, then a 413."""
    gateway = await make_gateway({"USLAX": answering(PORTS)})  # the default limit, 256 KiB
    chunks_read = 0

    async def body() -> httpx.AsyncByteStream:  # type: ignore[misc]
        nonlocal chunks_read
        for _ in range(FIFTY_MB // CHUNK):
            chunks_read += 1
            yield b" " * CHUNK

    response = await gateway.client.post(
        "/graphql", content=body(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert chunks_read * CHUNK <= 256 * 1024 + 2 * CHUNK  # the limit and a chunk or two more
    assert gateway.router.requests == []


async def test_a_declared_50_mb_body_is_refused_before_any_of_it_is_read(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    chunks_read = 0

    async def body() -> httpx.AsyncByteStream:  # type: ignore[misc]
        nonlocal chunks_read
        for _ in range(FIFTY_MB // CHUNK):
            chunks_read += 1
            yield b" " * CHUNK

    response = await gateway.client.post(
        "/graphql",
        content=body(),
        headers={"content-type": "application/json", "content-length": str(FIFTY_MB)},
    )
    assert response.status_code == 413
    assert chunks_read <= 1  # the transport may hand over the first chunk; nobody reads on


async def test_declared_oversized_body_is_refused(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)}, max_body_bytes=4096)
    response = await gateway.client.post(
        "/graphql", content=b"{" + b" " * 5000 + b"}", headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_health_endpoints(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    assert (await gateway.client.get("/healthz")).json() == {"status": "ok"}
    ready = await gateway.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["ports"] == ["USLAX"]


async def test_introspection_alone_and_mixed_with_data(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    alone = (await gateway.query("{ __schema { queryType { name } } }")).json()
    assert alone == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    mixed = (
        await gateway.query(
            '{ t: __type(name: "Port") { name } ports { UNLocationCode } __typename }'
        )
    ).json()
    assert mixed["data"] == {
        "t": {"name": "Port"},
        "ports": [{"UNLocationCode": "USLAX"}],
        "__typename": "Query",
    }
