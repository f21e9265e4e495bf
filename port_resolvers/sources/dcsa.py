"""Adapter for any DCSA Track & Trace 2.2 REST API (``GET /v2/events``).

:class:`DcsaTrackAndTraceSource` implements :class:`~port_resolvers.kit.source.PortDataSource`
with an injected ``httpx.AsyncClient``. Each question is one bounded query of the feed
(:mod:`~port_resolvers.sources.dcsa_feed`: paging, de-duplication, bounds), in
``eventCreatedDateTime`` order, for the window it needs (:class:`Windows`), never the whole
history:

- ``containers``: the equipment events of each reference at the port created within
  ``container_history`` (one query per reference, ``max_concurrency`` at a time), and the
  ``HOLD`` / ``RELS`` shipment events of their documents
  (:mod:`~port_resolvers.sources.dcsa_containers`);
- ``containers_by_document``: the equipment events naming a transport document (bill of lading)
  or a booking, grouped by container;
- ``vessel_calls``: the port's transport events for the calls planned in the asked window (or
  :attr:`Windows.calls_past` / :attr:`Windows.calls_ahead` around now), created at most
  ``schedule_horizon`` before it and happening around it
  (:mod:`~port_resolvers.sources.dcsa_calls`: latest-created timestamp per call, place, type
  and classifier; only berth calls);
- ``vessel``: the newest transport event of that vessel at the port.

Event by event (:mod:`~port_resolvers.sources.dcsa_events`): an invalid event, or one for
another port, is left out, logged, and reported (``EVENTS_QUARANTINED``, so the answer is
``partial`` with the count); a question cut at the page bound is reported as
``EVENTS_TRUNCATED``. Only a system that does not answer, or answers something that is not DCSA
at all, is ``SourceUnavailable``.

T&T 2.2 cannot say everything the shared schema asks: omitted calls, MMSI, most of import
availability (free days, fees, yard block), aggregates and the terminal list. The port's name,
time zone and terminals can be given as ``port_info``; for the rest the adapter asks
``supplement``, another ``PortDataSource`` over the port's own system (at the simulated ports:
:class:`~port_resolvers.sources.native_json.NativeJsonSource`), and merges by container
reference, transport call reference and IMO number.

T&T 2.2 carries none of the schema's optional capabilities (gate hours, truck appointments,
empty-return rules and deadlines, cut-offs, rail legs: :data:`portcontract.errors.
OPTIONAL_FIELDS`) either. The source ``offers`` what its supplement offers, and takes them from
it: terminals with the port, cut-offs with each call, a rail leg and an empty-return deadline
with each container. Without a supplement it offers none, and the kit says so.

The DCSA vessel keys ``vesselOperatorCarrierCode`` / ``...ListProvider`` name the carrier that
runs the vessel, not a person: an SMDG code becomes ``vesselOperatorSMDGLinerCode``, an NMFTA
code ``vesselOperatorSCACCode``.
"""

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo

import httpx

from port_resolvers.kit import notices
from port_resolvers.kit.source import (
    ContainerRecord,
    EquipmentEventRecord,
    PortDataSource,
    PortMetricRecord,
    PortRecord,
    VesselCallFilter,
    VesselCallRecord,
    VesselRecord,
    offered_fields,
)
from port_resolvers.sources.dcsa_calls import build_calls
from port_resolvers.sources.dcsa_containers import build_container
from port_resolvers.sources.dcsa_events import (
    EventReader,
    NotAsked,
    Quarantined,
    ShipmentEvent,
    TransportEvent,
)
from port_resolvers.sources.dcsa_feed import (
    DESCENDING_BY_CREATION,
    EventFeed,
    EventQuery,
    FeedRead,
)
from port_resolvers.sources.dcsa_paging import DEFAULT_MAX_PAGES, DEFAULT_PAGE_SIZE
from portcontract.errors import EVENTS_QUARANTINED, EVENTS_TRUNCATED

