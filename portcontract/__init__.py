"""The contract shared by the gateway and every port resolver.

A port installs the resolver kit without the gateway; both sides import only this package and
``schema.graphql`` from each other's world:

- ``schema.graphql`` (the shared cargo schema, loaded with :func:`schema_sdl`),
- :mod:`portcontract.identifiers`: ISO 6346, IMO, UN/LOCODE checks,
- :mod:`portcontract.labor`: the labor-privacy rule (keys and free text never passed on),
- :mod:`portcontract.periods`: the whole local weeks every aggregate covers,
- :mod:`portcontract.aggregates`: what an aggregate may disclose (the sample floor no
  configuration lowers, the vessel-call rule),
- :mod:`portcontract.cursor`: the keyset cursor that pages vessel calls across ports.
"""

from importlib import resources

GATEWAY_ONLY_FIELDS = frozenset({"outlook"})
"""Root fields of the shared schema that the gateway computes from the others' answers: port
resolvers do not answer them (they are left out of a resolver's schema)."""


def schema_sdl() -> str:
    """The shared schema in SDL, as checked in at the repository root."""
    return resources.files(__package__).joinpath("schema.graphql").read_text(encoding="utf-8")
