"""The query: one operation from its text to its answer.

Parse, validate and the limits (:mod:`~gateway.query.execute`, :mod:`~gateway.query.limits`),
plans prepared once per operation (:mod:`~gateway.query.prepared`), the pipeline plan → fetch
→ merge (:mod:`~gateway.query.pipeline`, :mod:`~gateway.query.merge`), the fields the gateway
computes itself (the outlook), and what is recorded of each operation
(:mod:`~gateway.query.observe`).

May import: :mod:`gateway.ports`, :mod:`gateway.planning`, :mod:`gateway.access`,
:mod:`gateway.record`, and the shared ground. Never the edge or the command line: the edge
hands an operation in and takes its result out.
"""
