"""The root fields of the shared schema, answered for one port from its data source.

Each resolver checks its arguments first (a wrong one is ``BAD_USER_INPUT`` even when the port is
not asked), then answers empty or ``null`` without calling the source when the ``ports``
argument leaves this port out. Every record from the source passes through the labor rule of
:mod:`portcontract.labor` before anything else touches it: keys that name labor data are
dropped, and so is a free-text value (:data:`FREE_TEXT_KEYS`) that names people, roles on the
quay, shifts or per-hour rates, which the answer reports (:class:`Notice`). Aggregates pass the
disclosure rules of :mod:`port_resolvers.kit.metrics`. Nested fields resolve from the record
dicts with graphql-core's default resolver (keys are field names), except the optional fields
(:data:`~portcontract.capabilities.OPTIONAL_FIELDS`): one the source does not offer is null, and a
root field whose selection reaches it reports ``NOT_OFFERED`` with its coordinate.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from graphql import (
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
)

from port_resolvers.kit import notices
from port_resolvers.kit.derive import Record, derive_container, empty_connection, vessel_call_page
from port_resolvers.kit.errors import BadUserInput
from port_resolvers.kit.metrics import WithheldMetric, disclosed_metrics
from port_resolvers.kit.source import (
    DocumentLookup,
    PortDataSource,
    VesselCallFilter,
)
from portcontract import GATEWAY_ONLY_FIELDS
from portcontract.capabilities import OPTIONAL_FIELDS
from portcontract.cursor import CallKey, decode_cursor, sort_key
from portcontract.errors import NOT_OFFERED
from portcontract.identifiers import (
    check_container_reference,
    check_document_reference,
    check_imo,
    check_unlocode,
    normalise_container_reference,
)
from portcontract.labor import drop_labor_keys, labor_text_reason

MAX_REFERENCES: Final = 100
MAX_PAGE_SIZE: Final = 100
FREE_TEXT_KEYS: Final = frozenset(
    {"description", "name", "vesselName", "terminalName", "locationName", "changeRemark"}
)
"""Record keys holding prose (``Hold.description``, names of ports, terminals, locations and
vessels, a vessel operator's remark on a changed time): their values pass
:func:`~portcontract.labor.labor_text_reason`."""

Resolver = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the kit withheld from one root field of an answer, to be reported with it."""

    root: str | int  # the root field's response key
    text: tuple[str, ...] = ()  # why free-text values were dropped (never the text itself)
    metrics: tuple[WithheldMetric, ...] = ()


class PortZone:
    """The port's time zone: as configured, else the source's ``PortRecord.timeZone`` (asked
    once), else UTC. Metric weeks are whole weeks in this zone."""

    def __init__(self, name: str | None = None) -> None:
        self._zone = ZoneInfo(name) if name is not None else None

    async def get(self, source: PortDataSource) -> ZoneInfo:
        if self._zone is None:
            name = (await source.port()).get("timeZone")
            self._zone = ZoneInfo(name) if isinstance(name, str) and name else ZoneInfo("UTC")
        return self._zone


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PortContext:
    """What every resolver needs: the port's data source and its UN/LOCODE, the time zone and
    clock its metric periods are judged by, and per request: what was withheld, the optional
    fields the source offers, and those each root field asks (response key -> coordinates,
    found once per operation: :mod:`port_resolvers.kit.execution`)."""

    source: PortDataSource
    port_id: str
    zone: PortZone = field(default_factory=PortZone)
    clock: Callable[[], datetime] = utc_now
    notices: list[Notice] = field(default_factory=list)
    offered: frozenset[str] = frozenset()
    optional_asked: Mapping[str, frozenset[str]] = field(default_factory=dict)


Info = GraphQLResolveInfo[PortContext]


def _without_labor_text(value: Any, dropped: list[str]) -> Any:
    """A copy of a record without free-text values that fail the labor rule, at any depth."""
    if isinstance(value, list):
        return [_without_labor_text(v, dropped) if isinstance(v, dict | list) else v for v in value]
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        if isinstance(item, dict | list):
            kept[key] = _without_labor_text(item, dropped)
        elif key in FREE_TEXT_KEYS and isinstance(item, str):
            reason = labor_text_reason(item)
            kept[key] = item if reason is None else None
            if reason is not None:
                dropped.append(reason)
        else:
            kept[key] = item
    return kept


def asks_this_port(ports: Sequence[str] | None, port_id: str) -> bool:
    """Whether a root field's ``ports`` argument includes this port (no argument: it does)."""
    if ports is None:
        return True
    return port_id in {check_unlocode(code) for code in ports}


def _clean(record: Mapping[str, Any], info: Info) -> Record:
    """The record under the labor rule: labor keys dropped, and labor text (reported)."""
    dropped: list[str] = []
    cleaned: Record = _without_labor_text(drop_labor_keys(record), dropped)
    if dropped:
        info.context.notices.append(Notice(info.path.key, text=tuple(dropped)))
    return cleaned


async def _containers(info: Info, references: list[str]) -> list[Record]:
    """Containers the port knows among ``references``, in that order, with derived fields."""
    context = info.context
    records = await context.source.containers(references)
    by_reference: dict[str, Record] = {}
    for record in records:
        cleaned = _clean(record, info)
        by_reference.setdefault(
            normalise_container_reference(cleaned["equipmentReference"]), cleaned
        )
    return [
        derive_container(by_reference[reference], context.port_id)
        for reference in references
        if reference in by_reference
    ]


def _after(cursor: str | None) -> CallKey | None:
    if cursor is None:
        return None
    key = decode_cursor(cursor)
    if sort_key(key)[0].tzinfo is None:  # well-formed, but not one the contract produces
        raise BadUserInput(f"cursor {cursor!r} is not a vessel-call cursor")
    return key


async def resolve_ports(_root: None, info: Info, **args: Any) -> list[Record]:
    context = info.context
    if not asks_this_port(args.get("ports"), context.port_id):
        return []
    return [_clean(await context.source.port(), info)]


async def resolve_container(_root: None, info: Info, **args: Any) -> Record | None:
    context = info.context
    reference = check_container_reference(args["reference"])
    if not asks_this_port(args.get("ports"), context.port_id):
        return None
    found = await _containers(info, [reference])
    return found[0] if found else None


def _document(args: Mapping[str, Any]) -> tuple[str, str] | None:
    """The document a ``containers`` lookup names, checked; None for a lookup by numbers."""
    given: dict[str, Any] = {
        name: args[name]
        for name in ("references", "transportDocumentReference", "carrierBookingReference")
        if args.get(name) is not None
    }
    if len(given) != 1:
        raise BadUserInput(
            "give exactly one of references, transportDocumentReference and carrierBookingReference"
        )
    ((name, value),) = given.items()
    if name == "references":
        return None
    return name, check_document_reference(name, value)


async def _containers_of_document(info: Info, kind: str, value: str) -> list[Record]:
    context = info.context
    if not isinstance(context.source, DocumentLookup):
        return []  # this port's systems cannot look boxes up by document
    if kind == "transportDocumentReference":
        records = await context.source.containers_by_document(transport_document=value)
    else:
        records = await context.source.containers_by_document(booking=value)
    cleaned: dict[str, Record] = {}
    for record in records:
        box = _clean(record, info)
        cleaned.setdefault(normalise_container_reference(box["equipmentReference"]), box)
    return [derive_container(cleaned[r], context.port_id) for r in sorted(cleaned)]


async def resolve_containers(_root: None, info: Info, **args: Any) -> list[Record]:
    context = info.context
    document = _document(args)
    if document is not None:
        if not asks_this_port(args.get("ports"), context.port_id):
            return []
        return await _containers_of_document(info, *document)
    asked: list[str] = args["references"]
    if len(asked) > MAX_REFERENCES:
        raise BadUserInput(
            f"at most {MAX_REFERENCES} container numbers can be asked at once, not {len(asked)}"
        )
    # One answer per distinct number, in the order first asked.
    references = list(dict.fromkeys(check_container_reference(raw) for raw in asked))
    if not asks_this_port(args.get("ports"), context.port_id) or not references:
        return []
    return await _containers(info, references)


async def resolve_vessel_calls(_root: None, info: Info, **args: Any) -> Record:
    context = info.context
    first: int = args["first"]
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise BadUserInput(f"first must be between 1 and {MAX_PAGE_SIZE}, not {first}")
    after = _after(args.get("after"))
    imo = check_imo(args["vesselIMONumber"]) if args.get("vesselIMONumber") is not None else None
    status = args.get("status")
    filter = VesselCallFilter(
        planned_from=args.get("from"),
        planned_to=args.get("to"),
        status_codes=frozenset(status) if status is not None else None,
        vessel_imo_number=imo,
    )
    if not asks_this_port(args.get("ports"), context.port_id):
        return empty_connection()
    calls = [_clean(call, info) for call in await context.source.vessel_calls(filter)]
    return vessel_call_page(calls, filter, first=first, after=after)


async def resolve_vessel(_root: None, info: Info, **args: Any) -> Record | None:
    context = info.context
    imo = check_imo(args["imo"])
    if not asks_this_port(args.get("ports"), context.port_id):
        return None
    vessel = await context.source.vessel(imo)
    return None if vessel is None else _clean(vessel, info)


async def resolve_port_metrics(_root: None, info: Info, **args: Any) -> list[Record]:
    context = info.context
    if not asks_this_port(args.get("ports"), context.port_id):
        return []
    wanted: list[str] | None = args.get("metrics")
    period: str = args["period"]
    records = await context.source.metrics(period, wanted)
    asked = [_clean(r, info) for r in records if wanted is None or r["metric"] in wanted]
    figures, withheld = disclosed_metrics(
        asked,
        port_id=context.port_id,
        period=period,
        now=context.clock(),
        zone=await context.zone.get(context.source),
    )
    if withheld:
        context.notices.append(Notice(info.path.key, metrics=tuple(withheld)))
    return figures


ROOT_RESOLVERS: Final[Mapping[str, Resolver]] = {
    "ports": resolve_ports,
    "container": resolve_container,
    "containers": resolve_containers,
    "vesselCalls": resolve_vessel_calls,
    "vessel": resolve_vessel,
    "portMetrics": resolve_port_metrics,
}


def _gathering_notices(resolver: Resolver) -> Resolver:
    """``resolver``, with what its source reports left out gathered for its root field, and
    a ``NOT_OFFERED`` notice for each optional field it selects that the source lacks."""

    async def resolve(root: None, info: Info, **args: Any) -> Any:
        key = str(info.path.key)
        with notices.for_root_field(key):
            answer = await resolver(root, info, **args)
            context = info.context
            for coordinate in sorted(
                context.optional_asked.get(key, frozenset()) - context.offered
            ):
                notices.report(NOT_OFFERED, coordinate=coordinate)
            return answer

    return resolve


def _optional(name: str, coordinate: str) -> Callable[[Any, Info], Any]:
    """The resolver of an optional field: the record's value when the source offers it,
    else null (whatever the record holds)."""

    def resolve(parent: Any, info: Info) -> Any:
        if coordinate not in info.context.offered:
            return None
        return parent.get(name) if isinstance(parent, Mapping) else None

    return resolve


def attach_resolvers(schema: GraphQLSchema) -> None:
    """Give the schema's Query fields their resolvers (every Query field a port answers must
    have one); the fields the gateway computes itself are taken out of a resolver's schema."""
    query = schema.query_type
    if query is not None:
        for name in GATEWAY_ONLY_FIELDS:
            query.fields.pop(name, None)
    if query is None or set(query.fields) != set(ROOT_RESOLVERS):
        raise RuntimeError("the shared schema's Query fields and the kit's resolvers differ")
    for name, resolver in ROOT_RESOLVERS.items():
        query.fields[name].resolve = _gathering_notices(resolver)
    for coordinate in OPTIONAL_FIELDS:
        type_name, field_name = coordinate.split(".")
        owner = schema.get_type(type_name)
        if not isinstance(owner, GraphQLObjectType) or field_name not in owner.fields:
            raise RuntimeError(f"the shared schema has no optional field {coordinate}")
        elsewhere = [
            name
            for name, type_ in schema.type_map.items()
            if name != type_name
            and isinstance(type_, GraphQLObjectType)
            and field_name in type_.fields
        ]
        if elsewhere:  # a selection's field names say which optional fields it asks
            raise RuntimeError(f"{field_name} of {coordinate} is a field of {elsewhere} too")
        owner.fields[field_name].resolve = _optional(field_name, coordinate)
