"""The shared cargo schema, code first. ``schema.graphql`` is exported from it (``portgate schema
export``) and a test fails when the two differ."""

from collections.abc import Sequence

import strawberry
from strawberry.extensions import SchemaExtension

from gateway.schema.query import Query


def build_schema(extensions: Sequence[type[SchemaExtension] | SchemaExtension] = ()) -> strawberry.Schema:
    return strawberry.Schema(query=Query, extensions=list(extensions))


def export_sdl() -> str:
    """The schema as checked in to ``schema.graphql``."""
    return build_schema().as_str() + "\n"
