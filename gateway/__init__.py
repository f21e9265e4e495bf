"""portgate: the federated GraphQL gateway of the California Port Data Partnership.

The parts, in the order a query passes through them (each may import only those below it;
``lint-imports`` holds the code to this, see ``[tool.importlinter]`` in pyproject.toml):

- :mod:`gateway.cli`: the ``portgate`` command and the server it runs;
- :mod:`gateway.app`: the app put together from the parts; :mod:`gateway.config` reads the
  configuration from the sections beside each part (``<part>/settings.py``);
- :mod:`gateway.edge`: HTTP in and out;
- :mod:`gateway.query`: one operation, parse to answer;
- :mod:`gateway.ports`: asking the ports, and holding their answers to the contract;
- :mod:`gateway.planning`: what an operation asks of each port;
- :mod:`gateway.access`: credentials, the field policy, rate limits, trusted documents;
- :mod:`gateway.record`: audit, traces, metrics, redaction;
- the shared ground every part may use: :mod:`gateway.errors`, :mod:`gateway.config_types`,
  :mod:`gateway.schema`.
"""
