"""Parse, validate and execute a GraphQL request against the shared schema for one port.

The executable schema is built once per process from :func:`portcontract.schema_sdl` (scalars
and root resolvers attached); nothing about it is redone per request. Parsed and validated
documents are kept in a bounded LRU cache keyed by the query text, since the gateway sends the
same few document shapes again and again; each document also remembers, per operation, its root
fields (for ``Cache-Control``) and its name (for tracing).

Errors get their ``extensions.code`` here (see :mod:`port_resolvers.kit.errors`): request errors
make a 400 answer without ``data``; field errors are served beside the data, with a generic
message for anything unexpected (the details go to the log, never to the client). What a
source reports it left out (:mod:`port_resolvers.kit.notices`) is served beside the data too.
"""

import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from typing import Any, Final

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    execute,
    get_operation_ast,
    parse,
    validate,
)

from port_resolvers.kit import errors, notices
from port_resolvers.kit.resolvers import Notice, PortContext, attach_resolvers
from port_resolvers.kit.scalars import install_scalars
from port_resolvers.kit.source import offered_fields
from portcontract import schema_sdl
from portcontract.capabilities import BY_NAME, TERMINAL_SERVICES
from portcontract.errors import COUNT_EXTENSION

logger = logging.getLogger("port_resolvers.kit")

DEFAULT_DOCUMENT_CACHE_SIZE: Final = 512
# Bounds the work of parsing one document (and with it the number of aliased root fields).
DEFAULT_MAX_TOKENS: Final = 5000

FormattedError = dict[str, Any]


@cache
def port_schema() -> GraphQLSchema:
    """The shared schema, executable: built once per process, the same for every port."""
    schema = build_schema(schema_sdl())
    install_scalars(schema)
    attach_resolvers(schema)
    return schema


@dataclass(frozen=True, slots=True)
class GraphQLRequest:
    query: str
    variables: Mapping[str, Any] | None = None
    operation_name: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """What to send back: an HTTP status and a GraphQL response body, plus what it answered."""

    status: int
    body: dict[str, Any]
    root_fields: tuple[str, ...] = ()
    operation_name: str | None = None
    timely: bool = False  # it holds a terminal's services (capabilities.TERMINAL_SERVICES)

    @property
    def has_errors(self) -> bool:
        """Whether anything went wrong (notices of what was withheld do not count)."""
        return any(
            (error.get("extensions") or {}).get("code") not in errors.NOTICES
            for error in self.body.get("errors") or ()
        )


@dataclass(frozen=True, slots=True)
class Operation:
    node: OperationDefinitionNode
    name: str | None
    root_fields: tuple[str, ...]
    optional: Mapping[str, frozenset[str]]  # root response key -> optional fields it asks

    @property
    def timely(self) -> bool:
        """Whether it asks a terminal's services, which change within the hour."""
        return any(c in TERMINAL_SERVICES for asked in self.optional.values() for c in asked)


@dataclass(slots=True)
class PreparedDocument:
    """A parsed and validated document, or the request errors that stop it."""

    document: DocumentNode | None
    request_errors: list[FormattedError] | None = None
    operations: dict[str | None, Operation] = field(default_factory=dict)

    def operation(self, operation_name: str | None) -> Operation | None:
        found = self.operations.get(operation_name)
        if found is None and self.document is not None:
            node = get_operation_ast(self.document, operation_name)
            if node is None:
                return None
            name = node.name.value if node.name else None
            found = Operation(
                node,
                name,
                _root_fields(self.document, node.selection_set),
                _optional_asked(self.document, node.selection_set),
            )
            self.operations[operation_name] = found
        return found


