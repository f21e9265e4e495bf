"""One GraphQL operation from its text to its result, in straight-line code.

The HTTP side (gateway/edge/graphql_view.py: the lean lane for POSTed operations, strawberry's
view for the rest) reads the request and writes the response; :class:`GatewaySchema` is the
schema it hands each operation to. Its :meth:`GatewaySchema.execute` does, in one function, what
strawberry's execution and seven schema extensions once did around it (tracing, request error
codes, the token limit, the validation rules, the parser and validation caches, and the
fan-out), without an extension runner: on the hot path strawberry's per-hook context managers
cost more than the gateway's own planning, fetching and merging.

For each operation, in order:

1. a SERVER span ``graphql.operation`` continuing the caller's trace context, with the parse and
   validate spans below it and, at the end, the operation's name and type, its document with
   every literal masked (:func:`gateway.record.tracing.masked_document`), its hash and the error
   codes;
2. **parse**, bounded by ``limits.max_tokens`` (over it: ``QUERY_TOO_MANY_TOKENS``), each text
   parsed once while it is among the most recently used (:class:`ParsedDocuments`, bounded in
   bytes: a client sending large distinct documents cannot make it grow);
3. the operation the request names, of a type the HTTP method allows (as strawberry: its own
   errors, which the view answers with HTTP 400);
4. **validate** against the schema, graphql-core's rules plus the gateway's limits (and no
   introspection when it is switched off), each document once;
5. a document that does not parse or validate: HTTP 400 with ``GRAPHQL_PARSE_FAILED`` or
   ``GRAPHQL_VALIDATION_FAILED`` (a limit's own code stays), and an audit record;
6. **the pipeline** (:class:`gateway.query.pipeline.QueryPipeline`): plan, fetch, merge; an
   operation it leaves alone (introspection only) is executed by graphql-core against the schema;
7. the audit record and metrics (:class:`gateway.query.observe.OperationObserver`): when the audit
   is required and cannot be written, the answer is withheld (``AUDIT_UNAVAILABLE``, HTTP 503);
8. ``extensions.sources`` when ports were asked; ``extensions.withheld`` when the policy
   withheld figures a computed field (the outlook) is made from (null in the answer, not an
   error: the client did not select them).

The result is what strawberry's execution with those extensions gave for the same request:
``tests/gateway/query/test_execute_differential.py`` holds every answer and audit record of a corpus
to what that path answered when both ran side by side (``tests/gateway/query/corpus/``).
"""

import logging
import time
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    execute,
    get_operation_ast,
    parse,
)
from graphql import OperationType as GraphQLOperationType
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.validation import ASTValidationRule, specified_rules
from opentelemetry import propagate, trace
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, validate_document
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from gateway.access.auth import principal_of
from gateway.errors import AuditUnavailable, BadUserInput, Unauthenticated
from gateway.query.context import request_of, set_status
from gateway.query.limits import token_limit_error
from gateway.query.observe import OperationObserver, current_trace_id
from gateway.query.pipeline import OperationResult, QueryPipeline
from gateway.query.prepared import BYTES_PER_TOKEN, tokens_in
from gateway.query.request_errors import (
    NOT_A_SUBSCRIPTION,
    PARSE_FAILED,
    SUBSCRIPTION_NEEDS_STREAM,
    VALIDATION_FAILED,
)
from gateway.record import tracing
from gateway.record.redact import incident_error

log = logging.getLogger(__name__)

DOCUMENT_CACHE_SIZE = 1024  # parsed (and validated) documents kept at most, by their text
DOCUMENT_CACHE_MAX_BYTES = 16 * 1024 * 1024  # and the bytes they may hold


