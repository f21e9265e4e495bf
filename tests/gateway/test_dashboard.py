"""The outlook dashboard's page and assets come from the package; its query fits the schema."""

import json
import re

from graphql import parse, validate

from gateway.dashboard import STATIC_DIR, page_config
from gateway.schema import build_schema
from tests.gateway.conftest import GatewayFactory, answering

PORTS = {"ports": [{"UNLocationCode": "USLAX", "name": "Port of Los Angeles", "terminals": []}]}


async def test_the_page_loads_only_assets_the_gateway_serves(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    page = await gateway.client.get("/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert not re.search(r"(https?:)?//", page.text)
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
    assert sorted(assets) == ["/dashboard/static/dashboard.css", "/dashboard/static/dashboard.js"]
    for asset in assets:
        response = await gateway.client.get(asset)
        assert response.status_code == 200, asset
    match = re.search(r'type="application/json">(.*?)</script>', page.text, re.S)
    assert match is not None
    assert json.loads(match[1]) == page_config("/graphql")


async def test_no_page_and_no_assets_when_the_dashboard_is_off(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)}, dashboard=False)
    assert (await gateway.client.get("/dashboard")).status_code == 404
    assert (await gateway.client.get("/dashboard/static/dashboard.js")).status_code == 404


def test_the_pages_query_is_valid_against_the_schema() -> None:
    script = (STATIC_DIR / "dashboard.js").read_text(encoding="utf-8")
    block = re.search(r"var QUERY = \[(.*?)\]\.join", script, re.S)
    assert block is not None
    query = "\n".join(json.loads(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', block[1]))
    assert "outlook(days: $days)" in query
    assert validate(build_schema()._schema, parse(query)) == []


def test_the_script_asks_with_the_csrf_header_and_never_writes_markup() -> None:
    script = (STATIC_DIR / "dashboard.js").read_text(encoding="utf-8")
    assert '"X-Portgate-CSRF": "1"' in script
    assert "innerHTML" not in script  # answers go in as text only
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", script)
