"""Auditors read the trail over HTTP (role ``auditor`` or ``admin``).

    GET /audit/records?client=&org=&since=&until=&port=&operation=&denied=&outcome=&trace=
                      &document=&limit=100&after=SEQ
        JSON Lines, oldest first, one stored record per line (seq, hash, the record as hashed);
        ``X-Next-After`` names the ``after`` of the next page when the page was full.
    GET /audit/documents?hash=H&hash=...
        {"documents": {H: text, ...}}: the texts records name by ``document_hash`` (or
        ``document_kept_hash``), at most 100 a request; unknown hashes are left out.
    GET /audit/verify[?head=SEQ:HASH]
        {"ok": ..., "count": ..., "start": ..., "head": "seq:hash", "firstBadSeq": ...,
         "reason": ...}; with ``head``, also fails when that record was cut off the end.

``since`` and ``until`` take 2026-11-02, 2026-11-02T08:00Z or a duration back from now (24h).
Every parameter is checked before the store is asked: an unknown or repeated one, or a value of
the wrong form (see ``_PARAMETERS``), is a 400 ``BAD_USER_INPUT`` naming it, never a 500.
Credentials as for /graphql; other roles get 403. While the store has not been reached yet
(best-effort mode), the routes answer 503 ``AUDIT_UNAVAILABLE``.
"""

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.access.auth import Authenticator
from gateway.edge.authorize import principal_with_role
from gateway.edge.responses import ORJSONResponse, graphql_error_response
from gateway.record.audit import (
    MAX_NAME_CHARS,
    MAX_SEQ,
    AuditFilter,
    AuditStore,
    ChainLink,
    format_time,
    is_sha256,
    parse_time,
)
from gateway.record.audit_chain import check_head
from gateway.record.audit_trail import AuditTrail
from portcontract.identifiers import UNLOCODE_PATTERN

AUDIT_ROLES = frozenset({"auditor", "admin"})
MAX_PAGE = 1000
MAX_DOCUMENTS = 100
OUTCOMES = ("ok", "partial", "error", "rejected")
_COORDINATE = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,127}\.[_A-Za-z][_0-9A-Za-z]{0,127}$")
_TRACE_ID = re.compile(r"^[0-9a-fA-F]{32}$")


class _BadQuery(ValueError):
    pass


def _name(key: str, value: str) -> str:
    if not value or len(value) > MAX_NAME_CHARS or not value.isprintable():
        raise _BadQuery(f"{key}: 1 to {MAX_NAME_CHARS} printable characters")
    return value


def _time(key: str, value: str) -> datetime:
    try:
        moment = parse_time(value)
        assert moment is not None
        format_time(moment)  # within what a store can hold
    except (ValueError, OverflowError):
        raise _BadQuery(f"{key}: use 2026-11-02, 2026-11-02T08:00Z or 24h") from None
    return moment


def _port(key: str, value: str) -> str:
    if not UNLOCODE_PATTERN.match(value):
        raise _BadQuery(f"{key}: a UN/LOCODE such as USLAX")
    return value


def _coordinate(key: str, value: str) -> str:
    if not _COORDINATE.match(value):
        raise _BadQuery(f"{key}: a schema coordinate such as Container.availability")
    return value


def _outcome(key: str, value: str) -> str:
    if value not in OUTCOMES:
        raise _BadQuery(f"{key}: one of {', '.join(OUTCOMES)}")
    return value


def _trace(key: str, value: str) -> str:
    if not _TRACE_ID.match(value):
        raise _BadQuery(f"{key}: a trace id (32 hex digits)")
    return value.lower()


def _digest(key: str, value: str) -> str:
    if not is_sha256(value):
        raise _BadQuery(f"{key}: a SHA-256 (64 hex digits)")
    return value.lower()


def _integer(key: str, value: str, low: int, high: int) -> int:
    if not (value.isascii() and value.isdigit() and len(value) <= 19) or not (
        low <= int(value) <= high
    ):
        raise _BadQuery(f"{key}: a whole number from {low} to {high}")
    return int(value)


# The parameters of /audit/records: name -> (AuditFilter field, check).
_PARAMETERS: Mapping[str, tuple[str, Callable[[str, str], Any]]] = {
    "client": ("client_id", _name),
    "org": ("organisation", _name),
    "since": ("since", _time),
    "until": ("until", _time),
    "port": ("port", _port),
    "operation": ("operation_name", _name),
    "denied": ("denied", _coordinate),
    "outcome": ("outcome", _outcome),
    "trace": ("trace_id", _trace),
    "document": ("document", _digest),
}


