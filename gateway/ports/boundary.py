"""The port boundary: a port's answer is held to the contract before the gateway uses it.

Every port is a separate organisation, so nothing it sends is taken on trust. Right after a port
answers, and before the answer is cached or merged, :class:`PortBoundary` checks it against the
document the gateway sent that port:

- **Values of the schema.** Each value has its field's type in the shared schema: a String is a
  string of at most :data:`MAX_TEXT` characters, an Int a 32-bit integer, a Float a finite
  number, a DateTime an ISO 8601 time with an offset, an enum value one the schema has. A value
  that is not is dropped: a nullable field becomes null, an item of a list is left out, and a
  non-null field that cannot be kept drops the object around it, up to the nearest nullable
  field or list item (as GraphQL itself does).
- **Rows of its own.** A row (an item of a root list, a root object, or one vessel call of a
  page) that claims another port is dropped whole: a ``UNLocationCode`` or ``sourcePort`` that
  is not the port's, a terminal not registered for the port (when its terminals are
  registered), a vessel-call cursor of another port.
- **What was asked, no more.** Containers other than the numbers asked, a vessel other than the
  IMO number asked, metrics other than those asked, vessel calls outside the window, before the
  ``after`` cursor or beyond ``first``: dropped.
- **No outranking by the clock.** Times that say something happened later than now (plus
  :data:`CLOCK_SKEW`): a container's ``lastEventDateTime`` (which decides which port's answer
  about a box wins) and a call's actual arrival and departure: dropped (null).
- **Text passes the labor rule** (:func:`portcontract.labor.labor_text_reason`): every String
  or ID value (a hold's description, a location's name, a remark, a delay reason, a voyage
  number) that names a person, a role on the quay, a shift or a per-hour rate is dropped. Only
  values the rules above already hold to a fixed form are not read as text: the port's own
  UN/LOCODE, its terminals' codes (when registered) and vessel-call cursors.
- **Its words stay out.** A port's error keeps only its code, when it is a contract code
  (:data:`portcontract.errors.CONTRACT_CODES`), its path through the document the gateway
  sent, and for a notice (:data:`portcontract.errors.NOTICE_CODES`) its ``count`` when that is
  a whole number from 1 to :data:`portcontract.errors.MAX_NOTICE_COUNT`, and for
  ``NOT_OFFERED`` the ``coordinate`` when it is one of
  :data:`portcontract.capabilities.OPTIONAL_FIELDS` that the document sent selects under the error's
  root field (else none). The message goes to
  the gateway's log and to the port's fetch span, redacted (URLs, addresses, keys and tokens)
  and withheld whole when it names labor; never to a client.

What was dropped is counted by reason (:data:`REASONS`); the port's entry in
``extensions.sources`` then says ``partial`` with the code ``PORT_CONTRACT_VIOLATION`` and the
counts. Nothing one port sends can overwrite, add to or hide another port's rows.
"""

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
)
from opentelemetry import trace

from gateway.config_types import ResolvedPort
from gateway.planning.plan import AskedField, PortQuery
from gateway.planning.rootfields import DOCUMENT_ARGUMENTS
from gateway.planning.selection import Shape
from gateway.ports.answer_checks import (
    DROPPED,
    LABOR_TEXT,
    MAX_TEXT,  # noqa: F401 - the contract's bound on text, named in the docstring
    MISSING_VALUE,
    TOO_LONG,
    UNKNOWN_ENUM_VALUE,
    WRONG_TYPE,
    Check,
    Checks,
    moment,
)
from gateway.ports.upstream import PortAnswer
from gateway.record.redact import ErrorRedactor
from portcontract.capabilities import OPTIONAL_FIELDS
from portcontract.cursor import InvalidCursor, decode_cursor, sort_key
from portcontract.errors import (
    CONTRACT_CODES,
    COORDINATE_EXTENSION,
    COUNT_EXTENSION,
    MAX_NOTICE_COUNT,
    NOT_OFFERED,
    NOTICE_CODES,
)
from portcontract.labor import labor_text_reason

log = logging.getLogger(__name__)

MAX_ERRORS: Final = 20  # port errors kept from one answer; the rest are counted in the log
MAX_PATH: Final = 16  # elements of a port error's path
CLOCK_SKEW: Final = timedelta(minutes=5)  # how far ahead of the gateway a port's clock may be
MAX_LOGGED_MESSAGE: Final = 300
VIOLATION: Final = "PORT_CONTRACT_VIOLATION"

