"""Who may use the gateway's own HTTP APIs (audit, admin): a credential with one of some roles.

Credentials are the same as for /graphql (API key or bearer token). No or a bad credential gives
401; a credential without the role gives 403. Both in the GraphQL error format.
"""

from collections.abc import Collection

from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import Authenticator, Principal
from gateway.errors import Unauthenticated
from gateway.http.responses import graphql_error_response


async def principal_with_role(
    authenticator: Authenticator, request: Request, roles: Collection[str], purpose: str
) -> Principal | Response:
    """The caller, when it holds one of ``roles``; else the 401 or 403 to answer."""
    try:
        principal = await authenticator.authenticate(
            {k.lower(): v for k, v in request.headers.items()}
        )
    except Unauthenticated as exc:
        return graphql_error_response(exc.message, exc.code, 401)
    if not principal.roles & set(roles):
        return graphql_error_response(f"{purpose} needs one of the roles {sorted(roles)}",
                                      "FORBIDDEN", 403)  # fmt: skip
    return principal
