"""The GraphiQL page and its assets come from the package: nothing points off the gateway."""

import json
import re

from graphql import parse, validate

from gateway.graphiql import STATIC_DIR, page_config
from gateway.graphiql.examples import EXAMPLE_TABS, HEADERS_HINT
from gateway.schema import build_schema
from tests.gateway.conftest import GatewayFactory, answering

HTML = {"accept": "text/html"}
PORTS = {"ports": [{"UNLocationCode": "USLAX", "name": "Port of Los Angeles", "terminals": []}]}


async def test_the_page_loads_only_assets_the_gateway_serves(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    page = await gateway.client.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert not re.search(r"(https?:)?//", page.text)
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
    assert len(assets) == 5
    for asset in assets:
        response = await gateway.client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 100


async def test_the_page_carries_its_endpoint_and_one_tab_per_kind_of_user(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    page = await gateway.client.get("/graphql", headers=HTML)
    match = re.search(r'type="application/json">(.*?)</script>', page.text, re.S)
    assert match is not None
    config = json.loads(match[1])
    assert config == json.loads(json.dumps(page_config("/graphql")))
    assert len(config["tabs"]) == 4


async def test_no_assets_when_graphiql_is_off(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)}, graphiql=False)
    response = await gateway.client.get("/graphiql/static/graphiql.min.js")
    assert response.status_code == 404


def test_the_vendored_assets_reference_no_outside_host_for_loading() -> None:
    css = (STATIC_DIR / "graphiql.min.css").read_text(encoding="utf-8")
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", css)  # fonts and images are inlined
    assert "@import" not in css


def test_every_example_query_is_valid_against_the_schema() -> None:
    schema = build_schema()._schema
    for tab in EXAMPLE_TABS:
        assert validate(schema, parse(tab.query)) == [], tab.user
        if tab.variables:
            assert isinstance(json.loads(tab.variables), dict)


def test_the_headers_hint_is_json_whose_keys_the_page_does_not_send() -> None:
    hint = json.loads(HEADERS_HINT)
    assert hint
    assert all(key.startswith("_") for key in hint)
