"""The command line: ``portgate`` and how it serves.

One module a command group (:mod:`~gateway.cli.main` holds the command and ``serve``/``demo``;
``keys``, ``audit``, ``documents``, ``ports``), the port conformance check, the generated
configuration reference, and the uvicorn server and workers ``portgate serve`` runs.

May import everything below it; nothing imports the command line.
"""
