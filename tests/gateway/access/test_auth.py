"""Authenticate: a port-bound role exists only bound to ports, whatever the credential."""

import pytest

from gateway.access.auth import Authenticator, Principal


class Keys:
    """API keys standing for fixed principals."""

    def __init__(self, **principals: Principal) -> None:
        self._principals = principals

    def verify(self, key: str) -> Principal:
        return self._principals[key.removeprefix("pgk_")]


class Tokens:
    def __init__(self, principal: Principal) -> None:
        self._principal = principal

    async def verify(self, token: str) -> Principal:
        return self._principal


def principal(roles: set[str], ports: set[str] | None, method: str = "api_key") -> Principal:
    return Principal("c", "org", frozenset(roles), None if ports is None else frozenset(ports),
                     method)  # fmt: skip


@pytest.mark.parametrize(
    ("roles", "ports", "seen_roles", "seen_ports"),
    [
        ({"port_admin"}, None, {"public"}, None),
        ({"port_admin"}, set(), {"public"}, None),
        ({"port_admin", "trucker"}, None, {"public"}, None),  # no more than public
        ({"port_admin"}, {"USLAX"}, {"port_admin"}, {"USLAX"}),
        ({"trucker"}, None, {"trucker"}, None),  # other roles need no binding
        ({"admin"}, None, {"admin"}, None),
    ],
)
async def test_a_port_admin_bound_to_no_port_is_only_public(
    roles: set[str], ports: set[str] | None, seen_roles: set[str], seen_ports: set[str] | None
) -> None:
    for method in ("api_key", "oidc"):
        given = principal(roles, ports, method)
        authenticator = Authenticator(
            allow_anonymous=True, api_keys=Keys(k=given), tokens=Tokens(given)
        )
        header = {"x-api-key": "pgk_k"} if method == "api_key" else {"authorization": "Bearer t"}
        seen = await authenticator.authenticate(header)
        assert (seen.roles, seen.ports) == (seen_roles, seen_ports)
        assert (seen.client_id, seen.method) == ("c", method)
