"""GraphQL over HTTP: which operation of a document a request runs.

GraphQL's GetOperation(): a document with one operation runs it; a document with several runs
the one named by ``operationName``, and without a name there is no answer to "which one". The
GraphQL over HTTP specification says such a request is not executed (a *request error*, HTTP
400 with ``application/graphql-response+json``); strawberry would run the first operation. So
the GraphQL view asks :func:`check_operation_choice` first, and answers HTTP 400
``OPERATION_RESOLUTION_FAILURE`` (Apollo Server's code for the same case). An ``operationName``
the document does not hold is the same error, raised by strawberry and given that code by the
view. An empty ``operationName`` is no name at all, as the specification says.

Per request: nothing when the request names its operation; otherwise a count of the words
``query``, ``mutation`` and ``subscription`` in the document, and only when there are two or
more (a document of several operations that validates names at least two of them) a parse,
bounded by ``limits.max_tokens``.
"""

from graphql import GraphQLError, OperationDefinitionNode, parse

from gateway.errors import OperationResolutionFailure

SHOWN_NAMES = 5  # operation names an error message lists at most
MAX_NAME = 64  # characters of a name an error message repeats


def check_operation_choice(document: str, operation_name: str | None, max_tokens: int) -> None:
    """Raise :class:`OperationResolutionFailure` when ``document`` holds several operations and
    ``operation_name`` is None. A document that does not parse passes: parsing reports it."""
    if operation_name is not None:
        return
    if document.count("query") + document.count("mutation") + document.count("subscription") < 2:
        return
    try:
        parsed = parse(document, no_location=True, max_tokens=max_tokens)
    except GraphQLError:
        return
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) > 1:
        names = ", ".join(
            _shown(op.name.value) if op.name else "(anonymous)" for op in operations[:SHOWN_NAMES]
        )
        if len(operations) > SHOWN_NAMES:
            names += ", ..."
        raise OperationResolutionFailure(
            f"the document holds {len(operations)} operations ({names}): name the one to run "
            "in operationName"
        )


def unknown_operation(operation_name: str | None) -> OperationResolutionFailure:
    """The error for an ``operationName`` the document does not hold (or a document without
    any operation)."""
    if operation_name is None:
        return OperationResolutionFailure("the document holds no operation to run")
    return OperationResolutionFailure(
        f"the document holds no operation named {_shown(operation_name)!r}"
    )


def _shown(name: str) -> str:
    return name if len(name) <= MAX_NAME else name[:MAX_NAME] + "..."
