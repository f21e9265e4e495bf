"""A container from its DCSA equipment events, and what T&T says about its availability.

:func:`build_container` takes the events of one container at the port, read and checked:

- **Revisions.** Plans, estimates and requests are revised: of the PLN / EST / REQ events of
  one type for one transport call only the latest-created is kept. Actual events are facts and
  all are kept (a box can be gated in twice).
- **Size and type, empty or laden** come from the newest events that say them.
- **Location**: the facility of the latest actual event, with the terminal's name as the
  port configured it (else as the feed names it), and the yard block from the port's own
  system when that system places the box at the same terminal.
- **Availability.** The port's own system knows it best (``own``), when it knows the box.
  Without it, T&T's own
  events tell part of it: ``AVPU`` (available for pick-up), customs selection (``CUSS`` scan,
  ``CUSI`` inspection) and release (``CUSR``), and shipment events ``HOLD`` / ``RELS`` on the
  container's booking or transport document. A customs hold holds until a ``CUSR`` or a
  ``RELS`` of a customs document (``CUS``) follows it.
- **Rail leg**: the port's own system's, when it gives one (T&T shows the load onto the train,
  not where the train goes).
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from port_resolvers.kit.source import (
    ContainerLocationRecord,
    ContainerRecord,
    EquipmentEventRecord,
    HoldRecord,
    ImportAvailabilityRecord,
)
from port_resolvers.sources.dcsa_events import ShipmentEvent

CUSTOMS_SELECTIONS: Final = {
    "CUSS": "Customs selected the container for a scan",
    "CUSI": "Customs selected the container for inspection",
}
HOLD_TYPE_BY_DOCUMENT: Final = {"CUS": "CUSTOMS", "SRM": "LINE", "TRD": "LINE", "BKG": "LINE"}
AVAILABILITY_EVENTS: Final = frozenset({"AVPU", "CUSS", "CUSI", "CUSR"})
STAYS: Final = frozenset({"DISC", "GTIN", "AVPU"})  # actual events after which it is still here


def _created(event: EquipmentEventRecord) -> datetime:
    return event.get("eventCreatedDateTime") or event["eventDateTime"]


def _revision_slot(event: EquipmentEventRecord) -> tuple[str, str, str] | None:
    if event["eventClassifierCode"] == "ACT":
        return None
    call = event.get("transportCall") or {}
    reference = call.get("portVisitReference") or call.get("transportCallReference") or ""
    return (reference, event["equipmentEventTypeCode"], event["eventClassifierCode"])


def latest_revisions(events: Iterable[EquipmentEventRecord]) -> list[EquipmentEventRecord]:
    """Every actual event, and the latest-created plan, estimate or request per call, type and
    classifier; in the order given (later wins a tie)."""
    kept: list[EquipmentEventRecord] = []
    slots: dict[tuple[str, str, str], int] = {}
    for event in events:
        slot = _revision_slot(event)
        if slot is None:
            kept.append(event)
            continue
        index = slots.get(slot)
        if index is None:
            slots[slot] = len(kept)
            kept.append(event)
        elif _created(event) >= _created(kept[index]):
            kept[index] = event
    return kept


def _newest(events: list[EquipmentEventRecord], key: str) -> Any:
    said = [e for e in events if e.get(key)]
    return max(said, key=_created)[key] if said else None  # type: ignore[literal-required]


def _location(
    actual: list[EquipmentEventRecord],
    port_id: str,
    terminals: Mapping[str, str],
    own: ContainerLocationRecord | None,
) -> ContainerLocationRecord | None:
    if not actual:
        return None
    place = actual[-1].get("eventLocation") or {}
    if place.get("facilityCodeListProvider") not in (None, "SMDG"):
        place = {**place, "facilityCode": None}  # a BIC facility is not a terminal code
    code = place.get("facilityCode")
    if code is None and not place:
        return None
    same_terminal = own is not None and own.get("facilitySMDGCode") == code
    return {
        "UNLocationCode": place.get("UNLocationCode") or port_id,
        "facilitySMDGCode": code,
        "terminalName": terminals.get(code or "") or place.get("locationName"),
        "yardBlock": own.get("yardBlock") if own is not None and same_terminal else None,
    }


def _customs_holds(actual: list[EquipmentEventRecord]) -> list[HoldRecord]:
    holds: list[HoldRecord] = []
    for event in actual:
        kind = event["equipmentEventTypeCode"]
        if kind in CUSTOMS_SELECTIONS:
            holds.append(
                {
                    "type": "CUSTOMS",
                    "status": "HOLD",
                    "description": CUSTOMS_SELECTIONS[kind],
                    "updatedDateTime": event["eventDateTime"],
                }
            )
        elif kind == "CUSR":
            for hold in holds:
                if hold["type"] == "CUSTOMS" and hold["status"] == "HOLD":
                    hold["status"] = "RELEASED"
                    hold["updatedDateTime"] = event["eventDateTime"]
            if not holds:
                holds.append(
                    {
                        "type": "CUSTOMS",
                        "status": "RELEASED",
                        "description": "Customs released the container",
                        "updatedDateTime": event["eventDateTime"],
                    }
                )
    return holds


def _document_holds(shipment_events: Iterable[ShipmentEvent]) -> list[HoldRecord]:
    """One hold per document: its latest HOLD / RELS event decides."""
    latest: dict[tuple[str | None, str | None], ShipmentEvent] = {}
    for event in shipment_events:
        if event.type_code not in ("HOLD", "RELS"):
            continue
        key = (event.document_type, event.document_id)
        held = latest.get(key)
        if held is None or (event.created or event.at) >= (held.created or held.at):
            latest[key] = event
    return [
        {
            "type": HOLD_TYPE_BY_DOCUMENT.get(event.document_type or "", "OTHER"),
            "status": "HOLD" if event.type_code == "HOLD" else "RELEASED",
            "description": event.reason,
            "updatedDateTime": event.at,
        }
        for event in latest.values()
    ]


def availability_from_events(
    actual: list[EquipmentEventRecord], shipment_events: list[ShipmentEvent]
) -> ImportAvailabilityRecord | None:
    """What T&T's own events say of availability; None when they say nothing."""
    told = [e for e in actual if e["equipmentEventTypeCode"] in AVAILABILITY_EVENTS]
    document_holds = _document_holds(shipment_events)
    if not told and not document_holds:
        return None
    holds = _customs_holds(actual)
    if any(h["type"] == "CUSTOMS" and h["status"] == "RELEASED" for h in document_holds):
        for hold in holds:
            hold["status"] = "RELEASED"
    holds += [h for h in document_holds if h["type"] != "CUSTOMS" or h["status"] == "HOLD"]
    moving = [e for e in actual if e["equipmentEventTypeCode"] in STAYS | {"GTOT", "LOAD"}]
    here = bool(moving) and moving[-1]["equipmentEventTypeCode"] in STAYS
    offered = any(e["equipmentEventTypeCode"] == "AVPU" for e in told)
    held = any(h["status"] == "HOLD" for h in holds)
    return {"availableForPickup": here and offered and not held, "holds": holds}