def _single(request: Request, allowed: set[str]) -> dict[str, str]:
    """The query parameters, each given at most once and all known."""
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key not in allowed:
            shown = key if len(key) <= 40 and key.isprintable() else "(a long or odd name)"
            raise _BadQuery(f"unknown parameter {shown!r}; known: {', '.join(sorted(allowed))}")
        if key in params:
            raise _BadQuery(f"{key}: given more than once")
        params[key] = value
    return params


def parse_search(request: Request) -> tuple[AuditFilter, int, int]:
    """The filter, page size and ``after`` of a /audit/records request; raises _BadQuery."""
    params = _single(request, {*_PARAMETERS, "limit", "after"})
    criteria = {
        field: check(key, params[key])
        for key, (field, check) in _PARAMETERS.items()
        if key in params
    }
    limit = _integer("limit", params["limit"], 1, MAX_PAGE) if "limit" in params else 100
    after = _integer("after", params["after"], 0, MAX_SEQ) if "after" in params else 0
    return AuditFilter(**criteria), limit, after


def audit_routes(
    authenticator: Authenticator, trail: Callable[[], AuditTrail | None]
) -> list[Route]:
    """The auditor routes; ``trail`` gives the app's trail once its lifespan has opened it."""

    async def guarded(request: Request) -> tuple[AuditTrail, AuditStore] | Response:
        principal = await principal_with_role(
            authenticator, request, AUDIT_ROLES, "the audit trail"
        )
        if isinstance(principal, Response):
            return principal
        current = trail()
        if current is None or current.store is None:
            message = "the audit trail is not open" if current is None else (
                "the audit store has not been reached yet")  # fmt: skip
            return graphql_error_response(message, "AUDIT_UNAVAILABLE", 503)
        return current, current.store

    async def records(request: Request) -> Response:
        guard = await guarded(request)
        if isinstance(guard, Response):
            return guard
        try:
            audit_filter, limit, after = parse_search(request)
        except _BadQuery as exc:
            return graphql_error_response(str(exc), "BAD_USER_INPUT", 400)
        current, store = guard
        await current.flush()  # an auditor sees every operation answered before the search
        found = await store.search(audit_filter, limit=limit, after_seq=after)
        body = "".join(record.to_jsonl() + "\n" for record in found)
        headers = {"X-Next-After": str(found[-1].seq)} if len(found) == limit else {}
        return Response(body, media_type="application/x-ndjson", headers=headers)

    async def documents(request: Request) -> Response:
        guard = await guarded(request)
        if isinstance(guard, Response):
            return guard
        try:
            wanted = _hashes(request)
        except _BadQuery as exc:
            return graphql_error_response(str(exc), "BAD_USER_INPUT", 400)
        current, store = guard
        await current.flush()
        return ORJSONResponse({"documents": await store.documents(wanted)})

    async def verify(request: Request) -> Response:
        guard = await guarded(request)
        if isinstance(guard, Response):
            return guard
        try:
            params = _single(request, {"head"})
            noted = ChainLink.parse(params["head"]) if "head" in params else None
        except ValueError as exc:
            message = str(exc) if isinstance(exc, _BadQuery) else "head: SEQ:HASH"
            return graphql_error_response(message, "BAD_USER_INPUT", 400)
        current, store = guard
        await current.flush()
        report = await store.verify()
        ok, reason, bad = report.ok, report.reason, report.first_bad_seq
        if ok and noted is not None and (problem := await check_head(store, noted, report)):
            ok, reason, bad = False, f"head {noted.seq}: {problem}", noted.seq
        return ORJSONResponse(
            {
                "ok": ok,
                "count": report.count,
                "start": report.start,
                "head": str(report.head) if report.head else None,
                "firstBadSeq": bad,
                "reason": reason,
            }
        )

    return [
        Route("/audit/records", records),
        Route("/audit/documents", documents),
        Route("/audit/verify", verify),
    ]


def _hashes(request: Request) -> list[str]:
    hashes = []
    for key, value in request.query_params.multi_items():
        if key != "hash":
            raise _BadQuery(f"unknown parameter; known: hash (up to {MAX_DOCUMENTS})")
        hashes.append(_digest("hash", value))
    if not 1 <= len(hashes) <= MAX_DOCUMENTS:
        raise _BadQuery(f"hash: from 1 to {MAX_DOCUMENTS} of them")
    return hashes
