"""Adapters from a port's own systems to the resolver kit's ``PortDataSource``.

- :mod:`~port_resolvers.sources.dcsa`: any DCSA Track & Trace 2.2 REST API;
- :mod:`~port_resolvers.sources.native_json`: the simulated ports' proprietary terminal API;
- :mod:`~port_resolvers.sources.fetch`: the one place HTTP failures become ``SourceUnavailable``.
"""