class ParsedDocuments:
    """Parsed (and validated) documents by their text, least recently used first out past
    ``max_bytes`` (or ``size`` documents). A document is counted as its text (the parsed form
    keeps it) plus :data:`BYTES_PER_TOKEN` for each of its tokens, measured with tracemalloc at
    about 400. Only documents that parse are kept, and validation is remembered only for those
    that validate (a failure's errors are made anew each time: they change on their way out).
    ``bytes``, ``max_bytes`` and ``evictions`` show in /metrics (store ``parsed_documents``)."""

    def __init__(self, size: int, max_bytes: int) -> None:
        self._size = size
        self.max_bytes = max_bytes
        self.bytes = 0
        self.evictions = 0
        self._parsed: OrderedDict[str, tuple[DocumentNode, int]] = OrderedDict()
        self._valid: set[str] = set()

    def parse(self, text: str, max_tokens: int | None) -> DocumentNode:
        kept = self._parsed.get(text)
        if kept is not None:
            self._parsed.move_to_end(text)
            return kept[0]
        document = parse(text, max_tokens=max_tokens)
        cost = len(text) + BYTES_PER_TOKEN * tokens_in(document)
        if cost <= self.max_bytes:
            self._parsed[text] = (document, cost)
            self.bytes += cost
            while self.bytes > self.max_bytes or len(self._parsed) > self._size:
                oldest, (_, oldest_cost) = self._parsed.popitem(last=False)
                self._valid.discard(oldest)
                self.bytes -= oldest_cost
                self.evictions += 1
        return document

    def validate(
        self,
        text: str,
        document: DocumentNode,
        schema: strawberry.Schema,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> list[GraphQLError]:
        kept = self._parsed.get(text)
        if text in self._valid and kept is not None and kept[0] is document:
            return []
        errors = validate_document(schema._schema, document, rules)
        if not errors and kept is not None:
            self._valid.add(text)
        return errors


class GatewaySchema(strawberry.Schema):
    """The shared schema, executing every operation through the gateway's pipeline. Configure
    it with :meth:`serve` before the first request."""

    _pipeline: QueryPipeline
    _observer: OperationObserver | None
    _spans: tracing.Spans
    _rules: tuple[type[ASTValidationRule], ...]
    _max_tokens: int | None
    _bypass_roles: frozenset[str]
    documents: ParsedDocuments

    def serve(
        self,
        pipeline: QueryPipeline,
        *,
        observer: OperationObserver | None,
        validation_rules: Iterable[type[ASTValidationRule]],
        max_tokens: int | None,
        cache_bypass_roles: Collection[str] = (),
        tracer_provider: trace.TracerProvider | None = None,
        document_cache_size: int = DOCUMENT_CACHE_SIZE,
        document_cache_max_bytes: int = DOCUMENT_CACHE_MAX_BYTES,
    ) -> "GatewaySchema":
        self._pipeline = pipeline
        self._observer = observer
        self._spans = tracing.Spans(tracer_provider)
        self._rules = (*specified_rules, *validation_rules)
        self._max_tokens = max_tokens
        self._bypass_roles = frozenset(cache_bypass_roles)
        self.documents = ParsedDocuments(document_cache_size, document_cache_max_bytes)
        return self

    async def execute(  # type: ignore[override]
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        context = ExecutionContext(
            query=query,
            schema=self,
            allowed_operations=allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES,
            context=context_value,
            root_value=root_value,
            variables=variable_values,
            provided_operation_name=operation_name,
            operation_extensions=operation_extensions,
        )
        request = request_of(context_value)
        headers = request.headers if request is not None else None
        if not self._spans.on:
            with self._spans.continued(headers):
                return await self._operation(context)
        parent = propagate.extract(dict(headers)) if headers is not None else None
        with self._spans.tracer.start_as_current_span(
            "graphql.operation", context=parent, kind=trace.SpanKind.SERVER
        ) as span:
            try:
                return await self._operation(context)
            finally:
                if span.is_recording():
                    tracing.describe_operation(span, context)

    async def _operation(self, context: ExecutionContext) -> ExecutionResult:
        started = time.perf_counter()
        trace_id = current_trace_id()  # inside the operation's span
        query = context.query
        if not query:
            raise MissingQueryError
        span = self._spans.start("graphql.parse")
        try:
            context.graphql_document = self.documents.parse(query, self._max_tokens)
        except GraphQLError as error:
            return await self._refused(context, [error], PARSE_FAILED, started, trace_id)
        finally:
            span.end()
        try:
            operation_type = context.operation_type
        except RuntimeError as error:
            raise CannotGetOperationTypeError(context.operation_name) from error
        if operation_type not in context.allowed_operations:
            raise InvalidOperationTypeError(operation_type)
        if operation_type is OperationType.SUBSCRIPTION:  # answered as a stream, never here
            refusal = GraphQLError(
                "A subscription is answered as a stream: send it with `Accept: "
                "text/event-stream` (GraphQL over SSE), or over a WebSocket at /graphql "
                "(graphql-transport-ws).",
                extensions={"code": SUBSCRIPTION_NEEDS_STREAM},
            )
            return await self._refused(
                context, [refusal], SUBSCRIPTION_NEEDS_STREAM, started, trace_id
            )
        span = self._spans.start("graphql.validate")
        try:
            errors = self.documents.validate(query, context.graphql_document, self, self._rules)
        finally:
            span.end()
        if errors:
            return await self._refused(context, errors, VALIDATION_FAILED, started, trace_id)
        return await self._executed(context, started, trace_id)

    def prepared_subscription(
        self, query: str, operation_name: str | None, variables: Mapping[str, Any] | None
    ) -> "PreparedSubscription | list[GraphQLError]":
        """A subscription's document parsed and validated as any operation is (the token limit,
        every validation rule and limit), its variables coerced and its root field's arguments;
        or the errors, coded, that refuse it."""
        try:
            document = self.documents.parse(query, self._max_tokens)
        except GraphQLError as error:
            token_limit_error(error)
            return _coded([error], PARSE_FAILED)
        errors = self.documents.validate(query, document, self, self._rules)
        if errors:
            return _coded(errors, VALIDATION_FAILED)
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not GraphQLOperationType.SUBSCRIPTION:
            message = "Only a subscription is answered as a stream; send queries as usual."
            return _coded([GraphQLError(message)], NOT_A_SUBSCRIPTION)
        coerced = get_variable_values(
            self._schema, operation.variable_definitions or (), dict(variables or {})
        )
        if isinstance(coerced, list):
            return _coded(coerced, BadUserInput.code)
        root = operation.selection_set.selections[0]
        subscription_type = self._schema.subscription_type
        assert isinstance(root, FieldNode)
        assert subscription_type is not None
        definition = subscription_type.fields.get(root.name.value)
        if definition is None:  # __typename: valid, and nothing to subscribe to
            return _coded([GraphQLError("Subscribe to a field.")], NOT_A_SUBSCRIPTION)
        try:
            arguments = get_argument_values(definition, root, coerced)
        except GraphQLError as error:
            return _coded([error], BadUserInput.code)
        return PreparedSubscription(document, operation_name, dict(coerced.coerced), arguments)

    async def _refused(
        self,
        context: ExecutionContext,
        errors: list[GraphQLError],
        code: str,
        started: float,
        trace_id: str | None,
    ) -> ExecutionResult:
        """A document that cannot run: its errors coded, HTTP 400, and an audit record."""
        if code == PARSE_FAILED:
            for error in errors:
                token_limit_error(error)
        for error in errors:
            error.extensions = {"code": code, **(error.extensions or {})}
        context.pre_execution_errors = errors
        result = ExecutionResult(None, errors, extensions={})
        context.result = result
        set_status(context.context, 400)
        if self._observer is not None:
            request = request_of(context.context)
            try:
                await self._observer.finished(
                    context,
                    started=started,
                    trace_id=trace_id,
                    principal=principal_of(request.state) if request is not None else None,
                    result=ExecutionResult(None, list(errors)),
                    status=400,
                )
            except AuditUnavailable:
                log.warning("a rejected request could not be audited")  # refused anyway
        return result

    async def _executed(
        self, context: ExecutionContext, started: float, trace_id: str | None
    ) -> ExecutionResult:
        """The operation through the pipeline (or graphql-core, for introspection alone)."""
        document = context.graphql_document
        assert document is not None
        request = request_of(context.context)
        principal = None if request is None else principal_of(request.state)
        outcome: OperationResult | None = None
        status: int | None = None
        if principal is None:
            # Never happens behind the authentication middleware; if it does, fail closed.
            refusal = Unauthenticated("the request was not authenticated")
            result = ExecutionResult(None, [refusal.to_graphql()])
            status = 401
            set_status(context.context, 401)
        else:
            try:
                outcome = await self._pipeline.run(
                    document,
                    context.operation_name,
                    context.variables or {},
                    principal=principal,
                    bypass_cache=may_bypass_cache(request, principal, self._bypass_roles),
                )
            except Exception as exc:
                message, extensions = incident_error(exc, "an operation")
                result = ExecutionResult(None, [GraphQLError(message, extensions=extensions)])
            else:
                if outcome is not None:
                    result = outcome.result
                    status = outcome.status
                    if status is not None:
                        set_status(context.context, status)
                else:
                    result = self._introspect(context, document)
        context.result = result
        if result.errors:
            context.pre_execution_errors = result.errors
        if self._observer is not None:
            try:
                await self._observer.finished(
                    context,
                    started=started,
                    trace_id=trace_id,
                    principal=principal,
                    result=result,
                    status=status,
                    plan=None if outcome is None else outcome.plan,
                    outcomes=() if outcome is None else outcome.outcomes,
                    inner_plans=() if outcome is None else outcome.inner_plans,
                )
            except AuditUnavailable as exc:  # auditing is required: no record, no answer
                result.data = None
                result.errors = [exc.to_graphql()]
                set_status(context.context, 503)
        sources = None if outcome is None else outcome.sources
        result.extensions = {"sources": sources} if sources is not None else {}
        if outcome is not None and outcome.withheld:
            result.extensions["withheld"] = outcome.withheld
        return result

    def _introspect(self, context: ExecutionContext, document: DocumentNode) -> ExecutionResult:
        """An operation of introspection fields alone, answered by graphql-core."""
        answered = execute(
            self._schema,
            document,
            root_value=context.root_value,
            variable_values=context.variables,
            operation_name=context.operation_name,
            context_value=context.context,
        )
        assert isinstance(answered, ExecutionResult)  # introspection resolves synchronously
        return ExecutionResult(answered.data, answered.errors)


@dataclass(frozen=True, slots=True)
class PreparedSubscription:
    """A subscription ready to be opened: its validated document, coerced variables and root
    field arguments."""

    document: DocumentNode
    operation_name: str | None
    variables: dict[str, Any]
    arguments: dict[str, Any]


def _coded(errors: list[GraphQLError], code: str) -> list[GraphQLError]:
    for error in errors:
        error.extensions = {"code": code, **(error.extensions or {})}
    return errors


def may_bypass_cache(request: Any, principal: Any, bypass_roles: frozenset[str]) -> bool:
    """``Cache-Control: no-cache`` from a caller whose role may skip the cache."""
    if request is None or "no-cache" not in request.headers.get("cache-control", ""):
        return False
    roles = getattr(principal, "roles", None) or frozenset({"public"})
    return bool(bypass_roles & set(roles))
