"""Port administration over HTTP: register, update, pause, resume and remove port resolvers.

    GET    /admin/ports                 every registered port, with its health
    POST   /admin/ports                 register one (its endpoint is checked first)
    GET    /admin/ports/{id}
    PATCH  /admin/ports/{id}            change some fields
    DELETE /admin/ports/{id}
    POST   /admin/ports/{id}/pause      keep it registered, stop asking it
    POST   /admin/ports/{id}/resume     ask it again (checked first if it changed)
    POST   /admin/ports/{id}/check      check it now (this port only, bounded), and show it

Role ``admin`` may touch every port; ``port_admin`` only the ports it is bound to (an API key
made with ``portgate keys create --role port_admin --port USLAX``, or a bearer token whose
``auth.oidc.ports_claim`` names them; unbound, a port_admin is only ``public``). Bodies take the
fields of a port in the config file (id, name, url, credential, timeout, capabilities,
cache_ttl, paused). A port's timeout may not exceed the query deadline (400, naming it).

**Every endpoint is checked before it takes traffic** (:mod:`gateway.ports.endpoint_check`): on
registration, on any change of its url, credential or capabilities (paused or not), and on any
change that leaves it taking traffic (leaving pause by PATCH or resume, too) if it has not
passed the check as it is now (a config entry never checked, say). A refusal is HTTP 422
``PORT_CHECK_FAILED`` with ``extensions.reason``, one of the reason codes (EGRESS_REFUSED,
UNREACHABLE, TIMEOUT, REDIRECTED, CREDENTIAL_REFUSED, HTTP_ERROR, NOT_GRAPHQL,
ANSWER_TOO_LARGE, NO_DATA, NO_INTROSPECTION, MISSING_ROOT_FIELD, WRONG_ARGUMENTS,
NOT_ITS_OWN_PORT), and a message in the gateway's own words: nothing the endpoint said is
quoted. Health (``health.reason`` and ``health.message``) uses the same codes.
The egress rules (``registry.egress``) decide which addresses an endpoint may have.

Credentials are never shown back: responses say ``"credential": "set"``; ``checked`` says
whether the endpoint as it is passed the check. Every change, and every one the check refused,
is written to the audit trail. Changes take effect on the next query, in this replica at once
and in the others within ``registry.refresh_interval``. While the registry's store is
unreachable, changes are refused with 503 ``REGISTRY_UNAVAILABLE``.
"""

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.access.auth import Authenticator, Principal
from gateway.config_types import describe_validation_error
from gateway.edge.authorize import principal_with_role
from gateway.edge.responses import ORJSONResponse, graphql_error_response
from gateway.errors import GatewayError, PortCheckFailed, RegistryUnavailable
from gateway.ports.health import PortProber
from gateway.ports.registry import PortEntry, PortRegistry
from gateway.ports.settings import PortConfig
from gateway.record.audit import AuditRecord, PortUse
from gateway.record.audit_trail import AuditTrail

log = logging.getLogger(__name__)

ADMIN_ROLES = frozenset({"admin", "port_admin"})


