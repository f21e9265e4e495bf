"""Error codes: bad arguments, a port's system down, unexpected failures, and 400 requests."""

import logging
from typing import Any

import pytest

from portcontract.cursor import CallKey, encode_cursor


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


def field_error(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    (error,) = response.json()["errors"]
    assert error["extensions"]["port"] == "USLAX"
    return dict(error)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ('{ container(reference: "CSQU3054384") { status } }', "should be 3, not 4"),
        ('{ container(reference: "CSQU305438") { status } }', "has 10 characters"),
        ('{ container(reference: "NOT A CONTAINER!") { status } }', "neither an ISO 6346"),
        ('{ containers(references: ["CSQU3054383", "APZU4812091"]) { status } }', "should be 0"),
        ('{ vessel(imo: "9321484") { vesselName } }', "should be 3, not 4"),
        ('{ vessel(imo: "93214") { vesselName } }', "must be 7 digits"),
        ('{ vesselCalls(vesselIMONumber: "1234568") { totalCount } }', "IMO number"),
        ('{ ports(ports: ["LAX"]) { name } }', "UN/LOCODE 'LAX'"),
        ('{ portMetrics(ports: ["US-LA1"]) { metric } }', "UN/LOCODE"),
        ('{ vesselCalls(after: "not-a-cursor") { totalCount } }', "not a vessel-call cursor"),
        ("{ vesselCalls(first: 0) { totalCount } }", "first must be between 1 and 100, not 0"),
        ("{ vesselCalls(first: 101) { totalCount } }", "first must be between 1 and 100, not 101"),
    ],
)
async def test_bad_argument_is_bad_user_input_saying_what_is_wrong(gql, source, query, says):
    error = field_error(await gql(query))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert says in error["message"]
    assert error["path"]
    assert source.calls == []


async def test_cursor_without_a_time_zone_is_bad_user_input(gql, source):
    cursor = encode_cursor(CallKey("2026-11-21T06:00:00", "USLAX", "LAX010"))
    error = field_error(
        await gql("query ($c: String) { vesselCalls(after: $c) { totalCount } }", {"c": cursor})
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "not a vessel-call cursor" in error["message"]


async def test_too_many_references(gql, source):
    query = "query ($refs: [String!]!) { containers(references: $refs) { status } }"
    error = field_error(await gql(query, {"refs": ["CSQU3054383"] * 101}))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == "at most 100 container numbers can be asked at once, not 101"
    assert source.calls == []


async def test_a_hundred_references_are_fine(gql):
    query = "query ($refs: [String!]!) { containers(references: $refs) { status } }"
    response = await gql(query, {"refs": ["CSQU3054383"] * 100})
    assert response.json() == {"data": {"containers": [{"status": "GATED_OUT"}]}}


async def test_bad_input_in_one_field_leaves_the_others_answered(gql):
    query = """{
        good: container(reference: "CSQU3054383") { status }
        bad: container(reference: "CSQU3054384") { status }
    }"""
    body = (await gql(query)).json()
    assert body["data"] == {"good": {"status": "GATED_OUT"}, "bad": None}
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["path"] == ["bad"]


async def test_source_unavailable_is_an_error_on_that_field_only(gql, source, caplog):
    source.failing = {"containers"}
    query = """{
        container(reference: "CSQU3054383") { status }
        vessel(imo: "9321483") { vesselName }
    }"""
    response = await gql(query)
    error = field_error(response)
    body = response.json()
    assert body["data"] == {"container": None, "vessel": {"vesselName": "PACIFIC DAWN"}}
    assert error["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    assert error["path"] == ["container"]
    assert error["message"] == "the port's own system did not answer; try again later"
    assert "db01" not in response.text
    assert "db01.lax.internal" in caplog.text


@pytest.mark.parametrize(
    ("method", "query", "field"),
    [
        ("port", "{ ports { name } }", "ports"),
        ("containers", '{ containers(references: ["CSQU3054383"]) { status } }', "containers"),
        ("vessel_calls", "{ vesselCalls { totalCount } }", "vesselCalls"),
        ("metrics", "{ portMetrics { metric } }", "portMetrics"),
    ],
)
async def test_source_unavailable_on_each_list_field(gql, source, method, query, field):
    source.failing = {method}
    response = await gql(query)
    error = field_error(response)
    assert error["extensions"]["code"] == "SOURCE_UNAVAILABLE"
    assert error["path"] == [field]
    # Null there: the field itself, or the whole data when the schema makes the field non-null.
    data = response.json()["data"]
    assert data is None or data[field] is None


async def test_unexpected_error_is_masked_and_logged(gql, source, caplog):
    source.broken = {"vessel"}
    with caplog.at_level(logging.ERROR, logger="port_resolvers.kit"):
        response = await gql('{ vessel(imo: "9321483") { vesselName } }')
    error = field_error(response)
    assert error == {
        "message": "internal error in the port resolver",
        "locations": [{"line": 1, "column": 3}],
        "path": ["vessel"],
        "extensions": {"code": "INTERNAL_ERROR", "port": "USLAX"},
    }
    assert response.json()["data"] == {"vessel": None}
    for secret in ("hunter2", "secret.py", "Traceback", "RuntimeError"):
        assert secret not in response.text
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None
    assert "hunter2" in str(record.exc_info[1])


async def test_bad_data_from_the_source_is_an_internal_error(gql, source, caplog):
    # A naive datetime breaks the source contract: refused, not guessed, not shown.
    source.vessel_records["9321483"] = {"vesselIMONumber": None}
    vessels = source.metric_records[2]  # a count of vessels is served as the source says
    vessels["periodEnd"] = vessels["periodEnd"].replace(tzinfo=None)
    body = (await gql('{ vessel(imo: "9321483") { vesselIMONumber } }')).json()
    assert codes(body) == ["INTERNAL_ERROR"]
    assert body["errors"][0]["message"] == "internal error in the port resolver"
    body = (await gql("{ portMetrics { periodEnd } }")).json()
    assert codes(body) == ["INTERNAL_ERROR"]
    assert body["errors"][0]["path"] == ["portMetrics", 2, "periodEnd"]


# --- requests that cannot run: 400 with a GraphQL-shaped body, never a 500 ---


async def rejected(response: Any, status: int = 400) -> tuple[list[str], str]:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"errors"}
    return codes(body), body["errors"][0]["message"]


async def test_syntax_error_is_parse_failed(gql):
    assert (await rejected(await gql("{ ports { name }")))[0] == ["GRAPHQL_PARSE_FAILED"]


async def test_query_over_the_token_limit_is_parse_failed(gql):
    query = "{ " + " ".join(f"a{i}: ports {{ name }}" for i in range(2000)) + " }"
    assert (await rejected(await gql(query)))[0] == ["GRAPHQL_PARSE_FAILED"]


async def test_field_not_in_the_schema_is_validation_failed(gql, source):
    found, message = await rejected(await gql("{ ports { name craneOperatorID } }"))
    assert found == ["GRAPHQL_VALIDATION_FAILED"]
    assert "craneOperatorID" in message
    assert source.calls == []


async def test_mutation_is_validation_failed(gql):
    found, _ = await rejected(await gql("mutation { ports { name } }"))
    assert found == ["GRAPHQL_VALIDATION_FAILED"]


async def test_bad_datetime_literal_is_validation_failed(gql):
    found, message = await rejected(await gql('{ vesselCalls(from: "soon") { totalCount } }'))
    assert found == ["GRAPHQL_VALIDATION_FAILED"]
    assert "ISO 8601" in message


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("2026-11-21T10:00:00", "'2026-11-21T10:00:00' has no UTC offset; add Z or +hh:mm"),
        (
            "next tuesday",
            "'next tuesday' is not an ISO 8601 date and time, like 2026-11-21T10:00:00Z",
        ),
        (5, "DateTime must be an ISO 8601 string, like 2026-11-21T10:00:00Z'; found: 5."),
        (True, "DateTime must be an ISO 8601 string, like 2026-11-21T10:00:00Z'; found: True."),
        ([1], "DateTime must be an ISO 8601 string, like 2026-11-21T10:00:00Z'; found: [1]."),
    ],
)
async def test_bad_datetime_variable_is_bad_user_input(gql, source, value, says):
    query = "query ($from: DateTime) { vesselCalls(from: $from) { totalCount } }"
    found, message = await rejected(await gql(query, {"from": value}))
    assert found == ["BAD_USER_INPUT"]
    assert says in message
    assert source.calls == []


