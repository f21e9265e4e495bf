"""The shared schema's code lists, as the kit checks a source's records against them.

A source may send a code newer than the schema (DCSA adds codes between releases). The kit never
lets one fail an answer: :func:`enum_values` gives what the schema knows, and
:mod:`port_resolvers.kit.derive` maps an unknown equipment event type to ``OTHER`` (keeping the
code as sent), drops an unknown empty indicator or mode of transport, and leaves out an event
whose classifier it cannot place (reported as ``EVENTS_QUARANTINED``).
"""

from functools import cache

from graphql import GraphQLEnumType, build_schema

from portcontract import schema_sdl


@cache
def enum_values(name: str) -> frozenset[str]:
    """The values of the shared schema's enum ``name``."""
    named = build_schema(schema_sdl()).type_map[name]
    if not isinstance(named, GraphQLEnumType):
        raise TypeError(f"{name} is not an enum of the shared schema")
    return frozenset(named.values)
