"""What a port runs beside its own systems to answer for the shared schema.

- :mod:`port_resolvers.kit`: serves the shared schema for one port over GraphQL/HTTP from a
  :class:`~port_resolvers.kit.source.PortDataSource` the port implements.
- :mod:`port_resolvers.sources`: adapters for common source systems (DCSA Track & Trace 2.2,
  a simple proprietary JSON API).
- :mod:`port_resolvers.sim`: five simulated port systems for the demo, tests and benchmarks.

Depends on :mod:`portcontract` (the shared schema and rules) only, never on the gateway.
"""
