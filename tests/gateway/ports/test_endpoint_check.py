"""Every endpoint is checked before it takes traffic, within the egress rules, and refused in the
gateway's own words: the gateway served on loopback (aiohttp to its ports, as `portgate serve`),
port resolvers and hostile endpoints on loopback; names resolved by a scripted resolver."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.app import create_app
from gateway.cli.main import loopback_egress
from gateway.config import ROOT_FIELDS, ConfigError, load_settings
from gateway.schema import build_schema
from port_resolvers.loopback import serve_on_loopback
from tests.gateway.fake_dns import ScriptedResolver
from tests.gateway.served import (
    HANG_GUARD_SECONDS,
    SECRET,
    Recorder,
    resolvers,
    served_gateway,
    token,
)

PUBLIC_QUERY = "{ ports { UNLocationCode name } }"


@contextlib.asynccontextmanager
async def recorder(status: int = 200) -> AsyncIterator[tuple[Recorder, str]]:
    found = Recorder(status)
    async with serve_on_loopback(found.app()) as url:
        yield found, url


def refusal(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "PORT_CHECK_FAILED"
    assert SECRET not in response.text
    extensions: dict[str, Any] = error["extensions"]
    return {"reason": extensions["reason"], "message": error["message"]}


async def test_an_endpoint_moved_while_paused_is_checked_before_it_can_go_live(
    tmp_path: Path,
) -> None:
    # The demo's rules: exactly its resolvers' loopback ports, nothing else on this machine.
    async with (
        resolvers(["USLAX", "USOAK"]) as urls,
        recorder() as (internal, internal_url),
        served_gateway(
            tmp_path,
            [{"id": p, "url": u} for p, u in urls.items()],
            registry={"egress": loopback_egress(urls.values())},
        ) as gw,
    ):
        moved = await gw.client.patch(
            "/admin/ports/USLAX",
            json={"url": f"{internal_url}/internal/admin", "paused": True},
            headers=gw.as_("lax_admin"),
        )
        assert refusal(moved)["reason"] == "EGRESS_REFUSED"
        live = await gw.client.patch(
            "/admin/ports/USLAX", json={"paused": False}, headers=gw.as_("lax_admin")
        )
        assert live.status_code == 200, live.text
        assert live.json()["url"] == urls["USLAX"]
        answer = await gw.client.post("/graphql", json={"query": PUBLIC_QUERY})
    assert internal.requests == []  # the internal service never heard from the gateway
    assert SECRET not in answer.text
    assert [p["UNLocationCode"] for p in answer.json()["data"]["ports"]] == ["USLAX", "USOAK"]


async def test_a_change_while_paused_is_checked_when_it_leaves_pause(tmp_path: Path) -> None:
    # Every loopback port allowed: the check itself must refuse the endpoint.
    async with (
        resolvers(["USLAX", "USOAK"]) as urls,
        recorder() as (internal, internal_url),
        served_gateway(
            tmp_path,
            [
                {"id": "USLAX", "url": urls["USLAX"]},
                {"id": "USOAK", "url": f"{internal_url}/graphql", "paused": True},
            ],
            registry={"egress": {"schemes": ["http"], "hosts": ["127.0.0.1"]}},
        ) as gw,
    ):
        admin = gw.as_("admin")
        by_patch = await gw.client.patch(
            "/admin/ports/USOAK", json={"paused": False}, headers=admin
        )
        assert refusal(by_patch)["reason"] == "NO_DATA"
        by_resume = await gw.client.post("/admin/ports/USOAK/resume", headers=admin)
        assert refusal(by_resume)["reason"] == "NO_DATA"
        asked = len(internal.requests)
        answer = await gw.client.post("/graphql", json={"query": PUBLIC_QUERY})
        assert len(internal.requests) == asked  # still paused: never asked a query
        assert [s["status"] for s in answer.json()["extensions"]["sources"]] == ["ok", "skipped"]
        # Moved to its real resolver while paused: checked then, and it may then go live.
        moved = await gw.client.patch(
            "/admin/ports/USOAK", json={"url": urls["USOAK"]}, headers=admin
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["checked"] is True
        resumed = await gw.client.post("/admin/ports/USOAK/resume", headers=admin)
        assert resumed.status_code == 200, resumed.text
        answer = await gw.client.post("/graphql", json={"query": PUBLIC_QUERY})
    assert [p["UNLocationCode"] for p in answer.json()["data"]["ports"]] == ["USLAX", "USOAK"]


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:{port}/internal/admin", "loopback"),
        ("http://[::1]:{port}/graphql", "loopback"),
        ("http://[::ffff:127.0.0.1]:{port}/graphql", "loopback"),
        ("http://0.0.0.0:{port}/graphql", "unspecified"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/graphql", "link-local"),
        ("http://10.0.0.7/graphql", "private"),
        ("http://192.168.1.20/graphql", "private"),
        ("http://[fd00::7]/graphql", "private"),
        ("http://100.64.0.9/graphql", "shared"),
        ("http://224.0.0.1/graphql", "multicast"),
        ("http://intranet.corp.example/graphql", "private"),  # resolves to 10.1.2.3
        ("http://localhost:{port}/graphql", "loopback"),  # resolves to 127.0.0.1
    ],
)
async def test_no_address_of_the_operators_network_is_an_endpoint(
    tmp_path: Path, url: str, kind: str
) -> None:
    names = ScriptedResolver(
        {"intranet.corp.example": [["10.1.2.3"]], "localhost": [["127.0.0.1", "::1"]]}
    )
    async with (
        resolvers(["USLAX"]) as urls,
        recorder() as (internal, internal_url),
        served_gateway(
            tmp_path,
            [{"id": "USLAX", "url": urls["USLAX"]}],
            resolver=names,
            registry={
                "egress": {
                    "schemes": ["http", "https"],
                    "hosts": [urls["USLAX"].removeprefix("http://").removesuffix("/graphql")],
                }
            },
        ) as gw,  # fmt: skip
    ):
        target = url.format(port=internal_url.rsplit(":", 1)[1])
        registered = await gw.client.post(
            "/admin/ports",
            json={"id": "USRCH", "name": "Port of Richmond", "url": target},
            headers=gw.as_("admin"),
        )
        found = refusal(registered)
        assert found["reason"] == "EGRESS_REFUSED"
        assert kind in found["message"]
        listed = await gw.client.get("/admin/ports", headers=gw.as_("admin"))
    assert internal.requests == []
    assert [p["id"] for p in listed.json()["ports"]] == ["USLAX"]


async def test_plain_http_is_refused_unless_allowed(tmp_path: Path) -> None:
    names = ScriptedResolver({"resolver.richmond.example": [["93.184.215.14"]]})
    async with served_gateway(tmp_path, [], resolver=names) as gw:  # the default rules
        registered = await gw.client.post(
            "/admin/ports",
            json={
                "id": "USRCH",
                "name": "Port of Richmond",
                "url": "http://resolver.richmond.example/graphql",
            },
            headers=gw.as_("admin"),
        )
    found = refusal(registered)
    assert (found["reason"], "scheme http" in found["message"]) == ("EGRESS_REFUSED", True)
    assert names.lookups == []  # refused on its scheme: not even resolved


async def test_a_name_that_rebinds_to_a_refused_address_is_refused_when_connecting(
    tmp_path: Path,
) -> None:
    # Admitted on its first answer (127.0.0.2, listed); the connection resolves it again and
    # gets 127.0.0.1, where the internal service listens: refused before connecting.
    async with recorder() as (internal, internal_url):
        port = internal_url.rsplit(":", 1)[1]
        names = ScriptedResolver({"lax.rebind.example": [["127.0.0.2"], ["127.0.0.1"]]})
        async with served_gateway(
            tmp_path,
            [],
            resolver=names,
            registry={"egress": {"schemes": ["http"], "networks": ["127.0.0.2/32"]}},
        ) as gw:
            registered = await gw.client.post(
                "/admin/ports",
                json={
                    "id": "USRCH",
                    "name": "Port of Richmond",
                    "url": f"http://lax.rebind.example:{port}/graphql",
                },
                headers=gw.as_("admin"),
            )
    assert refusal(registered)["reason"] == "EGRESS_REFUSED"
    assert names.lookups == ["lax.rebind.example", "lax.rebind.example"]
    assert internal.requests == []


async def test_a_redirect_is_refused_and_never_followed(tmp_path: Path) -> None:
    async with resolvers(["USRCH"]) as urls:

        async def bounce(_: Request) -> Response:
            return Response(b"", 307, headers={"location": urls["USRCH"]})

        bouncer = Starlette(routes=[Route("/graphql", bounce, methods=["POST"])])
        async with (
            serve_on_loopback(bouncer) as bouncer_url,
            served_gateway(
                tmp_path, [], registry={"egress": {"schemes": ["http"], "hosts": ["127.0.0.1"]}}
            ) as gw,
        ):
            registered = await gw.client.post(
                "/admin/ports",
                json={
                    "id": "USRCH",
                    "name": "Port of Richmond",
                    "url": f"{bouncer_url}/graphql",
                    "credential": token("USRCH"),
                },
                headers=gw.as_("admin"),
            )
    assert refusal(registered)["reason"] == "REDIRECTED"


@pytest.mark.parametrize(("status", "reason"), [(200, "NO_DATA"), (500, "NO_DATA")])
async def test_refusals_and_health_never_quote_the_endpoint(
    tmp_path: Path, status: int, reason: str
) -> None:
    async with (
        recorder(status) as (_, chatty_url),
        served_gateway(
            tmp_path,
            [{"id": "USOAK", "url": f"{chatty_url}/graphql"}],
            registry={"egress": {"schemes": ["http"], "hosts": ["127.0.0.1"]}},
        ) as gw,
    ):
        admin = gw.as_("admin")
        registered = await gw.client.post(
            "/admin/ports",
            json={"id": "USRCH", "name": "Port of Richmond", "url": f"{chatty_url}/graphql"},
            headers=admin,
        )
        assert refusal(registered)["reason"] == reason
        checked = await gw.client.post("/admin/ports/USOAK/check", headers=admin)
        listed = await gw.client.get("/admin/ports", headers=admin)
    assert checked.status_code == 200
    assert checked.json()["check"]["reason"] == reason
    [health] = [p["health"] for p in listed.json()["ports"]]
    assert (health["status"], health["reason"]) == ("down", reason)
    assert SECRET not in checked.text
    assert SECRET not in listed.text


def _arguments_of_ports() -> list[str]:
    query = build_schema()._schema.query_type
    assert query is not None
    return list(query.fields["ports"].args)


PORTS_ARGUMENTS = _arguments_of_ports()


def introspected(*fields: tuple[str, list[str]]) -> dict[str, Any]:
    """A check's answer whose root fields (and their arguments) are ``fields``."""
    listed = [{"name": name, "args": [{"name": a} for a in args]} for name, args in fields]
    return {"data": {"__schema": {"queryType": {"fields": listed}},
                     "ports": [{"UNLocationCode": "USOAK"}]}}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "answer", "reason"),
    [
        (200, {"data": {"ports": [{"UNLocationCode": "USOAK"}]}}, "NO_INTROSPECTION"),
        (200, introspected(("ports", PORTS_ARGUMENTS)), "MISSING_ROOT_FIELD"),
        (200, introspected(*((f, []) for f in ROOT_FIELDS)), "WRONG_ARGUMENTS"),
        (200, b"<html>not json", "NOT_GRAPHQL"),
        (502, b"<html>bad gateway", "HTTP_ERROR"),
        (200, b" " * (2 * 1024 * 1024), "ANSWER_TOO_LARGE"),
    ],
)
async def test_each_refusal_has_its_reason_code(
    tmp_path: Path, status: int, answer: dict[str, Any] | bytes, reason: str
) -> None:
    async def endpoint(_: Request) -> Response:
        body = answer if isinstance(answer, bytes) else orjson.dumps(answer)
        return Response(body, status)

    app = Starlette(routes=[Route("/graphql", endpoint, methods=["POST"])])
    async with (
        serve_on_loopback(app) as url,
        served_gateway(
            tmp_path, [], registry={"egress": {"schemes": ["http"], "hosts": ["127.0.0.1"]}}
        ) as gw,
    ):
        registered = await gw.client.post(
            "/admin/ports",
            json={"id": "USOAK", "name": "Port of Oakland", "url": f"{url}/graphql"},
            headers=gw.as_("admin"),
        )
    assert refusal(registered)["reason"] == reason


