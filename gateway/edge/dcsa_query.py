"""What a DCSA Track & Trace 2.2 request asks, for the facade (:mod:`gateway.edge.dcsa_tnt`) and
its event subscriptions (:mod:`gateway.edge.dcsa_subscriptions`): the spec's filters, parsed
(:func:`parse_filters`) and matched against an event (:func:`matches`); the signed cursors that
page across ports (:class:`Cursors`); the spec's paging headers (:func:`page_headers`); and the
error every refusal becomes (:class:`DcsaError`).
"""

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request

from gateway.config_types import ConfigError
from gateway.edge.dcsa_events import EQUIPMENT_CODES, TRANSPORT_CODES, Event

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

SHIPMENT_CODES = frozenset(
    {"RECE", "DRFT", "PENA", "PENU", "REJE", "APPR", "ISSU", "SURR", "SUBM", "VOID", "CONF",
     "REQS", "CMPL", "HOLD", "RELS"}
)  # fmt: skip
DOCUMENT_TYPE_CODES = frozenset(
    {"CBR", "BKG", "SHI", "SRM", "TRD", "ARN", "VGM", "CAS", "CUS", "DGD", "OOG"}
)
EVENT_TYPES = frozenset({"SHIPMENT", "TRANSPORT", "EQUIPMENT"})
OPERATORS = ("gte", "gt", "lte", "lt", "eq")
# Text filters: the spec's maximum length, and a pattern where it has one.
TEXT_FILTERS: dict[str, tuple[int, re.Pattern[str] | None]] = {
    "equipmentReference": (15, None),
    "transportDocumentReference": (20, None),
    "carrierBookingReference": (35, None),
    "transportCallID": (100, None),
    "vesselIMONumber": (7, re.compile(r"\d{7}")),
    "carrierVoyageNumber": (50, None),
    "exportVoyageNumber": (50, None),
    "carrierServiceCode": (5, None),
    "UNLocationCode": (5, re.compile(r"[A-Z]{2}[A-Z2-9]{3}")),
}
LIST_FILTERS: dict[str, frozenset[str]] = {
    "eventType": EVENT_TYPES,
    "equipmentEventTypeCode": EQUIPMENT_CODES,
    "transportEventTypeCode": TRANSPORT_CODES,
    "shipmentEventTypeCode": SHIPMENT_CODES,
    "documentTypeCode": DOCUMENT_TYPE_CODES,
}
ALIASES = {"bookingReference": "carrierBookingReference"}  # deprecated in 2.2, same meaning
NOT_OFFERED = frozenset({"transportDocumentID", "scheduleID"})  # deprecated, and no such IDs
PAGING = frozenset({"limit", "cursor", "sort"})
DOCUMENT_FILTERS = ("transportDocumentReference", "carrierBookingReference")


class DcsaError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(slots=True)
class Filters:
    """A request's filters, in the form its cursors carry them."""

    text: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    created: list[tuple[str, str]] = field(default_factory=list)  # (operator, ISO time)
    descending: bool = False
    limit: int = DEFAULT_LIMIT

    def as_json(self) -> dict[str, Any]:
        return {"t": self.text, "l": self.lists, "c": self.created, "d": self.descending,
                "n": self.limit}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Filters":
        return cls(
            dict(data["t"]), {k: list(v) for k, v in data["l"].items()},
            [(str(o), str(t)) for o, t in data["c"]], bool(data["d"]), int(data["n"]),
        )  # fmt: skip

    def types(self) -> set[str]:
        """The event types the filters can match."""
        types = set(self.lists.get("eventType", EVENT_TYPES))
        if "equipmentEventTypeCode" in self.lists or "equipmentReference" in self.text:
            types &= {"EQUIPMENT"}
        if "transportEventTypeCode" in self.lists:
            types &= {"TRANSPORT"}
        if "shipmentEventTypeCode" in self.lists or "documentTypeCode" in self.lists:
            types &= {"SHIPMENT"}
        if any(name in self.text for name in DOCUMENT_FILTERS):
            types -= {"TRANSPORT"}  # no transport event refers to a document here
        if "carrierServiceCode" in self.text:
            types -= {"EQUIPMENT"}  # an equipment event's transport call has no service code
        return types

    def has_containers(self) -> bool:
        return any(n in self.text for n in ("equipmentReference", *DOCUMENT_FILTERS))


