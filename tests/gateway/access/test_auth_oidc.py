"""OIDC bearer tokens: real tokens signed with keys made here, verified against a JWKS the test
serves on loopback. Time-dependent behaviour (JWKS refresh limits) runs on an injected clock."""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.access.oidc import OidcVerifier
from gateway.app import create_app
from gateway.config import OidcSettings, load_settings
from gateway.errors import Unauthenticated
from port_resolvers.loopback import serve_on_loopback
from tests.gateway.conftest import TEST_EGRESS, answering, port_url

ISSUER = "https://id.ports.example/realms/partnership"
AUDIENCE = "portgate"
CONTAINER = {
    "container": {
        "equipmentReference": "CSQU3054383",
        "status": "IN_TERMINAL",
        "availability": {"lastFreeDay": "2026-11-25"},
        "_pg_reference": "CSQU3054383",
        "_pg_seen": "2026-11-20T10:00:00Z",
    }
}
QUERY = '{ container(reference: "CSQU3054383") { status availability { lastFreeDay } } }'


@dataclass
class IdentityProvider:
    """Signing keys by kid, and a JWKS endpoint that publishes some of them."""

    keys: dict[str, Any] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    jwks_requests: int = 0

    def add_rsa(self, kid: str, publish: bool = True) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self.published.append(kid)

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid in self.published:
            public = self.keys[kid].public_key()
            algorithm = (
                jwt.algorithms.RSAAlgorithm
                if isinstance(public, rsa.RSAPublicKey)
                else jwt.algorithms.ECAlgorithm
            )
            jwk = json.loads(algorithm.to_jwk(public))
            keys.append({**jwk, "kid": kid, "use": "sig"})
        return {"keys": keys}

    def token(
        self, kid: str, *, signed_with: str | None = None, algorithm: str = "RS256", **claims: Any
    ) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "azp": "acme-app",
            "iat": now,
            "exp": now + 300,
            "realm_access": {"roles": ["trucker"]},
            "org": "ACME",
        }
        payload.update(claims)
        payload = {name: value for name, value in payload.items() if value is not None}
        key = self.keys[signed_with or kid]
        return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})

    def app(self) -> Starlette:
        async def jwks(_: Request) -> JSONResponse:
            self.jwks_requests += 1
            return JSONResponse(self.jwks())

        return Starlette(routes=[Route("/jwks", jwks)])


@pytest.fixture
async def idp() -> AsyncIterator[tuple[IdentityProvider, str]]:
    provider = IdentityProvider()
    provider.add_rsa("k1")
    async with serve_on_loopback(provider.app()) as url:
        yield provider, f"{url}/jwks"


@pytest.fixture
async def gateway(idp: tuple[IdentityProvider, str]) -> AsyncIterator[httpx.AsyncClient]:
    _, jwks_url = idp
    settings = load_settings(
        None,
        ports=[{"id": "USLAX", "name": "Port of Los Angeles", "url": port_url("USLAX")}],
        auth={
            "api_keys": {"enabled": False},
            "oidc": {
                "issuer": ISSUER,
                "audience": AUDIENCE,
                "jwks_url": jwks_url,
                "roles_claim": "realm_access.roles",
                "leeway": "5s",
            },
        },
        registry={"egress": TEST_EGRESS},
    )
    # Ports through a mock; everything else (the JWKS on loopback) over real HTTP.
    async with (
        httpx.AsyncClient(mounts={"http://uslax.test": answering(CONTAINER)}) as upstream,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, client=upstream)),
            base_url="http://gw",
        ) as client,
    ):
        yield client


async def ask(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {token}"}
    )


async def test_a_valid_token_gets_its_roles_from_the_configured_claim(
    idp: tuple[IdentityProvider, str], gateway: httpx.AsyncClient
) -> None:
    provider, _ = idp
    response = await ask(gateway, provider.token("k1"))
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body  # trucker may see availability
    assert body["data"]["container"]["availability"] == {"lastFreeDay": "2026-11-25"}
    public = await ask(gateway, provider.token("k1", realm_access={"roles": ["public"]}))
    assert public.json()["data"]["container"]["availability"] is None


