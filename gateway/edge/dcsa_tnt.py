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

import logging
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
from gateway.edge.authenticate import REALM, credential_headers
from gateway.edge.dcsa_events import (
    CONTAINER_FIELDS,
    VESSEL_CALL_FIELDS,
    Event,
    Mapped,
    equipment_events,
    transport_events,
)
from gateway.edge.dcsa_query import (
    Cursors,
    DcsaError,
    Filters,
    Position,
    matches,
    page_headers,
    parse_filters,
    passed,
)
from gateway.edge.rate_limit import ClientRate, key_of
from gateway.errors import AmbiguousCredentials, GatewayError, Unauthenticated
from gateway.query.execute import GatewaySchema

log = logging.getLogger(__name__)

PREFIX = "/dcsa/tnt"
API_VERSION = "2.2.0"
MAJOR_VERSION = "2"
TRANSPORT_WINDOW_BACK = timedelta(days=7)
TRANSPORT_WINDOW_AHEAD = timedelta(days=14)
CALLS_PER_PAGE = 100
MAX_CALL_PAGES = 10
FINE = frozenset({"ok", "cached"})


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
            start = sum(1 for e in ordered if passed(e.key(), after, filters.descending))
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


class _RateLimited(DcsaError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(429, "rateLimited", message)
        self.retry_after = retry_after


class _Status:
    """What an operation's execution sets the HTTP status of (gateway.query.context)."""

    status_code: int | None = None
