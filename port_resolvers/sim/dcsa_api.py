"""A port's DCSA Track & Trace 2.2 API, simulated: ``GET /v2/events`` and the event
subscriptions (``/v2/event-subscriptions``) that push new events to a callback.

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
- Changes: a box the port records (``PortData.record``: a customs release, a gate out appended
  to its events), or a vessel call (``PortData.record_call``: a new ETA revision, an actual
  time), is served as it is from then on; its events with IDs never served before are new, and
  pushed.
- Subscriptions (:mod:`port_resolvers.sim.dcsa_push` says how they are checked and pushed):
  ``POST /v2/event-subscriptions`` (``subscriptionBodyWithSecret``: ``callbackUrl``, a Base64
  ``secret`` and the filters above that T&T 2.2 lets a subscription set, lists as JSON arrays)
  -> 201 with the ``subscription`` and its new ``subscriptionID``, never the secret;
  ``GET /v2/event-subscriptions`` (oldest first; ``limit``, ``cursor`` and the paging headers);
  ``GET`` / ``PUT`` (the whole subscription, without the secret) / ``DELETE``
  ``/v2/event-subscriptions/{subscriptionID}``; ``PUT .../{subscriptionID}/secret`` -> 204.
  Callbacks must be on loopback (``127.0.0.1``, ``[::1]``, ``localhost``). A bad body is a 400,
  a body over 64 KiB a 413, an unknown subscription a 404, a 101st subscription a 409, all in
  the DCSA error format. New events that match a subscription's filters are POSTed to its
  callback, signed with its secret (``Notification-Signature``).
- ``API-Version: 2.2.0`` on every answer; a request ``API-Version`` header must be ``2``.

What T&T 2.2 cannot say lives in the same system's terminal API (``native_api``): omitted
calls (T&T has no call status), anchorage (``facilityTypeCodeTRN`` has no ANCH), MMSI, import
availability (holds, last free day, fees, yard block), aggregates and the terminal list, and
the optional capabilities: gate hours, appointments, empty returns, cut-offs, rail legs (T&T
shows the load onto the train, not where it goes) and empty-return deadlines.
"""

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from port_resolvers.sim.dcsa_push import (
    API_VERSION,
    DEFAULT_PAGE_SIZE,
    MAX_BODY_BYTES,
    EventSubscriptions,
    PushSettings,
    SubscriptionError,
    page_cursor,
    page_of,
)
from port_resolvers.sim.dcsa_query import BadQuery, EventQuery, IndexedEvent
from port_resolvers.sim.knobs import SimKnobs
from port_resolvers.sim.model import Container, EquipmentEvent, PortData, VesselCall

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


def _check_version(request: Request) -> None:
    version = request.headers.get("API-Version")
    if version is not None and version != API_VERSION.split(".")[0]:
        raise BadQuery(f"API-Version {version!r} is not served; use 2")


def _paging_headers(
    link: str, cursor: Callable[[int], str], offset: int, limit: int, total: int
) -> dict[str, str]:
    """``Current-Page`` and, where there are such pages, ``First-Page``, ``Prev-Page``,
    ``Next-Page`` (and its bare ``Next-Page-Cursor``) and ``Last-Page``."""
    headers = {"Current-Page": link + cursor(offset)}
    if offset > 0:
        headers["First-Page"] = link + cursor(0)
        headers["Prev-Page"] = link + cursor(max(0, offset - limit))
    if offset + limit < total:
        headers["Next-Page"] = link + cursor(offset + limit)
        headers["Next-Page-Cursor"] = cursor(offset + limit)
        headers["Last-Page"] = link + cursor((total - 1) // limit * limit)
    return headers


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(body),
        status,
        media_type="application/json",
        headers={"API-Version": API_VERSION},
    )


