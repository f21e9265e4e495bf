"""Errors never leak internals: no port URL, host name, address, credential or stack trace in
any error a client gets; an unexpected failure is a generic error whose incident id is in the
log and the audit record."""

import logging
import re
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from graphql import GraphQLError

from gateway.record.audit import open_audit_store
from gateway.record.redact import ErrorRedactor
from tests.gateway.conftest import GatewayFactory
from tests.gateway.started import started_gateway

QUERY = '{ ports { UNLocationCode } vessel(imo: "9321483") { vesselName } }'
SECRET_DETAILS = (
    "postgresql://svc:hunter2@db.lax.internal:5432/cargo refused; see "
    "http://10.20.30.40:8080/admin (resolver uslax.test:443)\n"
    "Traceback (most recent call last):\n"
    '  File "/srv/resolver/app.py", line 12, in resolve\n'
    "psycopg.OperationalError"
)
LEAKS = re.compile(
    r"\.test\b|://|10\.20\.30\.40|hunter2|db\.lax\.internal|Traceback|/srv/|line \d+|"
    r"OperationalError|pgk_|:5432|:8080",
    re.IGNORECASE,
)


def failing(kind: str) -> httpx.MockTransport:
    """A port that fails in one of the ways a real one does, saying too much about it."""

    def handler(request: httpx.Request) -> httpx.Response:
        if kind == "connect":
            raise httpx.ConnectError(f"cannot reach {request.url}: {SECRET_DETAILS}")
        if kind == "timeout":
            raise httpx.ReadTimeout(f"{request.url} timed out", request=request)
        if kind == "http-500":
            return httpx.Response(500, json={"errors": [{"message": SECRET_DETAILS}]})
        if kind == "html":
            return httpx.Response(502, text=f"<html>bad gateway {request.url}</html>")
        if kind == "503":
            return httpx.Response(503, text=SECRET_DETAILS)
        # 200 with field errors that say too much, and codes of the port's own
        return httpx.Response(
            200,
            json={
                "data": {"ports": [{"UNLocationCode": "USLAX", "_pg_port": "USLAX"}],
                         "vessel": None},
                "errors": [
                    {"message": SECRET_DETAILS, "path": ["vessel"],
                     "extensions": {"code": "INTERNAL_ERROR", "stack": SECRET_DETAILS}},
                    {"message": f"see {request.url}", "path": ["vessel", "x", 0]},
                ],
            },
        )  # fmt: skip

    return httpx.MockTransport(handler)


def assert_no_leak(text: str) -> None:
    found = LEAKS.findall(text)
    assert found == [], (found, text)


@pytest.mark.parametrize("kind", ["connect", "timeout", "http-500", "html", "503", "field-errors"])
async def test_port_failures_never_show_a_port_s_insides(
    make_gateway: GatewayFactory, kind: str
) -> None:
    gateway = await make_gateway(
        {"USLAX": failing(kind), "USOAK": failing("field-errors")},
        port_defaults={"timeout": "1s"},
        retry={"attempts": 1},
    )
    response = await gateway.query(QUERY)
    assert response.status_code == 200
    body = response.json()
    assert body["errors"], body
    for error in body["errors"]:
        assert error["extensions"]["code"].startswith("PORT_"), error
        assert error["extensions"]["port"] in ("USLAX", "USOAK")
    assert_no_leak(response.text)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'{"query": "{ container(reference: \\"http://10.20.30.40:8080/x\\") { status } }"}', {}),
        (b'{"query": "query($r: String!) { container(reference: $r) { status } }", '
         b'"variables": {"r": ["db.lax.internal:5432"]}}', {}),
        (b'{"query": "{ ports { name } }"}', {"x-api-key": "pgk_abcdefabcdef_secret"}),
        (b'{"query": "{ ports { name } }"}', {"authorization": "Basic aHVudGVyMg=="}),
        (b"{ not json http://10.20.30.40:8080", {}),
    ],
)  # fmt: skip
async def test_bad_requests_echo_nothing_internal(
    make_gateway: GatewayFactory, body: bytes, headers: dict[str, str]
) -> None:
    gateway = await make_gateway({"USLAX": failing("field-errors")})
    response = await gateway.client.post(
        "/graphql", content=body, headers={"content-type": "application/json", **headers}
    )
    assert response.status_code < 500
    assert_no_leak(response.text)


async def test_an_unexpected_failure_is_an_incident_in_the_log_and_the_audit_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_merge(*_: Any, **__: Any) -> Any:
        raise RuntimeError(SECRET_DETAILS)

    monkeypatch.setattr("gateway.query.pipeline.merge", broken_merge)
    async with started_gateway({"USLAX": failing("field-errors")}) as gateway:
        with caplog.at_level(logging.ERROR):
            response = await gateway.query("query Boom { ports { UNLocationCode } }")
    body = response.json()
    assert_no_leak(response.text)
    [error] = body["errors"]
    incident = error["extensions"]["incident"]
    assert error == {
        "message": f"internal error (incident {incident})",
        "extensions": {"code": "INTERNAL_SERVER_ERROR", "incident": incident},
    }
    logged = [r for r in caplog.records if incident in r.getMessage()]
    assert logged
    assert logged[0].exc_info is not None
    store = await open_audit_store(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    try:
        [stored] = await store.search()
    finally:
        await store.close()
    record = orjson.loads(stored.canonical)
    assert (record["operation_name"], record["incident"]) == ("Boom", incident)
    assert "INTERNAL_SERVER_ERROR" in record["error_codes"]


async def test_an_exception_outside_the_pipeline_is_a_graphql_500_with_an_incident(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError(SECRET_DETAILS)

    monkeypatch.setattr("gateway.access.documents.DocumentResolver.resolve", broken)
    gateway = await make_gateway({"USLAX": failing("field-errors")})
    with caplog.at_level(logging.ERROR):
        response = await gateway.query("{ ports { name } }")
    assert response.status_code == 500
    assert_no_leak(response.text)
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert any(error["extensions"]["incident"] in r.getMessage() for r in caplog.records)


def test_the_redactor_turns_foreign_exceptions_into_incidents() -> None:
    redactor = ErrorRedactor(lambda: ["resolver.lax.internal"])
    [foreign, ours] = redactor.errors(
        [
            GraphQLError("boom", original_error=ValueError(SECRET_DETAILS)),
            GraphQLError("resolver.lax.internal said: " + "x" * 2000),
        ]
    )
    assert foreign["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert foreign["message"].startswith("internal error (incident ")
    assert ours["message"].startswith("<redacted> said: xxx")
    assert len(ours["message"]) == 1000
    assert_no_leak(str([foreign, ours]))
