"""The gateway as one Starlette app: routes, the middleware list folded in one place, lifespan.

POST/GET /graphql   the shared cargo schema, answered live by every relevant port; subscriptions
                    as GraphQL over SSE, or over WebSocket (graphql-transport-ws)
GET      /graphql   GraphiQL (when enabled and asked for by a browser), assets under
                    /graphiql/static/
GET      /dashboard the outlook dashboard (when enabled), assets under /dashboard/static/
GET      /healthz   liveness: the process answers
GET      /readyz    readiness: at least one port to ask; says how the audit store and the
                    registry's store are (the config's ports are served without the latter)
GET      /metrics   Prometheus metrics (gateway/record/metrics.py); with `metrics.listen`, on a
                    listener of its own instead (gateway/cli/server.py)
GET      /audit/... the audit trail, for auditors (gateway/edge/audit_api.py)
/admin/ports/...    the port registry, for admins (gateway/edge/admin_api.py)
GET      /dcsa/tnt/v2/events[/{eventID}]  the ports' events as one DCSA Track & Trace 2.2
                    publisher, through the same execution as /graphql (gateway/edge/dcsa_tnt.py)
*        /dcsa/tnt/v2/event-subscriptions[/{subscriptionID}[/secret]]  DCSA event
                    subscriptions, delivered from the gateway's subscriptions
                    (gateway/edge/dcsa_subscriptions.py)

Before a query runs it passes, in order: the client address behind trusted proxies, CORS (when
origins are configured), load shedding, the body's size and read deadline, authentication, the
in-flight limit per client, the rate limit and CSRF protection (gateway/edge/), the trusted
documents and APQ and the choice of operation (in the lean lane for a POSTed operation, else in
strawberry's view: gateway/edge/graphql_view.py), then the token, depth, alias and
root field limits and the cost estimate (gateway/query/limits.py). `portgate serve` runs the app
with the server settings of gateway/cli/server.py (header timeouts, no proxy headers of its own).
"""

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from graphql import ASTValidationRule, DocumentNode
from opentelemetry import trace
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from gateway.access.apikeys import ApiKeyStore
from gateway.access.auth import Authenticator, Principal
from gateway.access.documents import (
    DocumentResolver,
    MemoryPersistedQueries,
    document_resolver,
)
from gateway.access.policy_file import PolicyStore
from gateway.access.ratelimit import MemoryCounters, RateLimiter, rate_limiter
from gateway.config import (
    API_KEY_DATABASE_NAME,
    DEFAULT_MAX_ANSWER_BYTES,
    AuthSettings,
    CacheSettings,
    ConfigError,
    GatewaySettings,
    ResolvedPort,
)
from gateway.edge import dashboard
from gateway.edge.admin_api import AdminApi
from gateway.edge.audit_api import audit_routes
from gateway.edge.authenticate import Authenticate
from gateway.edge.body_limit import BodyLimits, ReadDeadlines
from gateway.edge.client_address import ClientAddress
from gateway.edge.csrf import CSRF_HEADER, CsrfProtection
from gateway.edge.dcsa_query import Cursors, cursor_key
from gateway.edge.dcsa_subscriptions import DcsaSubscriptions
from gateway.edge.dcsa_tnt import PREFIX as DCSA_PREFIX
from gateway.edge.dcsa_tnt import DcsaTrackAndTrace
from gateway.edge.graphiql import STATIC_PATH, static_files
from gateway.edge.graphql_view import GatewayGraphQL, LeanGraphQL
from gateway.edge.guarded import Guarded
from gateway.edge.in_flight import ClientConcurrency
from gateway.edge.metrics_endpoint import metrics_app, metrics_endpoint
from gateway.edge.overload import EventLoopLag, Overload
from gateway.edge.rate_limit import ClientRate, RateLimit
from gateway.edge.responses import ORJSONResponse
from gateway.edge.state import Edge
from gateway.edge.streams import SubscriptionStreams
from gateway.edge.websocket import GraphQLWebSockets, WebSocketsFirst
from gateway.ports.boundary import PortBoundary
from gateway.ports.cache import AnswerCache, BoundedMemoryAnswers, memory_cache, redis_cache
from gateway.ports.changes import PortChanges
from gateway.ports.egress import Resolver, SystemResolver
from gateway.ports.endpoint_check import EndpointChecker
from gateway.ports.fetch import Bypass, FanOut
from gateway.ports.health import PortProber
from gateway.ports.port_client import PortConnections
from gateway.ports.port_http import GraphQLOverPortHttp, HttpxPortHttp, PortHttp
from gateway.ports.registry import PortEntry, PortRegistry, RegistrySnapshot
from gateway.ports.registry_store import open_registry_store
from gateway.ports.upstream import GraphQLOverHTTP, PortUpstream
from gateway.query.execute import GatewaySchema
from gateway.query.limits import IntrospectionDisabled, limits_rule
from gateway.query.live import LiveQueries
from gateway.query.observe import OperationObserver
from gateway.query.pipeline import OperationResult, QueryPipeline
from gateway.record.audit_archive import RetentionSchedule
from gateway.record.audit_trail import AuditTrail
from gateway.record.metrics import BoundedStore, EdgeReading, GatewayMetrics, LiveReading
from gateway.record.redact import ErrorRedactor
from gateway.schema import build_schema
from gateway.schema.query import Query
from gateway.schema.subscription import Subscription