async def test_a_resolver_for_another_port_is_not_its_own_port(tmp_path: Path) -> None:
    async with (
        resolvers(["USOAK"]) as urls,
        served_gateway(
            tmp_path, [], registry={"egress": {"schemes": ["http"], "hosts": ["127.0.0.1"]}}
        ) as gw,
    ):
        registered = await gw.client.post(
            "/admin/ports",  # Oakland's resolver, registered as USLAX with Oakland's token
            json={
                "id": "USLAX",
                "name": "Port of Los Angeles",
                "url": urls["USOAK"],
                "credential": token("USOAK"),
            },
            headers=gw.as_("admin"),
        )
    found = refusal(registered)
    assert found["reason"] == "NOT_ITS_OWN_PORT"
    assert "USOAK" not in found["message"]  # what it answered is not quoted


async def test_a_timeout_over_the_deadline_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(
            None,
            deadline="5s",
            ports=[
                {"id": "USLAX", "name": "LA", "url": "https://r.example/graphql", "timeout": "1h"}
            ],
        )
    assert "ports.0.timeout [USLAX] is 3600s, over the deadline (5s)" in str(raised.value)
    async with (
        resolvers(["USLAX"]) as urls,
        served_gateway(
            tmp_path,
            [{"id": "USLAX", "url": urls["USLAX"]}],
            deadline="5s",
            registry={"egress": {"schemes": ["http"], "hosts": ["127.0.0.1"]}},
        ) as gw,
    ):
        patched = await gw.client.patch(
            "/admin/ports/USLAX", json={"timeout": "1h"}, headers=gw.as_("lax_admin")
        )
    assert patched.status_code == 400
    [error] = patched.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "over the query deadline (5s)" in error["message"]


