"""A port's DCSA Track & Trace 2.2 API, simulated: ``GET /v2/events``.

Follows the DCSA T&T 2.2.0 OpenAPI (vendored in ``port_resolvers/sources/dcsa_spec/``), with
what real feeds add from DCSA's later event domains:

- equipment events (DISC, LOAD, GTIN, GTOT; the customs codes CUSS / CUSI / CUSR and AVPU, which
  DCSA added in event domain 3; RMVD / RSEA at a customs exam; PLN / EST / ACT) of every
  container the port knows, each with ``ISOEquipmentCode``, ``eventLocation`` (terminal name,
  UN/LOCODE, SMDG facility code, latitude and longitude as strings), ``seals`` and
  ``documentReferences`` (booking, bill of lading) of laden boxes, and a ``transportCall``: the
  vessel's, or a train's (``modeOfTransport`` RAIL) for a load onto on-dock rail;
- transport events of every vessel call at berth (``facilityTypeCode`` POTE): the plan
  (published three weeks ahead), every ETA revision the carrier published (``delayReasonCode``
  and ``changeRemark`` when it gave them), the actual times; with the ``jit_places`` knob also
  the actual arrivals at anchorage (``ANCH``) and at the pilot boarding place (``PBPL``). A
  transport call carries its ``portVisitReference`` and ``transportCallSequenceNumber``.
- Filters: ``eventType``, ``transportEventTypeCode``, ``equipmentEventTypeCode`` (comma lists,
  OR; the type-code filters only narrow their own kind of event), ``equipmentReference``,
  ``transportCallID``, ``vesselIMONumber``, ``carrierVoyageNumber`` (import or export),
  ``exportVoyageNumber``, ``carrierServiceCode``, ``UNLocationCode``,
  ``transportDocumentReference`` and ``carrierBookingReference`` (the equipment events naming
  that document), ``eventCreatedDateTime[:gte|:gt|:lte|:lt|:eq]``,
  ``eventDateTime[:gte|...]`` (event domain 3), ``sort`` (``eventDateTime`` or
  ``eventCreatedDateTime``, ``:ASC`` / ``:DESC``). Other shipment filters match nothing: the
  port publishes no shipment events. Unknown parameters and bad values are a 400 in the DCSA
  error format.
- Paging: ``limit`` (default 100) and ``cursor``. The response headers ``Current-Page``,
  ``Next-Page`` (absent on the last page), ``Prev-Page``, ``First-Page`` and ``Last-Page`` are
  links ``<base>/v2/events?cursor=<opaque>``; ``Next-Page-Cursor`` (as DCSA's newer APIs send
  it) is the bare cursor; a cursor carries the filters of its query.
- ``API-Version: 2.2.0`` on every answer; a request ``API-Version`` header must be ``2``.

What T&T 2.2 cannot say lives in the same system's terminal API (``native_api``): omitted
calls (T&T has no call status), anchorage (``facilityTypeCodeTRN`` has no ANCH), MMSI, import
availability (holds, last free day, fees, yard block), aggregates and the terminal list, and
the optional capabilities: gate hours, appointments, empty returns, cut-offs, rail legs (T&T
shows the load onto the train, not where it goes) and empty-return deadlines.
"""

import json
import uuid
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from port_resolvers.sim.dcsa_query import BadQuery, EventQuery, IndexedEvent
from port_resolvers.sim.knobs import SimKnobs
from port_resolvers.sim.model import Container, EquipmentEvent, PortData, VesselCall

API_VERSION = "2.2.0"
_EVENT_NAMESPACE = uuid.UUID("5b0c3f4e-2f7d-4b8e-9a61-7d2f7c1e9a10")
SCHEDULE_LEAD = timedelta(days=21)  # a call's plan is published three weeks ahead
DAY = timedelta(days=1)
RECORDED_AFTER = timedelta(minutes=10)  # an actual time is recorded a little after


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


def _order(event: IndexedEvent) -> tuple[datetime, str]:
    """The order the API keeps its events in: by event time, then ID."""
    return event.at, event.body["eventID"]


