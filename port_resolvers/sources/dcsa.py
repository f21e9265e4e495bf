"""Adapter for any DCSA Track & Trace 2.2 REST API (``GET /v2/events``).

:class:`DcsaTrackAndTraceSource` implements :class:`~port_resolvers.kit.source.PortDataSource`
with an injected ``httpx.AsyncClient``:

- ``containers``: the equipment events of each reference at the port (one query per reference,
  ``max_concurrency`` at a time) -> events, ISO size-type, empty/laden, and location from the
  latest actual event's facility;
- ``vessel_calls``: the port's transport events grouped by ``transportCallID``; PLN / EST / ACT
  ``ARRI`` / ``DEPA`` give planned / estimated / actual berth times, the phase is derived from
  the actual times and the clock;
- ``vessel``: the ``transportCall.vessel`` of one of the vessel's transport events.

Pages are followed through the ``Next-Page`` header (only its ``cursor``, always against
``base_url``) up to ``max_pages``; more than that is a SourceUnavailable rather than a silently
short answer.

T&T 2.2 cannot say everything the shared schema asks: omitted calls, anchorage, MMSI, import
availability (holds, free days, fees, yard block), aggregates and the terminal list. For those
the adapter asks ``supplement``, another ``PortDataSource`` over the port's own system (at the
simulated ports: :class:`~port_resolvers.sources.native_json.NativeJsonSource` on the same base
URL), and merges by container reference, transport call reference and IMO number. Without a
supplement those fields stay empty, ``port()`` names only the UN/LOCODE and ``metrics()`` is [].

The DCSA vessel keys ``vesselOperatorCarrierCode`` / ``...ListProvider`` name the carrier that
runs the vessel, not a person: the labor-key rule allows them, and an SMDG code becomes
``vesselOperatorSMDGLinerCode``.
"""

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from port_resolvers.kit.source import (
    ContainerRecord,
    EquipmentEventRecord,
    LocationRecord,
    PortDataSource,
    PortMetricRecord,
    PortRecord,
    SourceUnavailable,
    TransportCallRecord,
    VesselCallFilter,
    VesselCallRecord,
    VesselRecord,
)
from port_resolvers.sources.fetch import require_json, translating

