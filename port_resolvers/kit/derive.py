"""What the kit derives from a port's records: container fields, and vessel-call pages.

Containers: ``isISO6346Valid``, ``status``, ``lastEventDateTime`` and ``sourcePort`` are
computed here, whatever the source sent, and events are ordered oldest first.

Vessel calls: the filters are applied again (a source may return more than asked), calls are
ordered by the shared key (planned arrival, port, reference: :mod:`portcontract.cursor`) and
paged with the keyset cursor, so a page from this port merges with the other ports' pages.
"""

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from port_resolvers.kit.source import VesselCallFilter
from portcontract.cursor import CallKey, call_key, encode_cursor, sort_key
from portcontract.identifiers import is_iso6346

Record = dict[str, Any]

# Latest actual event type -> where the container stands. Types not listed (DROP, RSEA, RMVD)
# do not move a container in or out, so the latest listed one decides.
STATUS_BY_ACTUAL_EVENT: Final[Mapping[str, str]] = {
    "DISC": "IN_TERMINAL",
    "GTIN": "IN_TERMINAL",
    "STRP": "IN_TERMINAL",
    "STUF": "IN_TERMINAL",
    "INSP": "IN_TERMINAL",
    "GTOT": "GATED_OUT",
    "PICK": "GATED_OUT",
    "LOAD": "LOADED",
}
INBOUND: Final = "INBOUND"


def _event_order(event: Mapping[str, Any]) -> tuple[datetime, str]:
    return (event["eventDateTime"], str(event.get("eventID", "")))


def container_status(events_oldest_first: Sequence[Mapping[str, Any]]) -> str | None:
    """ContainerStatus from the latest actual event; INBOUND when only a discharge is planned."""
    for event in reversed(events_oldest_first):
        if event.get("eventClassifierCode") == "ACT":
            status = STATUS_BY_ACTUAL_EVENT.get(event.get("equipmentEventTypeCode", ""))
            if status is not None:
                return status
    if any(
        event.get("eventClassifierCode") in ("PLN", "EST")
        and event.get("equipmentEventTypeCode") == "DISC"
        for event in events_oldest_first
    ):
        return INBOUND
    return None


def derive_container(record: Record, port_id: str) -> Record:
    """``record`` (already a private copy) with the derived fields filled and events ordered."""
    events = sorted(record.get("events") or (), key=_event_order)
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
    return call_key(
        call["plannedArrivalDateTime"], call["UNLocationCode"], call["transportCallReference"]
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
    for call in calls:
        if matches(call, filter):
            key = key_of(call)
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
