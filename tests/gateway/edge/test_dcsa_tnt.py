"""The DCSA Track & Trace 2.2 facade in front of the five simulated ports: every response is
validated against the vendored official OpenAPI (status, headers, body)."""

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from graphql import GraphQLObjectType, build_schema

from gateway.access.apikeys import ApiKeyStore
from gateway.app import create_app
from gateway.config import ConfigError, load_settings
from gateway.edge.dcsa_events import EQUIPMENT_CODES, facade_event_id
from gateway.edge.dcsa_query import MIN_KEY_CHARACTERS, cursor_key
from port_resolvers.loopback import serve_on_loopback
from port_resolvers.sim.cluster import RunningPort, run_simulated_ports
from port_resolvers.sim.data import containers_at_several_ports, generate_all_ports
from tests.gateway.conftest import OPEN_POLICY, with_test_egress
from tests.gateway.edge.dcsa_spec import validate

NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
SEED = 2026
SCHEMA = Path(__file__).parents[3] / "schema.graphql"
HANG_GUARD_SECONDS = 20


@pytest.fixture
async def ports() -> AsyncIterator[list[RunningPort]]:
    async with run_simulated_ports(seed=SEED, now=NOW) as running:
        yield running


@contextlib.asynccontextmanager
async def facade(ports: list[RunningPort], **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings.setdefault("policy", {"file": OPEN_POLICY})
    extra = settings.pop("extra", [])
    config = load_settings(
        None,
        ports=[{"id": p.id, "name": p.name, "url": p.resolver_url, "timeout": "5s"} for p in ports]
        + extra,
        **with_test_egress(settings),
    )
    async with (
        serve_on_loopback(create_app(config, clock=lambda: NOW)) as url,
        httpx.AsyncClient(base_url=url, timeout=HANG_GUARD_SECONDS) as client,
    ):
        yield client


@pytest.fixture
def get() -> Any:
    """GET through the facade, every response validated against the official spec."""

    async def fetch(client: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
        response = await client.get(url, **kwargs)
        validate(response)
        return response

    return fetch


def shared_containers() -> list[str]:
    """Containers of the simulated data: those at more than one port first, then others."""
    data = generate_all_ports(seed=SEED, now=NOW)
    several = sorted(containers_at_several_ports(data))
    others = sorted({c.reference for port in data.values() for c in port.containers} - set(several))
    return (several + others)[:100]


async def graphql_event_ids(
    client: httpx.AsyncClient, references: list[str]
) -> dict[str, list[tuple[str, str]]]:
    """The eventIDs the GraphQL API gives for each container, of the events DCSA 2.2 carries."""
    response = await client.post("/graphql", json={
        "query": "query($r: [String!]) { containers(references: $r) { equipmentReference "
                 "sourcePort events { eventID equipmentEventTypeCode eventClassifierCode } } }",
        "variables": {"r": references},
    })  # fmt: skip
    by_container: dict[str, list[tuple[str, str]]] = {}
    for c in response.json()["data"]["containers"]:  # a box at two ports: an entry each
        by_container.setdefault(c["equipmentReference"], []).extend(
            (c["sourcePort"], facade_event_id(c["sourcePort"], e["eventID"])) for e in c["events"]
            if e["equipmentEventTypeCode"] in EQUIPMENT_CODES and e["eventClassifierCode"] != "REQ"
        )  # fmt: skip
    return by_container


async def test_paging_one_container_gives_exactly_the_graphql_events(
    ports: list[RunningPort], get: Any
) -> None:
    async with facade(ports) as client:
        # The gateway answers a box two ports know with the port that saw it last, and the
        # facade with the same: the box with the most events, wherever it is.
        by_container = await graphql_event_ids(client, shared_containers())
        reference, found = max(by_container.items(), key=lambda item: len(item[1]))
        expected = [event_id for _, event_id in found]
        assert len(expected) >= 2
        seen: list[str] = []
        response = await get(client, "/dcsa/tnt/v2/events",
                             params={"equipmentReference": reference, "limit": "1"})  # fmt: skip
        pages = 1
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            assert len(body) == 1
            assert all(e["equipmentReference"] == reference for e in body)
            seen += [e["eventID"] for e in body]
            if "Next-Page" not in response.headers:
                break
            response = await get(client, response.headers["Next-Page"])
            pages += 1
        assert sorted(seen) == sorted(expected)
        assert len(seen) == len(set(seen))
        assert pages == len(expected)


async def test_transport_events_filtered_by_port_and_type(
    ports: list[RunningPort], get: Any
) -> None:
    async with facade(ports) as client:
        response = await get(client, "/dcsa/tnt/v2/events", params={
            "UNLocationCode": "USOAK", "transportEventTypeCode": "DEPA",
            "eventCreatedDateTime:gte": "2026-11-01T00:00:00Z",
        })  # fmt: skip
        assert response.status_code == 200, response.text
        events = response.json()
        assert events
        for event in events:
            assert event["eventType"] == "TRANSPORT"
            assert event["transportEventTypeCode"] == "DEPA"
            assert event["transportCall"]["UNLocationCode"] == "USOAK"
            assert datetime.fromisoformat(event["eventCreatedDateTime"]) >= datetime(
                2026, 11, 1, tzinfo=UTC
            )
        one = events[0]["eventID"]
        single = await get(client, f"/dcsa/tnt/v2/events/{one}")
        assert single.status_code == 200
        assert single.json() == events[0]
        unknown = await get(client, "/dcsa/tnt/v2/events/3cecb101-7a1a-43a4-9d62-e88a131651e2")
        assert unknown.status_code == 404
        assert unknown.json()["errors"][0]["reason"] == "notFound"


async def test_shipment_events_are_none(ports: list[RunningPort], get: Any) -> None:
    async with facade(ports) as client:
        response = await get(client, "/dcsa/tnt/v2/events", params={"eventType": "SHIPMENT"})
        assert response.status_code == 200
        assert response.json() == []


@pytest.mark.parametrize(
    "params",
    [
        {"colour": "red"},
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "ten"},
        {"eventType": "CARGO"},
        {"UNLocationCode": "usl"},
        {"eventCreatedDateTime:around": "2026-11-01T00:00:00Z"},
        {"eventCreatedDateTime": "yesterday"},
        {"eventType": "EQUIPMENT"},
        {"sort": "eventDateTime:DESC"},
        {"cursor": "abc.def"},
    ],
)
async def test_bad_parameters_are_400_in_dcsa_form(
    ports: list[RunningPort], get: Any, params: dict[str, str]
) -> None:
    async with facade(ports) as client:
        response = await get(client, "/dcsa/tnt/v2/events", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["statusCode"] == 400
    assert body["httpMethod"] == "GET"
    assert body["errors"][0]["reason"]


async def test_a_tampered_cursor_is_refused(ports: list[RunningPort], get: Any) -> None:
    async with facade(ports) as client:
        first = await get(client, "/dcsa/tnt/v2/events", params={"limit": "1"})
        cursor = httpx.URL(first.headers["Next-Page"]).params["cursor"]
        payload, _, signature = cursor.partition(".")
        changed = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
        response = await get(client, "/dcsa/tnt/v2/events",
                             params={"cursor": f"{changed}.{signature}"})  # fmt: skip
        assert response.status_code == 400
        assert response.json()["errors"][0]["reason"] == "invalidCursor"
        mixed = await get(client, "/dcsa/tnt/v2/events", params={"cursor": cursor, "limit": "5"})
        assert mixed.status_code == 400


async def test_api_version_header(ports: list[RunningPort], get: Any) -> None:
    async with facade(ports) as client:
        ok = await get(client, "/dcsa/tnt/v2/events", params={"eventType": "SHIPMENT"},
                       headers={"API-Version": "2"})  # fmt: skip
        wrong = await get(client, "/dcsa/tnt/v2/events", headers={"API-Version": "1"})
    assert ok.status_code == 200
    assert wrong.status_code == 400


async def test_refused_credentials_are_401_in_dcsa_form(ports: list[RunningPort], get: Any) -> None:
    async with facade(ports, auth={"allow_anonymous": False}) as client:
        response = await get(client, "/dcsa/tnt/v2/events")
    assert response.status_code == 401
    assert response.json()["errors"][0]["reason"] == "unauthenticated"
    assert "WWW-Authenticate" in response.headers


async def test_two_credentials_are_400_in_dcsa_form(ports: list[RunningPort], get: Any) -> None:
    async with facade(ports) as client:
        response = await get(client, "/dcsa/tnt/v2/events",
                             headers=[("x-api-key", "one"), ("x-api-key", "two")])  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"] == "ambiguousCredentials"


async def test_a_port_down_is_named_in_the_partial_header(
    ports: list[RunningPort], get: Any
) -> None:
    down = [{"id": "USRCH", "name": "Richmond", "url": "http://127.0.0.1:9/graphql",
             "timeout": "1s"}]  # fmt: skip
    config_ports = ports
    async with facade(config_ports, extra=down) as client:
        response = await get(client, "/dcsa/tnt/v2/events", params={"limit": "5"})
    assert response.status_code == 200
    assert "USRCH=" in response.headers["Portgate-Partial"]


async def test_replicas_with_the_same_cursor_key_accept_each_others_cursors(
    ports: list[RunningPort], get: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DCSA_CURSORS_TEST_KEY", "a replicas' shared cursor key, 32+ characters")
    monkeypatch.setenv("DCSA_CURSORS_OTHER_KEY", "another deployment's cursor key, 32+ chars")
    shared = {"dcsa": {"cursor_key_env": "DCSA_CURSORS_TEST_KEY"}}
    async with (
        facade(ports, **shared) as one,
        facade(ports, **shared) as two,
        facade(ports, dcsa={"cursor_key_env": "DCSA_CURSORS_OTHER_KEY"}) as other,
        facade(ports) as unkeyed,
    ):
        first = await get(one, "/dcsa/tnt/v2/events", params={"limit": "2"})
        cursor = httpx.URL(first.headers["Next-Page"]).params["cursor"]
        mine = await get(one, "/dcsa/tnt/v2/events", params={"cursor": cursor})
        theirs = await get(two, "/dcsa/tnt/v2/events", params={"cursor": cursor})
        assert mine.status_code == theirs.status_code == 200, theirs.text
        assert theirs.json() == mine.json()
        assert len(theirs.json()) == 2
        assert theirs.json()[0]["eventID"] not in {e["eventID"] for e in first.json()}
        assert (httpx.URL(theirs.headers["Next-Page"]).params["cursor"]
                == httpx.URL(mine.headers["Next-Page"]).params["cursor"])  # fmt: skip
        for refusing in (other, unkeyed):
            refused = await get(refusing, "/dcsa/tnt/v2/events", params={"cursor": cursor})
            assert refused.status_code == 400
            assert refused.json()["errors"][0]["reason"] == "invalidCursor"


@pytest.mark.parametrize("value", [None, "", "short"])
def test_a_cursor_key_variable_unset_or_short_is_a_config_error(value: str | None) -> None:
    environ = {} if value is None else {"DCSA_KEY": value}
    with pytest.raises(ConfigError, match="'DCSA_KEY'") as raised:
        cursor_key("DCSA_KEY", environ)
    assert value is None or value == "" or value not in str(raised.value)
    assert cursor_key(None, environ) is None
    long = "k" * MIN_KEY_CHARACTERS
    assert cursor_key("DCSA_KEY", {"DCSA_KEY": long}) == cursor_key("K", {"K": long})
    assert cursor_key("DCSA_KEY", {"DCSA_KEY": long}) != long.encode()


WITHHELD = ("seals", "documentReferences")


def policy_without_seals_and_documents() -> str:
    """A policy: ``admin`` sees everything, ``public`` nothing; ``forwarder`` every field of
    every type but an equipment event's seals and document references."""
    schema = build_schema(SCHEMA.read_text(encoding="utf-8"))
    allowed = sorted(
        f"{name}.*" for name, kind in schema.type_map.items()
        if isinstance(kind, GraphQLObjectType) and not name.startswith("__")
        and name != "EquipmentEvent"
    )  # fmt: skip
    event = schema.type_map["EquipmentEvent"]
    assert isinstance(event, GraphQLObjectType)
    allowed += [f"EquipmentEvent.{name}" for name in event.fields if name not in WITHHELD]
    roles = {"public": {"allow": []}, "admin": {"allow": ["*"]}, "forwarder": {"allow": allowed}}
    return yaml.safe_dump({"roles": roles})


async def test_fields_the_policy_withholds_are_absent_and_named(
    ports: list[RunningPort], get: Any, tmp_path: Path
) -> None:
    (tmp_path / "policy.yaml").write_text(policy_without_seals_and_documents(), encoding="utf-8")
    store = ApiKeyStore(tmp_path / "keys.sqlite3")
    admin = {"x-api-key": store.create(client_id="ops", organisation="P", roles=["admin"])[0]}
    forwarder = {"x-api-key": store.create(client_id="fwd", organisation="F",
                                           roles=["forwarder"])[0]}  # fmt: skip
    store.close()
    keys = {"api_keys": {"database": tmp_path / "keys.sqlite3"}}
    async with facade(ports, policy={"file": tmp_path / "policy.yaml"}, auth=keys) as client:
        found = await client.post("/graphql", headers=admin, json={
            "query": "query($r: [String!]) { containers(references: $r) { equipmentReference "
                     "events { seals { sealNumber } "
                     "documentReferences { documentReferenceValue } } } }",
            "variables": {"r": shared_containers()},
        })  # fmt: skip
        reference = next(
            c["equipmentReference"] for c in found.json()["data"]["containers"]
            if any(e["seals"] for e in c["events"] or ())
            and any(e["documentReferences"] for e in c["events"] or ())
        )  # fmt: skip
        params = {"equipmentReference": reference}
        full = await get(client, "/dcsa/tnt/v2/events", params=params, headers=admin)
        held_back = await get(client, "/dcsa/tnt/v2/events", params=params, headers=forwarder)
    assert full.status_code == held_back.status_code == 200, held_back.text
    assert "Portgate-Withheld" not in full.headers
    assert held_back.headers["Portgate-Withheld"] == (
        "EquipmentEvent.documentReferences, EquipmentEvent.seals"
    )
    everything, events = full.json(), held_back.json()
    assert any("seals" in e for e in everything)
    assert any("documentReferences" in e for e in everything)
    assert len(events) == len(everything)
    for mine, whole in zip(events, everything, strict=True):
        assert not set(WITHHELD) & set(mine)
        assert mine == {k: v for k, v in whole.items() if k not in WITHHELD}


async def test_a_box_two_ports_know_gives_the_events_the_graphql_api_gives(
    ports: list[RunningPort], get: Any
) -> None:
    several = sorted(containers_at_several_ports(generate_all_ports(seed=SEED, now=NOW)))
    assert several
    async with facade(ports) as client:
        by_container = await graphql_event_ids(client, several)
        for reference in several:
            response = await get(client, "/dcsa/tnt/v2/events",
                                 params={"equipmentReference": reference})  # fmt: skip
            assert response.status_code == 200, response.text
            given = sorted(e["eventID"] for e in response.json())
            assert given == sorted(event_id for _, event_id in by_container[reference])