class AdminApi:
    def __init__(
        self,
        registry: PortRegistry,
        prober: PortProber,
        authenticator: Authenticator,
        deadline: float,
        trail: Callable[[], AuditTrail | None],
    ) -> None:
        self._registry = registry
        self._prober = prober
        self._authenticator = authenticator
        self._deadline = deadline
        self._trail = trail

    def routes(self) -> list[Route]:
        return [
            Route("/admin/ports", self.list_or_register, methods=["GET", "POST"]),
            Route("/admin/ports/{port}", self.one, methods=["GET", "PATCH", "DELETE"]),
            Route("/admin/ports/{port}/{action}", self.act, methods=["POST"]),
        ]

    async def list_or_register(self, request: Request) -> Response:
        principal = await self._admin(request)
        if isinstance(principal, Response):
            return principal
        if request.method == "GET":
            entries = self._registry.snapshot().entries
            return ORJSONResponse({"ports": [self._shown(e) for e in entries]})
        body = await _json(request)
        if isinstance(body, Response):
            return body
        config = self._valid(body)
        if isinstance(config, Response):
            return config
        if self._registry.snapshot().entry(config.id) is not None:
            return graphql_error_response(f"{config.id} is registered already", "CONFLICT", 409)
        return await self._write(principal, PortEntry.from_config(config, "api"), "register", 201)

    async def one(self, request: Request) -> Response:
        target = await self._target(request, changing=request.method != "GET")
        if isinstance(target, Response):
            return target
        principal, entry = target
        if request.method == "GET":
            return ORJSONResponse(self._shown(entry))
        if request.method == "DELETE":
            try:
                await self._registry.remove(entry.id)
            except RegistryUnavailable as exc:
                return _error(exc, 503)
            await self._audit(principal, "remove", entry, "ok")
            return ORJSONResponse({"removed": entry.id})
        changes = await _json(request)
        if isinstance(changes, Response):
            return changes
        if "id" in changes and changes["id"] != entry.id:
            return _bad("a port's id cannot change: remove it and register it again")
        current = entry.stored() | {"credential": entry.credential}
        merged = {k: current[k] for k in PortConfig.model_fields if k in current} | changes
        config = self._valid(merged)
        if isinstance(config, Response):
            return config
        updated = PortEntry.from_config(config, "api").model_copy(update={"checked": entry.checked})
        # A new endpoint is checked, paused or not; one that will take traffic must have passed
        # the check as it is.
        check = updated.endpoint() != entry.endpoint() or (
            not updated.paused and not updated.is_checked()
        )
        return await self._write(principal, updated, "update", 200, check=check)

    async def act(self, request: Request) -> Response:
        target = await self._target(request, changing=True)
        if isinstance(target, Response):
            return target
        principal, entry = target
        action = request.path_params["action"]
        if action == "check":
            finding = await self._prober.check_now(entry)
            checked = {"passed": finding is None} | (finding.public() if finding else {})
            return ORJSONResponse(self._shown(entry) | {"check": checked})
        if action not in ("pause", "resume"):
            return graphql_error_response(f"no action {action!r}", "NOT_FOUND", 404)
        changed = entry.model_copy(update={"paused": action == "pause", "source": "api"})
        check = action == "resume" and not changed.is_checked()
        return await self._write(principal, changed, action, 200, check=check)

    def _valid(self, body: dict[str, Any]) -> PortConfig | Response:
        """``body`` as a port's settings, its timeout within the query deadline."""
        try:
            config = PortConfig.model_validate(body)
        except ValidationError as exc:
            return _bad(describe_validation_error(exc, PortConfig))
        timeout = config.timeout or self._registry.defaults.timeout
        if timeout > self._deadline:
            return _bad(
                f"timeout: {timeout:g}s is over the query deadline ({self._deadline:g}s): no "
                "port is waited for longer than the whole query"
            )
        return config

    async def _write(
        self,
        principal: Principal,
        entry: PortEntry,
        action: str,
        status: int,
        *,
        check: bool = True,
    ) -> Response:
        if (denied := _may_touch(principal, entry.id)) is not None:
            return denied
        if check:
            finding = await self._prober.check_now(entry)
            if finding is not None:
                await self._audit(principal, action, entry, "rejected", finding.reason.value)
                refusal = PortCheckFailed(
                    f"{entry.id}'s endpoint may not take traffic: {finding.message}",
                    finding.reason.value,
                )
                return _error(refusal, 422)
            entry = entry.model_copy(update={"checked": entry.endpoint()})
        entry = entry.model_copy(update={"updated_at": datetime.now(UTC)})
        try:
            await self._registry.put(entry)
        except RegistryUnavailable as exc:
            return _error(exc, 503)
        await self._audit(principal, action, entry, "ok")
        log.info("port %s: %s by %s", entry.id, action, principal.client_id)
        return ORJSONResponse(self._shown(entry), status_code=status)

    async def _target(
        self, request: Request, *, changing: bool
    ) -> tuple[Principal, PortEntry] | Response:
        """The caller and the port the path names, or the 401/403/404 to answer."""
        principal = await self._admin(request)
        if isinstance(principal, Response):
            return principal
        entry = self._registry.snapshot().entry(request.path_params["port"])
        if entry is None:
            return graphql_error_response("no such port", "NOT_FOUND", 404)
        if changing and (denied := _may_touch(principal, entry.id)) is not None:
            return denied
        return principal, entry

    async def _admin(self, request: Request) -> Principal | Response:
        return await principal_with_role(
            self._authenticator, request, ADMIN_ROLES, "port administration"
        )

    def _shown(self, entry: PortEntry) -> dict[str, Any]:
        health = self._prober.health.get(entry.id)
        return entry.public() | {"health": health.public() if health else None}

    async def _audit(
        self,
        principal: Principal,
        action: str,
        entry: PortEntry,
        outcome: Any,
        reason: str | None = None,
    ) -> None:
        trail = self._trail()
        if trail is None:
            return
        record = AuditRecord(
            client_id=principal.client_id,
            organisation=principal.organisation,
            roles=tuple(sorted(principal.roles)),
            operation_name=f"admin.ports.{action}",
            document=json.dumps(entry.public(), sort_keys=True),  # no credential in it
            ports=(PortUse(port=entry.id, status=action, latency_ms=0.0),),
            error_codes=("PORT_CHECK_FAILED", reason) if reason else (),
            outcome=outcome,
        )
        try:
            await trail.record(record)
        except Exception:  # the change is made; a missing record is logged and counted
            log.exception("audit record of a registry change failed")


def _may_touch(principal: Principal, port_id: str) -> Response | None:
    if "admin" in principal.roles:
        return None
    if principal.ports is not None and port_id in principal.ports:
        return None
    return graphql_error_response(
        f"a port_admin may change only its own port(s), not {port_id}", "FORBIDDEN", 403
    )


async def _json(request: Request) -> dict[str, Any] | Response:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return _bad("the body is not JSON")
    if not isinstance(body, dict):
        return _bad("the body must be a JSON object")
    return body


def _bad(message: str) -> Response:
    return graphql_error_response(message, "BAD_USER_INPUT", 400)


def _error(exc: GatewayError, status: int) -> Response:
    return ORJSONResponse(
        {"errors": [{"message": exc.message, "extensions": exc.extensions()}]}, status_code=status
    )
