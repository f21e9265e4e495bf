"""The kit's errors and their stable codes (``extensions.code``).

Request errors: the request cannot be executed at all; HTTP 400 (413 for a body over the
limit), ``{"errors": [...]}`` and no ``data``::

    BAD_REQUEST                 not a GraphQL request: body not JSON, no query, unknown operation
    PAYLOAD_TOO_LARGE           body over the configured limit (HTTP 413)
    GRAPHQL_PARSE_FAILED        the query is not GraphQL (syntax, or over the token limit)
    GRAPHQL_VALIDATION_FAILED   the query does not fit the shared schema
    BAD_USER_INPUT              a variable's value has the wrong type (e.g. a DateTime
                                without a UTC offset)

Field errors: HTTP 200, ``null`` at that root field (or the whole ``data`` if the schema makes
that field non-null, as GraphQL prescribes); the error carries ``path`` and ``port``::

    BAD_USER_INPUT              an argument is wrong: container number (with the expected check
                                digit), IMO number, UN/LOCODE, cursor, ``first`` out of range,
                                too many references
    SOURCE_UNAVAILABLE          the port's own system did not answer (``SourceUnavailable``)
    INTERNAL_ERROR              anything else; logged with its traceback, never shown

A notice: HTTP 200, the data stands without what the labor rule took out of it (one error per
root field, ``path`` at the root field, ``port``); it does not make an answer uncacheable::

    LABOR_TEXT_WITHHELD         free-text values (a hold's description, a name) set to null
                                because they named people, roles on the quay, shifts or
                                per-hour rates: ``extensions.count`` says how many,
                                ``extensions.withheld`` lists the reasons, never the text

Aggregates the disclosure rules withhold are no error: their ``value`` is null, their
``sampleSize`` 0, and the answer's top-level ``extensions.withheld`` lists each with its root
field (``path``), ``metric``, ``facilitySMDGCode``, ``code`` (``SMALL_SAMPLE``, ``FEW_CALLS``,
``DOMINANT_CALL``, ``PORT_REMAINDER``, ``NO_WEEKLY_FIGURES``, ``PERIOD_NOT_CLOSED``) and
``reason``.

Notices: HTTP 200 with the data, and beside it one error per root field saying what the
source left out (:mod:`port_resolvers.kit.notices`); the field's data is served all the same,
and like the labor notice they leave the answer cacheable (the gateway caches it with them)::

    EVENTS_QUARANTINED          events the port's system sent that are invalid or belong to
                                another port were skipped (``extensions.count`` says how many)
    EVENTS_TRUNCATED            the system had more events than the resolver reads for one
                                answer

Exception tree::

    Exception
    ├── KitError (code)
    │   └── BadUserInput                    raised by the resolvers
    ├── InvalidIdentifier, InvalidCursor    (portcontract) -> BAD_USER_INPUT
    └── SourceUnavailable                   (kit.source)   -> SOURCE_UNAVAILABLE

Foreign exceptions are translated into codes here, in :func:`field_error_code`, and nowhere else.
"""

from typing import Final

from port_resolvers.kit.source import SourceUnavailable
from portcontract import errors as contract
from portcontract.cursor import InvalidCursor
from portcontract.identifiers import InvalidIdentifier

BAD_REQUEST: Final = "BAD_REQUEST"
PAYLOAD_TOO_LARGE: Final = "PAYLOAD_TOO_LARGE"
GRAPHQL_PARSE_FAILED: Final = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED: Final = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT: Final = "BAD_USER_INPUT"
SOURCE_UNAVAILABLE: Final = "SOURCE_UNAVAILABLE"
INTERNAL_ERROR: Final = "INTERNAL_ERROR"
UNAUTHENTICATED: Final = "UNAUTHENTICATED"  # not the gateway: the resolver answers it only
LABOR_TEXT_WITHHELD: Final = contract.LABOR_TEXT_WITHHELD
NOTICES: Final = contract.NOTICE_CODES  # not failures: an answer with only these is cacheable

INTERNAL_ERROR_MESSAGE: Final = "internal error in the port resolver"


class KitError(Exception):
    """An error of the kit with a stable code."""

    code: str = INTERNAL_ERROR


class BadUserInput(KitError):
    """An argument a client sent is wrong; the message says what is wrong."""

    code = BAD_USER_INPUT


def field_error_code(error: Exception) -> str:
    """The code of an exception raised while resolving a field."""
    if isinstance(error, KitError):
        return error.code
    if isinstance(error, InvalidIdentifier | InvalidCursor):
        return BAD_USER_INPUT
    if isinstance(error, SourceUnavailable):
        return SOURCE_UNAVAILABLE
    return INTERNAL_ERROR


# What a client of the resolver reads. It does not name the port: the resolver answers for one,
# and the gateway's own message names it (``port USLAX: it could not reach its own system``).
SOURCE_UNAVAILABLE_MESSAGE = "the port's own system did not answer; try again later"