def build_container(
    reference: str,
    events: list[EquipmentEventRecord],
    *,
    port_id: str,
    terminals: Mapping[str, str],
    own: ContainerRecord | None,
    shipment_events: list[ShipmentEvent],
) -> ContainerRecord:
    """The container ``reference`` from its (already checked) events at the port."""
    kept = latest_revisions(sorted(events, key=_created))
    by_time = sorted(kept, key=lambda e: (e["eventDateTime"], e["eventID"]))
    actual = [e for e in by_time if e["eventClassifierCode"] == "ACT"]
    deciding = actual or by_time
    if own is not None:  # the port's own system knows, even that there is nothing to know
        availability = own.get("availability")
    else:
        availability = availability_from_events(actual, shipment_events)
    record: ContainerRecord = {
        "equipmentReference": reference,
        "ISOEquipmentCode": _newest(kept, "ISOEquipmentCode"),
        "emptyIndicatorCode": _newest(deciding[-1:], "emptyIndicatorCode")
        or _newest(kept, "emptyIndicatorCode"),
        "location": _location(
            actual, port_id, terminals, own.get("location") if own is not None else None
        ),
        "availability": availability,
        "events": by_time,
    }
    if own is not None and "railLeg" in own:
        record["railLeg"] = own["railLeg"]
    return record
