"""/graphql over HTTP: strawberry's view for every kind of request, and a lean lane for the one
kind nearly every request is.

:class:`GatewayGraphQL` is strawberry's ASGI view with orjson, bad requests answered as GraphQL
errors, persisted and trusted documents, the choice of operation (GraphQL over HTTP) and every
error message redacted. It answers GET (queries and GraphiQL), batches, streams and anything
unusual.

:class:`LeanGraphQL` answers a ``POST /graphql`` of ``application/json`` holding one well-formed
request object (not a batch, no stream asked for in ``Accept``) itself, as the last middleware
before Starlette's router, and hands every other request to the router and the view unchanged
(a body it has read is handed on as it came). It runs the same steps as the view, through the
view's own methods (documents, operation choice, execution, result processing, error
answers), without Starlette's exception middleware and router, strawberry's request adapter and
context plumbing, which together cost about a third of a request's CPU. The middleware before
it (client address, CORS, load shedding, body limits, authentication, in-flight and rate limits,
CSRF) has run as for any request. ``tests/gateway/query/test_execute_differential.py`` sends one
corpus to a gateway with the lane and one without and compares what clients and the audit get.
"""

from collections.abc import Awaitable
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from gateway.access.documents import DocumentResolver, http_status
from gateway.edge.body_limit import BodyReadAborted
from gateway.edge.graphiql import graphiql_page
from gateway.edge.operation_choice import check_operation_choice, unknown_operation
from gateway.edge.responses import ORJSONResponse, graphql_error_response
from gateway.errors import GatewayError
from gateway.record.redact import ErrorRedactor, incident_error

_POST_OPERATIONS = OperationType.from_http("POST")
_JSON = "application/json"
_STREAM_ACCEPTS = (b"multipart/", b"text/event-stream")


class GatewayGraphQL(GraphQL):
    """Strawberry's ASGI view with orjson, and bad requests answered as GraphQL errors.

    ``documents`` turns persisted-query hashes into documents (and refuses unregistered ones
    in trusted-documents mode); ``redactor`` scrubs every error message that goes out. Which
    operation of a document runs follows GraphQL over HTTP (gateway/edge/operation_choice.py);
    ``max_tokens`` bounds the parse that needs."""

    def __init__(
        self,
        *args: Any,
        documents: DocumentResolver | None = None,
        redactor: ErrorRedactor | None = None,
        max_tokens: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.documents = documents
        self.redactor = redactor or ErrorRedactor()
        self.max_tokens = max_tokens

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        decoded = orjson.loads(data)
        if not isinstance(decoded, dict | list):  # strawberry would fail on `null` with a 500
            raise HTTPException(400, "a GraphQL request is a JSON object")
        return decoded

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET naming a persisted query by hash alone is an operation, not a visit.
        has_extensions = request.query_params.get("extensions") is not None
        return super().should_render_graphql_ide(request) and not has_extensions

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        if isinstance(data, GraphQLRequestData):
            await self._resolve(data)
        return data

    async def _resolve(self, data: GraphQLRequestData) -> None:
        """A request's document from its persisted-query hash, its operation name as GraphQL
        over HTTP reads it, and a document of several operations refused without a name."""
        if not isinstance(data.operation_name, str | None):  # strawberry would fail with a 500
            raise HTTPException(
                400,
                "The GraphQL operation's `operationName` must be a string or null, if provided.",
            )
        if self.documents is not None:
            data.query = await self.documents.resolve(data.query, data.extensions)
        if data.operation_name == "":  # GraphQL over HTTP: the same as no name
            data.operation_name = None
        if data.query is not None and self.max_tokens is not None:
            check_operation_choice(data.query, data.operation_name, self.max_tokens)

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            if isinstance(exc.__cause__, CannotGetOperationTypeError):
                raise unknown_operation(exc.__cause__.operation_name) from None
            raise

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response = process_result(result)
        if result.errors:
            response["errors"] = list(self.redactor.errors(result.errors))
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_page(request.url.path)  # served from the package, no CDN

    async def get_sub_response(self, request: Any) -> Response:
        """The response an operation may set the status of (gateway.query.context.set_status):
        strawberry builds a whole one and deletes its content-length header, about 4% of the
        CPU of a request; only ``status_code``, ``headers`` and ``background`` are ever read of
        it."""
        sub_response = Response.__new__(Response)
        sub_response.status_code = None  # type: ignore[assignment]
        sub_response.background = None
        sub_response.raw_headers = []
        return sub_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        response = await self.answered(self.run(request))
        await response(scope, receive, send)

    async def answered(self, work: Awaitable[Response]) -> Response:
        """``work``'s response, or the GraphQL error response for what it raised: never a stack
        trace, never a plain-text 500."""
        try:
            return await work
        except HTTPException as exc:
            return graphql_error_response(exc.reason, "BAD_REQUEST", exc.status_code)
        except orjson.JSONDecodeError:
            return graphql_error_response(
                "Unable to parse request body as JSON", "BAD_REQUEST", 400
            )
        except GatewayError as exc:  # a persisted query refused or unknown, an operation choice
            return ORJSONResponse(
                {"errors": [{"message": exc.message, "extensions": exc.extensions()}]},
                status_code=http_status(exc),
            )
        except BodyReadAborted:
            raise  # the body middleware's own signals: it answers 413 or 408, or nobody
        except Exception as exc:
            message, extensions = incident_error(exc, "a request")
            return ORJSONResponse(
                {"errors": [{"message": message, "extensions": extensions}]}, status_code=500
            )

    async def post(self, request: Request, data: GraphQLRequestData) -> Response:
        """One POSTed operation, as :meth:`run` answers it, without the request adapter: the
        lean lane's path (:class:`LeanGraphQL`)."""
        await self._resolve(data)
        sub_response = await self.get_sub_response(request)
        context = {"request": request, "response": sub_response}
        try:
            result = await self.schema.execute(
                data.query,
                variable_values=data.variables,
                context_value=context,
                operation_name=data.operation_name,
                allowed_operation_types=_POST_OPERATIONS,
                operation_extensions=data.extensions,
            )
        except CannotGetOperationTypeError as exc:
            raise unknown_operation(exc.operation_name) from None
        except InvalidOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason("POST")) from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request") from exc
        response_data = await self.process_result(request, result)
        return self.create_response(response_data, sub_response)


