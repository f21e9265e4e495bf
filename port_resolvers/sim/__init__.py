"""Five simulated California ports: their data, their own systems, and how to read them.

- :mod:`~port_resolvers.sim.data`: ``generate_port_data`` / ``generate_all_ports``, seeded and
  deterministic (built from :mod:`reference`, :mod:`fleet`, :mod:`calls`, :mod:`containers`,
  :mod:`metrics`, and for the optional capabilities :mod:`gates`, :mod:`empties`, :mod:`rail`;
  the objects are in :mod:`model`; which port's systems publish which capability is
  ``reference.OFFERS``);
- :mod:`~port_resolvers.sim.systems`: ``create_port_system`` builds a port's system as a
  Starlette app: the DCSA T&T 2.2 API (:mod:`dcsa_api`, :mod:`dcsa_query`; its event
  subscriptions and pushes :mod:`dcsa_push`) and/or the proprietary terminal API
  (:mod:`native_api`), with knobs (:mod:`knobs`, :mod:`conditions`);
- :mod:`~port_resolvers.sim.wiring`: ``source_for`` picks the adapter that reads a port's system;
- :mod:`~port_resolvers.sim.records`: the data as resolver-kit records (what adapters should
  return) and ``InMemoryPortSource``;
- :mod:`~port_resolvers.sim.transport`: an in-process httpx transport that keeps timeouts;
- :mod:`~port_resolvers.sim.cluster`: every port's system and resolver on loopback, for the demo.
"""
