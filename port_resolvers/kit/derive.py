"""What the kit derives from a port's records: container fields, and vessel-call pages.

Containers: ``isISO6346Valid``, ``status``, ``lastEventDateTime`` and ``sourcePort`` are
computed here, whatever the source sent, and events are ordered oldest first. An event's codes
are held to the schema's code lists (:mod:`port_resolvers.kit.codes`): a newer code never
fails an answer.

Vessel calls: the filters are applied again (a source may return more than asked), calls are
ordered by the shared key (planned arrival, port, then the port visit reference where the port
gives one, else the transport call reference: :mod:`portcontract.cursor`), one call per key, and
paged with the keyset cursor, so a page from this port merges with the other ports' pages.
"""

import logging
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from port_resolvers.kit import notices
from port_resolvers.kit.codes import enum_values
from port_resolvers.kit.source import VesselCallFilter
from portcontract.cursor import CallKey, call_key, encode_cursor, sort_key
from portcontract.errors import EVENTS_QUARANTINED
from portcontract.identifiers import is_iso6346

Record = dict[str, Any]
logger = logging.getLogger("port_resolvers.kit")

# Latest actual event that moves a container -> where it stands. Events not listed (seal,
# customs, availability for drop-off, stuffing and stripping, border crossings) happen where the
# box already is, so the latest listed one decides. LOAD depends on what the box is loaded onto.
STATUS_BY_ACTUAL_EVENT: Final[Mapping[str, str]] = {
    "DISC": "IN_TERMINAL",
    "GTIN": "IN_TERMINAL",
    "AVPU": "IN_TERMINAL",
    "GTOT": "GATED_OUT",
    "LOAD": "LOADED",
    "DROP": "DELIVERED_TO_CUSTOMER",
    "PICK": "COLLECTED_FROM_CUSTOMER",
}
STATUS_BY_LOAD_MODE: Final[Mapping[str, str]] = {
    "VESSEL": "LOADED",
    "BARGE": "LOADED",
    "RAIL": "LOADED_ON_RAIL",
    "TRUCK": "GATED_OUT",
}
INBOUND: Final = "INBOUND"
OTHER_EVENT_TYPE: Final = "OTHER"


def _event_order(event: Mapping[str, Any]) -> tuple[datetime, str]:
    return (event["eventDateTime"], str(event.get("eventID", "")))


def _status_of(event: Mapping[str, Any]) -> str | None:
    kind = event.get("equipmentEventTypeCode", "")
    if kind == "LOAD":
        mode = (event.get("transportCall") or {}).get("modeOfTransport")
        return STATUS_BY_LOAD_MODE.get(mode or "", "LOADED")
    return STATUS_BY_ACTUAL_EVENT.get(kind)


def container_status(events_oldest_first: Sequence[Mapping[str, Any]]) -> str | None:
    """ContainerStatus from the latest actual event that moves the box; INBOUND when only a
    discharge is planned or estimated."""
    for event in reversed(events_oldest_first):
        if event.get("eventClassifierCode") == "ACT":
            status = _status_of(event)
            if status is not None:
                return status
    if any(
        event.get("eventClassifierCode") in ("PLN", "EST")
        and event.get("equipmentEventTypeCode") == "DISC"
        for event in events_oldest_first
    ):
        return INBOUND
    return None


def _known(value: Any, enum: str) -> Any:
    return value if value in enum_values(enum) else None


def _within_the_code_lists(event: Record) -> Record | None:
    """An event whose codes the schema can serve, or None when it cannot be placed at all."""
    if event.get("eventClassifierCode") not in enum_values("EventClassifierCode"):
        return None
    kind = event.get("equipmentEventTypeCode")
    event.setdefault("sourceEquipmentEventTypeCode", kind)
    if kind not in enum_values("EquipmentEventTypeCode"):
        logger.warning("an equipment event type the schema does not know yet: %r", kind)
        event["equipmentEventTypeCode"] = OTHER_EVENT_TYPE
        event["sourceEquipmentEventTypeCode"] = str(kind)
    event["emptyIndicatorCode"] = _known(event.get("emptyIndicatorCode"), "EmptyIndicatorCode")
    call = event.get("transportCall")
    if isinstance(call, dict):
        event["transportCall"] = {
            **call,
            "modeOfTransport": _known(call.get("modeOfTransport"), "ModeOfTransport"),
        }
    return event


def derive_container(record: Record, port_id: str) -> Record:
    """``record`` (already a private copy) with the derived fields filled and events ordered.

    Events whose classifier the schema does not know are left out and reported."""
    served = [_within_the_code_lists(dict(event)) for event in record.get("events") or ()]
    notices.report(EVENTS_QUARANTINED, sum(event is None for event in served))
    events = sorted((event for event in served if event is not None), key=_event_order)
    actual = [event for event in events if event.get("eventClassifierCode") == "ACT"]
    record["events"] = events
    record["isISO6346Valid"] = is_iso6346(record["equipmentReference"])
    record["status"] = container_status(events)
    record["lastEventDateTime"] = actual[-1]["eventDateTime"] if actual else None
    record["sourcePort"] = port_id
    return record


def matches(call: Mapping[str, Any], filter: VesselCallFilter) -> bool:
    """Whether a vessel call passes the filters of ``vesselCalls``: arrival in [from, to)."""
    planned: datetime = call["plannedArrivalDateTime"]
    if filter.planned_from is not None and planned < filter.planned_from:
        return False
    if filter.planned_to is not None and planned >= filter.planned_to:
        return False
    if filter.status_codes is not None and call.get("statusCode") not in filter.status_codes:
        return False
    if filter.vessel_imo_number is not None:
        vessel = call.get("vessel") or {}
        if vessel.get("vesselIMONumber") != filter.vessel_imo_number:
            return False
    return True


def key_of(call: Mapping[str, Any]) -> CallKey:
    """A call's place in the shared order; the port's visit reference identifies a visit when
    the port gives one (several carriers' transport calls of one visit are one call)."""
    return call_key(
        call["plannedArrivalDateTime"],
        call["UNLocationCode"],
        call.get("portVisitReference") or call["transportCallReference"],
    )


def _first(item: tuple[tuple[datetime, str, str], CallKey, Record]) -> tuple[datetime, str, str]:
    return item[0]


def empty_connection() -> Record:
    return {
        "edges": [],
        "nodes": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "totalCount": 0,
    }


def vessel_call_page(
    calls: Iterable[Record], filter: VesselCallFilter, *, first: int, after: CallKey | None
) -> Record:
    """One ``VesselCallConnection`` page: filtered, ordered, strictly after ``after``."""
    keyed = []
    seen = set()
    for call in calls:
        if matches(call, filter):
            key = key_of(call)
            if key not in seen:  # one visit listed twice (two carriers' calls): once
                seen.add(key)
                keyed.append((sort_key(key), key, call))
    keyed.sort(key=_first)
    start = 0 if after is None else bisect_right(keyed, sort_key(after), key=_first)
    page = keyed[start : start + first]
    edges = [{"cursor": encode_cursor(key), "node": call} for _, key, call in page]
    return {
        "edges": edges,
        "nodes": [call for _, _, call in page],
        "pageInfo": {
            "hasNextPage": start + first < len(keyed),
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
        "totalCount": len(keyed),
    }
