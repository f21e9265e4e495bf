"""Containers by transport document or booking, and vessel calls keyed by the port's visit."""

from datetime import timedelta

import httpx
import pytest

from port_resolvers.kit import ContainerRecord, create_resolver_app
from portcontract.cursor import call_key, decode_cursor
from tests.port_resolvers.kit.conftest import PORT, T0, FakeSource, GraphQL


class WithDocuments(FakeSource):
    """A source that knows which boxes travel on which bill of lading and booking."""

    documents = {("TRD", "MAEU123456789"): ["MSCU1234566", "CSQU3054383"],
                 ("BKG", "ABC123123123"): ["APZU4812090"]}  # fmt: skip

    async def containers_by_document(
        self, *, transport_document: str | None = None, booking: str | None = None
    ) -> list[ContainerRecord]:
        self._enter("containers_by_document", (transport_document, booking))
        key = ("TRD", transport_document) if transport_document else ("BKG", booking)
        return await FakeSource.containers(self, self.documents.get(key, []))  # type: ignore[arg-type]


async def _ask(source: FakeSource, query: str, variables: dict[str, str]) -> dict:
    app = create_resolver_app(source, PORT)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://uslax.test"
    ) as client:
        response = await client.post("/graphql", json={"query": query, "variables": variables})
    return response.json()


async def test_the_containers_of_a_bill_of_lading_by_number():
    source = WithDocuments()
    body = await _ask(
        source,
        "query($d: String) { containers(transportDocumentReference: $d) "
        "{ equipmentReference status } }",
        {"d": " MAEU123456789 "},
    )
    assert body == {
        "data": {
            "containers": [
                {"equipmentReference": "CSQU3054383", "status": "GATED_OUT"},
                {"equipmentReference": "MSCU1234566", "status": "IN_TERMINAL"},
            ]
        }
    }
    assert ("containers_by_document", ("MAEU123456789", None)) in source.calls


async def test_the_containers_of_a_booking():
    body = await _ask(
        WithDocuments(),
        "query($b: String) { containers(carrierBookingReference: $b) { equipmentReference } }",
        {"b": "ABC123123123"},
    )
    assert body == {"data": {"containers": [{"equipmentReference": "APZU4812090"}]}}


async def test_a_source_that_cannot_look_up_documents_answers_none(
    gql: GraphQL, source: FakeSource
):
    body = (await gql('{ containers(transportDocumentReference: "MAEU123456789") '
                      "{ equipmentReference } }")).json()  # fmt: skip
    assert body == {"data": {"containers": []}}
    assert "containers" not in source.methods_called()


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ("", "give exactly one of"),
        ('(references: ["CSQU3054383"], carrierBookingReference: "ABC1")', "give exactly one of"),
        ('(transportDocumentReference: "MAEU 1234")', "letters, digits"),
        ('(transportDocumentReference: "MAEU1234567890123456789")', "1 to 20 characters"),
        ('(carrierBookingReference: "")', "1 to 35 characters"),
    ],
)
async def test_a_bad_document_lookup_is_bad_user_input(gql: GraphQL, arguments: str, says: str):
    body = (await gql(f"{{ containers{arguments} {{ equipmentReference }} }}")).json()
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert says in error["message"]


async def test_a_visit_reported_by_two_carriers_is_one_call_keyed_by_the_ports_reference(
    gql: GraphQL, source: FakeSource
):
    planned = T0 + timedelta(days=40)
    source.call_records = [
        {"transportCallReference": carrier, "portVisitReference": "LAX2612-0042",
         "UNLocationCode": PORT, "plannedArrivalDateTime": planned}
        for carrier in ("MAEU-4711", "HLCU-0815")
    ] + [{"transportCallReference": "ONEY-1", "UNLocationCode": PORT,
          "plannedArrivalDateTime": planned}]  # fmt: skip
    body = (
        await gql(
            "{ vesselCalls { totalCount edges { cursor node { transportCallReference "
            "portVisitReference } } } }"
        )
    ).json()
    connection = body["data"]["vesselCalls"]
    assert connection["totalCount"] == 2
    assert [decode_cursor(e["cursor"]) for e in connection["edges"]] == [
        call_key(planned, PORT, "LAX2612-0042"),
        call_key(planned, PORT, "ONEY-1"),
    ]
    assert connection["edges"][0]["node"] == {
        "transportCallReference": "MAEU-4711",
        "portVisitReference": "LAX2612-0042",
    }