async def _json_body(request: Request) -> Any:
    """The request's JSON body, read no further than :data:`MAX_BODY_BYTES`."""
    length = request.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise SubscriptionError(f"the body is at most {MAX_BODY_BYTES} bytes", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise SubscriptionError(f"the body is at most {MAX_BODY_BYTES} bytes", 413)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SubscriptionError("the body is not JSON") from exc


class TrackAndTraceApi:
    """The ``/v2/events`` and ``/v2/event-subscriptions`` endpoints over one port's
    :class:`PortData`; it listens to the data's :meth:`~PortData.record` to serve and push
    what changed. ``push`` says how it pushes (:class:`PushSettings`); :meth:`aclose` stops
    pushing and closes what it opened for that."""

    def __init__(
        self, data: PortData, knobs: SimKnobs, *, push: PushSettings | None = None
    ) -> None:
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
        self._known_ids = {e.body["eventID"] for e in self.with_places}
        self.subscriptions = EventSubscriptions(self._rendered, push)
        data.listen(self)

    def routes(self) -> list[Route]:
        many = "/v2/event-subscriptions"
        one = many + "/{subscriptionID}"
        return [
            Route("/v2/events", self.get_events, methods=["GET"]),
            Route(many, self.list_subscriptions, methods=["GET"]),
            Route(many, self.create_subscription, methods=["POST"]),
            Route(one, self.get_subscription, methods=["GET"]),
            Route(one, self.update_subscription, methods=["PUT"]),
            Route(one, self.delete_subscription, methods=["DELETE"]),
            Route(one + "/secret", self.reset_secret, methods=["PUT"]),
        ]

    def recorded(self, container: Container) -> None:
        """The port recorded a change to ``container``: serve its events as they are now,
        and push those that are new to the subscriptions they match."""
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
        new = [e for e in fresh if e.body["eventID"] not in self._known_ids]
        self._known_ids.update(e.body["eventID"] for e in new)
        if new:
            self.subscriptions.publish(new)

    def recorded_call(self, call: VesselCall) -> None:
        """The port recorded a change to ``call`` (a new ETA revision, an actual time): serve
        its transport events as they are now, and push those that are new."""

        def of_call(event: IndexedEvent) -> bool:
            call_of = event.body.get("transportCall") or {}
            return event.event_type == "TRANSPORT" and call_of.get("transportCallID") == (
                call.reference
            )

        fresh = sorted(self._transport(call), key=_order)
        places = sorted(self._places(call), key=_order)
        self.events = sorted([e for e in self.events if not of_call(e)] + fresh, key=_order)
        self.with_places = sorted(
            [e for e in self.with_places if not of_call(e)] + fresh + places, key=_order
        )
        self.calls = [e for e in self.events if e.event_type == "TRANSPORT"]
        self.calls_with_places = [e for e in self.with_places if e.event_type == "TRANSPORT"]
        self._last_selection = None
        new = [e for e in fresh + places if e.body["eventID"] not in self._known_ids]
        self._known_ids.update(e.body["eventID"] for e in new)
        if new:
            self.subscriptions.publish(new)

    async def aclose(self) -> None:
        await self.subscriptions.aclose()

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

    def _rendered(self, event: IndexedEvent) -> dict[str, Any]:
        """An event's body as the system sends it now (with labor keys when that knob is on)."""
        return self._with_labor_keys(event.body) if self.knobs.labor_keys else event.body

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
            _check_version(request)
            query = EventQuery.parse(request.query_params)
        except BadQuery as exc:
            body = dcsa_error_body(request.scope, 400, str(exc))
            return JSONResponse(body, 400, headers=headers)
        selected = self._selected(query)
        offset, limit = query.offset, query.limit
        page = selected[offset : offset + limit]
        bodies = [self._rendered(e) for e in page]
        link = f"{str(request.base_url).rstrip('/')}/v2/events?cursor="
        headers |= _paging_headers(link, query.cursor, offset, limit, len(selected))
        return Response(orjson.dumps(bodies), media_type="application/json", headers=headers)

    # the subscription endpoints ----------------------------------------------------------

    async def _answer(
        self, request: Request, handler: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """``handler``'s answer, or a DCSA error for what it refuses."""
        try:
            _check_version(request)
            return await handler(request)
        except (BadQuery, SubscriptionError) as exc:
            status = exc.status if isinstance(exc, SubscriptionError) else 400
            body = dcsa_error_body(request.scope, status, str(exc))
            return JSONResponse(body, status, headers={"API-Version": API_VERSION})

    async def list_subscriptions(self, request: Request) -> Response:
        async def listed(request: Request) -> Response:
            params = request.query_params
            unknown = params.keys() - {"limit", "cursor"}
            if unknown:
                raise SubscriptionError(
                    f"unknown query parameters: {', '.join(sorted(unknown))} "
                    "(subscriptions are listed oldest first, by limit and cursor)"
                )
            if "cursor" in params:
                offset, limit = page_of(params["cursor"])
            else:
                offset, given = 0, params.get("limit", str(DEFAULT_PAGE_SIZE))
                if not given.isdigit() or int(given) < 1:
                    raise SubscriptionError("limit must be a whole number of at least 1")
                limit = int(given)
            subscriptions = self.subscriptions.all()
            answer = _json([s.body() for s in subscriptions[offset : offset + limit]])

            def cursor(at: int) -> str:
                return page_cursor(at, limit)

            link = f"{str(request.base_url).rstrip('/')}/v2/event-subscriptions?cursor="
            answer.headers.update(_paging_headers(link, cursor, offset, limit, len(subscriptions)))
            return answer

        return await self._answer(request, listed)

    async def create_subscription(self, request: Request) -> Response:
        async def create(request: Request) -> Response:
            subscription = self.subscriptions.create(await _json_body(request))
            return _json(subscription.body(), 201)

        return await self._answer(request, create)

    async def get_subscription(self, request: Request) -> Response:
        async def get(request: Request) -> Response:
            return _json(self.subscriptions.get(request.path_params["subscriptionID"]).body())

        return await self._answer(request, get)

    async def update_subscription(self, request: Request) -> Response:
        async def update(request: Request) -> Response:
            subscription_id = request.path_params["subscriptionID"]
            self.subscriptions.get(subscription_id)  # an unknown one is a 404 before its body
            body = await _json_body(request)
            return _json(self.subscriptions.update(subscription_id, body).body())

        return await self._answer(request, update)

    async def delete_subscription(self, request: Request) -> Response:
        async def delete(request: Request) -> Response:
            self.subscriptions.delete(request.path_params["subscriptionID"])
            return Response(status_code=204, headers={"API-Version": API_VERSION})

        return await self._answer(request, delete)

    async def reset_secret(self, request: Request) -> Response:
        async def reset(request: Request) -> Response:
            subscription_id = request.path_params["subscriptionID"]
            self.subscriptions.get(subscription_id)
            self.subscriptions.reset_secret(subscription_id, await _json_body(request))
            return Response(status_code=204, headers={"API-Version": API_VERSION})

        return await self._answer(request, reset)
