"""The conformance check's ``schema``: the contract's schema, and what a resolver's served schema
changes or leaves out of it (a resolver may add; it may not change or leave out)."""

from collections.abc import Iterator
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    get_named_type,
)

from portcontract import GATEWAY_ONLY_FIELDS, schema_sdl


def contract_schema() -> GraphQLSchema:
    """The shared schema as a port resolver serves it: without the gateway-only root fields."""
    return build_schema(schema_sdl())


def _reachable(schema: GraphQLSchema) -> dict[str, GraphQLNamedType]:
    assert schema.query_type is not None
    found: dict[str, GraphQLNamedType] = {}
    stack: list[GraphQLNamedType] = [schema.query_type]
    while stack:
        named = stack.pop()
        if named.name in found:
            continue
        found[named.name] = named
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for name, fld in named.fields.items():
                if named is schema.query_type and name in GATEWAY_ONLY_FIELDS:
                    continue
                stack.append(get_named_type(fld.type))
                for arg in getattr(fld, "args", {}).values():
                    stack.append(get_named_type(arg.type))
    return found


def schema_differences(contract: GraphQLSchema, served: GraphQLSchema) -> Iterator[str]:
    """What ``served`` lacks or changes of ``contract``, one sentence each."""
    query_name = contract.query_type.name if contract.query_type else "Query"
    for name, expected in _reachable(contract).items():
        actual = served.type_map.get(name)
        if actual is None:
            yield f"type {name} is missing"
            continue
        if type(actual) is not type(expected):
            yield f"{name} is a {type(actual).__name__}, not a {type(expected).__name__}"
            continue
        if isinstance(expected, GraphQLEnumType) and isinstance(actual, GraphQLEnumType):
            for value in sorted(set(expected.values) - set(actual.values)):
                yield f"enum value {name}.{value} is missing"
        if not isinstance(
            expected, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType
        ) or not isinstance(
            actual, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType
        ):
            continue
        served_fields: dict[str, Any] = dict(actual.fields)
        for field_name, expected_field in expected.fields.items():
            if name == query_name and field_name in GATEWAY_ONLY_FIELDS:
                continue
            coordinate = f"{name}.{field_name}"
            actual_field = served_fields.get(field_name)
            if actual_field is None:
                yield f"{coordinate} is missing"
                continue
            if str(actual_field.type) != str(expected_field.type):
                yield f"{coordinate} is {actual_field.type}, not {expected_field.type}"
            for arg_name, expected_arg in getattr(expected_field, "args", {}).items():
                actual_arg = actual_field.args.get(arg_name)
                if actual_arg is None:
                    yield f"{coordinate}({arg_name}:) is missing"
                elif str(actual_arg.type) != str(expected_arg.type):
                    yield f"{coordinate}({arg_name}:) is {actual_arg.type}, not {expected_arg.type}"
