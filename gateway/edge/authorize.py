"""Who may use the gateway's own HTTP APIs (audit, admin, metrics): a credential with one of
some roles.

Credentials are the same as for /graphql (API key or bearer token). A bad credential gives 401
(so does none, when anonymous use is off); a credential without the role gives 403 (so does
none otherwise: the ``public`` role); more than one credential header gives 400
``AMBIGUOUS_CREDENTIALS``. All in the GraphQL error format.
"""

from collections.abc import Collection

from starlette.requests import Request
from starlette.responses import Response

from gateway.access.auth import Authenticator, Principal
from gateway.edge.authenticate import REALM, credential_headers
from gateway.edge.responses import error_response, graphql_error_response
from gateway.errors import AmbiguousCredentials, Unauthenticated


async def principal_with_role(
    authenticator: Authenticator, request: Request, roles: Collection[str], purpose: str
) -> Principal | Response:
    """The caller, when it holds one of ``roles``; else the 400, 401 or 403 to answer."""
    try:
        principal = await authenticator.authenticate(credential_headers(request.scope["headers"]))
    except AmbiguousCredentials as exc:
        return error_response(exc, 400)
    except Unauthenticated as exc:
        return error_response(exc, 401, {"WWW-Authenticate": REALM})
    if not principal.roles & set(roles):
        return graphql_error_response(f"{purpose} needs one of the roles {sorted(roles)}",
                                      "FORBIDDEN", 403)  # fmt: skip
    return principal
