"""What the subscription transports share: GraphQL over SSE (:mod:`gateway.edge.streams`) and
graphql-transport-ws (:mod:`gateway.edge.websocket`) check the credential again before every
message the same way, and write the same one audit record per subscription when it ends."""

import contextlib
from collections.abc import Mapping
from typing import Any

from graphql import DocumentNode, ExecutionResult, GraphQLError, parse
from strawberry.types import ExecutionContext

from gateway.access.auth import Authenticator, Principal
from gateway.edge.rate_limit import client_key
from gateway.errors import GatewayError
from gateway.query.execute import GatewaySchema
from gateway.query.live import StillAllowed
from gateway.query.observe import OperationObserver


def holder(scope: Mapping[str, Any], principal: Principal) -> str:
    """Whom a subscription counts against: an authenticated client by its id, anyone else by
    the address the edge found (an IPv6 one by its network), as the rate limit counts them;
    never every anonymous caller as one."""
    if principal.method != "anonymous":
        return f"client:{principal.client_id}"
    return client_key({"client": scope.get("client")})[0]


def still_allowed(
    authenticator: Authenticator, headers: Mapping[str, str], principal: Principal
) -> StillAllowed:
    """Whether the credential in ``headers`` still stands for ``principal``, asked before each
    message (a revoked key, an expired token, changed roles end the subscription)."""

    async def check() -> bool:
        if principal.method == "anonymous":
            return True
        try:
            now = await authenticator.authenticate(headers)
        except GatewayError:
            return False
        return now.client_id == principal.client_id and now.roles == principal.roles

    return check


async def audit_subscription(
    observer: OperationObserver | None,
    schema: GatewaySchema,
    *,
    query: str,
    name: str | None,
    variables: dict[str, Any] | None,
    principal: Principal,
    started: float,
    errors: list[Any],
    messages: int,
) -> None:
    """The audit record of one subscription that has ended: the errors (as sent) it was refused
    or ended with, and how many messages it was sent."""
    if observer is None:
        return
    document: DocumentNode | None = None
    with contextlib.suppress(GraphQLError):
        document = parse(query)  # what the record says the operation is
    context = ExecutionContext(
        query=query, schema=schema, allowed_operations=(), variables=variables,
        provided_operation_name=name,
    )  # fmt: skip
    context.graphql_document = document
    result = ExecutionResult(None, [_graphql_error(e) for e in errors] or None)
    with contextlib.suppress(GatewayError):  # the subscription is over: nothing left to withhold
        await observer.finished(
            context, started=started, trace_id=None, principal=principal,
            result=result, status=None, messages=messages,
        )  # fmt: skip


def _graphql_error(formatted: Any) -> GraphQLError:
    """An error as sent, back as the audit reads it (its message and code)."""
    return GraphQLError(str(formatted.get("message", "")), extensions=formatted.get("extensions"))


def coded_error(code: str, message: str) -> dict[str, Any]:
    """An error as sent, with its code."""
    return {"message": message, "extensions": {"code": code}}


def first_code(errors: list[GraphQLError]) -> Any:
    """The code of the first of ``errors``, if any."""
    return (errors[0].extensions or {}).get("code") if errors else None
