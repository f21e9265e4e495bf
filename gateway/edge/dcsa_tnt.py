"""The Partnership as one DCSA Track & Trace 2.2 publisher: ``GET /dcsa/tnt/v2/events`` and
``GET /dcsa/tnt/v2/events/{eventID}`` (docs/dcsa-clients.md).

Every request becomes GraphQL operations on the shared schema, run by the same
:class:`~gateway.query.execute.GatewaySchema` the ``/graphql`` endpoint runs them with: the
principal's field policy, the cache, coalescing, the deadline, tracing, metrics and one audit
record per operation apply unchanged. The caller authenticates with the credentials ``/graphql``
takes and is held to the same rate; every refusal is a DCSA ``error`` body with ``API-Version``.

Which events a request gets:

- equipment events of the containers an ``equipmentReference``, ``transportDocumentReference``
  or ``carrierBookingReference`` names (``containers`` of the shared schema: the shared API has
  no "every container", so without one of those there are no equipment events, and asking for
  equipment events alone without one is a 400);
- transport events (berth arrival and departure, planned, estimated and actual) of the vessel
  calls whose planned arrival is in the window ``TRANSPORT_WINDOW_BACK`` before the first page's
  time to ``TRANSPORT_WINDOW_AHEAD`` after it, at the ports asked (``UNLocationCode``: that one);
  at most ``MAX_CALL_PAGES`` pages of vessel calls are read;
- shipment events: none (the ports publish none).

The events are in one order across ports: ``eventCreatedDateTime`` (in UTC), then port, then
``eventID`` (``sort=eventCreatedDateTime:DESC`` reverses it). A page is ``limit`` events after
the position its cursor holds; the cursor also holds the filters, the limit, the order and the
window's time, and is signed (HMAC-SHA256), so it cannot be altered. The key is derived from
the environment variable ``dcsa.cursor_key_env`` names, so that every replica and worker given
the same one accepts the others' cursors, also after a restart; without it, each process has a
random key of its own and refuses every other process's cursors.

A port that did not answer, or answered from its stale store, is named in ``Portgate-Partial``;
fields the policy withheld are named in ``Portgate-Withheld`` and are absent from the events.
"""

import base64
import hashlib
import hmac
import logging
import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import orjson
from graphql import ExecutionResult
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from gateway.access.auth import Authenticator, principal_of
from gateway.config_types import ConfigError
from gateway.edge.authenticate import REALM, credential_headers
from gateway.edge.dcsa_events import (
    CONTAINER_FIELDS,
    EQUIPMENT_CODES,
    TRANSPORT_CODES,
    VESSEL_CALL_FIELDS,
    Event,
    Mapped,
    equipment_events,
    transport_events,
)
from gateway.edge.rate_limit import ClientRate, key_of
from gateway.errors import AmbiguousCredentials, GatewayError, Unauthenticated
from gateway.query.execute import GatewaySchema

log = logging.getLogger(__name__)

PREFIX = "/dcsa/tnt"
API_VERSION = "2.2.0"
MAJOR_VERSION = "2"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
TRANSPORT_WINDOW_BACK = timedelta(days=7)
TRANSPORT_WINDOW_AHEAD = timedelta(days=14)
CALLS_PER_PAGE = 100
MAX_CALL_PAGES = 10
FINE = frozenset({"ok", "cached"})

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
            filters.lists[name] = codes(name, value, LIST_FILTERS[name])
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


def codes(name: str, value: str, allowed: frozenset[str]) -> list[str]:
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


@dataclass(slots=True)
class Gathered:
    events: list[Event] = field(default_factory=list)
    ports: dict[str, str] = field(default_factory=dict)  # port -> status other than ok/cached
    answered: bool = False  # some port answered (or nothing needed asking)
    withheld: set[str] = field(default_factory=set)
    left_out: int = 0

    def add(self, mapped: Mapped) -> None:
        self.events.extend(mapped.events)
        self.left_out += mapped.left_out