@pytest.mark.parametrize(
    ("make_token", "message"),
    [
        (lambda p: p.token("k1", exp=int(time.time()) - 60), "the bearer token has expired"),
        (lambda p: p.token("k1", signed_with="other"), "signature does not verify"),
        (lambda p: p.token("k1", aud="someone-else"), "not meant for this gateway"),
        (lambda p: p.token("k1", iss="https://evil.example"), "untrusted issuer"),
        (lambda p: p.token("unpublished"), "signed by a key this gateway does not trust"),
        (lambda p: p.token("k1", exp=None), "invalid bearer token"),  # exp is required
        (lambda p: p.token("k1", exp=4102444800), "lives longer than the 24h"),  # 2100-01-01
        (  # issued 25 hours ago, still valid for a minute: a 25-hour token
            lambda p: p.token("k1", iat=int(time.time()) - 90_000, exp=int(time.time()) + 60),
            "lives longer than the 24h",
        ),
        (lambda p: p.token("k1", ports="USLAX ../x"), "ports claim is not a list of UN/LOCODEs"),
        (lambda p: p.token("k1", ports=[7]), "ports claim is not a list of UN/LOCODEs"),
    ],
)
async def test_a_bad_token_gets_401(
    idp: tuple[IdentityProvider, str], gateway: httpx.AsyncClient, make_token: Any, message: str
) -> None:
    provider, jwks_url = idp
    provider.add_rsa("other", publish=False)
    provider.add_rsa("unpublished", publish=False)
    response = await ask(gateway, make_token(provider))
    assert response.status_code == 401
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    assert message in error["message"]
    assert response.headers["www-authenticate"] == 'Bearer realm="portgate", error="invalid_token"'
    assert jwks_url not in response.text
    assert "127.0.0.1" not in response.text


