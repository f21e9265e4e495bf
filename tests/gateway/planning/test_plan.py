"""The plan's arguments for ports: a String argument of plain strings goes as it is, exactly
what printing it as a GraphQL literal and reading it back would give."""

from typing import Any

from graphql import GraphQLObjectType, ast_from_value, value_from_ast_untyped
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.planning.plan import _plain_strings
from gateway.schema import build_schema

SCHEMA = build_schema()._schema


def _query() -> GraphQLObjectType:
    query = SCHEMA.query_type
    assert query is not None
    return query


QUERY = _query()
ARGUMENT_TYPES = [arg.type for field in QUERY.fields.values() for arg in field.args.values()]
VALUES = st.one_of(
    st.text(),
    st.lists(st.text(), max_size=5),
    st.lists(st.one_of(st.text(), st.integers(), st.none()), max_size=3),
    st.integers(),
    st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(value=VALUES, index=st.integers(min_value=0, max_value=len(ARGUMENT_TYPES) - 1))
def test_plain_strings_are_what_the_literal_round_trip_gives(value: Any, index: int) -> None:
    type_ = ARGUMENT_TYPES[index]
    if _plain_strings(value, type_):
        assert value_from_ast_untyped(ast_from_value(value, type_)) == value  # type: ignore[arg-type]


def test_container_numbers_and_document_references_take_the_short_way() -> None:
    containers = QUERY.fields["containers"].args
    assert _plain_strings(["CSQU3054383", 'MSCU"\\\u00e9'], containers["references"].type)
    assert _plain_strings("MSCU900000001", containers["transportDocumentReference"].type)
    assert not _plain_strings(["CSQU3054383", 7], containers["references"].type)
    assert not _plain_strings(("CSQU3054383",), containers["references"].type)  # not a list
    calls = QUERY.fields["vesselCalls"].args
    assert not _plain_strings(20, calls["first"].type)  # an Int goes the long way
