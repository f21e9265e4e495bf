"""Trusted documents (production mode) and automatic persisted queries (APQ)."""

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from typer.testing import CliRunner

from gateway.access.documents import (
    ManifestError,
    MemoryPersistedQueries,
    TrustedDocuments,
    document_hash,
)
from gateway.cli.main import app as cli
from gateway.schema import build_schema
from tests.gateway.conftest import REDIS_URL, Gateway, GatewayFactory, answering
from tests.gateway.started import started_gateway

PORTS = {"ports": [{"UNLocationCode": "USLAX", "name": "LA", "_pg_port": "USLAX"}]}
REGISTERED = "query Ports { ports { UNLocationCode } }"
OTHER = "{ ports { name } }"
SCHEMA = build_schema()._schema
runner = CliRunner()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(text: str | None = None, hash_: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash_ or sha256(text or "")}}
    }
    if text is not None:
        body["query"] = text
    return body


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "documents.json"
    documents = TrustedDocuments()
    documents.add(REGISTERED, SCHEMA)
    documents.save(path)
    return path


async def post(gateway: Gateway, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await gateway.client.post("/graphql", json=body)
    return response.status_code, response.json()


def code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def test_trusted_mode_refuses_an_unregistered_query(
    make_gateway: GatewayFactory, manifest: Path
) -> None:
    gateway = await make_gateway(
        {"USLAX": answering(PORTS)}, documents={"trusted_only": True, "manifest": manifest}
    )
    for body in ({"query": OTHER}, persisted(OTHER), persisted(hash_="ab" * 32)):
        status, answer = await post(gateway, body)
        assert (status, code(answer)) == (400, "PERSISTED_QUERY_NOT_IN_LIST"), body
        assert "data" not in answer
    assert gateway.router.requests == []  # no port was asked anything


async def test_trusted_mode_runs_a_registered_query(
    make_gateway: GatewayFactory, manifest: Path
) -> None:
    gateway = await make_gateway(
        {"USLAX": answering(PORTS)}, documents={"trusted_only": True, "manifest": manifest}
    )
    expected = {"ports": [{"UNLocationCode": "USLAX"}]}
    for body in ({"query": REGISTERED}, persisted(hash_=sha256(REGISTERED)), persisted(REGISTERED)):
        status, answer = await post(gateway, body)
        assert (status, answer["data"]) == (200, expected), body
    response = await gateway.client.get(  # by hash over GET too (with the CSRF header)
        "/graphql",
        params={"extensions": json.dumps(persisted(REGISTERED)["extensions"])},
        headers={"x-portgate-csrf": "1"},
    )
    assert response.json()["data"] == expected


async def test_apq_round_trip(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    status, answer = await post(gateway, persisted(hash_=sha256(OTHER)))
    assert (status, code(answer), answer["errors"][0]["message"]) == (
        200, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound",
    )  # fmt: skip
    assert gateway.router.requests == []
    status, answer = await post(gateway, persisted(OTHER))  # the client resends, with its query
    assert status == 200
    assert answer["data"] == {"ports": [{"name": "LA"}]}
    status, answer = await post(gateway, persisted(hash_=sha256(OTHER)))  # the hash now runs
    assert answer["data"] == {"ports": [{"name": "LA"}]}


async def test_apq_hash_must_be_the_query_s(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    status, answer = await post(gateway, persisted(OTHER, hash_=sha256(REGISTERED)))
    assert (status, code(answer)) == (400, "PERSISTED_QUERY_HASH_MISMATCH")
    status, answer = await post(gateway, persisted(hash_=sha256(REGISTERED)))
    assert code(answer) == "PERSISTED_QUERY_NOT_FOUND"  # the mismatch registered nothing


@pytest.mark.parametrize(
    "extension",
    [{"version": 2, "sha256Hash": "ab" * 32}, {"version": 1, "sha256Hash": "xyz"},
     {"version": 1}, "abc"],
)  # fmt: skip
async def test_a_malformed_persisted_query_is_a_bad_request(
    make_gateway: GatewayFactory, extension: Any
) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    status, answer = await post(gateway, {"extensions": {"persistedQuery": extension}})
    assert (status, code(answer)) == (400, "BAD_REQUEST")


async def test_apq_can_be_switched_off(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)}, documents={"apq": False})
    assert (await post(gateway, persisted(OTHER)))[0] == 200  # runs, is not kept
    _status, answer = await post(gateway, persisted(hash_=sha256(OTHER)))
    assert code(answer) == "PERSISTED_QUERY_NOT_FOUND"


async def test_apq_documents_are_shared_by_replicas_through_redis(namespace: str) -> None:
    cache = {"redis_url": REDIS_URL, "namespace": namespace}
    async with (
        started_gateway({"USLAX": answering(PORTS)}, cache=cache) as first,
        started_gateway({"USLAX": answering(PORTS)}, cache=cache) as second,
    ):
        assert (await post(first, persisted(OTHER)))[0] == 200
        status, answer = await post(second, persisted(hash_=sha256(OTHER)))
        assert (status, "errors" in answer) == (200, False)
        # A document swapped in Redis behind the gateway's back is not run.
        client = redis.Redis.from_url(REDIS_URL)
        await client.set(f"{namespace}:apq:{sha256(OTHER)}", b"{ __typename }")
        await client.aclose()
        status, answer = await post(second, persisted(hash_=sha256(OTHER)))
        assert code(answer) == "PERSISTED_QUERY_NOT_FOUND"


def test_a_manifest_in_either_format(tmp_path: Path) -> None:
    apollo = tmp_path / "apollo.json"
    apollo.write_text(json.dumps({
        "format": "apollo-persisted-query-manifest", "version": 1,
        "operations": [{"id": sha256(REGISTERED), "name": "Ports", "type": "query",
                        "body": REGISTERED}],
    }))  # fmt: skip
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({f"sha256:{sha256(REGISTERED)}": REGISTERED, sha256(OTHER): OTHER}))
    assert list(TrustedDocuments.load(apollo, SCHEMA).entries()) == [
        (sha256(REGISTERED), "Ports", REGISTERED)
    ]
    loaded = TrustedDocuments.load(plain, SCHEMA)
    assert (len(loaded), loaded.get(sha256(OTHER))) == (2, OTHER)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"ab" * 32: REGISTERED}, "not the document's SHA-256"),
        ({sha256("{ nope }"): "{ nope }"}, "Cannot query field 'nope'"),
        ({"XYZ": REGISTERED}, "SHA-256 in lower-case hex"),
        ([REGISTERED], "a JSON object"),
    ],
)
def test_a_bad_manifest_names_the_entry(tmp_path: Path, content: Any, message: str) -> None:
    path = tmp_path / "documents.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ManifestError, match=message):
        TrustedDocuments.load(path, SCHEMA)


