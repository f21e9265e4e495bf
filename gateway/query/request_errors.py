"""The stable codes of documents that cannot run (gateway/query/execute.py gives them, with HTTP
400).

A document that does not parse gets ``GRAPHQL_PARSE_FAILED``, one that does not validate against
the schema (unknown field, wrong argument type, ...) gets ``GRAPHQL_VALIDATION_FAILED``; either
way no port is asked anything. Errors that already have a code keep it: the limits of
:mod:`gateway.query.limits` (``QUERY_TOO_DEEP``, ...), and the parser's token limit, which is given
``QUERY_TOO_MANY_TOKENS``.
"""

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
