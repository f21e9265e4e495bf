"""What a source leaves out is served beside the data it gives; newer codes never fail an answer."""

import logging
from collections.abc import Sequence
from typing import Any

import httpx

from port_resolvers.kit import ContainerRecord, create_resolver_app, notices
from tests.port_resolvers.kit.conftest import T0, FakeSource, GraphQL, event

BOX = "CSQU3054383"
EVENTS = (
    "events { eventID equipmentEventTypeCode sourceEquipmentEventTypeCode eventClassifierCode }"
)


class LeavingOut(FakeSource):
    """Reports two events left out per containers() call, once from a task it starts."""

    async def containers(self, references: Sequence[str]) -> list[ContainerRecord]:
        notices.report("EVENTS_QUARANTINED", 2)
        notices.report("EVENTS_TRUNCATED", 0)  # nothing left out: nothing reported
        return await super().containers(references)


async def test_left_out_events_are_reported_beside_the_data():
    app = create_resolver_app(LeavingOut(), "USLAX")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://uslax.test"
    ) as client:
        response = await client.post(
            "/graphql",
            json={
                "query": '{ a: container(reference: "CSQU3054383") { equipmentReference } '
                'b: containers(references: ["CSQU3054383"]) { equipmentReference } '
                "ports { UNLocationCode } }"
            },
        )
    body = response.json()
    assert response.status_code == 200
    assert body["data"]["a"] == {"equipmentReference": BOX}
    assert body["data"]["b"] == [{"equipmentReference": BOX}]
    assert sorted((e["path"], e["extensions"]["code"], e["extensions"]["count"])
                  for e in body["errors"]) == [
        (["a"], "EVENTS_QUARANTINED", 2),
        (["b"], "EVENTS_QUARANTINED", 2),
    ]  # fmt: skip
    assert all(e["extensions"]["port"] == "USLAX" for e in body["errors"])
    assert all(e["message"].startswith("USLAX: 2 events") for e in body["errors"])
    # Notices are not failures: the answer is as cacheable as any (the gateway keeps them).
    assert response.headers["cache-control"] == "max-age=30"


def test_a_report_outside_a_request_only_logs(caplog: Any):
    with caplog.at_level(logging.INFO, logger="port_resolvers.kit"):
        notices.report("EVENTS_QUARANTINED", 3)
    assert "left out 3 item(s)" in caplog.text


async def test_a_newer_equipment_event_type_is_served_as_other_with_its_code(
    gql: GraphQL, source: FakeSource
):
    box = source.container_records[0]
    box["events"] = [
        event("n1", "DISC", "ACT", T0),
        event("n2", "XRAY", "ACT", T0.replace(hour=1)),  # not a code of this schema
        event("n3", "CUSR", "ACT", T0.replace(hour=2)),
    ]
    body = (await gql(f'{{ container(reference: "{BOX}") {{ status {EVENTS} }} }}')).json()
    assert "errors" not in body
    assert body["data"]["container"] == {
        "status": "IN_TERMINAL",
        "events": [
            {"eventID": "n1", "equipmentEventTypeCode": "DISC",
             "sourceEquipmentEventTypeCode": "DISC", "eventClassifierCode": "ACT"},
            {"eventID": "n2", "equipmentEventTypeCode": "OTHER",
             "sourceEquipmentEventTypeCode": "XRAY", "eventClassifierCode": "ACT"},
            {"eventID": "n3", "equipmentEventTypeCode": "CUSR",
             "sourceEquipmentEventTypeCode": "CUSR", "eventClassifierCode": "ACT"},
        ],
    }  # fmt: skip


async def test_an_event_with_an_unknown_classifier_is_left_out_and_reported(
    gql: GraphQL, source: FakeSource
):
    box = source.container_records[0]
    box["events"] = [
        event("k1", "DISC", "ACT", T0),
        event("k2", "GTOT", "GUESSED", T0.replace(hour=5)),
        {**event("k3", "GTIN", "ACT", T0.replace(hour=1)), "emptyIndicatorCode": "HALF"},
    ]
    body = (
        await gql(
            f'{{ container(reference: "{BOX}") {{ status '
            "events { eventID emptyIndicatorCode } } }"
        )
    ).json()
    assert body["data"]["container"] == {
        "status": "IN_TERMINAL",
        "events": [
            {"eventID": "k1", "emptyIndicatorCode": None},
            {"eventID": "k3", "emptyIndicatorCode": None},
        ],
    }
    (error,) = body["errors"]
    assert error["path"] == ["container"]
    assert error["extensions"] == {"code": "EVENTS_QUARANTINED", "port": "USLAX", "count": 1}