async def test_missing_required_variable_is_bad_user_input(gql):
    query = "query ($ref: String!) { container(reference: $ref) { status } }"
    assert (await rejected(await gql(query, {})))[0] == ["BAD_USER_INPUT"]


async def test_unknown_operation_name(gql):
    found, message = await rejected(await gql("query A { ports { name } }", operation_name="B"))
    assert found == ["BAD_REQUEST"]
    assert "'B'" in message


async def test_several_operations_without_a_name(gql):
    query = 'query A { ports { name } } query B { vessel(imo: "9321483") { vesselName } }'
    assert (await rejected(await gql(query)))[0] == ["BAD_REQUEST"]
    response = await gql(query, operation_name="B")
    assert response.json() == {"data": {"vessel": {"vesselName": "PACIFIC DAWN"}}}


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'"just a string"', "must be a JSON object"),
        (b'[{"query": "{ ports { name } }"}]', "batched requests are not supported"),
        (b"{}", "no GraphQL query"),
        (b'{"query": 42}', "no GraphQL query"),
        (b'{"query": "{ ports { name } }", "variables": [1]}', "variables must be a JSON object"),
        (b'{"query": "{ ports { name } }", "operationName": 7}', "operationName must be"),
    ],
)
async def test_malformed_post_is_bad_request(client, content, says):
    response = await client.post(
        "/graphql", content=content, headers={"content-type": "application/json"}
    )
    found, message = await rejected(response)
    assert found == ["BAD_REQUEST"]
    assert says in message


async def test_get_without_query_is_bad_request(client):
    assert (await rejected(await client.get("/graphql")))[0] == ["BAD_REQUEST"]


async def test_get_with_bad_variables_is_bad_request(client):
    response = await client.get(
        "/graphql", params={"query": "{ ports { name } }", "variables": "{"}
    )
    assert (await rejected(response))[0] == ["BAD_REQUEST"]


@pytest.mark.parametrize("app_options", [{"max_body_bytes": 64}])
async def test_body_over_the_limit_is_413(client):
    response = await client.post("/graphql", json={"query": "{ ports { name } }" + " " * 100})
    found, message = await rejected(response, 413)
    assert found == ["PAYLOAD_TOO_LARGE"]
    assert "64 bytes" in message


@pytest.mark.parametrize("app_options", [{"max_body_bytes": 64}])
async def test_streamed_body_over_the_limit_is_413(client):
    async def chunks():
        for _ in range(10):
            yield b"          "

    response = await client.post("/graphql", content=chunks())
    assert (await rejected(response, 413))[0] == ["PAYLOAD_TOO_LARGE"]


async def test_other_methods_are_405(client):
    assert (await client.put("/graphql", json={})).status_code == 405
