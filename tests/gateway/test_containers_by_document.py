"""Containers by bill of lading or booking, across ports: the boxes each port knows on that
document, merged by number; a port that cannot look documents up adds none."""

from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest

from port_resolvers.kit import ContainerRecord, create_resolver_app
from tests.gateway.conftest import GatewayFactory
from tests.gateway.query.test_merge import MemoryPort, container

T0 = datetime(2026, 11, 21, tzinfo=UTC)
BILL = "MAEU123456789"


@dataclass
class DocumentPort(MemoryPort):
    """A port whose boxes are on documents: (kind, reference) -> box numbers."""

    documents: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    async def containers_by_document(
        self, *, transport_document: str | None = None, booking: str | None = None
    ) -> list[ContainerRecord]:
        key = ("TRD", transport_document) if transport_document else ("BKG", booking or "")
        return await self.containers(self.documents.get(key, []))


def transports(*ports: MemoryPort) -> dict[str, httpx.AsyncBaseTransport]:
    return {p.port_id: httpx.ASGITransport(app=create_resolver_app(p, p.port_id)) for p in ports}


async def test_the_boxes_of_a_bill_of_lading_at_every_port(make_gateway: GatewayFactory):
    lax = DocumentPort(
        "USLAX",
        [container("MSCU1234566", T0, "USLAX"), container("CSQU3054383", T0, "USLAX")],
        documents={("TRD", BILL): ["MSCU1234566", "CSQU3054383"]},
    )
    lgb = DocumentPort(
        "USLGB", [container("APZU4812090", T0, "USLGB")],
        documents={("TRD", BILL): ["APZU4812090"], ("BKG", "ABC123"): ["APZU4812090"]},
    )  # fmt: skip
    oak = MemoryPort("USOAK", [container("TGHU9077340", T0, "USOAK")])  # no document lookup
    gateway = await make_gateway(transports(lax, lgb, oak))
    body = (
        await gateway.query(
            "query($bl: String) { containers(transportDocumentReference: $bl) "
            "{ equipmentReference sourcePort } }",
            {"bl": BILL},
        )
    ).json()
    assert body["data"]["containers"] == [
        {"equipmentReference": "APZU4812090", "sourcePort": "USLGB"},
        {"equipmentReference": "CSQU3054383", "sourcePort": "USLAX"},
        {"equipmentReference": "MSCU1234566", "sourcePort": "USLAX"},
    ]
    assert "errors" not in body
    assert {s["port"]: s["status"] for s in body["extensions"]["sources"]} == {
        "USLAX": "ok", "USLGB": "ok", "USOAK": "ok",
    }  # fmt: skip
    booked = (
        await gateway.query('{ containers(carrierBookingReference: "ABC123") { sourcePort } }')
    ).json()
    assert booked["data"]["containers"] == [{"sourcePort": "USLGB"}]


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ("", "give exactly one of"),
        (f'(references: ["MSCU1234566"], transportDocumentReference: "{BILL}")', "exactly one"),
        ('(transportDocumentReference: "BL 42")', "letters, digits"),
    ],
)
async def test_a_bad_lookup_is_refused_before_any_port_is_asked(
    make_gateway: GatewayFactory, arguments: str, says: str
):
    gateway = await make_gateway(transports(DocumentPort("USLAX")))
    body = (await gateway.query(f"{{ containers{arguments} {{ equipmentReference }} }}")).json()
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert says in error["message"]
    assert gateway.router.requests == []
