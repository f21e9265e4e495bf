"""The query of ``GET /v2/events`` (DCSA T&T 2.2): parsed and checked once, then applied.

:meth:`EventQuery.parse` reads the query parameters, or the filters a cursor carries, and raises
:class:`BadQuery` (a 400) for unknown parameters and bad values; :meth:`EventQuery.matches` and
:meth:`EventQuery.ordered` apply it to :class:`IndexedEvent` objects; :meth:`EventQuery.cursor`
encodes a page of it for the paging headers.
"""

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DEFAULT_LIMIT = 100
EVENT_TYPES = frozenset({"SHIPMENT", "TRANSPORT", "EQUIPMENT"})
TRANSPORT_CODES = frozenset({"ARRI", "DEPA"})
# T&T 2.2's codes and those DCSA added in its event domain 3, which the simulated ports send.
EQUIPMENT_CODES = frozenset({
    "LOAD", "DISC", "GTIN", "GTOT", "STUF", "STRP", "PICK", "DROP", "INSP", "RSEA", "RMVD",
    "AVPU", "AVDO", "CUSS", "CUSI", "CUSR", "CROS",
})  # fmt: skip
# Filters of shipment events: the simulated ports publish none, so these match nothing.
SHIPMENT_FILTERS = frozenset({
    "shipmentEventTypeCode", "documentTypeCode", "bookingReference", "transportDocumentID",
    "scheduleID",
})  # fmt: skip
# Document filters: the equipment events that name the booking or transport document.
DOCUMENT_FILTERS = {"carrierBookingReference": "BKG", "transportDocumentReference": "TRD"}
# Transport-call filters and the path to the value they compare, inside ``transportCall``.
CALL_FILTERS = {
    "transportCallID": ("transportCallID",),
    "vesselIMONumber": ("vessel", "vesselIMONumber"),
    "exportVoyageNumber": ("exportVoyageNumber",),
    "carrierServiceCode": ("carrierServiceCode",),
}
CREATED_FILTERS = {
    "eventCreatedDateTime": "eq",
    **{f"eventCreatedDateTime:{op}": op for op in ("gte", "gt", "lte", "lt", "eq")},
}
# eventDateTime ranges: DCSA event domain 3 (T&T 3); the simulated ports accept them too.
HAPPENED_FILTERS = {
    "eventDateTime": "eq",
    **{f"eventDateTime:{op}": op for op in ("gte", "gt", "lte", "lt", "eq")},
}
_COMPARISONS: dict[str, Callable[[datetime, datetime], bool]] = {
    "eq": lambda a, b: a == b,
    "gte": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "lte": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
}
KNOWN_PARAMETERS = frozenset({
    "eventType", "transportEventTypeCode", "equipmentEventTypeCode", "equipmentReference",
    "carrierVoyageNumber", "UNLocationCode", "limit", "cursor", "sort",
}) | SHIPMENT_FILTERS | set(DOCUMENT_FILTERS) | set(CALL_FILTERS) | set(CREATED_FILTERS) | set(
    HAPPENED_FILTERS
)  # fmt: skip


