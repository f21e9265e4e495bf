"""The stable codes of documents that cannot run (gateway/query/execute.py gives them, with HTTP
400).

A document that does not parse gets ``GRAPHQL_PARSE_FAILED``, one that does not validate against
the schema (unknown field, wrong argument type, ...) gets ``GRAPHQL_VALIDATION_FAILED``; either
way no port is asked anything. A subscription sent as a plain request gets
``SUBSCRIPTION_NEEDS_STREAM``; a stream asked of anything but a subscription ``NOT_A_SUBSCRIPTION``.
Errors that already have a code keep it: the limits of
:mod:`gateway.query.limits` (``QUERY_TOO_DEEP``, ...), and the parser's token limit, which is given
``QUERY_TOO_MANY_TOKENS``.
"""

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
# A subscription sent as a plain request (it is answered only as a stream), and a plain
# operation sent where a stream was asked for.
SUBSCRIPTION_NEEDS_STREAM = "SUBSCRIPTION_NEEDS_STREAM"
NOT_A_SUBSCRIPTION = "NOT_A_SUBSCRIPTION"