def parse_filters(request: Request) -> Filters:
    """The request's filters; a DcsaError (400) for any parameter or value the spec does not
    allow, or that this publisher does not offer."""
    filters = Filters()
    seen: set[str] = set()
    for raw_name, value in request.query_params.multi_items():
        if raw_name in seen:
            raise DcsaError(400, "invalidParameter", f"{raw_name} is given more than once")
        seen.add(raw_name)
        name = ALIASES.get(raw_name, raw_name)
        base, _, operator = name.partition(":")
        if base == "eventCreatedDateTime":
            filters.created.append((_operator(operator, raw_name), _time(value, raw_name)))
        elif operator:
            raise DcsaError(400, "invalidParameter", f"{raw_name}: only eventCreatedDateTime "
                            "takes an operator")  # fmt: skip
        elif name in TEXT_FILTERS:
            if name in filters.text:
                raise DcsaError(400, "invalidParameter", f"{raw_name} is given more than once")
            filters.text[name] = text_filter(name, value)
        elif name in LIST_FILTERS:
            filters.lists[name] = code_list(name, value, LIST_FILTERS[name])
        elif name == "limit":
            filters.limit = _limit(value)
        elif name == "sort":
            filters.descending = _descending(value)
        elif name in NOT_OFFERED:
            raise DcsaError(400, "invalidParameter", f"{raw_name} is not offered by this "
                            "publisher (deprecated in DCSA T&T 2.2)")  # fmt: skip
        elif name != "cursor":
            raise DcsaError(400, "invalidParameter", f"unknown query parameter {raw_name}")
    return filters


def _operator(operator: str, name: str) -> str:
    if operator == "":
        return "eq"
    if operator not in OPERATORS:
        raise DcsaError(
            400, "invalidParameter", f"{name}: the operators are {', '.join(OPERATORS)}"
        )
    return operator


