"""The ports: asking every port, and trusting none of them.

The fan-out with its cache, coalescing, breakers, retries and deadline
(:mod:`~gateway.ports.fetch`); the one HTTP exchange with a port and the gateway's own
connections (:mod:`~gateway.ports.port_http`, :mod:`~gateway.ports.port_client`); the port
boundary that holds every answer to the contract (:mod:`~gateway.ports.boundary`,
:mod:`~gateway.ports.answer_checks`); the registry of ports, its store, probes and the check
before an endpoint takes traffic, under the egress rules.

May import: :mod:`gateway.planning` (what was asked), :mod:`gateway.access`,
:mod:`gateway.record`, and the shared ground. Never the query, the edge or the command line.
"""