if TYPE_CHECKING:  # httpx loads only for an injected client or OIDC's keys
    import httpx

CORS_ALLOWED_HEADERS = [
    "content-type",
    "authorization",
    "x-api-key",
    CSRF_HEADER.decode(),
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "traceparent",
]


def port_connector(
    client: "httpx.AsyncClient | None",
    sessions: PortHttp | None = None,
    *,
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
) -> Callable[[ResolvedPort], PortUpstream]:
    """How the fan-out reaches a port: GraphQL over HTTP with the port's credential, through
    the gateway's own connections (``sessions``), else through the injected httpx client
    (tests); answers are read up to ``max_answer_bytes``."""

    def connect(port: ResolvedPort) -> PortUpstream:
        if sessions is not None:
            return GraphQLOverPortHttp(
                port.id, port.url, sessions, port.credential, max_bytes=max_answer_bytes
            )
        assert client is not None  # the app injects one or the other
        return GraphQLOverHTTP(
            port.id, port.url, client, port.credential, max_bytes=max_answer_bytes
        )

    return connect


def live_reading(live: LiveQueries, snapshot: RegistrySnapshot) -> LiveReading:
    """What the metrics show of the subscriptions, and which active ports push."""
    pushes = live.pushes
    pushing = {p.id: pushes is not None and pushes.pushing(p.id) for p in snapshot.active}
    return LiveReading(live.total, len(live.feeds), pushing)


async def check_seed_egress(settings: GatewaySettings, resolver: Resolver) -> None:
    """The config's ports against ``registry.egress``, names resolved: a ``ConfigError`` naming
    each refused one. (Their URLs as written are checked when the settings are validated; a
    name that does not resolve now is not refused here: it is judged on every connection.)"""
    rules = settings.registry.egress.rules()
    problems = [
        f"ports.{i}.url [{p.id}] is refused by registry.egress: {reason}"
        for i, p in enumerate(settings.ports)
        if (reason := await rules.admit(str(p.url), resolver)) is not None
    ]
    if problems:
        raise ConfigError("\n".join(problems))


def build_cache(settings: CacheSettings) -> AnswerCache | None:
    if not settings.enabled:
        return None
    if settings.redis_url:
        return redis_cache(settings.redis_url, namespace=settings.namespace)
    return memory_cache(max_bytes=settings.max_bytes)


def bounded_stores(
    cache: AnswerCache | None,
    documents: DocumentResolver,
    limiter: RateLimiter | None = None,
    parsed: BoundedStore | None = None,
    prepared: BoundedStore | None = None,
    checks: BoundedStore | None = None,
) -> dict[str, BoundedStore]:
    """The stores this process bounds in bytes, by name (for /metrics)."""
    stores: dict[str, BoundedStore] = {}
    if isinstance(cache, BoundedMemoryAnswers):
        stores["answer_cache"] = cache
    if isinstance(documents.apq, MemoryPersistedQueries):
        stores["apq"] = documents.apq
    if limiter is not None and isinstance(limiter.store, MemoryCounters):
        stores["rate_limit_counters"] = limiter.store
    if parsed is not None:
        stores["parsed_documents"] = parsed
    if prepared is not None:
        stores["prepared_plans"] = prepared
    if checks is not None:
        stores["boundary_checks"] = checks
    return stores


