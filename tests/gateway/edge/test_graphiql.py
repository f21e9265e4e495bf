"""The GraphiQL page and its assets come from the package: nothing points off the gateway. The
page's tabs are the README's example queries, and its config carries what its script reads."""

import json
import re
from pathlib import Path
from typing import Any

from graphql import OperationDefinitionNode, parse, print_ast, validate

from gateway.edge.graphiql import STATIC_DIR, graphiql_page
from gateway.edge.graphiql.examples import EXAMPLE_TABS, HEADERS_HINT
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
    assert assets == [
        f"/graphiql/static/{name}"
        for name in (
            "graphiql.min.css",
            "react.production.min.js",
            "react-dom.production.min.js",
            "graphiql.min.js",
            "portgate-graphiql.js",
        )
    ]
    for asset in assets:
        response = await gateway.client.get(asset)
        assert response.status_code == 200, asset
        assert response.content == (STATIC_DIR / asset.rsplit("/", 1)[1]).read_bytes(), asset


README = Path(__file__).resolve().parents[3] / "README.md"
SCRIPT = STATIC_DIR / "portgate-graphiql.js"


def readme_examples() -> list[tuple[str, dict[str, Any] | None]]:
    """The queries under the README's "Ask it something", each with its variables if any."""
    section = README.read_text(encoding="utf-8").split("## Ask it something", 1)[1]
    section = section.split("\n## ", 1)[0]
    examples = []
    for block in re.findall(r"```graphql\n(.*?)```", section, re.S):
        variables = re.search(r"^# variables: (.*)$", block, re.M)
        examples.append((block, json.loads(variables[1]) if variables else None))
    return examples


def operation(query: str) -> tuple[str, str]:
    """What a query asks, whatever its name and comments: variables and selections."""
    [op] = [d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode)]
    variables = ", ".join(print_ast(v) for v in op.variable_definitions or ())
    return variables, print_ast(op.selection_set)


def served_config(page: str) -> dict[str, Any]:
    match = re.search(
        r'<script id="portgate-graphiql-config" type="application/json">(.*?)</script>',
        page,
        re.S,
    )
    assert match is not None
    config: dict[str, Any] = json.loads(match[1])
    return config


async def test_the_pages_tabs_are_the_readmes_examples(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    page = await gateway.client.get("/graphql", headers=HTML)
    config = served_config(page.text)
    examples = readme_examples()
    assert [t["query"].split("\n", 1)[0] for t in config["tabs"]] == [
        "# Trucker: is my box available, what holds, last free day, which yard block?",
        "# Cargo owner: my containers across every port, with their events.",
        "# Port operator: vessel calls at every port in planned-arrival order,",
        "# State analyst: aggregates only, each with its period and sample size.",
        "# Trucker, next: when is the gate open, any appointments, where do empties go?",
        "# Exporter: when may my export box come (cut-offs), and has my booking's box gated in?",
        "# Trucker, live: told when my box changes (one message per change).",
        "# Operations room, live: every port's outlook again whenever a figure changes.",
    ]
    assert len(examples) >= len(config["tabs"]) == 8
    for tab, (readme_query, readme_variables) in zip(config["tabs"], examples, strict=False):
        assert operation(tab["query"]) == operation(readme_query)
        if readme_variables is not None:
            assert json.loads(tab["variables"]) == readme_variables
    assert json.loads(config["tabs"][2]["variables"]) == {"after": None}  # first page


async def test_the_config_holds_what_the_script_reads(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    page = await gateway.client.get("/graphql", headers=HTML)
    config = served_config(page.text)
    assert config["endpoint"] == "/graphql"  # the page asks the endpoint it came from
    read = set(re.findall(r"\bconfig\.(\w+)", SCRIPT.read_text(encoding="utf-8")))
    assert read == set(config) == {"endpoint", "tabs", "headersHint"}
    for tab in config["tabs"]:  # the keys of GraphiQL's defaultTabs entries
        assert set(tab) == {"query", "variables", "headers"}
        assert tab["headers"] == config["headersHint"]
        assert all(key.startswith("_") for key in json.loads(tab["headers"]))


def test_no_value_in_the_config_can_close_its_script_element() -> None:
    hostile = "/graphql</script><script>alert(1)</script>"
    page = graphiql_page(hostile).body.decode()
    assert page.count("</script>") == 5  # the config and the four scripts, nothing more
    assert served_config(page)["endpoint"] == hostile


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
