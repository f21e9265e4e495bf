"""The app around the schema: Cache-Control, health and readiness, the document cache."""

from typing import Any

import pytest

from port_resolvers.kit import CacheTtls, create_resolver_app
from port_resolvers.kit.execution import GraphQLRequest, PortGraphQL
from port_resolvers.kit.resolvers import PortContext


@pytest.mark.parametrize(
    ("query", "max_age"),
    [
        ("{ ports { name } }", 3600),
        ('{ container(reference: "CSQU3054383") { status } }', 30),
        ('{ containers(references: ["CSQU3054383"]) { status } }', 30),
        ("{ vesselCalls { totalCount } }", 60),
        ('{ vessel(imo: "9321483") { vesselName } }', 3600),
        ("{ portMetrics { metric } }", 300),
        ('{ ports { name } vessel(imo: "9321483") { vesselName } }', 3600),
        ("{ ports { name } portMetrics { metric } vesselCalls { totalCount } }", 60),
        ('{ ports { name } container(reference: "CSQU3054383") { status } }', 30),
        ("{ __typename }", 3600),
        ("query { ...F } fragment F on Query { ... on Query { vesselCalls { totalCount } } }", 60),
    ],
)
async def test_max_age_is_the_smallest_ttl_of_the_root_fields(gql, query, max_age):
    response = await gql(query)
    assert "errors" not in response.json()
    assert response.headers["cache-control"] == f"max-age={max_age}"


@pytest.mark.parametrize(
    "app_options", [{"cache_ttls": CacheTtls(containers=5, vessel_calls=0, ports=86400)}]
)
async def test_configured_ttls(gql):
    async def header(query: str) -> str:
        return str((await gql(query)).headers["cache-control"])

    assert await header("{ ports { name } }") == "max-age=86400"
    assert await header('{ container(reference: "CSQU3054383") { status } }') == "max-age=5"
    assert await header("{ ports { name } vesselCalls { totalCount } }") == "max-age=0"
    assert await header("{ portMetrics { metric } }") == "max-age=300"


@pytest.mark.parametrize("app_options", [{"no_store": True}])
async def test_no_store_port(gql, client):
    assert (await gql("{ ports { name } }")).headers["cache-control"] == "no-store"
    assert (await client.get("/graphql", params={"query": "{ ports { name } }"})).headers[
        "cache-control"
    ] == "no-store"


async def test_answer_with_errors_is_no_store(gql, source):
    source.failing = {"vessel"}
    response = await gql('{ ports { name } vessel(imo: "9321483") { vesselName } }')
    assert response.json()["data"]["ports"] == [{"name": "Port of Los Angeles"}]
    assert response.headers["cache-control"] == "no-store"


async def test_get_answer_is_cacheable(client):
    response = await client.get("/graphql", params={"query": "{ portMetrics { metric } }"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "max-age=300"


def test_cache_ttls_must_be_whole_seconds():
    with pytest.raises(ValueError, match="'containers'"):
        CacheTtls(containers=-1)
    with pytest.raises(ValueError, match="'metrics'"):
        CacheTtls(metrics=1.5)  # type: ignore[arg-type]


async def test_healthz(client, source):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "port": "USLAX"}
    assert response.headers["cache-control"] == "no-store"
    assert source.calls == []


async def test_readyz_asks_the_source(client, source):
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "port": "USLAX"}
    assert source.methods_called() == ["port"]


@pytest.mark.parametrize("failure", ["failing", "broken"])
async def test_readyz_is_503_when_the_source_is_down(client, source, failure):
    setattr(source, failure, {"port"})
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "port": "USLAX"}
    assert "hunter2" not in response.text
    assert "db01" not in response.text


async def test_readyz_is_503_when_the_source_answers_for_another_port(client, source):
    source.port_record["UNLocationCode"] = "USLGB"
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "misconfigured", "port": "USLAX"}


def test_port_id_is_checked_and_normalised(source):
    with pytest.raises(ValueError, match="UN/LOCODE"):
        create_resolver_app(source, "Los Angeles")
    create_resolver_app(source, "us lax")


async def test_documents_are_parsed_and_validated_once(source):
    graphql = PortGraphQL(PortContext(source, "USLAX"))
    query = "query ($imo: String!) { vessel(imo: $imo) { vesselName } }"
    first = await graphql.run(GraphQLRequest(query, {"imo": "9321483"}))
    second = await graphql.run(GraphQLRequest(query, {"imo": "9319466"}))
    assert first.body == {"data": {"vessel": {"vesselName": "PACIFIC DAWN"}}}
    assert second.body == {"data": {"vessel": {"vesselName": "SIERRA CREST"}}}
    info = graphql.prepare.cache_info()
    assert (info.hits, info.misses) == (1, 1)


async def test_invalid_documents_are_cached_too_and_the_cache_is_bounded(source):
    graphql = PortGraphQL(PortContext(source, "USLAX"), document_cache_size=2)
    answers: list[Any] = []
    for query in ["{ nope }", "{ nope }", "{ ports { name } }", "{ portMetrics { metric } }"]:
        answers.append(await graphql.run(GraphQLRequest(query)))
    assert [a.status for a in answers] == [400, 400, 200, 200]
    info = graphql.prepare.cache_info()
    assert (info.hits, info.misses, info.currsize, info.maxsize) == (1, 3, 2, 2)


async def test_the_schema_is_built_once_per_process(source):
    first = PortGraphQL(PortContext(source, "USLAX"))
    second = PortGraphQL(PortContext(source, "USLGB"))
    assert first._schema is second._schema


async def test_a_failure_of_the_kit_itself_is_a_masked_500(client, monkeypatch, caplog):
    async def fail(self: PortGraphQL, request: GraphQLRequest) -> Any:
        raise RuntimeError("password=hunter2")

    monkeypatch.setattr(PortGraphQL, "run", fail)
    response = await client.post("/graphql", json={"query": "{ ports { name } }"})
    assert response.status_code == 500
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "errors": [
            {
                "message": "internal error in the port resolver",
                "extensions": {"code": "INTERNAL_ERROR"},
            }
        ]
    }
    assert "hunter2" in caplog.text