def forget_changed_ports(fan_out: FanOut) -> Callable[[RegistrySnapshot], None]:
    """A registry listener: when a port's registration changes (or it is removed), the fan-out
    forgets what it kept about it: cached and stale answers, breaker, upstream."""
    seen: dict[str, PortEntry] = {}
    pending: set[asyncio.Task[None]] = set()

    def changed(snapshot: RegistrySnapshot) -> None:
        now = {entry.id: entry for entry in snapshot.entries}
        if seen:
            for port, entry in seen.items():
                if now.get(port) != entry:
                    task = asyncio.get_running_loop().create_task(fan_out.forget(port))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
        seen.clear()
        seen.update(now)

    return changed


def build_authenticator(
    settings: AuthSettings, client: Callable[[], "httpx.AsyncClient"]
) -> tuple[Authenticator, ApiKeyStore | None]:
    """The authenticator the settings ask for; ``client`` gives the HTTP client OIDC fetches
    its keys with (made only when OIDC is configured)."""
    keys = None
    if settings.api_keys.enabled:
        keys = ApiKeyStore(settings.api_keys.database or Path(API_KEY_DATABASE_NAME))
    tokens = None
    if settings.oidc is not None:
        from gateway.access.oidc import OidcVerifier  # PyJWT and cryptography: only when configured

        tokens = OidcVerifier(settings.oidc, client())
    authenticator = Authenticator(
        allow_anonymous=settings.allow_anonymous, api_keys=keys, tokens=tokens
    )
    return authenticator, keys


