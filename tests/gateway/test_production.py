"""Switches for production: CSRF protection, CORS from config, introspection and GraphiQL off."""

import pytest

from tests.gateway.conftest import GatewayFactory, answering

PORTS = {"ports": [{"UNLocationCode": "USLAX", "name": "LA", "_pg_port": "USLAX"}]}
QUERY = "{ ports { UNLocationCode } }"
EXPECTED = {"ports": [{"UNLocationCode": "USLAX"}]}


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-portgate-csrf": ""}, {"content-type": "application/json"}],  # GET has no body
)
async def test_a_get_query_needs_the_csrf_header(
    make_gateway: GatewayFactory, headers: dict[str, str]
) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    response = await gateway.client.get("/graphql", params={"query": QUERY}, headers=headers)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "PREFLIGHT_REQUIRED"
    assert "X-Portgate-CSRF" in error["message"]
    assert gateway.router.requests == []


@pytest.mark.parametrize(
    "header", ["x-portgate-csrf", "apollo-require-preflight", "x-apollo-operation-name"]
)
async def test_a_get_query_with_a_preflight_header_runs(
    make_gateway: GatewayFactory, header: str
) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    response = await gateway.client.get("/graphql", params={"query": QUERY}, headers={header: "1"})
    assert (response.status_code, response.json()["data"]) == (200, EXPECTED)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
     "multipart/form-data; boundary=x", None],
)  # fmt: skip
async def test_simple_posts_are_refused(
    make_gateway: GatewayFactory, content_type: str | None
) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    headers = {} if content_type is None else {"content-type": content_type}
    response = await gateway.client.post(
        "/graphql", content=b'{"query": "{ ports { name } }"}', headers=headers
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "PREFLIGHT_REQUIRED"
    assert gateway.router.requests == []


async def test_a_json_post_needs_no_header(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    response = await gateway.query(QUERY)
    assert (response.status_code, response.json()["data"]) == (200, EXPECTED)


async def test_csrf_protection_can_be_switched_off(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)}, csrf_protection=False)
    response = await gateway.client.get("/graphql", params={"query": QUERY})
    assert (response.status_code, response.json()["data"]) == (200, EXPECTED)


async def test_graphiql_page_needs_no_csrf_header(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    response = await gateway.client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_graphiql_off_is_a_404(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)}, graphiql=False)
    response = await gateway.client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "<html" not in response.text.lower()
    # The API itself still answers.
    assert (await gateway.query(QUERY)).json()["data"] == EXPECTED


async def test_introspection_off(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)}, introspection=False)
    for query in ("{ __schema { queryType { name } } }", '{ __type(name: "Port") { name } }',
                  "{ ports { UNLocationCode } __schema { types { name } } }"):  # fmt: skip
        response = await gateway.query(query)
        assert response.status_code == 400, query
        codes = {e["extensions"]["code"] for e in response.json()["errors"]}
        assert codes == {"INTROSPECTION_DISABLED"}, query
    assert gateway.router.requests == []
    # __typename is not introspection of the schema: it stays.
    response = await gateway.query("{ __typename ports { UNLocationCode } }")
    assert response.json()["data"] == {"__typename": "Query", **EXPECTED}


async def test_introspection_is_on_by_default(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    response = await gateway.query("{ __schema { queryType { name } } }")
    assert response.json()["data"] == {"__schema": {"queryType": {"name": "Query"}}}


ORIGIN = "https://planner.ports.example"


async def test_no_cors_unless_configured(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    response = await gateway.query(QUERY, headers={"origin": ORIGIN})
    assert "access-control-allow-origin" not in response.headers
    preflight = await gateway.client.options(
        "/graphql",
        headers={"origin": ORIGIN, "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_for_configured_origins(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(
        {"USLAX": answering(PORTS)}, cors={"allow_origins": [ORIGIN], "max_age": "10m"}
    )
    preflight = await gateway.client.options(
        "/graphql",
        headers={
            "origin": ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, x-api-key, x-portgate-csrf",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert preflight.headers["access-control-max-age"] == "600"
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert {"content-type", "x-api-key", "x-portgate-csrf"} <= {
        h.strip() for h in allowed.split(",")
    }
    response = await gateway.query(QUERY, headers={"origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == ORIGIN

    other = await gateway.client.options(
        "/graphql",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    response = await gateway.query(QUERY, headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
