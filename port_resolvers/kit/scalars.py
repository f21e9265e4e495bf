"""The shared schema's custom scalars: ``DateTime`` and ``Date`` in ISO 8601.

Output: a timezone-aware ``datetime`` is served in UTC with its offset
(``2026-11-21T10:00:00+00:00``); a ``date`` as ``2026-11-21``. A naive ``datetime`` from a
source breaks the source contract and is refused rather than guessed.
Input: ISO 8601 text; a ``DateTime`` must carry a UTC offset (``Z`` or ``+hh:mm``).
"""

from datetime import UTC, date, datetime
from typing import Any

from graphql import GraphQLSchema, StringValueNode, ValueNode, assert_scalar_type


def serialize_datetime(value: Any) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"DateTime cannot represent a {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("DateTime cannot represent a datetime without a time zone")
    return value.astimezone(UTC).isoformat()


def parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError("DateTime must be an ISO 8601 string, like 2026-11-21T10:00:00Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an ISO 8601 date and time, like 2026-11-21T10:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset; add Z or +hh:mm")
    return parsed


def parse_datetime_literal(node: ValueNode) -> datetime:
    if not isinstance(node, StringValueNode):
        raise TypeError("DateTime must be an ISO 8601 string, like 2026-11-21T10:00:00Z")
    return parse_datetime(node.value)


def serialize_date(value: Any) -> str:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"Date cannot represent a {type(value).__name__}")
    return value.isoformat()


def parse_date(value: Any) -> date:
    if not isinstance(value, str):
        raise TypeError("Date must be an ISO 8601 string, like 2026-11-21")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date, like 2026-11-21") from None


def parse_date_literal(node: ValueNode) -> date:
    if not isinstance(node, StringValueNode):
        raise TypeError("Date must be an ISO 8601 string, like 2026-11-21")
    return parse_date(node.value)


def install_scalars(schema: GraphQLSchema) -> None:
    """Give the schema's ``DateTime`` and ``Date`` scalars their coercion functions."""
    date_time = assert_scalar_type(schema.type_map["DateTime"])
    date_time.coerce_output_value = serialize_datetime
    date_time.coerce_input_value = parse_datetime
    date_time.coerce_input_literal = parse_datetime_literal
    day = assert_scalar_type(schema.type_map["Date"])
    day.coerce_output_value = serialize_date
    day.coerce_input_value = parse_date
    day.coerce_input_literal = parse_date_literal