def create_app(
    settings: GatewaySettings,
    *,
    client: "httpx.AsyncClient | None" = None,
    tracer_provider: trace.TracerProvider | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    resolver: Resolver | None = None,
    loop_lag: EventLoopLag | None = None,
    lean: bool = True,
) -> Starlette:
    """The gateway app. Pass ``client`` to reach ports through your own transport (tests);
    otherwise the app reaches ports on its own kept-alive connections
    (:mod:`gateway.ports.port_client`) and owns an httpx client for the rest (JWKS), both for its
    life. Spans go to
    ``tracer_provider``, by default the global one (see
    :func:`gateway.record.tracing.configure_tracing`). ``resolver`` resolves ports' host names for
    the egress rules (:mod:`gateway.ports.egress`), at registration and when connecting; by default
    the system's (tests inject one, and never resolve outside names). ``loop_lag`` measures the
    event loop's lag for load shedding (by default every ``load_shedding.lag_interval``; tests
    pass their own). ``lean`` answers a
    POSTed JSON operation in the lean lane (:class:`gateway.edge.graphql_view.LeanGraphQL`);
    without it, strawberry's view answers every request (tests compare the two)."""
    owns_client = client is None
    egress = settings.registry.egress.rules()
    sessions = (
        PortConnections(settings.port_defaults.max_connections, egress, resolver)
        if owns_client
        else None
    )
    owned: list[httpx.AsyncClient] = []  # the app's own httpx client, once something needs it

    def http() -> "httpx.AsyncClient":
        """The injected client, or the app's own (for OIDC's keys): httpx is imported only then."""
        if client is not None:
            return client
        if not owned:
            import httpx

            owned.append(httpx.AsyncClient(follow_redirects=False))
        return owned[0]

    registry = PortRegistry(settings.port_defaults, settings.ports)
    cache = build_cache(settings.cache)
    graphql_schema = build_schema()._schema
    shedding = settings.load_shedding
    edge = Edge(
        loop_lag or EventLoopLag(shedding.lag_interval),
        ReadDeadlines(settings.server.body_timeout),
    )
    boundary = PortBoundary(graphql_schema)
    fan_out = FanOut(
        port_connector(client, sessions, max_answer_bytes=settings.port_defaults.max_answer_bytes),
        cache=cache,
        cache_settings=settings.cache,
        breaker_settings=settings.breaker,
        retry_settings=settings.retry,
        tracer_provider=tracer_provider,
        boundary=boundary,
        # While the event loop lags as badly as load shedding measures it, a port timeout may
        # be the gateway's own backlog: it is not held against the port's breaker.
        overloaded=lambda: edge.loop_lag.sustained > (shedding.max_event_loop_lag or math.inf),
    )
    registry.on_change(forget_changed_ports(fan_out))
    documents = document_resolver(
        settings.documents,
        graphql_schema,
        settings.limits.max_tokens,
        redis_url=settings.cache.redis_url,
        redis_namespace=settings.cache.namespace,
    )
    limiter = rate_limiter(settings.rate_limit)
    # One rate per client, counted alike for HTTP requests and WebSocket upgrades and subscribes.
    rate = (
        ClientRate(
            limiter,
            requests=settings.rate_limit.requests,
            anonymous_requests=settings.rate_limit.anonymous_requests,
            ipv6_prefix=settings.rate_limit.anonymous_ipv6_prefix,
            counts=edge.counts,
        )
        if limiter is not None
        else None
    )
    metrics = GatewayMetrics(
        lambda: {port: b.state.value for port, b in fan_out.breakers().items()},
        lambda: observer.audit_counts(),
        lambda: {port: h.status for port, h in prober.health.items()},
        lambda: bounded_stores(
            cache,
            documents,
            limiter,
            schema.documents,
            pipeline.prepared,
            boundary.checks,
        ),
        audit_store=lambda: observer.audit_store(),
        registry_store_up=lambda: registry.store_up,
        edge=lambda: EdgeReading(
            edge.counts.refused,
            edge.counts.client_disconnects,
            edge.counts.in_flight,
            edge.loop_lag.latest,
        ),
        live=lambda: live_reading(live, registry.snapshot()),
    )
    observer = OperationObserver(metrics, graphql_schema)
    policy = PolicyStore(
        settings.policy.file, graphql_schema, [e.id for e in registry.snapshot().entries]
    )
    port_http: PortConnections | HttpxPortHttp = (
        sessions if sessions is not None else HttpxPortHttp(http(), egress)
    )
    checker = EndpointChecker(port_http, graphql_schema, egress, resolver or SystemResolver())
    prober = PortProber(registry, checker, settings.registry.probe_timeout)
    pipeline = QueryPipeline(
        graphql_schema,
        registry,
        fan_out,
        settings.deadline,
        policy=policy,
        reject_denied=settings.policy.on_denied == "reject",
        max_cost=settings.limits.max_cost,
        outlook=settings.outlook,
        tracer_provider=tracer_provider,
        prober=prober,
        clock=clock,
    )
    authenticator, api_keys = build_authenticator(settings.auth, http)
    validation_rules: list[type[ASTValidationRule]] = [limits_rule(settings.limits)]
    if not settings.introspection:
        validation_rules.append(IntrospectionDisabled)
    admin = AdminApi(registry, prober, authenticator, settings.deadline, lambda: observer.trail)
    schema = GatewaySchema(query=Query, subscription=Subscription).serve(
        pipeline,
        observer=observer,
        validation_rules=validation_rules,
        max_tokens=settings.limits.max_tokens,
        cache_bypass_roles=settings.cache.bypass_roles,
        tracer_provider=tracer_provider,
    )
    view = GatewayGraphQL(
        schema,
        graphql_ide="graphiql" if settings.graphiql else None,
        documents=documents,
        redactor=ErrorRedactor(
            lambda: [urlsplit(e.url).hostname or "" for e in registry.snapshot().entries]
        ),
        max_tokens=settings.limits.max_tokens,
    )

    dcsa = DcsaTrackAndTrace(
        schema, authenticator, rate=rate, clock=clock,
        cursors=Cursors(cursor_key(settings.dcsa.cursor_key_env)),
    )  # fmt: skip
    subscriptions = settings.subscriptions

    async def poll(
        document: DocumentNode,
        name: str | None,
        values: Mapping[str, Any],
        principal: Principal,
        bypass: Bypass,
    ) -> OperationResult | None:
        # A feed asks past the cache's fresh answers of the ports it must (a change must reach
        # subscribers within an interval, not a port's cache lifetime); what it fetches
        # refreshes the cache.
        return await pipeline.run(document, name, values, principal=principal, bypass_cache=bypass)

    live = LiveQueries(
        poll,
        interval=subscriptions.interval,
        max_per_principal=subscriptions.max_per_client,
        max_total=subscriptions.max_total,
        pushed_interval=subscriptions.push_interval,
        min_gap=subscriptions.push_min_gap,
    )
    if subscriptions.push:
        live.pushes = PortChanges(port_http, registry, live.told)
    dcsa_settings = settings.dcsa
    callback_rules = dcsa_settings.callback_egress.rules()
    callbacks: PortHttp = (
        PortConnections(2, callback_rules, resolver)
        if owns_client
        else HttpxPortHttp(http(), callback_rules)
    )
    dcsa_subscriptions = DcsaSubscriptions(
        dcsa, schema=schema, live=live, authenticator=authenticator, sender=callbacks,
        rules=callback_rules, resolver=resolver or SystemResolver(), observer=observer,
        max_per_client=dcsa_settings.max_subscriptions_per_client,
        max_total=dcsa_settings.max_subscriptions,
        attempts=dcsa_settings.delivery_attempts, timeout=dcsa_settings.delivery_timeout,
    )  # fmt: skip

    websockets = GraphQLWebSockets(
        schema=schema,
        live=live,
        authenticator=authenticator,
        documents=documents,
        observer=observer,
        heartbeat=subscriptions.heartbeat,
        max_message_bytes=settings.max_body_bytes,
        max_connections=subscriptions.max_total,
        max_per_address=subscriptions.max_per_client,
        rate=rate,
        allow_origins=settings.cors.allow_origins,
        counts=edge.counts,
    )

    async def dashboard_page(_: Request) -> Response:
        return dashboard.dashboard_page("/graphql")

    async def healthz(_: Request) -> Response:
        return ORJSONResponse({"status": "ok"})

    prometheus = metrics_endpoint(metrics, authenticator, settings.metrics.roles)

    async def readyz(_: Request) -> Response:
        ports = [p.id for p in registry.snapshot().active]
        audit = None
        if observer.trail is not None:
            await observer.trail.probe()  # a store that failed: does it answer again?
            audit = observer.trail.status()
        # A best-effort trail never holds readiness back; a required one whose store is down
        # would refuse every query (AUDIT_UNAVAILABLE).
        audit_ready = audit is None or not audit["required"] or audit["store"] == "up"
        ready = bool(ports) and audit_ready
        status = "ok" if ready else "no ports to ask" if not ports else "audit store down"
        return ORJSONResponse(
            {
                "status": status,
                "ports": ports,
                "audit": audit,
                "registryStore": "ok" if registry.store_up else "unavailable",
            },
            status_code=200 if ready else 503,
        )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await check_seed_egress(settings, resolver or SystemResolver())
        audit = settings.audit
        observer.trail = await AuditTrail.open(
            audit.store,
            required=audit.required,
            queue_size=audit.queue_size,
            queue_max_bytes=audit.queue_max_bytes,
            batch_window=audit.batch_window,
            max_document_bytes=audit.max_document_bytes,
            max_variables_bytes=audit.max_variables_bytes,
            backoff=audit.connect_backoff,
            backoff_max=audit.connect_backoff_max,
        )
        retention = None
        if audit.retention is not None and audit.prune_every is not None:
            trail = observer.trail
            retention = RetentionSchedule(
                lambda: trail.store, retention=audit.retention, every=audit.prune_every,
                archive_dir=audit.archive_dir, clock=clock,
            )  # fmt: skip
            retention.start()
        registry_settings = settings.registry
        await registry.attach(
            partial(
                open_registry_store,
                registry_settings.store,
                timeout=registry_settings.store_timeout,
            ),
            registry_settings.refresh_interval,
            registry_settings.store_retry_interval,
        )
        prober.start(settings.registry.health_interval)
        edge.start()
        try:
            yield
        finally:
            await dcsa_subscriptions.close()
            await live.close()  # every subscriber told the stream ended, before the rest stops
            await edge.stop()
            await prober.stop()
            await registry.detach()
            if retention is not None:
                await retention.stop()
            await observer.trail.close()  # writes what is still queued
            await documents.close()
            if limiter is not None:
                await limiter.close()
            if cache is not None:
                await cache.close()
            if api_keys is not None:
                api_keys.close()
            for own in owned:
                await own.aclose()
            if sessions is not None:
                await sessions.aclose()
            if isinstance(callbacks, PortConnections):
                await callbacks.aclose()

    cors = settings.cors
    server = settings.server
    # What load shedding, authentication and the in-flight limit per client act on: /graphql,
    # and the DCSA facade, whose refusals are DCSA error bodies.
    guarded = Guarded("/graphql", {f"{DCSA_PREFIX}/": dcsa.refusal})
    middleware: Sequence[Middleware] = [
        *(
            [
                Middleware(
                    ClientAddress,
                    trusted_proxies=server.trusted_proxies,
                    header=server.client_ip_header,
                )
            ]
            if server.trusted_proxies
            else []
        ),
        *(
            [
                Middleware(
                    CORSMiddleware,
                    allow_origins=list(cors.allow_origins),
                    allow_methods=["GET", "POST"],
                    allow_headers=CORS_ALLOWED_HEADERS,
                    allow_credentials=cors.allow_credentials,
                    max_age=int(cors.max_age),
                )
            ]
            if cors.allow_origins
            else []
        ),
        Middleware(
            Overload,
            counts=edge.counts,
            loop_lag=edge.loop_lag,
            max_in_flight=shedding.max_in_flight,
            max_lag=shedding.max_event_loop_lag,
            retry_after=shedding.retry_after,
            paths=guarded,
        ),
        Middleware(
            BodyLimits, max_bytes=settings.max_body_bytes, deadlines=edge.reads, counts=edge.counts
        ),
        Middleware(Authenticate, authenticator=authenticator, paths=guarded),
        *(
            [
                Middleware(
                    ClientConcurrency,
                    counts=edge.counts,
                    limit=settings.rate_limit.max_in_flight,
                    ipv6_prefix=settings.rate_limit.anonymous_ipv6_prefix,
                    paths=guarded,
                ),
                Middleware(RateLimit, rate=rate),
            ]
            if rate is not None
            else []
        ),
        *([Middleware(CsrfProtection)] if settings.csrf_protection else []),
        # Every WebSocket: graphql-transport-ws at /graphql, refused elsewhere. The checks above
        # are HTTP's (each passes a WebSocket on); the upgrade and each subscribe are held to the
        # same rate, and the upgrade to CORS's origins, by the WebSocket edge itself; a
        # connection authenticates in connection_init.
        Middleware(WebSocketsFirst, websockets=websockets),
        Middleware(
            SubscriptionStreams,
            schema=schema,
            live=live,
            authenticator=authenticator,
            documents=documents,
            observer=observer,
            heartbeat=subscriptions.heartbeat,
        ),
        *([Middleware(LeanGraphQL, view=view)] if lean else []),  # last: after every check
    ]
    application = Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *([] if settings.metrics.listen else [Route("/metrics", prometheus)]),
            *audit_routes(authenticator, lambda: observer.trail),
            *admin.routes(),
            *dcsa.routes(),
            *dcsa_subscriptions.routes(),
            *(
                [Mount(STATIC_PATH, static_files(), name="graphiql-static")]
                if settings.graphiql
                else []
            ),
            *(
                [
                    Route(dashboard.PAGE_PATH, dashboard_page),
                    Mount(dashboard.STATIC_PATH, dashboard.static_files(), name="dashboard-static"),
                ]
                if settings.dashboard
                else []
            ),
        ],
        middleware=list(middleware),
        lifespan=lifespan,
    )
    application.state.live = live  # the subscriptions held, to inspect
    application.state.websockets = websockets  # its connections, to inspect
    application.state.observer = observer  # what the lifespan opened (the audit trail), to inspect
    application.state.edge = edge  # for the server that runs the app (gateway/cli/server.py)
    application.state.metrics_app = metrics_app(prometheus) if settings.metrics.listen else None
    return application
