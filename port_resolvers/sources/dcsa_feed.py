"""Reading a DCSA Track & Trace ``GET /v2/events`` feed: one question, every page of its answer.

:class:`EventFeed` sends an :class:`EventQuery` and follows the answer's pages:

- **Next page.** ``Next-Page-Cursor`` (a bare cursor, as DCSA's newer APIs send it) or
  ``Next-Page`` (a link ``<base>/v2/events?cursor=...``, or a bare cursor as the T&T 2.2 example
  shows). Only the cursor is taken, and it is sent back exactly as received (a ``+`` in a link
  stays a ``+``); a bare cursor is percent-encoded once. Requests stay on the configured base
  URL, and a cursor request carries nothing but the cursor, as DCSA prescribes.
- **Bounded.** At most ``max_pages`` pages; a cursor that comes back again ends the loop. Either
  way the answer is what was read, marked ``truncated``.
- **De-duplicated** by ``eventType`` and ``eventID`` (an event repeated on the next page, when
  the source's own paging shifts, is read once). DCSA's own published 2.2 sample reuses one
  ``eventID`` for events of three kinds, hence the type in the key.
- **Tolerant.** An item that is not a JSON object is counted as invalid and skipped. An answer
  that is not a list, or a page of objects none of which looks like a DCSA event, is not DCSA
  at all: :class:`~port_resolvers.kit.source.SourceUnavailable`.
- **Windows.** ``eventCreatedDateTime`` ranges are T&T 2.2's own filter; ``eventDateTime``
  ranges come with DCSA's event domain 3. A source that refuses the latter (HTTP 400) is asked
  again without it, and the feed does not send it again.
"""

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

import httpx

from port_resolvers.kit.source import SourceUnavailable
from port_resolvers.sources.dcsa_paging import DEFAULT_MAX_PAGES, DEFAULT_PAGE_SIZE
from port_resolvers.sources.fetch import SourceRefused, require_json

logger = logging.getLogger("port_resolvers.sources.dcsa")

API_VERSION_MAJOR: Final = "2"
EVENTS_PATH: Final = "/v2/events"
ASCENDING_BY_CREATION: Final = "eventCreatedDateTime:ASC"
DESCENDING_BY_CREATION: Final = "eventCreatedDateTime:DESC"
EVENT_KEYS: Final = frozenset({"eventType", "eventCreatedDateTime", "eventClassifierCode"})
_ENCODED: Final = re.compile(r"%[0-9A-Fa-f]{2}")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class EventQuery:
    """One question to ``GET /v2/events``; ranges are half-open ``[from, to)``."""

    event_types: tuple[str, ...]
    un_location_code: str | None = None
    equipment_reference: str | None = None
    vessel_imo_number: str | None = None
    shipment_event_types: tuple[str, ...] = ()
    transport_document_reference: str | None = None
    carrier_booking_reference: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    happened_from: datetime | None = None
    happened_to: datetime | None = None
    sort: str = ASCENDING_BY_CREATION
    limit: int | None = None  # else the feed's page size
    first_page_only: bool = False

    def parameters(self, page_size: int, *, with_event_time: bool) -> dict[str, str]:
        params = {"eventType": ",".join(self.event_types), "sort": self.sort}
        params["limit"] = str(self.limit or page_size)
        optional = {
            "UNLocationCode": self.un_location_code,
            "equipmentReference": self.equipment_reference,
            "vesselIMONumber": self.vessel_imo_number,
            "transportDocumentReference": self.transport_document_reference,
            "carrierBookingReference": self.carrier_booking_reference,
        }
        params |= {name: value for name, value in optional.items() if value is not None}
        if self.shipment_event_types:
            params["shipmentEventTypeCode"] = ",".join(self.shipment_event_types)
        if self.created_from is not None:
            params["eventCreatedDateTime:gte"] = _iso(self.created_from)
        if self.created_to is not None:
            params["eventCreatedDateTime:lt"] = _iso(self.created_to)
        if with_event_time and self.happened_from is not None:
            params["eventDateTime:gte"] = _iso(self.happened_from)
        if with_event_time and self.happened_to is not None:
            params["eventDateTime:lt"] = _iso(self.happened_to)
        return params

    @property
    def asks_event_time(self) -> bool:
        return self.happened_from is not None or self.happened_to is not None