async def test_config_ports_must_satisfy_the_egress_rules(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:  # as written: a literal address
        load_settings(None, ports=[{"id": "USLAX", "name": "LA", "url": "https://10.0.0.7/g"}])
    assert "ports.0.url [USLAX] is refused by registry.egress" in str(raised.value)
    # A name, resolved at start-up: refused when it resolves into the operator's network.
    settings = load_settings(
        None,
        ports=[{"id": "USLAX", "name": "LA", "url": "https://intranet.corp.example/graphql"}],
        audit={"store": f"sqlite:///{tmp_path / 'audit.sqlite3'}"},
        registry={"store": f"sqlite:///{tmp_path / 'registry.sqlite3'}"},
    )
    app = create_app(settings, resolver=ScriptedResolver({"intranet.corp.example": [["10.1.2.3"]]}))
    with pytest.raises(ConfigError) as raised:
        async with app.router.lifespan_context(app):
            pass
    assert "ports.0.url [USLAX] is refused by registry.egress" in str(raised.value)
    assert "private" in str(raised.value)


async def test_a_config_port_that_is_down_still_starts(tmp_path: Path) -> None:
    async with recorder() as (_, url):
        pass  # it listened once; nobody listens there now
    async with served_gateway(
        tmp_path,
        [{"id": "USLAX", "url": f"{url}/graphql"}],
        registry={"egress": {"schemes": ["http"], "hosts": ["127.0.0.1"]}},
    ) as gw:
        ready = await gw.client.get("/readyz")
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            answer = await gw.client.post("/graphql", json={"query": PUBLIC_QUERY})
    assert ready.status_code == 200
    [source] = answer.json()["extensions"]["sources"]
    assert source["status"] == "error"


async def test_a_config_port_that_rebinds_later_is_refused_on_the_query_path(
    tmp_path: Path,
) -> None:
    # At start-up its name resolves to 127.0.0.2 (listed); when a query connects, to 127.0.0.1.
    async with recorder() as (internal, internal_url):
        port = internal_url.rsplit(":", 1)[1]
        names = ScriptedResolver({"resolver.lax.example": [["127.0.0.2"], ["127.0.0.1"]]})
        async with served_gateway(
            tmp_path,
            [{"id": "USLAX", "url": f"http://resolver.lax.example:{port}/graphql"}],
            resolver=names,
            registry={"egress": {"schemes": ["http"], "networks": ["127.0.0.2/32"]}},
        ) as gw:
            answer = await gw.client.post("/graphql", json={"query": PUBLIC_QUERY})
    [source] = answer.json()["extensions"]["sources"]
    assert (source["status"], source["code"]) == ("error", "PORT_UNAVAILABLE")
    assert names.lookups[:2] == ["resolver.lax.example", "resolver.lax.example"]
    assert internal.requests == []
