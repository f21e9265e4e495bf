"""Auditors read the trail over HTTP (role ``auditor`` or ``admin``).

    GET /audit/records?client=&org=&since=&until=&port=&operation=&denied=&outcome=&trace=
                      &limit=100&after=SEQ
        JSON Lines, oldest first, one stored record per line (seq, hash, the record as hashed);
        ``X-Next-After`` names the ``after`` of the next page when the page was full.
    GET /audit/verify
        {"ok": ..., "count": ..., "head": "seq:hash", "firstBadSeq": ..., "reason": ...}

``since`` and ``until`` take 2026-11-02, 2026-11-02T08:00Z or a duration back from now (24h).
Credentials as for /graphql; other roles get 403.
"""

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.audit import AuditFilter, parse_time
from gateway.audit_trail import AuditTrail
from gateway.auth import Authenticator
from gateway.http.authorize import principal_with_role
from gateway.http.responses import ORJSONResponse, graphql_error_response

AUDIT_ROLES = frozenset({"auditor", "admin"})
MAX_PAGE = 1000
OUTCOMES = ("ok", "partial", "error", "rejected")


class _BadQuery(ValueError):
    pass


def audit_routes(
    authenticator: Authenticator, trail: Callable[[], AuditTrail | None]
) -> list[Route]:
    """The auditor routes; ``trail`` gives the app's trail once its lifespan has opened it."""

    async def guarded(request: Request) -> AuditTrail | Response:
        principal = await principal_with_role(
            authenticator, request, AUDIT_ROLES, "the audit trail"
        )
        if isinstance(principal, Response):
            return principal
        current = trail()
        if current is None:
            return graphql_error_response("the audit trail is not open", "AUDIT_UNAVAILABLE", 503)
        return current

    async def records(request: Request) -> Response:
        guard = await guarded(request)
        if isinstance(guard, Response):
            return guard
        try:
            audit_filter, limit, after = _search(dict(request.query_params))
        except _BadQuery as exc:
            return graphql_error_response(str(exc), "BAD_USER_INPUT", 400)
        await guard.flush()  # an auditor sees every operation answered before the search
        found = await guard.store.search(audit_filter, limit=limit, after_seq=after)
        body = "".join(record.to_jsonl() + "\n" for record in found)
        headers = {"X-Next-After": str(found[-1].seq)} if len(found) == limit else {}
        return Response(body, media_type="application/x-ndjson", headers=headers)

    async def verify(request: Request) -> Response:
        guard = await guarded(request)
        if isinstance(guard, Response):
            return guard
        await guard.flush()
        report = await guard.store.verify()
        return ORJSONResponse(
            {
                "ok": report.ok,
                "count": report.count,
                "head": f"{report.head.seq}:{report.head.hash}" if report.head else None,
                "firstBadSeq": report.first_bad_seq,
                "reason": report.reason,
            }
        )

    return [Route("/audit/records", records), Route("/audit/verify", verify)]


def _search(params: dict[str, str]) -> tuple[AuditFilter, int, int]:
    unknown = set(params) - {
        "client", "org", "since", "until", "port", "operation", "denied", "outcome", "trace",
        "limit", "after",
    }  # fmt: skip
    if unknown:
        raise _BadQuery(f"unknown parameters: {sorted(unknown)}")
    outcome: Any = params.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise _BadQuery(f"outcome must be one of {OUTCOMES}")
    try:
        since, until = parse_time(params.get("since")), parse_time(params.get("until"))
        limit = int(params.get("limit", 100))
        after = int(params.get("after", 0))
    except ValueError as exc:
        raise _BadQuery(str(exc)) from None
    if not 1 <= limit <= MAX_PAGE:
        raise _BadQuery(f"limit must be between 1 and {MAX_PAGE}")
    audit_filter = AuditFilter(
        client_id=params.get("client"), organisation=params.get("org"), since=since,
        until=until, port=params.get("port"), operation_name=params.get("operation"),
        denied=params.get("denied"), outcome=outcome, trace_id=params.get("trace"),
    )  # fmt: skip
    return audit_filter, limit, after
