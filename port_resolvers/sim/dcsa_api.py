"""A port's DCSA Track & Trace 2.2 API, simulated: ``GET /v2/events``.

Follows the DCSA T&T 2.2.0 OpenAPI (``shared/reference/dcsa/tnt-2.2-bundled.yaml``):

- equipment events (DISC, LOAD, GTIN, GTOT, INSP; PLN / EST / ACT) of every container the port
  knows, each with ``eventLocation`` (terminal name, UN/LOCODE, SMDG facility code, latitude and
  longitude as strings) and, for vessel moves, ``transportCall`` with its ``vessel``;
- transport events: PLN / EST / ACT ``ARRI`` and ``DEPA`` of every vessel call at berth
  (``facilityTypeCode`` POTE), one ``transportCallID`` per call.
- Filters: ``eventType``, ``transportEventTypeCode``, ``equipmentEventTypeCode`` (comma lists,
  OR; the type-code filters only narrow their own kind of event), ``equipmentReference``,
  ``transportCallID``, ``vesselIMONumber``, ``carrierVoyageNumber`` (import or export),
  ``exportVoyageNumber``, ``carrierServiceCode``, ``UNLocationCode``,
  ``eventCreatedDateTime[:gte|:gt|:lte|:lt|:eq]``, ``sort`` (``eventDateTime`` or
  ``eventCreatedDateTime``, ``:ASC`` / ``:DESC``). Shipment filters match nothing: the port
  publishes no shipment events. Unknown parameters and bad values are a 400 in the DCSA error
  format.
- Paging: ``limit`` (default 100) and ``cursor``. The response headers ``Current-Page``,
  ``Next-Page`` (absent on the last page), ``Prev-Page``, ``First-Page`` and ``Last-Page`` are
  links ``<base>/v2/events?cursor=<opaque>``; a cursor carries the filters of its query.
- ``API-Version: 2.2.0`` on every answer; a request ``API-Version`` header must be ``2``.

What T&T 2.2 cannot say lives in the same system's terminal API (``native_api``): omitted
calls (T&T has no call status), anchorage (``facilityTypeCodeTRN`` has no ANCH), MMSI, import
availability (holds, last free day, fees, yard block), aggregates and the terminal list.
"""

import uuid
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from port_resolvers.sim.dcsa_query import BadQuery, EventQuery, IndexedEvent
from port_resolvers.sim.knobs import SimKnobs
from port_resolvers.sim.model import Container, EquipmentEvent, PortData, VesselCall

API_VERSION = "2.2.0"
_EVENT_NAMESPACE = uuid.UUID("5b0c3f4e-2f7d-4b8e-9a61-7d2f7c1e9a10")