class LeanGraphQL:
    """The lean lane for ``POST /graphql`` (see the module's docstring); any other request
    goes on to ``app``."""

    def __init__(self, app: ASGIApp, view: GatewayGraphQL, path: str = "/graphql") -> None:
        self.app = app
        self.view = view
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._takes(scope):
            await self.app(scope, receive, send)
            return
        body, messages = await read_body(receive)
        replay = replaying(messages, receive)
        data = None if body is None else _request_data(body)
        if data is None:  # not one well-formed request: the view answers it as it would
            await self.app(scope, replay, send)
            return
        request = Request(scope, replay)
        response = await self.view.answered(self.view.post(request, data))
        await response(scope, replay, send)

    def _takes(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "POST" or _route(scope) != self.path:
            return False
        content_type = accept = b""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"accept":
                accept += value
        media_type = content_type.partition(b";")[0].strip()  # as strawberry reads it: exactly
        if media_type != _JSON.encode():
            return False
        return not any(kind in accept.lower() for kind in _STREAM_ACCEPTS)


def _route(scope: Scope) -> str:
    """The path the router matches (without the root path it is mounted under)."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root + "/"):
        return path[len(root) :]
    return path


async def read_body(receive: Receive) -> tuple[bytes | None, list[Message]]:
    """The whole body (None when the client went away first), and the messages it came in."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None, messages
        if not message.get("more_body", False):
            return b"".join(m.get("body", b"") for m in messages), messages


def replaying(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` with the messages already read given back first, in order."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _request_data(body: bytes) -> GraphQLRequestData | None:
    """One request object whose members have the types GraphQL over HTTP allows; None for
    anything else (the view says what is wrong with it)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    query, variables = data.get("query"), data.get("variables")
    extensions = data.get("extensions")
    if not isinstance(query, str | None) or not isinstance(variables, dict | None):
        return None
    if not isinstance(extensions, dict | None):
        return None
    return GraphQLRequestData(
        query=query,
        variables=variables,
        operation_name=data.get("operationName"),
        extensions=extensions,
        protocol="http",
    )
