"""Query limits: each refused with HTTP 400 and its own code, before any port is asked."""

import time
from typing import Any

import orjson
import pytest
from graphql import get_introspection_query, parse

from gateway.query.limits import measure
from portcontract.identifiers import iso6346_check_digit
from tests.gateway.conftest import GatewayFactory, answering

PORTS = {"ports": [{"UNLocationCode": "USLAX", "name": "LA", "_pg_port": "USLAX"}]}
FIVE = ("USLAX", "USLGB", "USOAK", "USNTD", "USSAN")


async def refused(
    make_gateway: GatewayFactory, query: str, code: str, **limits: Any
) -> dict[str, Any]:
    gateway = await make_gateway({"USLAX": answering(PORTS)}, limits=limits)
    response = await gateway.query(query)
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == code
    assert gateway.router.requests == []  # no port was asked anything
    return dict(error)


async def test_depth(make_gateway: GatewayFactory) -> None:
    query = (
        '{ containers(references: ["CSQU3054383"]) '
        "{ events { transportCall { vessel { vesselName } } } } }"
    )
    error = await refused(make_gateway, query, "QUERY_TOO_DEEP", max_depth=4)
    assert error["extensions"] == {"code": "QUERY_TOO_DEEP", "limit": 4, "actual": 5}
    assert "5 levels deep; at most 4" in error["message"]


async def test_depth_counts_through_fragments(make_gateway: GatewayFactory) -> None:
    query = """query Deep { containers(references: ["CSQU3054383"]) { ...E } }
        fragment E on Container { events { ... on EquipmentEvent { transportCall { ...V } } } }
        fragment V on TransportCall { vessel { vesselName } }"""
    error = await refused(make_gateway, query, "QUERY_TOO_DEEP", max_depth=3)
    assert error["extensions"]["actual"] == 5
    assert "operation 'Deep'" in error["message"]


async def test_aliases(make_gateway: GatewayFactory) -> None:
    query = "{ " + " ".join(f"p{i}: ports {{ name }}" for i in range(4)) + " }"
    error = await refused(make_gateway, query, "QUERY_TOO_MANY_ALIASES", max_aliases=3)
    assert (error["extensions"]["limit"], error["extensions"]["actual"]) == (3, 4)


async def test_aliases_in_a_fragment_count_each_time_it_is_spread(
    make_gateway: GatewayFactory,
) -> None:
    query = """{ a: ports { ...F } b: ports { ...F } }
               fragment F on Port { x: name y: name }"""
    error = await refused(make_gateway, query, "QUERY_TOO_MANY_ALIASES", max_aliases=5)
    assert error["extensions"]["actual"] == 6  # a, b, and x, y twice


async def test_root_fields(make_gateway: GatewayFactory) -> None:
    query = '{ ports { name } vessel(imo: "9321483") { vesselName } __typename }'
    error = await refused(make_gateway, query, "QUERY_TOO_MANY_ROOT_FIELDS", max_root_fields=1)
    assert (error["extensions"]["limit"], error["extensions"]["actual"]) == (1, 2)


async def test_tokens(make_gateway: GatewayFactory) -> None:
    query = "{ ports { " + "name " * 50 + "} }"
    error = await refused(make_gateway, query, "QUERY_TOO_MANY_TOKENS", max_tokens=40)
    assert error["extensions"]["limit"] == 40
    assert "more than 40 tokens" in error["message"]


async def test_comments_count_as_tokens(make_gateway: GatewayFactory) -> None:
    query = "{ ports { name } }" + "\n#" * 100
    await refused(make_gateway, query, "QUERY_TOO_MANY_TOKENS", max_tokens=40)


async def test_cost_says_the_cost_and_the_limit(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({p: answering({}) for p in FIVE}, limits={"max_cost": 999})
    query = "{ vesselCalls(first: 50) { edges { node { UNLocationCode phase } } totalCount } }"
    response = await gateway.query(query)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    # 50 items x 5 fields (edges, node, UNLocationCode, phase, totalCount) x 5 ports
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "limit": 999, "actual": 1250}
    assert error["message"].startswith("query cost 1250 is over the limit of 999")
    assert "50 item(s) x 5 field(s) x 5 port(s)" in error["message"]
    assert gateway.router.requests == []


