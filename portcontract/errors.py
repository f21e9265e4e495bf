"""The error codes a port resolver may give, and what each means to the gateway.

A port answers errors the GraphQL way: ``{"message": ..., "path": [...], "extensions": {"code":
...}}``. The *code* is part of the contract: the gateway passes it on to its clients (as
``extensions.portCode``) when it is one of :data:`CONTRACT_CODES`, and says what it means in its
own words. The *message* is the port's own text: the gateway never passes it on to a client (it
may name people, places or systems the caller must not see); it goes only to the gateway's log
and traces, redacted. A code outside this list is reported as a plain port error.

Codes of a request the resolver could not execute at all (HTTP 400, no ``data``)::

    BAD_REQUEST                 not a GraphQL request
    PAYLOAD_TOO_LARGE           body over the resolver's limit
    GRAPHQL_PARSE_FAILED        not GraphQL
    GRAPHQL_VALIDATION_FAILED   does not fit the shared schema
    UNAUTHENTICATED             the gateway's credential was refused

Codes of one root field (HTTP 200, ``null`` at that field, or part of it left out)::

    BAD_USER_INPUT              an argument is wrong
    SOURCE_UNAVAILABLE          the port's own system did not answer
    INTERNAL_ERROR              anything else, inside the resolver

Notices: codes of one root field that *is* answered, beside its data, saying what the resolver
left out of what its own system sent; ``extensions.count`` says how many (an integer from 1 to
:data:`MAX_NOTICE_COUNT`; the gateway passes it on to clients). An answer with a notice is
partial, not failed, and an answer whose only errors are notices may be cached (the resolver
kit sends ``max-age``), notices and all::

    LABOR_TEXT_WITHHELD         free text naming labor set to null
                                (:func:`portcontract.labor.labor_text_reason`)
    EVENTS_QUARANTINED          events that are invalid, or belong to another port, were skipped
    EVENTS_TRUNCATED            the system had more events for the question than the resolver
                                reads for one answer (its page bound): built from those read

Not offered: a field of :data:`portcontract.capabilities.OPTIONAL_FIELDS` that the port's
systems do not give at all (a terminal without appointments, a DCSA Track & Trace feed without
cut-offs). The field is null, and the root field that selected it carries a ``NOT_OFFERED``
notice whose ``extensions.coordinate`` names it. The gateway lists it in the port's
``extensions.sources`` entry (``notOffered``), never as an error: a port that lacks a
capability says so, never zeros::

    NOT_OFFERED                 the port's systems do not offer the field at ``coordinate``
"""

from collections.abc import Mapping
from typing import Final

BAD_REQUEST: Final = "BAD_REQUEST"
PAYLOAD_TOO_LARGE: Final = "PAYLOAD_TOO_LARGE"
GRAPHQL_PARSE_FAILED: Final = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED: Final = "GRAPHQL_VALIDATION_FAILED"
UNAUTHENTICATED: Final = "UNAUTHENTICATED"
BAD_USER_INPUT: Final = "BAD_USER_INPUT"
SOURCE_UNAVAILABLE: Final = "SOURCE_UNAVAILABLE"
INTERNAL_ERROR: Final = "INTERNAL_ERROR"
LABOR_TEXT_WITHHELD: Final = "LABOR_TEXT_WITHHELD"
EVENTS_QUARANTINED: Final = "EVENTS_QUARANTINED"
EVENTS_TRUNCATED: Final = "EVENTS_TRUNCATED"
NOT_OFFERED: Final = "NOT_OFFERED"
COUNT_EXTENSION: Final = "count"  # a notice's extensions key: how many items were left out
COORDINATE_EXTENSION: Final = "coordinate"  # a NOT_OFFERED notice's: the field not offered
MAX_NOTICE_COUNT: Final = 1_000_000  # a larger count is not believed (the gateway drops it)
# An answer whose only errors are notices is an answer: it may be cached, with its notices.
NOTICE_CODES: Final = frozenset(
    {LABOR_TEXT_WITHHELD, EVENTS_QUARANTINED, EVENTS_TRUNCATED, NOT_OFFERED}
)

# What each code means, in the words the gateway uses for it ("port USLAX <meaning>").
CONTRACT_CODES: Final[Mapping[str, str]] = {
    BAD_REQUEST: "refused the request as malformed",
    PAYLOAD_TOO_LARGE: "refused the request as too large",
    GRAPHQL_PARSE_FAILED: "could not parse the query",
    GRAPHQL_VALIDATION_FAILED: "does not accept the query against the shared schema",
    UNAUTHENTICATED: "refused the gateway's credential",
    BAD_USER_INPUT: "refused an argument",
    SOURCE_UNAVAILABLE: "could not reach its own system",
    INTERNAL_ERROR: "failed inside its resolver",
    LABOR_TEXT_WITHHELD: "withheld free text that named labor (people, quay roles, shifts, rates)",
    EVENTS_QUARANTINED: "left out events of its own system that were invalid or another port's",
    EVENTS_TRUNCATED: "had more events than its resolver reads for one answer",
    NOT_OFFERED: "does not offer a field that was asked (it is null)",
}