# Why a value or a row was dropped, as counted in ``extensions.sources``.
# The first five are the type checks' (gateway.ports.answer_checks), the rest the contract's.
OTHER_PORT: Final = "OTHER_PORT"
UNKNOWN_TERMINAL: Final = "UNKNOWN_TERMINAL"
NOT_ASKED: Final = "NOT_ASKED"
FUTURE_TIME: Final = "FUTURE_TIME"
MISMATCHED_PAGE: Final = "MISMATCHED_PAGE"
REASONS: Final = (
    WRONG_TYPE, UNKNOWN_ENUM_VALUE, MISSING_VALUE, TOO_LONG, OTHER_PORT, UNKNOWN_TERMINAL,
    NOT_ASKED, FUTURE_TIME, LABOR_TEXT, MISMATCHED_PAGE,
)  # fmt: skip

# Fields whose value must be the answering port's own UN/LOCODE.
OWN_PORT: Final = frozenset({
    "Port.UNLocationCode", "Terminal.UNLocationCode", "Container.sourcePort",
    "ContainerLocation.UNLocationCode", "VesselCall.UNLocationCode", "PortMetric.UNLocationCode",
})  # fmt: skip
# Fields naming one of the answering port's terminals (SMDG code).
OWN_TERMINAL: Final = frozenset({
    "Terminal.facilitySMDGCode", "ContainerLocation.facilitySMDGCode",
    "VesselCall.facilitySMDGCode", "PortMetric.facilitySMDGCode",
})  # fmt: skip
# Times of things that have happened: never later than now.
PAST_TIMES: Final = frozenset({
    "Container.lastEventDateTime", "VesselCall.actualArrivalDateTime",
    "VesselCall.actualDepartureDateTime", "VesselCall.anchorageArrivalDateTime",
    "VesselCall.pilotBoardingDateTime", "RailLeg.loadedOnRailDateTime",
})  # fmt: skip
# Values of a fixed form, checked above: not read as text.
CURSOR: Final = "VesselCallEdge.cursor"
NOT_TEXT: Final = OWN_PORT | OWN_TERMINAL | {CURSOR}
RULED: Final = OWN_PORT | OWN_TERMINAL | PAST_TIMES | {CURSOR}  # held by _Answer.rules
_PAGE_LISTS: Final = frozenset({"edges", "nodes"})  # a connection's parallel lists: item i of
# each is one call


class _RowRefused(Exception):
    """The row being checked is not this port's to give (or was not asked): drop it whole."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Answer:
    """One port answer being checked: the port, the clock, what was dropped and why."""

    __slots__ = ("arguments", "checks", "counts", "latest", "port", "terminals")

    def __init__(self, port: ResolvedPort, latest: datetime, checks: Checks) -> None:
        self.port = port.id
        self.terminals = port.terminals
        self.latest = latest
        self.checks = checks
        self.counts: Counter[str] = Counter()
        self.arguments: Mapping[str, Any] = {}

    def value(self, value: Any, type_: GraphQLOutputType, shape: Shape | None, at: str) -> Any:
        """``value`` as kept at a field of type ``type_`` (schema coordinate ``at``), or
        ``DROPPED`` when the position is non-null and the value cannot be kept."""
        return self.checks.get(type_, shape, at)(self, value)

    def rules(self, value: Any, at: str) -> Any:
        """The contract's rules for the field at ``at`` (one of :data:`RULED`), past its type:
        the value, or ``DROPPED``; raises :class:`_RowRefused` to drop the whole row."""
        if at in OWN_PORT and value != self.port:
            raise _RowRefused(OTHER_PORT)
        if at in OWN_TERMINAL and self.terminals and value not in self.terminals:
            raise _RowRefused(UNKNOWN_TERMINAL)
        if at in PAST_TIMES:
            when = moment(value)
            if when is not None and when > self.latest:
                self.counts[FUTURE_TIME] += 1
                return DROPPED
        if at == CURSOR:
            self._cursor(value)
        return value

    def _cursor(self, cursor: str) -> None:
        """A vessel call's cursor: this port's, after ``after`` and inside the window asked."""
        key = _call_key(cursor)
        if key is None:
            raise _RowRefused(WRONG_TYPE)
        if key[1] != self.port:
            raise _RowRefused(OTHER_PORT)
        after = self.arguments.get("after")
        start, end = self.arguments.get("from"), self.arguments.get("to")
        if after is not None and (after_key := _call_key(after)) and key <= after_key:
            raise _RowRefused(NOT_ASKED)
        if (start is not None and key[0] < start) or (end is not None and key[0] >= end):
            raise _RowRefused(NOT_ASKED)


def _call_key(cursor: str) -> tuple[datetime, str, str] | None:
    """A vessel-call cursor's sort key with its time in UTC, or None if it is not one."""
    try:
        moment, port, reference = sort_key(decode_cursor(cursor))
    except InvalidCursor:
        return None
    if moment.tzinfo is None:
        return None
    try:
        return moment.astimezone(UTC), port, reference
    except OverflowError:  # at the very edge of the calendar: no such time in UTC
        return None