async def test_cost_counts_only_the_ports_asked(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({p: answering({"vesselCalls": None}) for p in FIVE},
                                 limits={"max_cost": 999})  # fmt: skip
    query = (
        'query($n: Int!) { vesselCalls(first: $n, ports: ["USLAX", "USOAK"]) '
        "{ edges { node { UNLocationCode phase } } totalCount } }"
    )
    response = await gateway.query(query, {"n": 50})  # 50 x 5 x 2 = 500
    assert response.status_code == 200, response.text
    response = await gateway.query(query, {"n": 100})  # 1000: variables count too
    assert response.json()["errors"][0]["extensions"]["actual"] == 1000


async def test_cost_of_containers_and_metrics(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway({"USLAX": answering({})}, limits={"max_cost": 5})
    refs = ", ".join(f'"{r}"' for r in ["CSQU3054383", "MAEU2852050", "EGHU0239805"])
    query = (
        "{ containers(references: [" + refs + "]) { status sourcePort } "
        "portMetrics(metrics: [TEU_LOADED]) { value } }"
    )
    body = (await gateway.query(query)).json()
    assert body["errors"][0]["extensions"]["actual"] == 3 * 2 + 1 * 1
    body = (await gateway.query("{ portMetrics { value unit } }")).json()  # every metric
    assert body["errors"][0]["extensions"]["actual"] > 5


async def test_within_every_limit_it_runs(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(
        {"USLAX": answering(PORTS)},
        limits={"max_depth": 2, "max_aliases": 1, "max_root_fields": 1, "max_tokens": 20,
                "max_cost": 2},
    )  # fmt: skip
    response = await gateway.query("{ p: ports { name } }")
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()


async def test_graphiql_introspection_fits_the_default_limits(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    response = await gateway.query(get_introspection_query(descriptions=True))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"


def fragment_bomb(n: int) -> str:
    """n fragments, each spreading the next twice: 2**n fields once expanded."""
    fragments = [f"fragment F{i} on Port {{ ...F{i + 1} ...F{i + 1} }}" for i in range(n)]
    return "{ ports { ...F0 } } " + " ".join([*fragments, f"fragment F{n} on Port {{ a: name }}"])


async def test_a_fragment_bomb_is_measured_in_linear_time(make_gateway: GatewayFactory) -> None:
    document = parse(fragment_bomb(60))
    started = time.perf_counter()
    [measures] = measure(document).values()
    assert time.perf_counter() - started < 0.1  # strawberry's limiters: ~2**60 steps
    assert measures.aliases == 2**60
    assert measures.depth == 2
    await refused(make_gateway, fragment_bomb(60), "QUERY_TOO_MANY_ALIASES")


def test_fragment_cycles_and_unknown_fragments_do_not_hang_the_measure() -> None:
    document = parse("{ ports { ...A ...Missing } } fragment A on Port { ...B name } "
                     "fragment B on Port { ...A x: name }")  # fmt: skip
    [measures] = measure(document).values()
    assert (measures.depth, measures.aliases, measures.fields) == (2, 1, 1)


@pytest.mark.parametrize(
    ("query", "depth", "aliases", "roots"),
    [
        ("{ __typename }", 1, 0, 0),
        ("{ a: __typename ports { name } }", 2, 1, 1),
        ('{ ports { terminals { name } } vessel(imo: "1") { vesselName } }', 3, 0, 2),
        (
            '{ ...R } fragment R on Query { ports { name } container(reference: "x") { status } }',
            2,
            0,
            2,
        ),
        ("{ __schema { types { fields { type { name } } } } }", 1, 0, 1),
    ],
)
def test_measures(query: str, depth: int, aliases: int, roots: int) -> None:
    [measures] = measure(parse(query)).values()
    assert (measures.depth, measures.aliases, measures.fields) == (depth, aliases, roots)


# An outlook costs what its inner queries cost, counted from what it asks of each port:
# vessel calls, 100 a page x 15 fields (edges node UNLocationCode transportCallReference
# facilityCode statusCode planned/estimated/actualArrivalDateTime vessel vesselName
# vesselIMONumber pageInfo hasNextPage endCursor) x ports x pages (3 by default);
# 4 metrics x 4 fields (UNLocationCode facilityCode metric value) x ports; the port list,
# 1 x 3 fields (UNLocationCode name status) x ports; and each container asked, 9 fields
# (equipmentReference sourcePort status availability firstAvailableDate lastFreeDay holds
# type status) x ports.
def outlook_cost(ports: int, pages: int = 3, containers: int = 0) -> int:
    return (100 * 15 * pages + 4 * 4 + 1 * 15 + containers * 9) * ports


def container_numbers(n: int) -> list[str]:
    serials = [f"MSCU{i:06}" for i in range(n)]
    return [s + str(iso6346_check_digit(s)) for s in serials]


async def test_ten_aliased_outlooks_are_too_complex_and_no_port_is_asked(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway({p: answering({}) for p in FIVE})  # the default limits
    query = "{ " + " ".join(f"o{i}: outlook {{ ports {{ answered }} }}" for i in range(10)) + " }"
    response = await gateway.query(query)
    assert response.status_code == 400, response.text
    [error] = response.json()["errors"]
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX", "limit": 50_000, "actual": 10 * outlook_cost(5)
    }  # fmt: skip
    assert "calls of o0, 100 item(s) x 15 field(s) x 5 port(s) x 3 page(s)" in error["message"]
    assert gateway.router.requests == []


async def test_the_largest_single_outlook_fits_the_default_limits(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway({p: answering({}) for p in FIVE})
    boxes = container_numbers(100)
    assert outlook_cost(5, containers=100) <= 50_000
    response = await gateway.query(
        "query($boxes: [String!]) { outlook(days: 14, containers: $boxes) "
        "{ ports { answered } containers { atRisk } } }",
        {"boxes": boxes},
    )
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()
    assert gateway.router.requests != []


@pytest.mark.parametrize(
    ("arguments", "settings", "cost"),
    [
        ("", {}, outlook_cost(5)),
        ('(ports: ["USLAX", "USOAK"])', {}, outlook_cost(2)),
        ("", {"max_call_pages": 1}, outlook_cost(5, pages=1)),
        (
            "(containers: " + orjson.dumps(container_numbers(2)).decode() + ")",
            {"max_call_pages": 5},
            outlook_cost(5, 5, containers=2),
        ),
    ],
)
async def test_an_outlooks_cost_follows_its_ports_pages_and_containers(
    make_gateway: GatewayFactory, arguments: str, settings: dict[str, Any], cost: int
) -> None:
    gateway = await make_gateway(
        {p: answering({}) for p in FIVE}, limits={"max_cost": 1}, outlook=settings
    )
    response = await gateway.query(f"{{ outlook{arguments} {{ windowEnd }} }}")
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["actual"] == cost
    assert gateway.router.requests == []
