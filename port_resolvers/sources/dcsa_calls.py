"""Vessel calls from DCSA transport events: only berth calls are vessel calls.

:func:`build_calls` groups arrivals and departures into calls and keeps, for each call, place,
event type and classifier, the **latest-created** event (``eventCreatedDateTime``; of two
equally new ones, the later in the feed). So an ETA revised forty times gives its last
revision, whatever order the feed lists them in.

- **Which events make a call.** Mode of transport ``VESSEL`` and a berth: facility type
  ``POTE`` (port terminal), ``BRTH`` / ``BERTH``, or none given. A train at a rail ramp, a
  truck, a barge, an inland terminal or a depot is not a vessel call.
- **Anchorage and pilot boarding** (``ANCH`` / ``ANCHORAGE``, ``PBPL`` /
  ``PILOT_BOARDING_PLACE``, as DCSA's JIT names them) are not calls of their own: they give the
  call its anchorage and pilot-boarding times. They belong to the call with the same port visit
  or transport call reference, else to the same vessel's next berth arrival within
  :data:`ANCHORAGE_WAIT_LIMIT`.
- **One visit, one call.** Events are grouped by ``portVisitReference`` when the feed has one
  (two carriers of a vessel-sharing agreement report one visit under their own transport call
  ids), else by transport call reference / id.
- **Times.** PLN / EST / ACT / REQ berth arrivals and departures give planned, estimated,
  actual and requested times; a call with no planned arrival is ordered by its estimate (else
  its actual); a call with no berth arrival at all is left out (it cannot be ordered).
  ``delayReasonCode`` and ``changeRemark`` come from the latest-created event that has them.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, cast

from port_resolvers.kit.source import CallTimestampRecord, VesselCallRecord, VesselRecord
from port_resolvers.sources.dcsa_events import TransportEvent

BERTH: Final = "BERTH"
ANCHORAGE: Final = "ANCHORAGE"
PILOT_BOARDING_PLACE: Final = "PILOT_BOARDING_PLACE"
PLACES: Final = {
    None: BERTH,
    "POTE": BERTH,
    "BRTH": BERTH,
    "BERTH": BERTH,
    "ANCH": ANCHORAGE,
    "ANCHORAGE": ANCHORAGE,
    "PBPL": PILOT_BOARDING_PLACE,
    "PILOT_BOARDING_PLACE": PILOT_BOARDING_PLACE,
}
PLACE_ORDER: Final = (PILOT_BOARDING_PLACE, ANCHORAGE, BERTH)
BERTH_TIMES: Final = {
    ("ARRI", "PLN"): "plannedArrivalDateTime",
    ("ARRI", "EST"): "estimatedArrivalDateTime",
    ("ARRI", "ACT"): "actualArrivalDateTime",
    ("ARRI", "REQ"): "requestedArrivalDateTime",
    ("DEPA", "PLN"): "plannedDepartureDateTime",
    ("DEPA", "EST"): "estimatedDepartureDateTime",
    ("DEPA", "ACT"): "actualDepartureDateTime",
}
ANCHORAGE_WAIT_LIMIT: Final = timedelta(days=14)
_ORDER_OF_CLASSIFIERS: Final = ("PLN", "REQ", "EST", "ACT")


def place_of(event: TransportEvent) -> str | None:
    """BERTH, ANCHORAGE or PILOT_BOARDING_PLACE; None for what is not a vessel call's event."""
    mode = event.mode or ("VESSEL" if event.call.get("vessel") else None)
    if mode != "VESSEL":
        return None
    return PLACES.get(event.facility_type.upper() if event.facility_type else None)


def _newness(event: TransportEvent) -> tuple[datetime, int]:
    created = event.created or event.at
    return (created, event.position)


@dataclass(slots=True)
class _Call:
    key: str
    latest: dict[tuple[str, str, str], TransportEvent] = field(default_factory=dict)

    def keep(self, place: str, event: TransportEvent) -> None:
        slot = (place, event.type_code, event.classifier)
        held = self.latest.get(slot)
        if held is None or _newness(event) >= _newness(held):
            self.latest[slot] = event

    def at(self, place: str) -> list[TransportEvent]:
        return [e for (p, _, _), e in self.latest.items() if p == place]


def _vessel(events: list[TransportEvent]) -> VesselRecord | None:
    """The vessel as the newest events name it, completed by older ones."""
    merged: dict[str, object] = {}
    for event in sorted(events, key=_newness):
        for key, value in (event.call.get("vessel") or {}).items():
            if value is not None:
                merged[key] = value
    return cast(VesselRecord, merged) if merged else None


def _berth_times(call: _Call) -> dict[str, datetime]:
    times = {}
    for (place, type_code, classifier), event in call.latest.items():
        name = BERTH_TIMES.get((type_code, classifier))
        if place == BERTH and name is not None:
            times[name] = event.at
    return times