logger = logging.getLogger("port_resolvers.sources.dcsa")

DEFAULT_MAX_CONCURRENCY: Final = 8  # T&T queries in flight at once for one containers() call
CONTAINER_HISTORY: Final = timedelta(days=90)
CALLS_PAST: Final = timedelta(days=30)
CALLS_AHEAD: Final = timedelta(days=60)
SCHEDULE_HORIZON: Final = timedelta(days=60)
VESSEL_EVENTS_ASKED: Final = 50  # the newest transport events of a vessel read to name it
# What T&T's calls tell of the port now, without its own system: metric -> the calls' phase.
SNAPSHOT_METRICS: Final = {"VESSELS_AT_ANCHOR": "AT_ANCHOR", "VESSELS_AT_BERTH": "AT_BERTH"}
VESSEL_WAIT_LIMIT: Final = timedelta(days=14)  # a vessel at anchor berths within this


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Windows:
    """How far back and ahead each question reaches.

    - ``container_history``: a container's events created this long ago at most;
    - ``calls_past`` / ``calls_ahead``: ``vesselCalls`` without ``from`` / ``to`` covers calls
      planned from now - past to now + ahead;
    - ``schedule_horizon``: a call's plan may be published this long before the call;
    - ``early`` / ``late``: a call's events may happen this long before its planned arrival
      (an early arrival, an anchorage) and after it (delays, the stay, departure);
    - ``vessel_history``: a vessel's newest event at the port is looked for this far back.
    """

    container_history: timedelta = CONTAINER_HISTORY
    calls_past: timedelta = CALLS_PAST
    calls_ahead: timedelta = CALLS_AHEAD
    schedule_horizon: timedelta = SCHEDULE_HORIZON
    early: timedelta = timedelta(days=3)
    late: timedelta = timedelta(days=21)
    vessel_history: timedelta = timedelta(days=180)


