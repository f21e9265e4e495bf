"""Notices: a source says what it left out of an answer it still gives.

A source that skips part of what its system sent (an invalid event, an event for another port)
calls :func:`report` while it answers. The kit collects the notices of each root field and
serves them beside the data, one GraphQL error per root field and code::

    {"message": "USLAX: 2 events of the port's system were left out: invalid, or for another
     port", "path": ["containers"],
     "extensions": {"code": "EVENTS_QUARANTINED", "port": "USLAX", "count": 2}}

The codes are the contract's (:mod:`portcontract.errors`); the gateway shows such an answer as
``partial``. ``NOT_OFFERED`` is the one notice with a ``coordinate`` instead of a count that
matters: the kit reports it for an optional field the source does not offer, and the gateway
lists it in the port's ``extensions.sources`` entry instead of showing the answer as partial.
:func:`report` outside a request (a source used on its own) only logs.

Collection uses context variables: :func:`for_request` opens the request's list, and
:func:`for_root_field` gathers what one root field's resolver (and every task it starts)
reports.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final

from portcontract.errors import (
    COORDINATE_EXTENSION,
    COUNT_EXTENSION,
    EVENTS_QUARANTINED,
    EVENTS_TRUNCATED,
)

logger = logging.getLogger("port_resolvers.kit")

DESCRIPTIONS: Final = {
    EVENTS_QUARANTINED: "events of the port's system were left out: invalid, or for another port",
    EVENTS_TRUNCATED: "more events than the resolver reads for one answer: the answer is built "
    "from the first ones",
}


@dataclass(slots=True)
class Notice:
    """What one source left out: a contract code and how many items (for ``NOT_OFFERED``,
    the field it does not offer)."""

    code: str
    count: int
    coordinate: str | None = None


@dataclass(slots=True)
class _FieldNotices:
    key: str
    notices: list[Notice] = field(default_factory=list)


_request: ContextVar[list[_FieldNotices] | None] = ContextVar("kit_request_notices", default=None)
_field: ContextVar[_FieldNotices | None] = ContextVar("kit_field_notices", default=None)


def report(code: str, count: int = 1, *, coordinate: str | None = None) -> None:
    """Record that ``count`` items were left out of the answer being built, under ``code``
    (and for ``NOT_OFFERED``, the schema ``coordinate`` of the field not offered)."""
    if count <= 0:
        return
    current = _field.get()
    if current is None:
        logger.info("left out %d item(s) (%s) outside a resolver request", count, code)
        return
    current.notices.append(Notice(code, count, coordinate))


@contextmanager
def for_request() -> Iterator[list[_FieldNotices]]:
    """Collect the notices of every root field resolved inside the block."""
    collected: list[_FieldNotices] = []
    token = _request.set(collected)
    try:
        yield collected
    finally:
        _request.reset(token)


@contextmanager
def for_root_field(key: str) -> Iterator[None]:
    """Gather what the root field answered at response key ``key`` reports."""
    requested = _request.get()
    gathered = _FieldNotices(key)
    token = _field.set(gathered)
    try:
        yield
    finally:
        _field.reset(token)
    if requested is not None and gathered.notices:
        requested.append(gathered)


def as_errors(collected: list[_FieldNotices], port_id: str) -> list[dict[str, Any]]:
    """The GraphQL errors for the notices of one request: one per root field and code."""
    errors = []
    for field_notices in collected:
        counts: dict[tuple[str, str | None], int] = {}
        for notice in field_notices.notices:
            key = (notice.code, notice.coordinate)
            counts[key] = counts.get(key, 0) + notice.count
        for (code, coordinate), count in counts.items():
            what = DESCRIPTIONS.get(code, "items of the port's system were left out")
            extensions: dict[str, Any] = {"code": code, "port": port_id, COUNT_EXTENSION: count}
            message = f"{port_id}: {count} {what}"
            if coordinate is not None:
                extensions[COORDINATE_EXTENSION] = coordinate
                message = f"{port_id}: the port's systems do not offer {coordinate} (null)"
            errors.append(
                {"message": message, "path": [field_notices.key], "extensions": extensions}
            )
    return errors