API_VERSION_MAJOR = "2"
DEFAULT_PAGE_SIZE = 250
DEFAULT_MAX_PAGES = 20
DEFAULT_MAX_CONCURRENCY = 8  # T&T queries in flight at once for one containers() call
_TIMES = {
    ("ARRI", "PLN"): "plannedArrivalDateTime",
    ("ARRI", "EST"): "estimatedArrivalDateTime",
    ("ARRI", "ACT"): "actualArrivalDateTime",
    ("DEPA", "PLN"): "plannedDepartureDateTime",
    ("DEPA", "EST"): "estimatedDepartureDateTime",
    ("DEPA", "ACT"): "actualDepartureDateTime",
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"date-time {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


def _float(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def _merged_vessel(dcsa: VesselRecord, own: VesselRecord | None) -> VesselRecord:
    """The vessel as T&T names it, completed with what the port's own system adds."""
    if own is None:
        return dcsa
    return {
        "vesselIMONumber": dcsa["vesselIMONumber"],
        "MMSINumber": dcsa.get("MMSINumber") or own.get("MMSINumber"),
        "vesselName": dcsa.get("vesselName") or own.get("vesselName"),
        "vesselFlag": dcsa.get("vesselFlag") or own.get("vesselFlag"),
        "vesselCallSign": dcsa.get("vesselCallSign") or own.get("vesselCallSign"),
        "vesselOperatorSMDGLinerCode": (
            dcsa.get("vesselOperatorSMDGLinerCode") or own.get("vesselOperatorSMDGLinerCode")
        ),
    }


def phase_of(call: VesselCallRecord, now: datetime) -> str:
    """Where a call stands at ``now``: OMITTED, DEPARTED, AT_BERTH, AT_ANCHOR or SCHEDULED."""
    if call.get("statusCode") == "OMIT":
        return "OMITTED"
    for key, phase in (
        ("actualDepartureDateTime", "DEPARTED"),
        ("actualArrivalDateTime", "AT_BERTH"),
        ("anchorageArrivalDateTime", "AT_ANCHOR"),
    ):
        at = call.get(key)
        if isinstance(at, datetime) and at <= now:
            return phase
    return "SCHEDULED"


class DcsaTrackAndTraceSource:
    """A port served from a DCSA T&T 2.2 API at ``base_url``, completed by ``supplement``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        port_id: str,
        *,
        supplement: PortDataSource | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_pages: int = DEFAULT_MAX_PAGES,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.port_id = port_id
        self.supplement = supplement
        self.page_size = page_size
        self.max_pages = max_pages
        self.max_concurrency = max_concurrency
        self.clock = clock

    async def _events(
        self, params: dict[str, str | int], *, first_page_only: bool = False
    ) -> list[Any]:
        """The events of a query, following ``Next-Page`` cursors (up to ``max_pages``)."""
        url = f"{self.base_url}/v2/events"
        headers = {"API-Version": API_VERSION_MAJOR}
        query: dict[str, str | int] = {"limit": self.page_size, **params}
        events: list[Any] = []
        for _ in range(self.max_pages):
            answer = await require_json(self.client, url, params=query, headers=headers)
            if not isinstance(answer.payload, list):
                raise SourceUnavailable("GET /v2/events answered something that is not a list")
            events += answer.payload
            next_page = answer.headers.get("Next-Page")
            if not next_page or first_page_only:
                return events
            # Only the cursor is taken from the link: requests stay on the configured base URL.
            query = {"cursor": httpx.URL(next_page).params.get("cursor") or next_page}
        raise SourceUnavailable(f"GET /v2/events has more than {self.max_pages} pages")

    # PortDataSource ----------------------------------------------------------------------

    async def port(self) -> PortRecord:
        if self.supplement is not None:
            return await self.supplement.port()
        return {"UNLocationCode": self.port_id, "name": None, "terminals": []}

    async def containers(self, references: Sequence[str]) -> list[ContainerRecord]:
        if not references:
            return []
        gate = asyncio.Semaphore(self.max_concurrency)

        async def events_of(reference: str) -> list[Any]:
            params: dict[str, str | int] = {
                "eventType": "EQUIPMENT",
                "equipmentReference": reference,
                "UNLocationCode": self.port_id,
            }
            async with gate:
                return await self._events(params)

        per_reference, supplemented = await asyncio.gather(
            asyncio.gather(*(events_of(r) for r in references)),
            self._supplement_containers(references),
        )
        known = {c["equipmentReference"]: c for c in supplemented}
        records = []
        with translating("DCSA equipment event"):
            for reference, raw_events in zip(references, per_reference, strict=True):
                if raw_events:
                    records.append(self._container(reference, raw_events, known.get(reference)))
        return records

    async def vessel_calls(self, filter: VesselCallFilter) -> list[VesselCallRecord]:
        params: dict[str, str | int] = {"eventType": "TRANSPORT", "UNLocationCode": self.port_id}
        if filter.vessel_imo_number is not None:
            params["vesselIMONumber"] = filter.vessel_imo_number
        raw_events, supplemented = await asyncio.gather(
            self._events(params), self._supplement_calls(filter)
        )
        with translating("DCSA transport event"):
            calls = self._calls(raw_events)
        known = {c["transportCallReference"]: c for c in supplemented}
        now = self.clock()
        selected = []
        for call in calls:
            extra = known.get(call["transportCallReference"])
            if extra is not None:
                call["statusCode"] = call.get("statusCode") or extra.get("statusCode")
                call["anchorageArrivalDateTime"] = call.get(
                    "anchorageArrivalDateTime"
                ) or extra.get("anchorageArrivalDateTime")
                vessel = call.get("vessel")
                if vessel is not None:
                    call["vessel"] = _merged_vessel(vessel, extra.get("vessel"))
            call["phase"] = phase_of(call, now)
            if _passes(call, filter):
                selected.append(call)
        return selected

    async def vessel(self, imo: str) -> VesselRecord | None:
        params: dict[str, str | int] = {
            "eventType": "TRANSPORT",
            "vesselIMONumber": imo,
            "UNLocationCode": self.port_id,
            "limit": 1,
        }
        own: VesselRecord | None
        raw_events, own = await asyncio.gather(
            self._events(params, first_page_only=True), self._supplement_vessel(imo)
        )
        if not raw_events:
            return own
        with translating("DCSA transport event"):
            vessel = self._vessel(raw_events[0]["transportCall"]["vessel"])
        return _merged_vessel(vessel, own)

    async def metrics(self, period: str, metrics: Sequence[str] | None) -> list[PortMetricRecord]:
        if self.supplement is None:
            return []
        return await self.supplement.metrics(period, metrics)

    # what T&T cannot say ----------------------------------------------------------------

    async def _supplement_containers(self, references: Sequence[str]) -> list[ContainerRecord]:
        return await self.supplement.containers(references) if self.supplement else []

    async def _supplement_calls(self, filter: VesselCallFilter) -> list[VesselCallRecord]:
        return await self.supplement.vessel_calls(filter) if self.supplement else []

    async def _supplement_vessel(self, imo: str) -> VesselRecord | None:
        return await self.supplement.vessel(imo) if self.supplement else None

    # translation -------------------------------------------------------------------------

    @staticmethod
    def _vessel(raw: dict[str, Any]) -> VesselRecord:
        vessel: VesselRecord = {
            "vesselIMONumber": raw["vesselIMONumber"],
            "vesselName": raw.get("vesselName"),
            "vesselFlag": raw.get("vesselFlag"),
            "vesselCallSign": raw.get("vesselCallSignNumber"),
        }
        if raw.get("vesselOperatorCarrierCodeListProvider") == "SMDG":
            vessel["vesselOperatorSMDGLinerCode"] = raw.get("vesselOperatorCarrierCode")
        return vessel

    def _transport_call(self, raw: dict[str, Any]) -> TransportCallRecord:
        return {
            "transportCallReference": raw["transportCallID"],
            "carrierImportVoyageNumber": raw.get("importVoyageNumber"),
            "carrierExportVoyageNumber": raw.get("exportVoyageNumber"),
            "UNLocationCode": raw.get("UNLocationCode"),
            "facilityCode": raw.get("facilityCode"),
            "modeOfTransport": raw.get("modeOfTransport"),
            "vessel": self._vessel(raw["vessel"]) if raw.get("vessel") else None,
        }

    def _event(self, raw: dict[str, Any]) -> EquipmentEventRecord:
        event: EquipmentEventRecord = {
            "eventID": raw["eventID"],
            "eventCreatedDateTime": _time(raw["eventCreatedDateTime"]),
            "eventDateTime": _time(raw["eventDateTime"]),
            "eventClassifierCode": raw["eventClassifierCode"],
            "equipmentEventTypeCode": raw["equipmentEventTypeCode"],
            "emptyIndicatorCode": raw.get("emptyIndicatorCode"),
        }
        place = raw.get("eventLocation")
        if place:
            location: LocationRecord = {
                "locationName": place.get("locationName"),
                "UNLocationCode": place.get("UNLocationCode"),
                "facilityCode": place.get("facilityCode"),
                "latitude": _float(place.get("latitude")),
                "longitude": _float(place.get("longitude")),
            }
            event["eventLocation"] = location
        if raw.get("transportCall"):
            event["transportCall"] = self._transport_call(raw["transportCall"])
        return event

    def _container(
        self, reference: str, raw_events: list[Any], extra: ContainerRecord | None
    ) -> ContainerRecord:
        events = sorted((self._event(e) for e in raw_events), key=lambda e: e["eventDateTime"])
        actual = [e for e in events if e["eventClassifierCode"] == "ACT"]
        latest = actual[-1] if actual else events[-1]
        iso_codes = [e.get("ISOEquipmentCode") for e in raw_events if e.get("ISOEquipmentCode")]
        record: ContainerRecord = {
            "equipmentReference": reference,
            "isoEquipmentCode": iso_codes[-1] if iso_codes else None,
            "emptyIndicatorCode": latest.get("emptyIndicatorCode"),
            "location": None,
            "availability": extra.get("availability") if extra else None,
            "events": events,
        }
        place = actual[-1].get("eventLocation") if actual else None
        if place:
            facility_code = place.get("facilityCode")
            own = extra.get("location") if extra else None
            # The port's own yard block, if it places the box where T&T last saw it.
            same_terminal = own is not None and own.get("facilityCode") == facility_code
            record["location"] = {
                "UNLocationCode": place.get("UNLocationCode") or self.port_id,
                "facilityCode": facility_code,
                "terminalName": place.get("locationName"),
                "yardBlock": own.get("yardBlock") if own is not None and same_terminal else None,
            }
        return record

    def _calls(self, raw_events: list[Any]) -> list[VesselCallRecord]:
        grouped: dict[str, dict[str, Any]] = {}
        for raw in raw_events:
            if raw.get("eventType") != "TRANSPORT":
                continue
            call = raw["transportCall"]
            record = grouped.setdefault(
                call["transportCallID"],
                {
                    "transportCallReference": call["transportCallID"],
                    "UNLocationCode": call.get("UNLocationCode") or self.port_id,
                    "facilityCode": call.get("facilityCode"),
                    "vessel": self._vessel(call["vessel"]) if call.get("vessel") else None,
                    "carrierServiceCode": call.get("carrierServiceCode"),
                    "carrierImportVoyageNumber": call.get("importVoyageNumber"),
                    "carrierExportVoyageNumber": call.get("exportVoyageNumber"),
                },
            )
            key = _TIMES.get((raw["transportEventTypeCode"], raw["eventClassifierCode"]))
            if key is not None:
                record[key] = _time(raw["eventDateTime"])
        calls: list[VesselCallRecord] = []
        for record in grouped.values():
            planned = (
                record.get("plannedArrivalDateTime")
                or record.get("estimatedArrivalDateTime")
                or record.get("actualArrivalDateTime")
            )
            if planned is None:
                continue  # only departures known: not a call the schema can order
            record["plannedArrivalDateTime"] = planned
            calls.append(record)  # type: ignore[arg-type]
        return calls


def _passes(call: VesselCallRecord, filter: VesselCallFilter) -> bool:
    planned = call["plannedArrivalDateTime"]
    if filter.planned_from is not None and planned < filter.planned_from:
        return False
    if filter.planned_to is not None and planned >= filter.planned_to:
        return False
    return filter.status_codes is None or call.get("statusCode") in filter.status_codes