def dcsa_error_body(scope: Scope, status: int, reason: str) -> dict[str, Any]:
    """An error in the DCSA ``error`` format."""
    return {
        "httpMethod": scope.get("method", "GET"),
        "requestUri": scope.get("path", "/"),
        "errors": [{"reason": HTTPStatus(status).phrase.replace(" ", ""), "message": reason}],
        "statusCode": status,
        "statusCodeText": HTTPStatus(status).phrase,
        "errorDateTime": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _labor_number(event_id: str, modulo: int) -> int:
    return int(event_id.replace("-", "")[:8], 16) % modulo


class TrackAndTraceApi:
    """The ``/v2/events`` endpoint over one port's :class:`PortData`."""

    def __init__(self, data: PortData, knobs: SimKnobs) -> None:
        self.data = data
        self.knobs = knobs
        self.local = ZoneInfo(data.port.time_zone)
        events = [self._equipment(box, e) for box in data.containers for e in box.events]
        events += [e for call in data.vessel_calls for e in self._transport(call)]
        self.events = sorted(events, key=lambda e: (e.at, e.body["eventID"]))
        self.by_reference: dict[str, list[IndexedEvent]] = {}
        for event in self.events:
            if event.reference is not None:
                self.by_reference.setdefault(event.reference, []).append(event)

    def routes(self) -> list[Route]:
        return [Route("/v2/events", self.get_events, methods=["GET"])]

    # rendering ---------------------------------------------------------------------------

    def _time(self, at: datetime) -> str:
        return at.astimezone(self.local).isoformat()

    def _transport_call(self, call: VesselCall) -> dict[str, Any]:
        vessel = call.vessel
        return {
            "transportCallID": call.reference,
            "carrierServiceCode": call.service_code,
            "exportVoyageNumber": call.export_voyage,
            "importVoyageNumber": call.import_voyage,
            "UNLocationCode": call.port_id,
            "facilityCode": call.facility_code,
            "facilityCodeListProvider": "SMDG",
            "facilityTypeCode": "POTE",
            "modeOfTransport": "VESSEL",
            "vessel": {
                "vesselIMONumber": vessel.imo,
                "vesselName": vessel.name,
                "vesselFlag": vessel.flag,
                "vesselCallSignNumber": vessel.call_sign,
                "vesselOperatorCarrierCode": vessel.liner_code,
                "vesselOperatorCarrierCodeListProvider": "SMDG",
            },
        }

    def _equipment(self, box: Container, event: EquipmentEvent) -> IndexedEvent:
        terminal = self.data.port.terminal(event.facility_code)
        body: dict[str, Any] = {
            "eventID": event.event_id,
            "eventType": "EQUIPMENT",
            "eventCreatedDateTime": self._time(event.created),
            "eventDateTime": self._time(event.event_datetime),
            "eventClassifierCode": event.classifier,
            "equipmentEventTypeCode": event.type_code,
            "equipmentReference": box.reference,
            "ISOEquipmentCode": box.iso_code,
            "emptyIndicatorCode": event.empty_indicator,
            "eventLocation": {
                "locationName": terminal.name,
                "UNLocationCode": self.data.port_id,
                "facilityCode": terminal.facility_code,
                "facilityCodeListProvider": "SMDG",
                "latitude": str(terminal.latitude),
                "longitude": str(terminal.longitude),
            },
        }
        if event.call is not None:
            body["transportCall"] = self._transport_call(event.call)
        return IndexedEvent(
            body, "EQUIPMENT", event.type_code, box.reference, event.created, event.event_datetime
        )

    def _transport(self, call: VesselCall) -> list[IndexedEvent]:
        events = []
        for type_code, times in (
            ("ARRI", (call.planned_arrival, call.estimated_arrival, call.actual_arrival)),
            ("DEPA", (call.planned_departure, call.estimated_departure, call.actual_departure)),
        ):
            for classifier, at in zip(("PLN", "EST", "ACT"), times, strict=True):
                if at is None:
                    continue
                created = {
                    "PLN": at - timedelta(days=21),
                    "EST": at - timedelta(days=1),
                    "ACT": at + timedelta(minutes=10),
                }[classifier]
                created = min(created, self.data.now)
                event_id = uuid.uuid5(
                    _EVENT_NAMESPACE, f"{call.reference}:{type_code}:{classifier}"
                )
                body = {
                    "eventID": str(event_id),
                    "eventType": "TRANSPORT",
                    "eventCreatedDateTime": self._time(created),
                    "eventDateTime": self._time(at),
                    "eventClassifierCode": classifier,
                    "transportEventTypeCode": type_code,
                    "transportCall": self._transport_call(call),
                }
                events.append(IndexedEvent(body, "TRANSPORT", type_code, None, created, at))
        return events

    def _with_labor_keys(self, body: dict[str, Any]) -> dict[str, Any]:
        """The event as a terminal system that leaks labor data would send it."""
        n = _labor_number(body["eventID"], 9000)
        body = {**body, "clerkID": f"CLK{n:04d}", "shiftCode": ("1ST", "2ND", "3RD")[n % 3]}
        if "transportCall" in body:
            call = {**body["transportCall"], "gangAssignments": [f"G{n % 40:02d}"]}
            body |= {"transportCall": call, "craneOperatorID": f"OP{n:04d}", "gangID": f"G{n % 40}"}
        if body.get("equipmentEventTypeCode") in {"GTIN", "GTOT"}:
            body |= {
                "driverName": f"Driver {n}",
                "truckLicensePlate": f"8{n:04d}XY",
                "twicCardNumber": f"TW{n:08d}",
            }
        if body["eventType"] == "TRANSPORT" and body["eventClassifierCode"] == "ACT":
            body["movesPerHour"] = 20 + n % 15
        return body

    # the endpoint ------------------------------------------------------------------------

    async def get_events(self, request: Request) -> Response:
        headers = {"API-Version": API_VERSION}
        try:
            version = request.headers.get("API-Version")
            if version is not None and version != API_VERSION.split(".")[0]:
                raise BadQuery(f"API-Version {version!r} is not served; use 2")
            query = EventQuery.parse(request.query_params)
        except BadQuery as exc:
            body = dcsa_error_body(request.scope, 400, str(exc))
            return JSONResponse(body, 400, headers=headers)
        candidates = self.events
        if query.reference is not None:
            candidates = self.by_reference.get(query.reference, [])
        selected = query.ordered(e for e in candidates if query.matches(e))
        offset, limit = query.offset, query.limit
        page = selected[offset : offset + limit]
        if self.knobs.labor_keys:
            bodies = [self._with_labor_keys(e.body) for e in page]
        else:
            bodies = [e.body for e in page]
        link = f"{str(request.base_url).rstrip('/')}/v2/events?cursor="
        headers["Current-Page"] = link + query.cursor(offset)
        if offset > 0:
            headers["First-Page"] = link + query.cursor(0)
            headers["Prev-Page"] = link + query.cursor(max(0, offset - limit))
        if offset + limit < len(selected):
            headers["Next-Page"] = link + query.cursor(offset + limit)
            headers["Last-Page"] = link + query.cursor((len(selected) - 1) // limit * limit)
        return JSONResponse(bodies, headers=headers)
