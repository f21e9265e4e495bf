"""Access: who the caller is and what they may do.

Credentials (API keys, OIDC tokens) become a :class:`~gateway.access.auth.Principal`; the field
policy says what each role may see at each port; rate limits and trusted documents bound what a
client may send. The edge asks these questions and the planner applies the policy.

May import: :mod:`gateway.record`, and the shared ground (:mod:`gateway.errors`,
:mod:`gateway.config_types`, :mod:`gateway.schema`). Never the planner, the ports, the query,
the edge or the command line.
"""