def _root_fields(document: DocumentNode, selection_set: SelectionSetNode) -> tuple[str, ...]:
    """Schema names of the root fields an operation selects, through fragments, in order."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    names: dict[str, None] = {}

    def visit(selections: SelectionSetNode) -> None:
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                names[selection.name.value] = None
            elif isinstance(selection, InlineFragmentNode):
                visit(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    visit(fragment.selection_set)

    visit(selection_set)
    return tuple(names)


def _optional_asked(
    document: DocumentNode, selection_set: SelectionSetNode
) -> dict[str, frozenset[str]]:
    """The optional fields (:mod:`portcontract.capabilities`) each root field of an operation
    asks, by response key, at any depth and through fragments (each fragment looked into once
    per root field). A field skipped by a directive counts: it was asked for. Each optional
    field's name is unique in the schema, so names are enough."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }

    def below(selections: SelectionSetNode, seen: set[str]) -> Iterator[FieldNode]:
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from below(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and name not in seen:
                    seen.add(name)
                    yield from below(fragments[name].selection_set, seen)

    asked: dict[str, frozenset[str]] = {}
    for root in below(selection_set, set()):
        found: set[str] = set()
        seen: set[str] = set()
        pending = [root]
        while pending:
            node = pending.pop()
            if node is not root and node.name.value in BY_NAME:
                found.add(BY_NAME[node.name.value])
            if node.selection_set is not None:
                pending.extend(below(node.selection_set, seen))
        key = root.alias.value if root.alias else root.name.value
        asked[key] = asked.get(key, frozenset()) | found
    return asked


def _request_error(error: GraphQLError, code: str) -> FormattedError:
    formatted = dict(error.formatted)
    formatted["extensions"] = {"code": code}
    return formatted


def request_error(message: str, code: str) -> dict[str, Any]:
    """A GraphQL-shaped body for a request that cannot be executed."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


class PortGraphQL:
    """Executes GraphQL requests for one port: document cache, execution, error codes."""

    def __init__(
        self,
        context: PortContext,
        *,
        document_cache_size: int = DEFAULT_DOCUMENT_CACHE_SIZE,
        max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        self._schema = port_schema()
        self._context = context
        self._max_tokens = max_tokens
        self.prepare = lru_cache(maxsize=document_cache_size)(self._parse_and_validate)

    def _parse_and_validate(self, query: str) -> PreparedDocument:
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLError as error:
            return PreparedDocument(None, [_request_error(error, errors.GRAPHQL_PARSE_FAILED)])
        problems = validate(self._schema, document)
        if problems:
            return PreparedDocument(
                None,
                [_request_error(error, errors.GRAPHQL_VALIDATION_FAILED) for error in problems],
            )
        return PreparedDocument(document)

    async def run(self, request: GraphQLRequest) -> Answer:
        prepared = self.prepare(request.query)
        if prepared.document is None:
            return Answer(400, {"errors": prepared.request_errors or []})
        operation = prepared.operation(request.operation_name)
        if operation is None:
            message = (
                f"the document has no operation named {request.operation_name!r}"
                if request.operation_name
                else "the document has several operations: say which one with operationName"
            )
            return Answer(400, request_error(message, errors.BAD_REQUEST))
        # This request's own notices, what its operation asks of the optional fields and what
        # the source offers of them (read once a request, not once a field of every record).
        context = replace(
            self._context,
            notices=[],
            optional_asked=operation.optional,
            offered=offered_fields(self._context.source),
        )
        with notices.for_request() as left_out:
            outcome = execute(
                self._schema,
                prepared.document,
                context_value=context,
                variable_values=dict(request.variables) if request.variables else None,
                operation_name=request.operation_name,
            )
            result = outcome if isinstance(outcome, ExecutionResult) else await outcome
        reported = notices.as_errors(left_out, self._context.port_id)
        return self._answer(result, operation, context.notices, reported)

    def _answer(
        self,
        result: ExecutionResult,
        operation: Operation,
        withheld_here: list[Notice],
        left_out: list[FormattedError],
    ) -> Answer:
        """The answer: its data, errors, what the kit withheld under the labor and disclosure
        rules (``withheld_here``) and what the source left out (``left_out``)."""
        answered = result.data if isinstance(result.data, dict) else {}
        withheld_here = [n for n in withheld_here if n.root in answered]
        reported = self._text_notices(withheld_here) + left_out
        withheld = _withheld_metrics(withheld_here)
        extensions = {"extensions": {"withheld": withheld}} if withheld else {}
        if not result.errors:
            body: dict[str, Any] = {"data": result.data, **extensions}
            if reported:
                body = {"errors": reported, **body}
            return Answer(200, body, operation.root_fields, operation.name, operation.timely)
        if result.data is None and all(error.path is None for error in result.errors):
            # Execution never started: the variables do not fit their declared types.
            rejected = [_request_error(e, errors.BAD_USER_INPUT) for e in result.errors]
            return Answer(400, {"errors": rejected}, operation.root_fields, operation.name)
        field_errors = [self._field_error(error) for error in result.errors]
        body = {"errors": field_errors + reported, "data": result.data, **extensions}
        return Answer(200, body, operation.root_fields, operation.name, operation.timely)

    def _text_notices(self, notices: list[Notice]) -> list[FormattedError]:
        """One ``LABOR_TEXT_WITHHELD`` error per root field whose free text was dropped."""
        port_id = self._context.port_id
        reasons: dict[str | int, list[str]] = {}
        for notice in notices:
            if notice.text:
                reasons.setdefault(notice.root, []).extend(notice.text)
        formatted: list[FormattedError] = []
        for root, why in reasons.items():
            counts = Counter(why)
            summary = "; ".join(f"{count} {reason}" for reason, count in sorted(counts.items()))
            formatted.append({
                "message": f"{len(why)} free-text value(s) withheld under the labor-privacy "
                f"rule ({summary})",
                "path": [root],
                "extensions": {"code": errors.LABOR_TEXT_WITHHELD, "port": port_id,
                               COUNT_EXTENSION: len(why), "withheld": sorted(counts)},
            })  # fmt: skip
        return formatted

    def _field_error(self, error: GraphQLError) -> FormattedError:
        port_id = self._context.port_id
        original = error.original_error
        code = errors.INTERNAL_ERROR if original is None else errors.field_error_code(original)
        if code == errors.SOURCE_UNAVAILABLE:
            logger.warning("%s: source unavailable at %s: %r", port_id, error.path, original)
            message = errors.SOURCE_UNAVAILABLE_MESSAGE
        elif code == errors.INTERNAL_ERROR:
            logger.error(
                "%s: unexpected error at %s: %s",
                port_id,
                error.path,
                error.message,
                exc_info=original,
            )
            message = errors.INTERNAL_ERROR_MESSAGE
        else:
            message = error.message
        formatted: FormattedError = {"message": message}
        if error.locations is not None:
            formatted["locations"] = [location.formatted for location in error.locations]
        if error.path is not None:
            formatted["path"] = error.path
        formatted["extensions"] = {"code": code, "port": port_id}
        return formatted


def _withheld_metrics(notices: list[Notice]) -> list[dict[str, Any]]:
    """``extensions.withheld``: each aggregate the disclosure rules withheld, and why."""
    return [
        {"path": [notice.root], "metric": item.metric, "facilitySMDGCode": item.facility_code,
         "code": item.reason.code, "reason": item.reason.message}
        for notice in notices
        for item in notice.metrics
    ]  # fmt: skip