def test_trusted_mode_needs_a_manifest(make_gateway: GatewayFactory) -> None:
    from gateway.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="trusted_only needs a manifest"):
        load_settings(None, documents={"trusted_only": True})


def test_cli_adds_and_lists_documents(tmp_path: Path) -> None:
    (tmp_path / "ports.graphql").write_text(REGISTERED)
    (tmp_path / "bad.graphql").write_text("{ nope }")
    config = tmp_path / "portgate.yaml"
    config.write_text("documents: {manifest: trusted.json}\n")
    added = runner.invoke(cli, ["documents", "add", str(tmp_path / "ports.graphql"),
                                "--config", str(config)])  # fmt: skip
    assert added.exit_code == 0, added.output
    assert document_hash(REGISTERED) in added.output
    again = runner.invoke(cli, ["documents", "add", str(tmp_path / "ports.graphql"),
                                "--config", str(config)])  # fmt: skip
    assert "already registered" in again.output
    bad = runner.invoke(cli, ["documents", "add", str(tmp_path / "bad.graphql"),
                              "--config", str(config)])  # fmt: skip
    assert bad.exit_code == 2
    assert "nothing added" in bad.output
    assert "nope" in bad.output
    listed = runner.invoke(cli, ["documents", "list", "--config", str(config)])
    assert listed.output.split() == [document_hash(REGISTERED), "Ports"]
    manifest = json.loads((tmp_path / "trusted.json").read_text())
    assert manifest["format"] == "apollo-persisted-query-manifest"


@pytest.mark.parametrize(
    "document",
    [
        "{ ports { UNLocationCode ",  # does not parse
        "{ ports { crane } }",  # does not validate
        "{ ports { " + "name " * 600 + "} }",  # over the token limit
    ],
)
async def test_apq_keeps_only_documents_that_parse_and_validate(
    make_gateway: GatewayFactory, document: str
) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)}, limits={"max_tokens": 500})
    await post(gateway, persisted(document))  # refused as usual, and not kept
    _status, answer = await post(gateway, persisted(hash_=sha256(document)))
    assert code(answer) == "PERSISTED_QUERY_NOT_FOUND"


async def test_apq_in_memory_is_bounded_in_bytes_least_recently_used_first() -> None:
    documents = [f"{{ ports {{ name }} }} # {i:04d}" + "x" * 900 for i in range(3)]
    one = len(sha256(documents[0])) + len(documents[0].encode()) + 100
    store = MemoryPersistedQueries(2 * one)
    for text in documents[:2]:
        await store.put(sha256(text), text)
    assert await store.get(sha256(documents[0])) == documents[0]  # now most recently used
    await store.put(sha256(documents[2]), documents[2])
    assert await store.get(sha256(documents[1])) is None
    assert await store.get(sha256(documents[0])) == documents[0]
    assert (store.bytes, store.evictions) == (2 * one, 1)