Asked = Callable[[Any], bool]  # whether a row kept is one the gateway asked for


def _all_named(field: AskedField, name: str, wanted: Callable[[Any], bool]) -> Asked:
    """Whether every value a row has under the field ``name`` (by any response key) is
    ``wanted``."""
    keys = tuple(key for key, _ in field.shape.keys_named(name))

    def asked(row: Any) -> bool:
        return not isinstance(row, dict) or all(wanted(row.get(key)) for key in keys)

    return asked


def _asked_reference(field: AskedField) -> Asked | None:
    if any(field.arguments.get(name) for name in DOCUMENT_ARGUMENTS):
        return None  # the boxes of a bill of lading or booking: only the port knows which
    wanted = {field.arguments.get("reference"), *(field.arguments.get("references") or ())}
    return _all_named(field, "equipmentReference", wanted.__contains__)


def _asked_vessel(field: AskedField) -> Asked:
    imo = field.arguments.get("imo")
    return _all_named(field, "vesselIMONumber", lambda value: value == imo)


def _asked_metric(field: AskedField) -> Asked | None:
    metrics = field.arguments.get("metrics")
    if metrics is None:
        return None
    return _all_named(field, "metric", {getattr(m, "name", m) for m in metrics}.__contains__)


# Which rows of a root field the gateway asked for, by the field's arguments: made once for
# the field, asked of each row.
_ASKED: Mapping[str, Callable[[AskedField], Asked | None]] = {
    "container": _asked_reference,
    "containers": _asked_reference,
    "vessel": _asked_vessel,
    "portMetrics": _asked_metric,
}