async def test_unsigned_and_symmetric_tokens_are_refused(
    idp: tuple[IdentityProvider, str], gateway: httpx.AsyncClient
) -> None:
    provider, _ = idp
    await ask(gateway, provider.token("k1"))  # the JWKS is known
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60}
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "k1"})
    public_pem = (
        provider.keys["k1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    # The classic confusion attack: HS256 with the public key as the shared secret.
    header = _b64({"alg": "HS256", "kid": "k1", "typ": "JWT"})
    body = _b64(claims)
    signature = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    confused = f"{header}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    for token in (unsigned, confused):
        response = await ask(gateway, token)
        assert response.status_code == 401
        assert "algorithm is not accepted" in response.json()["errors"][0]["message"]


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_an_unknown_kid_fetches_the_jwks_again_at_most_once_per_interval(
    idp: tuple[IdentityProvider, str],
) -> None:
    provider, jwks_url = idp
    clock = FakeClock()
    settings = OidcSettings(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_url=jwks_url,  # type: ignore[arg-type]
        roles_claim="realm_access.roles",
        jwks_refresh_interval=60,
    )
    async with httpx.AsyncClient() as client:
        verifier = OidcVerifier(settings, client, clock=clock)
        assert (await verifier.verify(provider.token("k1"))).roles == {"trucker"}
        assert provider.jwks_requests == 1

        provider.add_rsa("k2", publish=False)  # an attacker's kid, or a key not published yet
        clock.now += 60
        for _ in range(5):
            with pytest.raises(Unauthenticated):
                await verifier.verify(provider.token("k2"))
        assert provider.jwks_requests == 2  # one refresh for the unknown kid, then rate-limited

        provider.published.append("k2")  # the provider rotates the key in
        with pytest.raises(Unauthenticated):
            await verifier.verify(provider.token("k2"))
        assert provider.jwks_requests == 2  # still within the interval
        clock.now += 60
        principal = await verifier.verify(provider.token("k2"))
        assert provider.jwks_requests == 3
        assert (principal.client_id, principal.organisation, principal.method) == (
            "acme-app",
            "ACME",
            "oidc",
        )
        await verifier.verify(provider.token("k1"))  # known keys need no fetch
        assert provider.jwks_requests == 3


async def test_es256_tokens_and_a_client_id_from_sub(idp: tuple[IdentityProvider, str]) -> None:
    provider, jwks_url = idp
    provider.keys["ec"] = ec.generate_private_key(ec.SECP256R1())
    provider.published.append("ec")
    settings = OidcSettings(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_url=jwks_url,  # type: ignore[arg-type]
        roles_claim="scope",
    )
    async with httpx.AsyncClient() as client:
        verifier = OidcVerifier(settings, client)
        token = provider.token(
            "ec", algorithm="ES256", azp=None, sub="svc-7", scope="cargo_owner trucker"
        )
        principal = await verifier.verify(token)
    assert principal.client_id == "svc-7"
    assert principal.roles == {"cargo_owner", "trucker"}


def test_symmetric_and_none_algorithms_cannot_be_configured() -> None:
    for algorithms in (["HS256"], ["none"], ["RS256", "HS512"], []):
        with pytest.raises(ValueError, match="not accepted"):
            OidcSettings(
                issuer=ISSUER,
                audience=AUDIENCE,  # type: ignore[arg-type]
                jwks_url="https://id.example/jwks",
                algorithms=algorithms,
            )


async def test_the_longest_lifetime_is_configurable(idp: tuple[IdentityProvider, str]) -> None:
    provider, jwks_url = idp
    settings = OidcSettings(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_url=jwks_url,  # type: ignore[arg-type]
        max_lifetime=48 * 3600,
    )
    now, hour = int(time.time()), 3600
    async with httpx.AsyncClient() as client:
        verifier = OidcVerifier(settings, client)
        lasting = provider.token("k1", iat=now, exp=now + 25 * hour)  # over the default 24h
        assert (await verifier.verify(lasting)).client_id == "acme-app"
        for too_long in (
            provider.token("k1", iat=now, exp=now + 49 * hour),
            provider.token("k1", iat=None, exp=now + 49 * hour),  # no iat: judged from now
        ):
            with pytest.raises(Unauthenticated, match="longer than the 48h"):
                await verifier.verify(too_long)


# A gateway served on loopback (its lifespan, admin API, default policy) in front of two mocked
# ports: what a port_admin token may do depends on the ports it is bound to.
@pytest.fixture
async def served(
    idp: tuple[IdentityProvider, str], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    _, jwks_url = idp
    settings = load_settings(
        None,
        ports=[{"id": p, "name": p, "url": port_url(p)} for p in ("USLAX", "USOAK")],
        auth={
            "api_keys": {"database": tmp_path / "keys.sqlite3"},
            "oidc": {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": jwks_url,
                     "roles_claim": "realm_access.roles"},
        },
        registry={"egress": TEST_EGRESS},
    )  # fmt: skip
    mounts = {f"http://{p.lower()}.test": answering(CONTAINER) for p in ("USLAX", "USOAK")}
    async with (
        httpx.AsyncClient(mounts=mounts) as upstream,
        serve_on_loopback(create_app(settings, client=upstream)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        yield client


async def test_a_port_admin_token_bound_to_no_port_is_only_public(
    idp: tuple[IdentityProvider, str], served: httpx.AsyncClient
) -> None:
    provider, _ = idp
    for unbound in (
        provider.token("k1", realm_access={"roles": ["port_admin"]}),
        provider.token("k1", realm_access={"roles": ["port_admin", "trucker"]}, ports=[]),
    ):
        headers = {"authorization": f"Bearer {unbound}"}
        assert (await served.get("/admin/ports", headers=headers)).status_code == 403
        paused = await served.post("/admin/ports/USOAK/pause", headers=headers)
        assert paused.status_code == 403
        body = (await served.post("/graphql", json={"query": QUERY}, headers=headers)).json()
        assert body["data"]["container"]["availability"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN_FIELD"


async def test_a_port_admin_token_reaches_the_ports_its_claim_names(
    idp: tuple[IdentityProvider, str], served: httpx.AsyncClient
) -> None:
    provider, _ = idp
    bound = provider.token("k1", realm_access={"roles": ["port_admin"]}, ports=["USLAX"])
    headers = {"authorization": f"Bearer {bound}"}
    assert (await served.get("/admin/ports", headers=headers)).status_code == 200
    assert (await served.post("/admin/ports/USOAK/pause", headers=headers)).status_code == 403
    answer = await served.post("/graphql", json={"query": QUERY}, headers=headers)
    body = answer.json()
    assert body["data"]["container"]["availability"] == {"lastFreeDay": "2026-11-25"}
    assert [s["port"] for s in body["extensions"]["sources"]] == ["USLAX"]  # its port only
    assert (await served.post("/admin/ports/USLAX/pause", headers=headers)).status_code == 200
