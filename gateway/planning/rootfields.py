"""What the gateway knows about each root field: how its arguments are checked and normalised,
which hidden fields the merge needs from every port, and how port answers are merged.

Hidden fields are added to a port's selection under reserved aliases and projected away before
the client sees the answer (:class:`gateway.planning.selection.Shape`).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from gateway.errors import BadUserInput
from gateway.schema.query import MAX_CONTAINER_REFERENCES, MAX_PAGE_SIZE
from portcontract.cursor import InvalidCursor, decode_cursor
from portcontract.identifiers import (
    InvalidIdentifier,
    check_container_reference,
    check_document_reference,
    check_imo,
)

PORTS_ARGUMENT = "ports"


class MergeKind(Enum):
    PORT_LIST = "port list"  # one entry per port, in registry order
    BEST_CONTAINER = "best container"  # the port with the latest actual event wins
    CONTAINERS_BY_REFERENCE = "containers by reference"  # best per reference, in asked order
    FIRST_FOUND = "first found"  # the first port in registry order that knows it
    CALL_PAGE = "vessel call page"  # k-way merge by the shared keyset cursor
    METRIC_LIST = "metric list"  # concatenated, ordered by port, terminal, metric


@dataclass(frozen=True, slots=True)
class RootFieldSpec:
    merge: MergeKind
    hidden: Mapping[str, str]  # role -> selection text asked of every port
    check_arguments: Callable[[dict[str, Any]], dict[str, Any]]


def _checked(check: Callable[[str], str], value: str, what: str) -> str:
    try:
        return check(value)
    except InvalidIdentifier as exc:
        raise BadUserInput(f"{what}: {exc}") from None


def _container(args: dict[str, Any]) -> dict[str, Any]:
    return {
        **args,
        "reference": _checked(check_container_reference, args["reference"], "reference"),
    }


DOCUMENT_ARGUMENTS = ("transportDocumentReference", "carrierBookingReference")


def _containers(args: dict[str, Any]) -> dict[str, Any]:
    """By numbers, or by one transport document (bill of lading) or booking: exactly one."""
    documents = [name for name in DOCUMENT_ARGUMENTS if args.get(name) is not None]
    references = args.get("references")
    if len(documents) + (references is not None) != 1:
        raise BadUserInput(
            "give exactly one of references, transportDocumentReference and carrierBookingReference"
        )
    if documents:
        (name,) = documents
        try:
            return {**args, name: check_document_reference(name, args[name])}
        except InvalidIdentifier as exc:
            raise BadUserInput(f"{name}: {exc}") from None
    if not references:
        raise BadUserInput("references: give at least one container number")
    if len(references) > MAX_CONTAINER_REFERENCES:
        raise BadUserInput(
            f"references: {len(references)} container numbers asked; at most "
            f"{MAX_CONTAINER_REFERENCES} per query"
        )
    normalised = [_checked(check_container_reference, r, "references") for r in references]
    return {**args, "references": list(dict.fromkeys(normalised))}


def _vessel(args: dict[str, Any]) -> dict[str, Any]:
    return {**args, "imo": _checked(check_imo, args["imo"], "imo")}


def _vessel_calls(args: dict[str, Any]) -> dict[str, Any]:
    first = args["first"]
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise BadUserInput(f"first: must be between 1 and {MAX_PAGE_SIZE}, not {first}")
    start, end = _utc(args.get("from")), _utc(args.get("to"))
    args = {**args, "from": start, "to": end}
    if start is not None and end is not None and start >= end:
        raise BadUserInput("from must be earlier than to")
    if args.get("after") is not None:
        try:
            decode_cursor(args["after"])
        except InvalidCursor as exc:
            raise BadUserInput(f"after: {exc}") from None
    imo = args.get("vesselIMONumber")
    if imo is not None:
        args = {**args, "vesselIMONumber": _checked(check_imo, imo, "vesselIMONumber")}
    return args


def _utc(moment: datetime | None) -> datetime | None:
    """A time without an offset is taken as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _unchanged(args: dict[str, Any]) -> dict[str, Any]:
    return args


ROOT_FIELDS: Mapping[str, RootFieldSpec] = {
    "ports": RootFieldSpec(MergeKind.PORT_LIST, {"port": "UNLocationCode"}, _unchanged),
    "container": RootFieldSpec(
        MergeKind.BEST_CONTAINER,
        {"reference": "equipmentReference", "seen": "lastEventDateTime"},
        _container,
    ),
    "containers": RootFieldSpec(
        MergeKind.CONTAINERS_BY_REFERENCE,
        {"reference": "equipmentReference", "seen": "lastEventDateTime"},
        _containers,
    ),
    "vessel": RootFieldSpec(MergeKind.FIRST_FOUND, {"imo": "vesselIMONumber"}, _vessel),
    "vesselCalls": RootFieldSpec(
        MergeKind.CALL_PAGE,
        {"cursors": "edges { cursor }", "more": "pageInfo { hasNextPage }"},
        _vessel_calls,
    ),
    "portMetrics": RootFieldSpec(
        MergeKind.METRIC_LIST,
        {
            "port": "UNLocationCode",
            "facility": "facilitySMDGCode",
            "metric": "metric",
            "sample": "sampleSize",
        },
        _unchanged,
    ),
}