class PortBoundary:
    """Holds every port answer to the shared schema and the document it answers."""

    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        redactor: ErrorRedactor | None = None,
    ) -> None:
        query_type = schema.query_type
        assert query_type is not None
        self._query_type = query_type
        self._clock = clock
        self._redactor = redactor or ErrorRedactor()
        self.checks = Checks(ruled=RULED, not_text=NOT_TEXT)

    def hold(self, query: PortQuery, answer: PortAnswer) -> PortAnswer:
        """``answer`` with what breaks the contract dropped and counted in ``dropped``, and its
        errors reduced to their codes and paths."""
        port = query.port
        errors = self._errors(port.id, query, answer.errors)
        if answer.data is None:
            return replace(answer, errors=errors)
        check = _Answer(port, self._clock() + CLOCK_SKEW, self.checks)
        data: dict[str, Any] = {}
        for field in query.asked:
            if field.key in answer.data:
                data[field.key] = self._root(check, field, answer.data[field.key])
        dropped = dict(check.counts)
        if dropped:
            log.warning("port %s: answer broke the contract; dropped %s", port.id, dropped)
        return replace(answer, data=data, errors=errors, dropped=dropped)

    def _root(self, check: _Answer, field: AskedField, value: Any) -> Any:
        check.arguments = field.arguments
        type_ = self._query_type.fields[field.name].type
        named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        if value is None:
            return None
        if field.name == "vesselCalls":
            assert isinstance(named, GraphQLObjectType)
            return self._page(check, field, value, named)
        asking = _ASKED.get(field.name)
        asked = asking(field) if asking is not None else None
        at = f"Query.{field.name}"
        if isinstance(named, GraphQLList):
            if type(value) is not list:
                check.counts[WRONG_TYPE] += 1
                return None
            each = self.checks.get(named.of_type, field.shape, at)  # one check for every row
            rows = (self._row(check, item, each, asked) for item in value)
            return [row for row in rows if row is not DROPPED]
        row = self._row(check, value, self.checks.get(named, field.shape, at), asked)
        return None if row is DROPPED else row

    @staticmethod
    def _row(check: _Answer, value: Any, checked: Check, asked: Asked | None) -> Any:
        """One row, kept whole or dropped whole when it is not this port's or not asked."""
        try:
            kept = checked(check, value)
        except _RowRefused as refused:
            check.counts[refused.reason] += 1
            return DROPPED
        if kept is not DROPPED and asked is not None and not asked(kept):
            check.counts[NOT_ASKED] += 1
            return DROPPED
        return kept

    def _page(self, check: _Answer, field: AskedField, value: Any, type_: GraphQLObjectType) -> Any:
        """A page of vessel calls: item i of every list (edges, nodes) is one call, kept or
        dropped together; at most ``first`` of them."""
        if type(value) is not dict:
            check.counts[WRONG_TYPE] += 1
            return None
        lists: dict[str, list[Any]] = {}
        for key, name, _ in field.shape.fields:
            if name not in _PAGE_LISTS:
                continue
            items = value.get(key)
            if not isinstance(items, list):
                check.counts[WRONG_TYPE] += 1
                return None
            lists[key] = items
        lengths = {len(items) for items in lists.values()}
        if len(lengths) > 1:
            check.counts[MISMATCHED_PAGE] += 1
        count = min(lengths, default=0)
        first = field.arguments.get("first", count)
        if count > first:
            check.counts[NOT_ASKED] += count - first
            count = first
        kept: dict[str, list[Any]] = {key: [] for key in lists}
        for index in range(count):
            row: dict[str, Any] = {}
            try:
                for key, name, sub in field.shape.fields:
                    if name in _PAGE_LISTS:
                        item_type = type_.fields[name].type
                        assert isinstance(item_type, GraphQLNonNull)
                        list_type = item_type.of_type
                        assert isinstance(list_type, GraphQLList)
                        row[key] = check.value(
                            lists[key][index], list_type.of_type, sub, f"{type_.name}.{name}"
                        )
            except _RowRefused as refused:
                check.counts[refused.reason] += 1
                continue
            if any(item is DROPPED for item in row.values()):
                continue
            for key, item in row.items():
                kept[key].append(item)
        rest = self.checks.get(type_, field.shape, "Query.vesselCalls", leave=_PAGE_LISTS)
        try:
            page = rest(check, value)
        except _RowRefused as refused:
            check.counts[refused.reason] += 1
            return None
        if page is DROPPED:
            return None
        assert isinstance(page, dict)
        return {key: kept[key] if key in kept else page[key] for key, _, _ in field.shape.fields}

    def _errors(
        self, port: str, query: PortQuery, errors: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Each error as its contract code (or none) and its path through the document sent;
        its message to the log and the trace only."""
        keys = {field.key: field.shape for field in query.asked}
        kept = []
        for error in errors[:MAX_ERRORS]:
            extensions = error.get("extensions")
            code = extensions.get("code") if isinstance(extensions, dict) else None
            code = code if isinstance(code, str) and code in CONTRACT_CODES else None
            path = _known_path(error.get("path"), keys)
            self._record_message(port, code, error.get("message"))
            held: dict[str, Any] = {"code": code, "path": path}
            count = _count(extensions) if code in NOTICE_CODES else None
            if count is not None:
                held[COUNT_EXTENSION] = count
            if code == NOT_OFFERED:  # which field: one of the contract's, or none at all
                coordinate = extensions.get(COORDINATE_EXTENSION)  # type: ignore[union-attr]
                asked = path is not None and _asks_optional(keys[str(path[0])], coordinate)
                held[COORDINATE_EXTENSION] = coordinate if asked else None
            kept.append(held)
        if len(errors) > MAX_ERRORS:
            log.info("port %s: %d more errors not kept", port, len(errors) - MAX_ERRORS)
        return kept

    def _record_message(self, port: str, code: str | None, message: Any) -> None:
        """A port's own words, for the operator: redacted, withheld whole if they name labor."""
        if not isinstance(message, str):
            return
        if labor_text_reason(message) is not None:
            text = "(withheld: the message names labor)"
        else:
            text = self._redactor.message(message)[:MAX_LOGGED_MESSAGE]
        log.info("port %s reported %s: %s", port, code or "an error", text)
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event(
                "portgate.port_error",
                {"portgate.port": port, "portgate.port_code": code or "", "message": text},
            )


def _count(extensions: Any) -> int | None:
    """A notice's count, when it is a believable whole number."""
    count = extensions.get(COUNT_EXTENSION) if isinstance(extensions, dict) else None
    return count if type(count) is int and 1 <= count <= MAX_NOTICE_COUNT else None


def _asks_optional(shape: Shape, coordinate: Any) -> bool:
    """Whether ``coordinate`` is one of the contract's optional fields and the document sent
    selects it under ``shape``: a port says only what it lacks of what it was asked. (Each
    optional field's name is unique in the schema, so its name in the shape is the field.)"""
    if not isinstance(coordinate, str) or coordinate not in OPTIONAL_FIELDS:
        return False
    name = coordinate.partition(".")[2]
    pending = [shape]
    while pending:
        for _, field_name, sub in pending.pop().fields:
            if field_name == name:
                return True
            if sub is not None:
                pending.append(sub)
    return False


def _known_path(path: Any, keys: Mapping[str, Shape]) -> list[str | int] | None:
    """A port error's path, kept only as far as it runs through the document the gateway sent
    (response keys it chose, list indexes): the port cannot write words into it."""
    if type(path) is not list or not path or path[0] not in keys:
        return None
    kept: list[str | int] = [path[0]]
    shape: Shape | None = keys[path[0]]
    for step in path[1:MAX_PATH]:  # the first element and MAX_PATH - 1 more
        if type(step) is int and step >= 0:
            kept.append(step)
            continue
        below = {key: sub for key, _, sub in shape.fields} if shape is not None else {}
        if type(step) is not str or step not in below:
            break
        kept.append(step)
        shape = below[step]
    return kept
