"""Every request the gateway refuses is in the audit trail, with outcome ``rejected`` and its code:
documents that do not parse, do not validate, are over a limit (depth, aliases, root fields,
tokens, cost) or ask for a field the policy withholds in ``on_denied: reject`` mode. Each case
goes through a real gateway on loopback HTTP; no port is ever asked (they point at a closed
loopback port)."""

import hashlib
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.record.audit import AuditRecord, open_audit_store
from port_resolvers.loopback import serve_on_loopback
from tests.gateway.conftest import settings_for_tests

LIMITS = {"max_depth": 4, "max_aliases": 2, "max_root_fields": 3, "max_tokens": 60,
          "max_cost": 50}  # fmt: skip
REFERENCE = "EGHU0239805"

# name: (the document sent, HTTP status, the code the record must carry)
CASES: dict[str, tuple[str, int, str]] = {
    "parse": ("query Broken { ports { name ", 400, "GRAPHQL_PARSE_FAILED"),
    "validation": ("query Unknown { nope }", 400, "GRAPHQL_VALIDATION_FAILED"),
    "policy": (
        f'query Peek {{ container(reference: "{REFERENCE}") '
        "{ availability { lastFreeDay } } }",
        403,
        "FORBIDDEN_FIELD",
    ),
    "depth": (
        "query Deep { vesselCalls { edges { node { vessel { vesselName } } } } }",
        400,
        "QUERY_TOO_DEEP",
    ),
    "aliases": (
        "query Aliased { a: ports { name } b: ports { name } c: ports { name } }",
        400,
        "QUERY_TOO_MANY_ALIASES",
    ),
    "root fields": (
        "query Wide { ports { name } vesselCalls { totalCount } portMetrics { value } "
        f'container(reference: "{REFERENCE}") {{ status }} }}',
        400,
        "QUERY_TOO_MANY_ROOT_FIELDS",
    ),
    "tokens": ("query Long { ports { " + "name " * 70 + "} }", 400, "QUERY_TOO_MANY_TOKENS"),
    "cost": (
        "query Costly { vesselCalls(first: 50) { edges { node { UNLocationCode phase } } } }",
        400,
        "QUERY_TOO_COMPLEX",
    ),
}


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/graphql"


async def stored_records(tmp_path: Path) -> list[AuditRecord]:
    store = await open_audit_store(f"sqlite:///{tmp_path / 'audit.sqlite3'}")  # tests/conftest
    try:
        return [stored.record for stored in await store.search()]
    finally:
        await store.close()


@pytest.mark.parametrize("case", CASES)
async def test_each_kind_of_refusal_is_audited_with_its_outcome_and_code(
    case: str, tmp_path: Path
) -> None:
    document, status, code = CASES[case]
    config = settings_for_tests(
        None,
        ports=[{"id": "USLAX", "name": "Port of Los Angeles", "url": closed_port_url()}],
        policy={"on_denied": "reject"},  # the shipped policy: public may not see availability
        limits=LIMITS,
    )
    async with serve_on_loopback(create_app(config)) as url, httpx.AsyncClient() as client:
        response = await client.post(f"{url}/graphql", json={"query": document})
        assert response.status_code == status, response.text
        assert code in {e["extensions"]["code"] for e in response.json()["errors"]}
    [record] = await stored_records(tmp_path)  # the trail was closed, so written, with the app
    assert record.outcome == "rejected"
    assert code in record.error_codes
    assert record.document_hash == hashlib.sha256(document.encode()).hexdigest()
    assert record.client_id == "anonymous"
    assert record.ports == ()  # no port was asked
    if case == "policy":
        assert record.denied == ("Container.availability",)


async def test_a_refused_document_is_kept_once_however_often_it_is_sent(tmp_path: Path) -> None:
    broken: dict[str, Any] = {"query": "query Broken { ports { " + "x" * 5000}
    config = settings_for_tests(
        None, ports=[{"id": "USLAX", "name": "Port of Los Angeles", "url": closed_port_url()}]
    )
    async with serve_on_loopback(create_app(config)) as url, httpx.AsyncClient() as client:
        for _ in range(5):
            response = await client.post(f"{url}/graphql", json=broken)
            assert response.status_code == 400
    records = await stored_records(tmp_path)
    assert [r.outcome for r in records] == ["rejected"] * 5
    assert {r.document_hash for r in records} == {
        hashlib.sha256(broken["query"].encode()).hexdigest()
    }
    store = await open_audit_store(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    try:
        texts = await store.documents([records[0].document_hash])
    finally:
        await store.close()
    assert texts == {records[0].document_hash: broken["query"]}
