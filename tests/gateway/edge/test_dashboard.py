"""The outlook dashboard's page and assets come from the package; its query fits the schema;
its config says what the README promises and carries what its script reads."""

import json
import re
from pathlib import Path
from typing import Any

from graphql import parse, validate

from gateway.edge.dashboard import STATIC_DIR, dashboard_page
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
        assert response.content == (STATIC_DIR / asset.rsplit("/", 1)[1]).read_bytes(), asset


README = Path(__file__).resolve().parents[3] / "README.md"
SCRIPT = STATIC_DIR / "dashboard.js"


def served_config(page: str) -> dict[str, Any]:
    match = re.search(
        r'<script id="portgate-dashboard-config" type="application/json">(.*?)</script>',
        page,
        re.S,
    )
    assert match is not None
    config: dict[str, Any] = json.loads(match[1])
    return config


async def test_the_config_says_what_the_readme_promises_and_what_the_script_reads(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    config = served_config((await gateway.client.get("/dashboard")).text)
    promised = re.search(r"asking again every\s+(\d+)\s+s\b", README.read_text(encoding="utf-8"))
    assert promised is not None
    assert config == {"endpoint": "/graphql", "refreshSeconds": int(promised[1]), "days": 3}
    read = set(re.findall(r"\bconfig\.(\w+)", SCRIPT.read_text(encoding="utf-8")))
    assert read == set(config)


def test_no_value_in_the_config_can_close_its_script_element() -> None:
    hostile = "/graphql</script><script>alert(1)</script>"
    page = dashboard_page(hostile).body.decode()
    assert page.count("</script>") == 2  # the config and the script, nothing more
    assert served_config(page)["endpoint"] == hostile


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
    assert "outlook(days: $days, containers: $boxes)" in query
    assert validate(build_schema()._schema, parse(query)) == []


def test_the_script_asks_with_the_csrf_header_and_never_writes_markup() -> None:
    script = (STATIC_DIR / "dashboard.js").read_text(encoding="utf-8")
    assert '"X-Portgate-CSRF": "1"' in script
    assert "innerHTML" not in script  # answers go in as text only
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", script)