def _time(value: str, name: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise DcsaError(400, "invalidParameter", f"{name} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise DcsaError(400, "invalidParameter", f"{name} needs a time zone offset")
    return moment.astimezone(UTC).isoformat()


def text_filter(name: str, value: str) -> str:
    longest, pattern = TEXT_FILTERS[name]
    if not value or len(value) > longest or (pattern and not pattern.fullmatch(value)):
        raise DcsaError(400, "invalidParameter", f"{name} is not a valid {name}")
    return value


def code_list(name: str, value: str, allowed: frozenset[str]) -> list[str]:
    codes = [c.strip() for c in value.split(",")]
    unknown = [c for c in codes if c not in allowed]
    if unknown or not codes:
        raise DcsaError(400, "invalidParameter",
                        f"{name}: unknown value(s) {', '.join(unknown)}; allowed: "
                        f"{', '.join(sorted(allowed))}")  # fmt: skip
    return sorted(set(codes))


def _limit(value: str) -> int:
    if not re.fullmatch(r"\d{1,10}", value) or not 1 <= int(value) <= MAX_LIMIT:
        raise DcsaError(400, "invalidParameter", f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(value)


def _descending(value: str) -> bool:
    match = re.fullmatch(r"eventCreatedDateTime(?::(ASC|DESC))?", value)
    if match is None:
        raise DcsaError(400, "invalidParameter",
                        "sort: only eventCreatedDateTime, eventCreatedDateTime:ASC or "
                        "eventCreatedDateTime:DESC")  # fmt: skip
    return match.group(1) == "DESC"


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page starts: after ``after`` (None: at the start), with the window's time."""

    filters: Filters
    anchor: str
    after: tuple[str, str, str] | None


MIN_KEY_CHARACTERS = 32
KEY_PURPOSE = b"portgate DCSA T&T 2.2 paging cursors"


def cursor_key(variable: str | None, environ: Mapping[str, str] = os.environ) -> bytes | None:
    """The key cursors are signed with, from the environment variable named ``variable`` (the
    setting ``dcsa.cursor_key_env``); None without one (a random key per process). The secret
    is not used as it is: the key is its HMAC over this purpose, so a secret that also serves
    elsewhere signs nothing that counts there. A :class:`ConfigError` names the variable, never
    its value, when it is unset or short."""
    if variable is None:
        return None
    secret = environ.get(variable, "")
    if len(secret) < MIN_KEY_CHARACTERS:
        state = "is not set" if not secret else f"holds fewer than {MIN_KEY_CHARACTERS} characters"
        raise ConfigError(f"dcsa.cursor_key_env: the environment variable {variable!r} {state}")
    return hmac.new(secret.encode(), KEY_PURPOSE, hashlib.sha256).digest()


class Cursors:
    """Opaque, signed cursors: base64url of the position as JSON, then its HMAC-SHA256, with
    ``key`` (from :func:`cursor_key`), else a random key of this process."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or os.urandom(32)

    def encode(self, position: Position) -> str:
        payload = orjson.dumps({"f": position.filters.as_json(), "a": position.anchor,
                                "p": position.after})  # fmt: skip
        signature = hmac.new(self._key, payload, hashlib.sha256).digest()
        return _b64(payload) + "." + _b64(signature)

    def decode(self, cursor: str) -> Position:
        bad = DcsaError(400, "invalidCursor", "the cursor is not one this publisher gave out")
        text, _, signature = cursor.partition(".")
        try:
            payload, sent = _unb64(text), _unb64(signature)
        except ValueError:
            raise bad from None
        if not hmac.compare_digest(hmac.new(self._key, payload, hashlib.sha256).digest(), sent):
            raise bad
        try:
            data = orjson.loads(payload)
            after = data["p"]
            return Position(
                Filters.from_json(data["f"]), str(data["a"]),
                None if after is None else (str(after[0]), str(after[1]), str(after[2])),
            )  # fmt: skip
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
            raise bad from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError(text)
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def page_headers(link: Callable[[int], str], start: int, limit: int, total: int) -> dict[str, str]:
    """The spec's paging headers for the page of ``limit`` items from ``start`` of ``total``;
    ``link`` makes the URL of the page that starts at an index."""
    headers = {"Current-Page": link(start), "First-Page": link(0)}
    if start > 0:
        headers["Prev-Page"] = link(max(0, start - limit))
    if start + limit < total:
        headers["Next-Page"] = link(start + limit)
        headers["Last-Page"] = link(start + ((total - start - 1) // limit) * limit)
    return headers


def passed(key: tuple[str, str, str], after: tuple[str, str, str], descending: bool) -> bool:
    """Whether the event at ``key`` is at or before ``after`` in the order: on an earlier page."""
    return key >= after if descending else key <= after


def matches(event: Event, filters: Filters) -> bool:
    body, text, lists = event.body, filters.text, filters.lists
    call = body.get("transportCall") or {}
    kind = body["eventType"]
    if kind == "EQUIPMENT":
        codes = lists.get("equipmentEventTypeCode")
        if codes is not None and body["equipmentEventTypeCode"] not in codes:
            return False
        if (
            "equipmentReference" in text
            and body.get("equipmentReference") != (text["equipmentReference"])
        ):
            return False
    else:
        codes = lists.get("transportEventTypeCode")
        if codes is not None and body["transportEventTypeCode"] not in codes:
            return False
        if (
            "carrierServiceCode" in text
            and call.get("carrierServiceCode") != (text["carrierServiceCode"])
        ):
            return False
    if "transportCallID" in text and call.get("transportCallID") != text["transportCallID"]:
        return False
    vessel = call.get("vessel") or {}
    if "vesselIMONumber" in text and vessel.get("vesselIMONumber") != text["vesselIMONumber"]:
        return False
    voyages = {call.get("importVoyageNumber"), call.get("exportVoyageNumber")}
    if "carrierVoyageNumber" in text and text["carrierVoyageNumber"] not in voyages:
        return False
    if (
        "exportVoyageNumber" in text
        and call.get("exportVoyageNumber") != (text["exportVoyageNumber"])
    ):
        return False
    return all(_compares(event.created, op, moment) for op, moment in filters.created)


def _compares(created: datetime, operator: str, moment: str) -> bool:
    other = datetime.fromisoformat(moment)
    return {
        "eq": created == other,
        "gt": created > other,
        "gte": created >= other,
        "lt": created < other,
        "lte": created <= other,
    }[operator]
