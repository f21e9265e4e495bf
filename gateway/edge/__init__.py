"""The HTTP edge: requests in, responses out.

Pure ASGI middleware, one per module (client address, load shedding, body limits,
authentication, in-flight and rate limits, CSRF), what they count (``counts``) and watch while
the app runs (``state``); ``/graphql`` (:mod:`~gateway.edge.graphql_view`), the admin, audit and
metrics endpoints, GraphiQL and the dashboard.

May import: :mod:`gateway.query`, :mod:`gateway.ports`, :mod:`gateway.planning`,
:mod:`gateway.access`, :mod:`gateway.record`, and the shared ground. Never :mod:`gateway.app`,
:mod:`gateway.config` or the command line.
"""
