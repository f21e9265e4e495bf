"""The gateway's own execution: parsed documents are kept within a byte bound, whatever clients
send (what else it answers is held to a recorded corpus in test_execute_differential.py)."""

from graphql import parse

from gateway.query.execute import BYTES_PER_TOKEN, ParsedDocuments
from tests.gateway.conftest import GatewayFactory, answering
from tests.gateway.test_bounded_stores import PORTS, metric


def test_a_document_is_parsed_once_while_it_is_kept() -> None:
    documents = ParsedDocuments(size=10, max_bytes=1024 * 1024)
    first = documents.parse("{ ports { name } }", max_tokens=100)
    assert documents.parse("{ ports { name } }", max_tokens=100) is first
    tokens = 8  # <SOF> { ports { name } } <EOF>
    assert documents.bytes == len("{ ports { name } }") + BYTES_PER_TOKEN * tokens


def test_large_distinct_documents_stay_within_the_bytes() -> None:
    documents = ParsedDocuments(size=1024, max_bytes=1024 * 1024)
    for i in range(40):  # 40 documents of 250 KB: 10 MB of text
        text = f"query Q{i} {{ ports {{ name }} }}\n#" + "x" * 250_000
        assert documents.parse(text, max_tokens=2000).definitions
    assert 750_000 < documents.bytes <= 1024 * 1024  # three or four of them
    assert documents.evictions >= 36
    # One larger than the whole bound is parsed, never kept.
    huge = "{ ports { name } }\n#" + "x" * (2 * 1024 * 1024)
    assert documents.parse(huge, max_tokens=2000) == parse(huge)
    assert documents.bytes <= 1024 * 1024


def test_the_count_bounds_small_documents() -> None:
    documents = ParsedDocuments(size=3, max_bytes=1024 * 1024)
    for i in range(5):
        documents.parse(f"query Q{i} {{ ports {{ name }} }}", max_tokens=100)
    assert documents.evictions == 2


async def test_parsed_documents_are_a_bounded_store_in_the_metrics(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway({"USLAX": answering(PORTS)})
    assert (await gateway.query("{ ports { name } }")).status_code == 200
    text = (await gateway.client.get("/metrics")).text
    assert metric(text, "portgate_store_max_bytes", "parsed_documents") == 16 * 1024 * 1024
    assert 0 < metric(text, "portgate_store_bytes", "parsed_documents") < 10_000