class DcsaTrackAndTrace:
    """The facade's routes, over ``schema`` (the one ``/graphql`` serves)."""

    def __init__(
        self,
        schema: GatewaySchema,
        authenticator: Authenticator,
        *,
        rate: ClientRate | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        cursors: Cursors | None = None,
    ) -> None:
        self.schema = schema
        self.authenticator = authenticator
        self.rate = rate
        self.clock = clock
        self.cursors = cursors or Cursors()

    def routes(self) -> list[BaseRoute]:
        return [
            Route(f"{PREFIX}/v2/events", self.events, methods=["GET"]),
            Route(f"{PREFIX}/v2/events/{{eventID}}", self.event, methods=["GET"]),
        ]

    async def events(self, request: Request) -> Response:
        try:
            await self.admit(request)
            params = request.query_params
            if "cursor" in params:
                if set(params) - {"cursor"}:
                    raise DcsaError(400, "invalidParameter", "a cursor carries the filters, the "
                                    "limit and the order: send it alone")  # fmt: skip
                position = self.cursors.decode(params["cursor"])
            else:
                filters = parse_filters(request)
                position = Position(filters, self.clock().astimezone(UTC).isoformat(), None)
            gathered = await self._gather(request, position.filters, position.anchor)
            return self._page(request, position, gathered)
        except DcsaError as exc:
            return self.error(request, exc)
        except Exception:
            log.exception("the DCSA facade failed")
            return self.error(request, DcsaError(500, "internalError", "the request failed"))

    async def event(self, request: Request) -> Response:
        """One event by ID: the transport events of the window are searched (an equipment event
        cannot be found by its ID alone: the shared API looks containers up by number)."""
        try:
            await self.admit(request)
            if request.query_params:
                raise DcsaError(400, "invalidParameter", "this path takes no query parameters")
            wanted = request.path_params["eventID"]
            try:
                uuid.UUID(wanted)
            except ValueError:
                raise DcsaError(400, "invalidParameter", "eventID is not a UUID") from None
            filters = Filters(lists={"eventType": ["TRANSPORT"]})
            anchor = self.clock().astimezone(UTC).isoformat()
            gathered = await self._gather(request, filters, anchor)
            found = next((e for e in gathered.events if e.event_id == wanted), None)
            if found is None:
                raise DcsaError(404, "notFound", f"no transport event {wanted} in the window of "
                                "vessel calls searched")  # fmt: skip
            return self.json(200, found.body, self._status_headers(gathered))
        except DcsaError as exc:
            return self.error(request, exc)
        except Exception:
            log.exception("the DCSA facade failed")
            return self.error(request, DcsaError(500, "internalError", "the request failed"))

    async def admit(self, request: Request) -> None:
        """The API-Version asked, the caller's credential, its rate; the principal on the
        request's state, where the operations' execution reads it."""
        version = request.headers.get("api-version")
        if version is not None and version.strip() != MAJOR_VERSION:
            raise DcsaError(400, "invalidHeader", f"API-Version: this publisher serves major "
                            f"version {MAJOR_VERSION} ({API_VERSION})")  # fmt: skip
        principal = principal_of(request.scope.get("state"))  # the edge's authentication
        if principal is None:
            try:
                principal = await self.authenticator.authenticate(
                    credential_headers(request.scope["headers"])
                )
            except AmbiguousCredentials as exc:
                raise DcsaError(400, "ambiguousCredentials", exc.message) from None
            except Unauthenticated as exc:
                raise DcsaError(401, "unauthenticated", exc.message) from None
        if self.rate is not None:
            client = request.scope.get("client")
            refused = await self.rate.take(*key_of(principal, client, self.rate.ipv6_prefix))
            if refused is not None:
                raise _RateLimited(refused.message, refused.retry_after)
        request.state.principal = principal

    async def _gather(self, request: Request, filters: Filters, anchor: str) -> Gathered:
        gathered = Gathered(answered=True)
        types = filters.types()
        ports = [filters.text["UNLocationCode"]] if "UNLocationCode" in filters.text else None
        if "EQUIPMENT" in types and filters.has_containers():
            await self._containers(request, filters, ports, gathered)
        elif types == {"EQUIPMENT"}:
            raise DcsaError(
                400, "invalidQuery", "equipment events need an equipmentReference, a "
                "transportDocumentReference or a carrierBookingReference",
            )  # fmt: skip
        if "TRANSPORT" in types:
            await self._calls(request, filters, ports, datetime.fromisoformat(anchor), gathered)
        gathered.events = [e for e in gathered.events if matches(e, filters)]
        return gathered

    async def _containers(
        self, request: Request, filters: Filters, ports: list[str] | None, into: Gathered
    ) -> None:
        """The containers every container or document filter names (one aliased field each,
        in one operation), those all of them name kept."""
        arguments = {
            "equipmentReference": ("references", "[String!]"),
            "transportDocumentReference": ("transportDocumentReference", "String"),
            "carrierBookingReference": ("carrierBookingReference", "String"),
        }
        given = [name for name in arguments if name in filters.text]
        variables: dict[str, Any] = {"ports": ports}
        declared, selections = ["$ports: [String!]"], []
        for name in given:
            argument, kind = arguments[name]
            value = filters.text[name]
            variables[name] = [value] if argument == "references" else value
            declared.append(f"${name}: {kind}")
            selections.append(
                f"{name}: containers({argument}: ${name}, ports: $ports) {{ {CONTAINER_FIELDS} }}"
            )
        query = f"query DcsaEquipmentEvents({', '.join(declared)}) {{ {' '.join(selections)} }}"
        data = await self._run(request, query, "DcsaEquipmentEvents", variables, into)
        found = [data.get(name) or [] for name in given]
        common = set.intersection(*({c["equipmentReference"] for c in cs} for cs in found))
        for container in found[0]:
            if container["equipmentReference"] in common:
                into.add(equipment_events(container))

    async def _calls(
        self,
        request: Request,
        filters: Filters,
        ports: list[str] | None,
        anchor: datetime,
        into: Gathered,
    ) -> None:
        query = (
            "query DcsaTransportEvents($ports: [String!], $from: DateTime, $to: DateTime, "
            "$imo: String, $after: String) { vesselCalls(ports: $ports, from: $from, to: $to, "
            f"vesselIMONumber: $imo, first: {CALLS_PER_PAGE}, after: $after) "
            f"{{ nodes {{ {VESSEL_CALL_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        )
        variables: dict[str, Any] = {
            "ports": ports,
            "from": (anchor - TRANSPORT_WINDOW_BACK).isoformat(),
            "to": (anchor + TRANSPORT_WINDOW_AHEAD).isoformat(),
            "imo": filters.text.get("vesselIMONumber"),
            "after": None,
        }
        for _ in range(MAX_CALL_PAGES):
            data = await self._run(request, query, "DcsaTransportEvents", variables, into)
            connection = data.get("vesselCalls") or {}
            for call in connection.get("nodes") or ():
                into.add(transport_events(call))
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage") or not page.get("endCursor"):
                return
            variables["after"] = page["endCursor"]
        into.ports.setdefault("ALL", "TRUNCATED")

    async def _run(
        self,
        request: Request,
        query: str,
        name: str,
        variables: dict[str, Any],
        into: Gathered,
    ) -> dict[str, Any]:
        """One operation through the gateway's execution, as ``/graphql`` runs it; its per-port
        status and withheld fields noted in ``into``."""
        status = _Status()
        result: ExecutionResult = await self.schema.execute(
            query, variable_values=variables, operation_name=name,
            context_value={"request": request, "response": status},
        )  # fmt: skip
        codes = [(e.extensions or {}).get("code") for e in result.errors or ()]
        if status.status_code == 403:
            raise DcsaError(403, "forbidden", "the policy refuses a field these events need")
        if status.status_code == 503 or "AUDIT_UNAVAILABLE" in codes:
            raise DcsaError(503, "unavailable", "the request could not be audited")
        if status.status_code is not None and status.status_code >= 400:
            raise DcsaError(400, "invalidQuery", "; ".join(e.message for e in result.errors or ()))
        for error in result.errors or ():
            extensions = error.extensions or {}
            if extensions.get("code") == "FORBIDDEN_FIELD" and "coordinate" in extensions:
                into.withheld.add(str(extensions["coordinate"]))
        sources = (result.extensions or {}).get("sources") or []
        if sources and not any(s.get("status") not in ("error", "timeout", "circuit_open")
                               for s in sources):  # fmt: skip
            into.answered = False
        for source in sources:
            state = str(source.get("status"))
            if state not in FINE:
                state = "PAUSED" if source.get("reason") == "paused" else state.upper()
                into.ports[str(source.get("port"))] = state
        return dict(result.data or {})

    def _page(self, request: Request, position: Position, gathered: Gathered) -> Response:
        if not gathered.answered and not gathered.events:
            raise DcsaError(
                503,
                "unavailable",
                "no port asked could answer: "
                + ", ".join(f"{p}={s}" for p, s in sorted(gathered.ports.items())),
            )
        filters = position.filters
        ordered = sorted({e.event_id: e for e in gathered.events}.values(), key=Event.key,
                         reverse=filters.descending)  # fmt: skip
        start = 0
        if position.after is not None:
            after = position.after
            start = sum(1 for e in ordered if _passed(e.key(), after, filters.descending))
        limit = filters.limit
        page = ordered[start : start + limit]

        def link(index: int) -> str:
            after_key = None if index <= 0 else ordered[index - 1].key()
            cursor = self.cursors.encode(Position(filters, position.anchor, after_key))
            return str(request.url.replace(query=f"cursor={cursor}"))

        headers = page_headers(link, start, limit, len(ordered))
        headers |= self._status_headers(gathered)
        return self.json(200, [e.body for e in page], headers)

    @staticmethod
    def _status_headers(gathered: Gathered) -> dict[str, str]:
        headers = {}
        if gathered.ports:
            headers["Portgate-Partial"] = ", ".join(
                f"{port}={state}" for port, state in sorted(gathered.ports.items())
            )
        if gathered.withheld:
            headers["Portgate-Withheld"] = ", ".join(sorted(gathered.withheld))
        if gathered.left_out:
            headers["Portgate-Left-Out"] = str(gathered.left_out)
        return headers

    def error(self, request: Request, exc: DcsaError) -> Response:
        body = {
            "httpMethod": request.method,
            "requestUri": str(request.url),
            "errors": [{"reason": exc.reason, "message": exc.message}],
            "statusCode": exc.status,
            "statusCodeText": HTTPStatus(exc.status).phrase,
            "errorDateTime": self.clock().astimezone(UTC).isoformat(),
        }
        headers = {}
        if exc.status == 401:
            headers["WWW-Authenticate"] = REALM
        if isinstance(exc, _RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        return self.json(exc.status, body, headers)

    def refusal(
        self, scope: Scope, status: int, error: GatewayError, headers: Mapping[str, str]
    ) -> Response:
        """The edge's refusal of a request to the facade (load shedding, authentication, the
        in-flight limit per client: :mod:`gateway.edge.guarded`) as a DCSA ``error`` body: the
        reason is the error's code in camel case (``OVERLOADED``: ``overloaded``)."""
        head, *rest = error.code.lower().split("_")
        reason = head + "".join(word.capitalize() for word in rest)
        response = self.error(Request(scope), DcsaError(status, reason, error.message))
        response.headers.update(headers)
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int):
            response.headers["Retry-After"] = str(retry_after)
        return response

    @staticmethod
    def json(status: int, body: Any, headers: dict[str, str]) -> Response:
        return Response(
            orjson.dumps(body), status, {"API-Version": API_VERSION, **headers},
            media_type="application/json",
        )  # fmt: skip


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


class _RateLimited(DcsaError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(429, "rateLimited", message)
        self.retry_after = retry_after


class _Status:
    """What an operation's execution sets the HTTP status of (gateway.query.context)."""

    status_code: int | None = None


def _passed(key: tuple[str, str, str], after: tuple[str, str, str], descending: bool) -> bool:
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
