"""What clients can make the gateway keep in memory is bounded: the answer cache by bytes, keyed
by what ports are asked (never by names clients choose), with its size and evictions in
/metrics."""

import re

import httpx

from tests.gateway.conftest import GatewayFactory

PORTS = {"ports": [{"UNLocationCode": "USLAX", "name": "LA", "_pg_port": "USLAX"}]}


def counting() -> tuple[httpx.MockTransport, list[httpx.Request]]:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"data": PORTS})

    return httpx.MockTransport(handler), calls


def metric(text: str, name: str, store: str) -> float:
    match = re.search(rf'^{name}{{store="{store}"}} (\S+)$', text, re.MULTILINE)
    assert match is not None, f"{name} for {store} not in /metrics"
    return float(match[1])


async def test_operation_names_are_not_part_of_what_is_cached(
    make_gateway: GatewayFactory,
) -> None:
    transport, calls = counting()
    gateway = await make_gateway({"USLAX": transport}, rate_limit={"enabled": False})
    for i in range(400):
        body = (await gateway.query(f"query Op{i} {{ ports {{ name }} }}")).json()
        assert body["data"] == {"ports": [{"name": "LA"}]}
    assert len(calls) == 1
    text = (await gateway.client.get("/metrics")).text
    one_entry = metric(text, "portgate_store_bytes", "answer_cache")
    assert 0 < one_entry < 2_000


async def test_the_answer_cache_stays_within_its_bytes_and_counts_evictions(
    make_gateway: GatewayFactory,
) -> None:
    transport, calls = counting()
    gateway = await make_gateway(
        {"USLAX": transport}, cache={"max_bytes": 64 * 1024}, rate_limit={"enabled": False}
    )
    for i in range(300):  # 300 different documents, each a new entry
        body = (await gateway.query(f"{{ n{i}: ports {{ name }} }}")).json()
        assert body["data"][f"n{i}"][0]["name"]  # listed, answered or not
    text = (await gateway.client.get("/metrics")).text
    assert metric(text, "portgate_store_max_bytes", "answer_cache") == 64 * 1024
    assert 0 < metric(text, "portgate_store_bytes", "answer_cache") <= 64 * 1024
    assert metric(text, "portgate_store_evictions_total", "answer_cache") > 0
    assert len(calls) == 300


async def test_rate_limit_counters_in_memory_are_a_bounded_store(
    make_gateway: GatewayFactory,
) -> None:
    transport, _ = counting()
    gateway = await make_gateway({"USLAX": transport}, rate_limit={"memory_max_bytes": 65536})
    assert (await gateway.query("{ ports { name } }")).status_code == 200
    text = (await gateway.client.get("/metrics")).text
    assert metric(text, "portgate_store_max_bytes", "rate_limit_counters") == 65536
    assert 0 < metric(text, "portgate_store_bytes", "rate_limit_counters") < 1_000
    assert metric(text, "portgate_store_evictions_total", "rate_limit_counters") == 0
