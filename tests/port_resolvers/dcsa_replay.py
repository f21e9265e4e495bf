"""A DCSA T&T source that replays recorded answers, for the corpus of real-shaped feeds.

A case (``dcsa_corpus/*.yaml``) lists ``answers``: each has ``match`` (query parameters that
must all be present with these values; ``{}`` matches any first request) and ``pages``, each
page ``events`` (the JSON body as the source sends it, even when it is not a list) with
optional ``headers`` (``Next-Page``, ``Next-Page-Cursor``...), ``status`` and ``cursor``: the
raw value of the ``cursor`` query parameter that fetches this page, compared byte for byte
with what the client sends (so a cursor re-encoded on the way fails). ``refuse`` lists query
parameters the source answers with HTTP 400 (a strict T&T 2.2 source and ``eventDateTime``).

Every request is recorded (``requests``: raw query strings) so a case can assert what was asked.
"""

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class ReplayedSource:
    answers: list[dict[str, Any]]
    refuse: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def _page(self, raw_query: str) -> dict[str, Any] | None:
        pairs = parse_qsl(raw_query, keep_blank_values=True)
        params = dict(pairs)
        raw_cursor = next(
            (part.partition("=")[2] for part in raw_query.split("&") if part.startswith("cursor=")),
            None,
        )
        if raw_cursor is not None:
            for answer in self.answers:
                for page in answer["pages"]:
                    if page.get("cursor") == raw_cursor:
                        return dict(page)
            return {"status": 400, "events": {"errors": [{"message": "unknown cursor"}]}}
        if any(name in params for name in self.refuse):
            return {"status": 400, "events": {"errors": [{"message": "unknown parameter"}]}}
        for answer in self.answers:
            wanted = {k: str(v) for k, v in (answer.get("match") or {}).items()}
            if all(params.get(k) == v for k, v in wanted.items()):
                return dict(answer["pages"][0])
        return {"events": []}

    async def events(self, request: Request) -> Response:
        raw_query = request.scope["query_string"].decode("latin-1")
        self.requests.append(raw_query)
        page = self._page(raw_query) or {"events": []}
        body = page.get("events", [])
        content = body.encode() if isinstance(body, str) else orjson.dumps(body)
        media = "text/html" if isinstance(body, str) else "application/json"
        headers = {
            "API-Version": "2.2.0",
            **{k: str(v) for k, v in (page.get("headers") or {}).items()},
        }
        return Response(content, status_code=int(page.get("status", 200)), media_type=media,
                        headers=headers)  # fmt: skip

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v2/events", self.events, methods=["GET"])])

    def first_request(self) -> dict[str, str]:
        return dict(parse_qsl(self.requests[0], keep_blank_values=True))
