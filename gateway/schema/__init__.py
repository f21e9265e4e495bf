"""The shared cargo schema, code first. ``schema.graphql`` is exported from it (``portgate schema
export``) and a test fails when the two differ."""

from collections.abc import Callable, Sequence

import strawberry
from strawberry.extensions import SchemaExtension

from gateway.schema.query import Query
from gateway.schema.subscription import Subscription

ExtensionFactory = Callable[[], SchemaExtension]


def build_schema(extensions: Sequence[ExtensionFactory] = ()) -> strawberry.Schema:
    """The schema, with extensions given as classes or factories (one instance per request)."""
    return strawberry.Schema(query=Query, subscription=Subscription, extensions=list(extensions))


def export_sdl() -> str:
    """The schema as checked in to ``schema.graphql``."""
    return build_schema().as_str() + "\n"
