"""The HTTP edge of the gateway: pure ASGI middleware, one per module (client address, load
shedding, body limits, authentication, in-flight and rate limits, CSRF), what they count
(``counts``) and run in the background (``edge``), the GraphQL-over-HTTP choice of operation,
the ``/metrics`` endpoint, and the uvicorn server ``portgate serve`` runs them in (``server``)."""