class TrackAndTraceApi:
    """The ``/v2/events`` endpoint over one port's :class:`PortData`; it listens to the
    data's :meth:`~PortData.record` to serve what changed."""

    def __init__(self, data: PortData, knobs: SimKnobs) -> None:
        self.data = data
        self.knobs = knobs
        self.local = ZoneInfo(data.port.time_zone)
        events = [self._equipment(box, e) for box in data.containers for e in box.events]
        events += [e for call in data.vessel_calls for e in self._transport(call)]
        self.events = sorted(events, key=_order)
        places = [e for call in data.vessel_calls for e in self._places(call)]
        self.with_places = sorted(self.events + places, key=_order)  # what jit_places serves
        self.calls = [e for e in self.events if e.event_type == "TRANSPORT"]
        self.calls_with_places = [e for e in self.with_places if e.event_type == "TRANSPORT"]
        self._last_selection: tuple[tuple[str, bool], list[IndexedEvent]] | None = None
        self.by_reference: dict[str, list[IndexedEvent]] = {}
        for event in self.events:
            if event.reference is not None:
                self.by_reference.setdefault(event.reference, []).append(event)
        data.listen(self)

    def routes(self) -> list[Route]:
        return [Route("/v2/events", self.get_events, methods=["GET"])]

    def recorded(self, container: Container) -> None:
        """The port recorded a change to ``container``: serve its events as they are now."""
        reference = container.reference
        fresh = sorted((self._equipment(container, e) for e in container.events), key=_order)

        def others(events: list[IndexedEvent]) -> list[IndexedEvent]:
            return [e for e in events if e.event_type != "EQUIPMENT" or e.reference != reference]

        self.events = sorted(others(self.events) + fresh, key=_order)
        self.with_places = sorted(others(self.with_places) + fresh, key=_order)
        if fresh:
            self.by_reference[reference] = fresh
        else:
            self.by_reference.pop(reference, None)
        self._last_selection = None

    # rendering ---------------------------------------------------------------------------

    def _time(self, at: datetime) -> str:
        return at.astimezone(self.local).isoformat()

    def _transport_call(self, call: VesselCall, facility_type: str = "POTE") -> dict[str, Any]:
        vessel = call.vessel
        return {
            "transportCallID": call.reference,
            "portVisitReference": call.port_visit_reference,
            "carrierServiceCode": call.service_code,
            "exportVoyageNumber": call.export_voyage,
            "importVoyageNumber": call.import_voyage,
            "transportCallSequenceNumber": call.sequence_number,
            "UNLocationCode": call.port_id,
            "facilityCode": call.facility_code,
            "facilityCodeListProvider": "SMDG",
            "facilityTypeCode": facility_type,
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

    def _train_call(self, train: str, facility_code: str) -> dict[str, Any]:
        """The transport call of a train at the terminal's on-dock rail yard."""
        return {
            "transportCallID": train,
            "UNLocationCode": self.data.port_id,
            "facilityCode": facility_code,
            "facilityCodeListProvider": "SMDG",
            "facilityTypeCode": "POTE",
            "modeOfTransport": "RAIL",
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
        elif event.train is not None:
            body["transportCall"] = self._train_call(event.train, event.facility_code)
        if event.documents:
            body["documentReferences"] = [
                {"documentReferenceType": kind, "documentReferenceValue": value}
                for kind, value in event.documents
            ]
        if event.seals:
            body["seals"] = [
                {"sealNumber": seal.number, "sealSource": seal.source, "sealType": seal.type}
                for seal in event.seals
            ]
        return IndexedEvent(
            body,
            "EQUIPMENT",
            event.type_code,
            box.reference,
            event.created,
            event.event_datetime,
            event.documents,
        )

    def _transport_event(
        self,
        call: VesselCall,
        type_code: str,
        classifier: str,
        at: datetime,
        created: datetime,
        facility_type: str = "POTE",
        revision: int = 0,
    ) -> IndexedEvent:
        created = min(created, self.data.now)
        event_id = uuid.uuid5(
            _EVENT_NAMESPACE,
            f"{call.reference}:{facility_type}:{type_code}:{classifier}:{revision}",
        )
        body: dict[str, Any] = {
            "eventID": str(event_id),
            "eventType": "TRANSPORT",
            "eventCreatedDateTime": self._time(created),
            "eventDateTime": self._time(at),
            "eventClassifierCode": classifier,
            "transportEventTypeCode": type_code,
            "transportCall": self._transport_call(call, facility_type),
        }
        if classifier in ("EST", "ACT") and type_code == "ARRI" and call.delay_reason:
            body["delayReasonCode"] = call.delay_reason
        if classifier in ("EST", "ACT") and type_code == "ARRI" and call.change_remark:
            body["changeRemark"] = call.change_remark
        return IndexedEvent(body, "TRANSPORT", type_code, None, created, at)

    def _transport(self, call: VesselCall) -> list[IndexedEvent]:
        """The call's berth arrivals and departures: the plan, every ETA revision, the actual
        times."""
        events = []
        for type_code, planned, estimated, actual in (
            ("ARRI", call.planned_arrival, call.estimated_arrival, call.actual_arrival),
            ("DEPA", call.planned_departure, call.estimated_departure, call.actual_departure),
        ):
            events.append(
                self._transport_event(call, type_code, "PLN", planned, planned - SCHEDULE_LEAD)
            )
            if type_code == "ARRI":
                for revision, (created, eta) in enumerate(call.eta_revisions):
                    events.append(
                        self._transport_event(
                            call, type_code, "EST", eta, created, revision=revision
                        )
                    )
            elif estimated is not None:
                events.append(
                    self._transport_event(call, type_code, "EST", estimated, estimated - DAY)
                )
            if actual is not None:
                events.append(
                    self._transport_event(call, type_code, "ACT", actual, actual + RECORDED_AFTER)
                )
        return events

    def _places(self, call: VesselCall) -> list[IndexedEvent]:
        """The call's actual arrivals at the anchorage and the pilot boarding place (JIT)."""
        return [
            self._transport_event(call, "ARRI", "ACT", at, at + RECORDED_AFTER, facility_type)
            for facility_type, at in (
                ("ANCH", call.anchorage_arrival),
                ("PBPL", call.pilot_boarding),
            )
            if at is not None and at <= self.data.now
        ]

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

    def _candidates(self, query: EventQuery) -> list[IndexedEvent]:
        if query.reference is not None:
            return self.by_reference.get(query.reference, [])
        if query.kinds == {"TRANSPORT"}:
            return self.calls_with_places if self.knobs.jit_places else self.calls
        return self.with_places if self.knobs.jit_places else self.events

    def _selected(self, query: EventQuery) -> list[IndexedEvent]:
        """The events of a query in its order; the pages of one query share one selection."""
        key = (json.dumps(query.params, sort_keys=True), self.knobs.jit_places)
        if self._last_selection is not None and self._last_selection[0] == key:
            return self._last_selection[1]
        selected = query.ordered(e for e in self._candidates(query) if query.matches(e))
        self._last_selection = (key, selected)
        return selected

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
        selected = self._selected(query)
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
            headers["Next-Page-Cursor"] = query.cursor(offset + limit)
            headers["Last-Page"] = link + query.cursor((len(selected) - 1) // limit * limit)
        return Response(orjson.dumps(bodies), media_type="application/json", headers=headers)