def _record(call: _Call) -> VesselCallRecord | None:
    berth = call.at(BERTH)
    times = _berth_times(call)
    planned = (
        times.get("plannedArrivalDateTime")
        or times.get("estimatedArrivalDateTime")
        or times.get("actualArrivalDateTime")
    )
    if not berth or planned is None:
        return None  # no berth arrival known (only departures, or a request): cannot be ordered
    newest = max(berth, key=_newness)
    every = list(call.latest.values())
    remarked = [e for e in every if e.delay_reason_code or e.change_remark]
    remark = max(remarked, key=_newness) if remarked else None
    anchorage = call.latest.get((ANCHORAGE, "ARRI", "ACT"))
    pilot = call.latest.get((PILOT_BOARDING_PLACE, "ARRI", "ACT"))
    return {
        "transportCallReference": min(str(e.call.get("transportCallReference")) for e in berth),
        "UNLocationCode": str(newest.call.get("UNLocationCode") or ""),
        "portVisitReference": newest.port_visit_reference,
        "transportCallSequenceNumber": newest.sequence_number,
        "facilitySMDGCode": newest.call.get("facilityCode"),
        "vessel": _vessel(every),
        "carrierServiceCode": newest.service_code,
        "carrierImportVoyageNumber": newest.call.get("carrierImportVoyageNumber"),
        "carrierExportVoyageNumber": newest.call.get("carrierExportVoyageNumber"),
        "plannedArrivalDateTime": planned,
        "estimatedArrivalDateTime": times.get("estimatedArrivalDateTime"),
        "actualArrivalDateTime": times.get("actualArrivalDateTime"),
        "requestedArrivalDateTime": times.get("requestedArrivalDateTime"),
        "plannedDepartureDateTime": times.get("plannedDepartureDateTime"),
        "estimatedDepartureDateTime": times.get("estimatedDepartureDateTime"),
        "actualDepartureDateTime": times.get("actualDepartureDateTime"),
        "anchorageArrivalDateTime": anchorage.at if anchorage else None,
        "pilotBoardingDateTime": pilot.at if pilot else None,
        "delayReasonCode": remark.delay_reason_code if remark else None,
        "changeRemark": remark.change_remark if remark else None,
        "timestamps": _timestamps(call),
    }


def _timestamps(call: _Call) -> list[CallTimestampRecord]:
    ordered = sorted(
        call.latest.items(),
        key=lambda item: (
            PLACE_ORDER.index(item[0][0]),
            item[0][1],
            _ORDER_OF_CLASSIFIERS.index(item[0][2]),
        ),
    )
    return [
        {
            "place": place,
            "eventTypeCode": type_code,
            "eventClassifierCode": classifier,
            "eventDateTime": event.at,
            "eventCreatedDateTime": event.created,
            "delayReasonCode": event.delay_reason_code,
            "changeRemark": event.change_remark,
        }
        for (place, type_code, classifier), event in ordered
    ]


def _imo(event: TransportEvent) -> str | None:
    vessel = event.call.get("vessel")
    return vessel["vesselIMONumber"] if vessel is not None else None


def _attach_waiting(calls: dict[str, _Call], stray: list[tuple[str, TransportEvent]]) -> None:
    """Anchorage and pilot-boarding events of their own transport call: to the same vessel's
    next berth arrival within the wait limit."""
    arrivals: dict[str, list[tuple[datetime, _Call]]] = {}
    for call in calls.values():
        for event in call.at(BERTH):
            if event.type_code == "ARRI" and (imo := _imo(event)) is not None:
                arrivals.setdefault(imo, []).append((event.at, call))
    for place, event in stray:
        imo = _imo(event)
        after = [
            (at, call)
            for at, call in arrivals.get(imo or "", [])
            if event.at <= at <= event.at + ANCHORAGE_WAIT_LIMIT
        ]
        if after:
            min(after, key=lambda found: found[0])[1].keep(place, event)


def _visit_of(events: list[TransportEvent]) -> dict[str, str]:
    """Transport call reference -> port visit reference, where some event names both (events
    sent before the port gave the visit its reference join the others)."""
    visits = {}
    for event in events:
        reference = event.call.get("transportCallReference")
        if event.port_visit_reference and reference:
            visits[reference] = event.port_visit_reference
    return visits


def build_calls(events: Iterable[TransportEvent]) -> list[VesselCallRecord]:
    """The berth calls the events tell of, each with its latest timestamps."""
    placed = [(place, event) for event in events if (place := place_of(event)) is not None]
    visits = _visit_of([event for _, event in placed])
    calls: dict[str, _Call] = {}
    waiting: list[tuple[str, str, TransportEvent]] = []
    for place, event in placed:
        key = visits.get(event.call.get("transportCallReference") or "", event.call_key)
        if place == BERTH:
            calls.setdefault(key, _Call(key)).keep(place, event)
        else:
            waiting.append((key, place, event))
    stray = []
    for key, place, event in waiting:
        if key in calls:
            calls[key].keep(place, event)
        else:
            stray.append((place, event))
    _attach_waiting(calls, stray)
    return [record for call in calls.values() if (record := _record(call)) is not None]