class BadQuery(ValueError):
    """A query the API answers with 400; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class IndexedEvent:
    """A rendered event and what the filters look at."""

    body: dict[str, Any]
    event_type: str
    type_code: str
    reference: str | None
    created: datetime
    at: datetime
    documents: tuple[tuple[str, str], ...] = ()


def _codes(params: Mapping[str, str], name: str, allowed: frozenset[str]) -> frozenset[str]:
    if name not in params:
        return frozenset()
    values = frozenset(v.strip() for v in params[name].split(","))
    if not values <= allowed:
        raise BadQuery(f"{name} values must be among {', '.join(sorted(allowed))}")
    return values


def _datetime(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadQuery(f"{name} must be an ISO 8601 date-time with offset") from exc
    if parsed.tzinfo is None:
        raise BadQuery(f"{name} must carry a UTC offset")
    return parsed


def _sort_keys(sort: str | None) -> tuple[tuple[str, bool], ...]:
    keys = []
    for part in (sort or "").split(","):
        if not part:
            continue
        field, _, direction = part.partition(":")
        if field not in {"eventDateTime", "eventCreatedDateTime"}:
            raise BadQuery("sort supports eventDateTime and eventCreatedDateTime")
        if direction.upper() not in {"", "ASC", "DESC"}:
            raise BadQuery("a sort direction is :ASC or :DESC")
        keys.append((field, direction.upper() == "DESC"))
    return tuple(keys)


def _from_cursor(cursor: str) -> tuple[dict[str, str], int]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return {str(k): str(v) for k, v in decoded["query"].items()}, int(decoded["offset"])
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise BadQuery("cursor is not one this API issued") from exc


@dataclass(frozen=True, slots=True)
class EventQuery:
    """The filters, order and page of one request."""

    params: dict[str, str]  # the filters, as a cursor carries them to other pages
    offset: int
    limit: int
    kinds: frozenset[str]
    transport_codes: frozenset[str]
    equipment_codes: frozenset[str]
    reference: str | None
    created: tuple[tuple[str, datetime], ...]
    happened: tuple[tuple[str, datetime], ...]
    documents: tuple[tuple[str, str], ...]  # (BKG | TRD, reference)
    sort: tuple[tuple[str, bool], ...]  # (field, descending)

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> "EventQuery":
        params = dict(query)
        unknown = params.keys() - KNOWN_PARAMETERS
        if unknown:
            raise BadQuery(f"unknown query parameters: {', '.join(sorted(unknown))}")
        offset = 0
        if "cursor" in params:
            params, offset = _from_cursor(params["cursor"])
        limit = params.get("limit", str(DEFAULT_LIMIT))
        if not limit.isdigit() or int(limit) < 1:
            raise BadQuery("limit must be a whole number of at least 1")
        if len(params.get("UNLocationCode", "")) > 5:
            raise BadQuery("UNLocationCode is at most 5 characters")
        reference = params.get("equipmentReference")
        if reference is not None and len(reference) > 15:
            raise BadQuery("equipmentReference is at most 15 characters")
        kinds = _codes(params, "eventType", EVENT_TYPES) or EVENT_TYPES
        if SHIPMENT_FILTERS & params.keys():
            kinds = kinds & {"SHIPMENT"}
        return cls(
            params=params,
            offset=offset,
            limit=int(limit),
            kinds=kinds,
            transport_codes=_codes(params, "transportEventTypeCode", TRANSPORT_CODES),
            equipment_codes=_codes(params, "equipmentEventTypeCode", EQUIPMENT_CODES),
            reference=reference,
            created=tuple(
                (op, _datetime(params[name], name))
                for name, op in CREATED_FILTERS.items()
                if name in params
            ),
            happened=tuple(
                (op, _datetime(params[name], name))
                for name, op in HAPPENED_FILTERS.items()
                if name in params
            ),
            documents=tuple(
                (kind, params[name]) for name, kind in DOCUMENT_FILTERS.items() if name in params
            ),
            sort=_sort_keys(params.get("sort")),
        )

    def matches(self, event: IndexedEvent) -> bool:
        """Whether ``event`` passes every filter; type-code filters narrow only their kind."""
        if event.event_type not in self.kinds:
            return False
        if event.event_type == "TRANSPORT":
            if self.reference is not None:
                return False
            if self.transport_codes and event.type_code not in self.transport_codes:
                return False
        if event.event_type == "EQUIPMENT":
            if self.equipment_codes and event.type_code not in self.equipment_codes:
                return False
            if self.reference is not None and event.reference != self.reference:
                return False
        if self.documents and not set(self.documents) <= set(event.documents):
            return False
        if not all(_COMPARISONS[op](event.created, at) for op, at in self.created):
            return False
        if not all(_COMPARISONS[op](event.at, at) for op, at in self.happened):
            return False
        return self._matches_call(event.body)

    def _matches_call(self, body: dict[str, Any]) -> bool:
        call = body.get("transportCall")
        location = self.params.get("UNLocationCode")
        if location is not None:
            place = (body.get("eventLocation") or call or {}).get("UNLocationCode")
            if place != location:
                return False
        for name, path in CALL_FILTERS.items():
            if name in self.params:
                value: Any = call
                for key in path:
                    value = value.get(key) if isinstance(value, dict) else None
                if value != self.params[name]:
                    return False
        voyage = self.params.get("carrierVoyageNumber")
        return voyage is None or (
            call is not None
            and voyage in (call.get("importVoyageNumber"), call.get("exportVoyageNumber"))
        )

    def ordered(self, events: Iterable[IndexedEvent]) -> list[IndexedEvent]:
        """``events`` in the requested order (stable: ties keep the given order)."""
        result = list(events)
        for field, descending in reversed(self.sort):
            if field == "eventDateTime":
                result.sort(key=lambda e: e.at, reverse=descending)
            else:
                result.sort(key=lambda e: e.created, reverse=descending)
        return result

    def cursor(self, offset: int) -> str:
        """An opaque cursor for the page of this query that starts at ``offset``."""
        raw = json.dumps({"query": self.params, "offset": offset}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