@dataclass(slots=True)
class FeedRead:
    """What one question gave: its events (in the order read), and what was left out."""

    events: list[dict[str, Any]] = field(default_factory=list)
    invalid: int = 0  # items that were not JSON objects
    truncated: bool = False
    pages: int = 0


class UnfollowableLink(ValueError):
    """A ``Next-Page`` link that carries no cursor."""


def next_cursor(headers: Mapping[str, str]) -> str | None:
    """The next page's cursor, ready for a query string, or None on the last page; raises
    :class:`UnfollowableLink` for a link without a cursor."""
    bare = (headers.get("Next-Page-Cursor") or "").strip()
    if bare:
        return _encoded_once(bare)
    link = (headers.get("Next-Page") or "").strip()
    if link.startswith("<"):  # RFC 8288 style: <url>; rel="next"
        link = link[1 : link.find(">")] if ">" in link else link[1:]
    if not link:
        return None
    if "?" not in link and "://" not in link and not link.startswith("/"):
        return _encoded_once(link)  # a bare cursor, as the T&T 2.2 example shows
    query = link.partition("?")[2].partition("#")[0]
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "cursor" and value:
            return value  # exactly as received
    raise UnfollowableLink(f"Next-Page {link!r} names no cursor")


def _encoded_once(cursor: str) -> str:
    return cursor if _ENCODED.search(cursor) else quote(cursor, safe="")


def _looks_like_an_event(item: Any) -> bool:
    return isinstance(item, dict) and not EVENT_KEYS.isdisjoint(item)


class EventFeed:
    """``GET /v2/events`` of the T&T API at ``base_url``, through an injected client."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_pages: int = DEFAULT_MAX_PAGES,
        event_time_filter: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if page_size < 1 or max_pages < 1:
            raise ValueError("page_size and max_pages must be at least 1")
        self.client = client
        self.url = base_url.rstrip("/") + EVENTS_PATH
        self.page_size = page_size
        self.max_pages = max_pages
        self.event_time_filter = event_time_filter
        self.headers = {"API-Version": API_VERSION_MAJOR, **(headers or {})}

    async def read(self, query: EventQuery) -> FeedRead:
        """Every page of the answer to ``query``, within the feed's bounds."""
        with_event_time = self.event_time_filter and query.asks_event_time
        try:
            return await self._read(query, with_event_time)
        except SourceRefused as refused:
            if not (with_event_time and refused.status == 400):
                raise
        logger.warning("%s refuses eventDateTime ranges: asking without them", self.url)
        self.event_time_filter = False
        return await self._read(query, with_event_time=False)

    async def _read(self, query: EventQuery, with_event_time: bool) -> FeedRead:
        read = FeedRead()
        seen_events: set[tuple[Any, str]] = set()
        seen_cursors: set[str] = set()
        url, params = self.url, query.parameters(self.page_size, with_event_time=with_event_time)
        while read.pages < self.max_pages:
            answer = await require_json(
                self.client, url, params=params or None, headers=self.headers
            )
            read.pages += 1
            self._take(answer.payload, read, seen_events)
            try:
                cursor = next_cursor(answer.headers)
            except UnfollowableLink as exc:
                logger.warning("%s: %s: paging stopped", self.url, exc)
                read.truncated = True
                return read
            if cursor is None or query.first_page_only:
                return read
            if cursor in seen_cursors:
                logger.warning("%s gave a cursor it gave before: paging stopped", self.url)
                read.truncated = True
                return read
            seen_cursors.add(cursor)
            url, params = f"{self.url}?cursor={cursor}", {}
        logger.warning("%s has more than %d pages for one question", self.url, self.max_pages)
        read.truncated = True
        return read

    def _take(self, payload: Any, read: FeedRead, seen: set[tuple[Any, str]]) -> None:
        if not isinstance(payload, list):
            raise SourceUnavailable(f"GET {EVENTS_PATH} answered something that is not a list")
        if payload and not any(_looks_like_an_event(item) for item in payload):
            raise SourceUnavailable(f"GET {EVENTS_PATH} answered a list that holds no DCSA event")
        for item in payload:
            if not isinstance(item, dict):
                read.invalid += 1
                continue
            event_id = item.get("eventID")
            if isinstance(event_id, str) and event_id:
                key = (item.get("eventType"), event_id)
                if key in seen:
                    continue
                seen.add(key)
            read.events.append(item)