class DcsaTrackAndTraceSource:
    """A port served from a DCSA T&T 2.2 API at ``base_url``, completed by ``supplement``.

    :param supplement: the port's own system, for what T&T cannot say; the source ``offers``
        the optional fields it offers (alone, T&T offers none).
    :param port_info: the port's name, time zone and terminals, when no supplement says them.
    :param time_zone: reads timestamps without a UTC offset (IANA name); else they are invalid.
    :param event_time_filter: ask ``eventDateTime`` ranges too (DCSA event domain 3); a source
        that refuses them is asked again without.
    :param headers: sent with every request (the source's credential).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        port_id: str,
        *,
        supplement: PortDataSource | None = None,
        port_info: PortRecord | None = None,
        time_zone: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_pages: int = DEFAULT_MAX_PAGES,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        windows: Windows | None = None,
        event_time_filter: bool = True,
        headers: dict[str, str] | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.port_id = port_id
        self.supplement = supplement
        self.port_info = port_info
        self.max_concurrency = max_concurrency
        self.windows = windows or Windows()
        self.clock = clock
        zone: tzinfo | None = ZoneInfo(time_zone) if time_zone else None
        self.reader = EventReader(port_id, zone)
        self.feed = EventFeed(
            client,
            base_url,
            page_size=page_size,
            max_pages=max_pages,
            event_time_filter=event_time_filter,
            headers=headers,
        )
        terminals = port_info["terminals"] if port_info is not None else []
        self._terminals = {t["facilitySMDGCode"]: t["name"] or "" for t in terminals}

    @property
    def offers(self) -> frozenset[str]:
        """The optional fields the supplement gives: T&T 2.2 has none of its own."""
        return offered_fields(self.supplement) if self.supplement is not None else frozenset()

    # reading ----------------------------------------------------------------------------

    async def _read(self, query: EventQuery) -> FeedRead:
        read = await self.feed.read(query)
        if read.truncated:
            notices.report(EVENTS_TRUNCATED)
        return read

    def _checked(
        self, raw_events: list[dict[str, Any]], read: Callable[[dict[str, Any]], Any]
    ) -> list[Any]:
        """Each event read by ``read``; the quarantined ones logged and reported."""
        kept, quarantined = [], 0
        for raw in raw_events:
            try:
                kept.append(read(raw))
            except Quarantined as exc:
                quarantined += 1
                logger.warning(
                    "%s: event %s quarantined: %s", self.port_id, raw.get("eventID"), exc
                )
            except NotAsked as exc:
                logger.info("%s: event %s skipped: %s", self.port_id, raw.get("eventID"), exc)
        notices.report(EVENTS_QUARANTINED, quarantined)
        return kept

    # PortDataSource ----------------------------------------------------------------------

    async def port(self) -> PortRecord:
        if self.supplement is not None:
            return await self.supplement.port()
        if self.port_info is not None:
            return self.port_info
        return {"UNLocationCode": self.port_id, "name": None, "terminals": []}

    async def containers(self, references: Sequence[str]) -> list[ContainerRecord]:
        if not references:
            return []
        gate = asyncio.Semaphore(self.max_concurrency)
        since = self.clock() - self.windows.container_history

        async def events_of(reference: str) -> FeedRead:
            query = EventQuery(
                event_types=("EQUIPMENT",),
                un_location_code=self.port_id,
                equipment_reference=reference,
                created_from=since,
            )
            async with gate:
                return await self._read(query)

        reads, supplemented = await asyncio.gather(
            asyncio.gather(*(events_of(r) for r in references)),
            self._supplement_containers(references),
        )
        by_reference: dict[str, list[EquipmentEventRecord]] = {}
        for read in reads:
            notices.report(EVENTS_QUARANTINED, read.invalid)
            for reference, event in self._checked(read.events, self.reader.equipment_event):
                by_reference.setdefault(reference, []).append(event)
        asked = {r.upper() for r in references}
        found = {r: events for r, events in by_reference.items() if r in asked and events}
        return await self._containers(found, supplemented, gate, since)

    async def containers_by_document(
        self, *, transport_document: str | None = None, booking: str | None = None
    ) -> list[ContainerRecord]:
        """The containers whose events at the port name this bill of lading or booking."""
        gate = asyncio.Semaphore(self.max_concurrency)
        since = self.clock() - self.windows.container_history
        read = await self._read(
            EventQuery(
                event_types=("EQUIPMENT",),
                un_location_code=self.port_id,
                transport_document_reference=transport_document,
                carrier_booking_reference=booking,
                created_from=since,
            )
        )
        notices.report(EVENTS_QUARANTINED, read.invalid)
        wanted = ("TRD", transport_document) if transport_document else ("BKG", booking)
        by_reference: dict[str, list[EquipmentEventRecord]] = {}
        for reference, event in self._checked(read.events, self.reader.equipment_event):
            by_reference.setdefault(reference, []).append(event)
        # A source that ignores the filter must not hand out other shippers' boxes.
        found = {
            r: events
            for r, events in by_reference.items()
            if any(_names(e, *wanted) for e in events)
        }
        supplemented = await self._supplement_containers(sorted(found))
        return await self._containers(found, supplemented, gate, since)

    async def _containers(
        self,
        found: dict[str, list[EquipmentEventRecord]],
        supplemented: list[ContainerRecord],
        gate: asyncio.Semaphore,
        since: datetime,
    ) -> list[ContainerRecord]:
        own = {c["equipmentReference"].upper(): c for c in supplemented}
        documents = {  # holds on the documents of the boxes the port's own system lacks
            (d["documentReferenceType"], d["documentReferenceValue"])
            for reference, events in found.items()
            if reference not in own
            for e in events
            for d in e.get("documentReferences") or ()
        }
        holds = await self._document_events(documents, gate, since)
        return [
            build_container(
                reference,
                events,
                port_id=self.port_id,
                terminals=self._terminals,
                own=own.get(reference),
                shipment_events=[
                    h
                    for d in (e.get("documentReferences") or () for e in events)
                    for doc in d
                    for h in holds.get(
                        (doc["documentReferenceType"], doc["documentReferenceValue"]), []
                    )
                ],
            )
            for reference, events in found.items()
        ]

    async def _document_events(
        self, documents: set[tuple[str, str]], gate: asyncio.Semaphore, since: datetime
    ) -> dict[tuple[str, str], list[ShipmentEvent]]:
        """HOLD / RELS shipment events of each document, by document."""

        async def of(kind: str, value: str) -> list[ShipmentEvent]:
            query = EventQuery(
                event_types=("SHIPMENT",),
                shipment_event_types=("HOLD", "RELS"),
                transport_document_reference=value if kind == "TRD" else None,
                carrier_booking_reference=value if kind == "BKG" else None,
                created_from=since,
            )
            async with gate:
                read = await self._read(query)
            notices.report(EVENTS_QUARANTINED, read.invalid)
            return self._checked(read.events, self.reader.shipment_event)

        ordered = sorted(documents)
        found = await asyncio.gather(*(of(kind, value) for kind, value in ordered))
        return dict(zip(ordered, found, strict=True))

    async def vessel_calls(self, filter: VesselCallFilter) -> list[VesselCallRecord]:
        now = self.clock()
        start = filter.planned_from or now - self.windows.calls_past
        end = filter.planned_to or now + self.windows.calls_ahead
        query = EventQuery(
            event_types=("TRANSPORT",),
            un_location_code=self.port_id,
            vessel_imo_number=filter.vessel_imo_number,
            created_from=start - self.windows.schedule_horizon,
            happened_from=start - self.windows.early,
            happened_to=end + self.windows.late,
        )
        read, supplemented = await asyncio.gather(self._read(query), self._supplement_calls(filter))
        notices.report(EVENTS_QUARANTINED, read.invalid)
        events: list[TransportEvent] = self._checked(list(read.events), _positioned(self.reader))
        known = {c["transportCallReference"]: c for c in supplemented}
        selected = []
        for call in build_calls(events):
            extra = known.get(call["transportCallReference"])
            if extra is not None:
                _complete(call, extra)
            call["UNLocationCode"] = self.port_id
            call["phase"] = phase_of(call, now)
            if _passes(call, filter, start, end):
                selected.append(call)
        return selected

    async def vessel(self, imo: str) -> VesselRecord | None:
        query = EventQuery(
            event_types=("TRANSPORT",),
            un_location_code=self.port_id,
            vessel_imo_number=imo,
            created_from=self.clock() - self.windows.vessel_history,
            sort=DESCENDING_BY_CREATION,
            limit=VESSEL_EVENTS_ASKED,
            first_page_only=True,
        )
        read, own = await asyncio.gather(self._read(query), self._supplement_vessel(imo))
        events: list[TransportEvent] = self._checked(read.events, _positioned(self.reader))
        named = [
            vessel
            for event in events
            if (vessel := event.call.get("vessel")) and vessel["vesselIMONumber"] == imo
        ]
        if not named:
            return own
        return _merged_vessel(named[0], own)

    async def metrics(self, period: str, metrics: Sequence[str] | None) -> list[PortMetricRecord]:
        """The port's own system's aggregates; without one, what T&T's calls tell: vessels at
        berth now, for the port and each terminal, and vessels at anchor where the feed reports
        anchorage arrivals at all (T&T 2.2 has none; a JIT-style feed sends them). A feed that
        never reported one says nothing of anchorage: no count rather than a false zero."""
        if self.supplement is not None:
            return await self.supplement.metrics(period, metrics)
        wanted = [m for m in SNAPSHOT_METRICS if metrics is None or m in metrics]
        if not wanted:
            return []
        now = self.clock()
        around_now = VesselCallFilter(
            planned_from=now - self.windows.calls_past, planned_to=now + VESSEL_WAIT_LIMIT
        )
        calls = await self.vessel_calls(around_now)
        if not any(c.get("anchorageArrivalDateTime") is not None for c in calls):
            wanted = [m for m in wanted if m != "VESSELS_AT_ANCHOR"]
        codes = set(self._terminals)
        codes |= {code for c in calls if (code := c.get("facilitySMDGCode")) is not None}
        records: list[PortMetricRecord] = []
        for metric in wanted:
            phase = SNAPSHOT_METRICS[metric]
            for code in [None, *sorted(codes)]:
                count = sum(
                    1 for c in calls
                    if c.get("phase") == phase and code in (None, c.get("facilitySMDGCode"))
                )  # fmt: skip
                records.append(
                    {
                        "UNLocationCode": self.port_id,
                        "facilitySMDGCode": code,
                        "metric": metric,
                        "value": float(count),
                        "unit": "vessels",
                        "periodStart": now,
                        "periodEnd": now,
                        "sampleSize": count,
                    }
                )
        return records

    # what T&T cannot say ----------------------------------------------------------------

    async def _supplement_containers(self, references: Sequence[str]) -> list[ContainerRecord]:
        return await self.supplement.containers(references) if self.supplement else []

    async def _supplement_calls(self, filter: VesselCallFilter) -> list[VesselCallRecord]:
        return await self.supplement.vessel_calls(filter) if self.supplement else []

    async def _supplement_vessel(self, imo: str) -> VesselRecord | None:
        return await self.supplement.vessel(imo) if self.supplement else None


def _positioned(reader: EventReader) -> Callable[[dict[str, Any]], TransportEvent]:
    """Reads transport events, numbering them in feed order (the later wins a tie)."""
    counter = iter(range(1 << 62))
    return lambda raw: reader.transport_event(raw, next(counter))


def _names(event: EquipmentEventRecord, kind: str | None, value: str | None) -> bool:
    return any(
        d["documentReferenceType"] == kind and d["documentReferenceValue"] == value
        for d in event.get("documentReferences") or ()
    )


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
        "vesselOperatorSMDGLinerCode": dcsa.get("vesselOperatorSMDGLinerCode")
        or own.get("vesselOperatorSMDGLinerCode"),
        "vesselOperatorSCACCode": dcsa.get("vesselOperatorSCACCode")
        or own.get("vesselOperatorSCACCode"),
    }


def _complete(call: VesselCallRecord, extra: VesselCallRecord) -> None:
    """What the port's own system adds to a call: status, anchorage, MMSI, cut-offs and the
    like."""
    call["statusCode"] = call.get("statusCode") or extra.get("statusCode")
    call["anchorageArrivalDateTime"] = call.get("anchorageArrivalDateTime") or extra.get(
        "anchorageArrivalDateTime"
    )
    call["pilotBoardingDateTime"] = call.get("pilotBoardingDateTime") or extra.get(
        "pilotBoardingDateTime"
    )
    call["portVisitReference"] = call.get("portVisitReference") or extra.get("portVisitReference")
    if "cutOffTimes" in extra:  # the terminal's: T&T has no cut-offs
        call["cutOffTimes"] = extra["cutOffTimes"]
    vessel = call.get("vessel")
    if vessel is not None:
        call["vessel"] = _merged_vessel(vessel, extra.get("vessel"))


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


def _passes(
    call: VesselCallRecord, filter: VesselCallFilter, start: datetime, end: datetime
) -> bool:
    planned = call["plannedArrivalDateTime"]
    if not start <= planned < end:
        return False
    if filter.vessel_imo_number is not None:
        vessel = call.get("vessel")
        if vessel is None or vessel["vesselIMONumber"] != filter.vessel_imo_number:
            return False
    return filter.status_codes is None or call.get("statusCode") in filter.status_codes
