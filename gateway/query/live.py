"""Subscriptions, answered by asking the ports again: live queries without a store.

A subscription (``containerUpdates``, ``vesselCallUpdates``, ``outlookUpdates``) is turned into
the query that answers it (:func:`poll_document`): ``containers``, ``vesselCalls`` or
``outlook`` with the same selection, plus the key of each item under a hidden alias. One
:class:`_Feed` per distinct subscription, its key made of that query, its values and the
policy scope of the caller (roles and ports: the policy depends on nothing else), asks the
ports through the pipeline once per ``interval``, however many subscribe: the pipeline's cache
and coalescing serve the queries and the feeds alike. The feed keeps, in memory only, the last
answer and a digest of each item, and tells each subscriber what changed.

Bounds:

- subscriptions per principal (``max_per_principal``) and per gateway (``max_total``); past
  them a new one is refused with ``TOO_MANY_SUBSCRIPTIONS``;
- a subscriber that does not keep up never grows a queue: what it has not taken yet is
  collapsed into the latest state of each item (:class:`Subscriber`), so its memory is bounded
  by its own selection;
- a feed ends with its last subscriber; :meth:`LiveQueries.close` ends them all.

Ports that say when something changed (:mod:`gateway.ports.changes`) are not asked every
interval: a feed whose answer came only from such ports asks them when one of them says that
something it asked about changed (at most once per ``min_gap``: notices in between are taken
together), and once per ``pushed_interval`` besides, in case a notice was lost. A feed that
asks both kinds asks past the cache every interval only the ports that do not push; the
others answer from the cache unless they said something changed. A port that stops pushing
is asked every interval again.

Every message is checked again before it is sent: ``still_allowed`` (the credential, e.g. a
revoked API key) ends the subscription with ``UNAUTHENTICATED``, and the policy in force is
the pipeline's at each poll, so a changed policy takes effect on the next message.
"""

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

import orjson
from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    IntValueNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    get_operation_ast,
    print_ast,
)

from gateway.access.auth import Principal
from gateway.errors import GatewayError
from gateway.ports.fetch import Bypass
from gateway.query.pipeline import OperationResult
from portcontract.changes import ChangeNotice

log = logging.getLogger(__name__)

KEY_ALIAS: Final = "portgateKey"  # the hidden alias of each item's key in a poll's answer
PORT_ALIAS: Final = "portgatePort"
FROM_VARIABLE: Final = "portgateFrom"  # the window of vesselCallUpdates, set at each poll
TO_VARIABLE: Final = "portgateTo"
CALLS_PER_POLL: Final = 100
CALLS_FROM_HOURS_AGO: Final = 24
VOLATILE: Final = frozenset({"generatedAt"})  # the outlook's fields that change every poll


class TooManySubscriptions(GatewayError):
    code = "TOO_MANY_SUBSCRIPTIONS"


class SubscriptionFailed(GatewayError):
    """The gateway could not go on answering a subscription (a fault, logged as one)."""

    code = "SUBSCRIPTION_FAILED"


class SubscriptionEnded(GatewayError):
    """The credential a subscription was opened with is no longer accepted."""

    code = "UNAUTHENTICATED"


_REVOKED: Final = [SubscriptionEnded("the credential is no longer accepted").to_graphql().formatted]


@dataclass(frozen=True, slots=True)
class LiveField:
    """What a subscription field is asked as: its query root field, and the path from each
    item to its key (None: the whole answer is one item)."""

    query_field: str
    keys: tuple[str, ...] | None
    nodes: bool = False  # the items are the ``nodes`` of a connection


LIVE_FIELDS: Final[Mapping[str, LiveField]] = {
    "containerUpdates": LiveField("containers", ("equipmentReference",)),
    "vesselCallUpdates": LiveField(
        "vesselCalls", ("UNLocationCode", "transportCallReference"), nodes=True
    ),
    "outlookUpdates": LiveField("outlook", None),
}


def poll_document(document: DocumentNode, operation_name: str | None) -> DocumentNode:
    """The query that answers the subscription in ``document``: its one root field renamed to
    the query field, the keys asked under hidden aliases, and for ``vesselCallUpdates`` the
    window and page as variables the feed sets. Raises ValueError for anything else."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
        raise ValueError("not a subscription")
    (root,) = operation.selection_set.selections  # validation: a subscription has one field
    if not isinstance(root, FieldNode) or root.name.value not in LIVE_FIELDS:
        raise ValueError("not a subscription field the gateway answers")
    live = LIVE_FIELDS[root.name.value]
    selections = list(root.selection_set.selections) if root.selection_set else []
    if live.keys is not None:
        selections += [_aliased(KEY_ALIAS, live.keys[-1])]
        if len(live.keys) > 1:
            selections += [_aliased(PORT_ALIAS, live.keys[0])]
    arguments = list(root.arguments or ())
    variables = list(operation.variable_definitions or ())
    selection = SelectionSetNode(selections=tuple(selections))
    if live.nodes:
        arguments = [a for a in arguments if a.name.value != "window"] + [
            _argument("from", VariableNode(name=NameNode(value=FROM_VARIABLE))),
            _argument("to", VariableNode(name=NameNode(value=TO_VARIABLE))),
            _argument("first", IntValueNode(value=str(CALLS_PER_POLL))),
        ]
        variables += [_datetime_variable(FROM_VARIABLE), _datetime_variable(TO_VARIABLE)]
        selection = SelectionSetNode(
            selections=(FieldNode(name=NameNode(value="nodes"), selection_set=selection),)
        )
    query_root = FieldNode(
        alias=root.alias or root.name,  # answered under the subscription's own name
        name=NameNode(value=live.query_field),
        arguments=tuple(arguments),
        directives=root.directives,
        selection_set=selection,
    )
    query = OperationDefinitionNode(
        operation=OperationType.QUERY,
        name=operation.name,
        variable_definitions=tuple(variables),
        directives=operation.directives,
        selection_set=SelectionSetNode(selections=(query_root,)),
    )
    fragments = [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
    return DocumentNode(definitions=(query, *fragments))


def _aliased(alias: str, name: str) -> FieldNode:
    return FieldNode(alias=NameNode(value=alias), name=NameNode(value=name))


def _argument(name: str, value: ValueNode) -> ArgumentNode:
    return ArgumentNode(name=NameNode(value=name), value=value)


def _datetime_variable(name: str) -> VariableDefinitionNode:
    return VariableDefinitionNode(
        variable=VariableNode(name=NameNode(value=name)),
        type=NonNullTypeNode(type=NamedTypeNode(name=NameNode(value="DateTime"))),
    )


Run = Callable[
    [DocumentNode, str | None, Mapping[str, Any], Principal, Bypass],
    Awaitable[OperationResult | None],
]
StillAllowed = Callable[[], Awaitable[bool]]
Sleep = Callable[[float], Awaitable[None]]


class Pushing(Protocol):
    """Which ports tell the gateway of their changes (:class:`~gateway.ports.changes
    .PortChanges`)."""

    def pushing(self, port: str) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    async def close(self) -> None: ...


def _digest(value: Any) -> bytes:
    return hashlib.blake2b(
        orjson.dumps(value, option=orjson.OPT_SORT_KEYS), digest_size=16
    ).digest()


@dataclass(slots=True)
class _Message:
    """What a subscriber has not taken yet: the latest state of each changed item, by key (or
    the whole answer), the errors and sources of the latest poll."""

    items: dict[Any, Any] = field(default_factory=dict)
    whole: Any = None
    has_whole: bool = False
    errors: list[Any] = field(default_factory=list)
    extensions: dict[str, Any] = field(default_factory=dict)

    def then(self, later: "_Message") -> "_Message":
        """This message with ``later`` folded in: the later state of each item, the later
        whole answer if it has one, the later poll's errors and sources. A new message: one
        message is offered to every subscriber, and none may change it."""
        whole, has_whole = (later.whole, True) if later.has_whole else (self.whole, self.has_whole)
        return _Message({**self.items, **later.items}, whole, has_whole, later.errors,
                        later.extensions)  # fmt: skip


class Subscriber:
    """One subscription: a mailbox of at most one message, collapsed, never a queue."""

    def __init__(
        self, feed: "_Feed", principal: Principal, still_allowed: StillAllowed, holder: str
    ) -> None:
        self.feed = feed
        self.holder = holder
        self.principal = principal
        self.still_allowed = still_allowed
        self.messages = 0
        self.collapsed = 0  # messages folded into a later one because this one did not keep up
        self._pending: _Message | None = None
        self._ready = asyncio.Event()
        self._ended: list[Any] = []  # the errors it ended with, if any
        self._closed = False
        self._left = False

    def offer(self, message: _Message) -> None:
        if self._pending is None:
            self._pending = message
        else:
            self.collapsed += 1
            self._pending = self._pending.then(message)
        self._ready.set()

    def end(self, errors: list[Any] | None = None) -> None:
        """End it: after what it has not taken yet, a last message with ``errors`` if any."""
        self._ended = list(errors or ())
        self._closed = True
        self._ready.set()

    async def take(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message: ``{}`` when none came within ``timeout`` (a heartbeat is due),
        None once the subscription has ended (its last message, with the errors it ended with,
        taken before). The credential is checked again before each message."""
        while True:
            if self._pending is not None and not self._closed:
                message, self._pending = self._pending, None
                if not await self.still_allowed():
                    self.end(_REVOKED)
                else:
                    self.messages += 1
                    return self.feed.payload(message)
            if self._closed:
                if self._ended:
                    ended_with, self._ended = self._ended, []
                    return {"errors": ended_with}
                self.close()
                return None
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:  # quiet: still the credential is checked, then a heartbeat
                if await self.still_allowed():
                    return {}
                self.end(_REVOKED)

    def close(self) -> None:
        """Leave the feed (once): the client went away, or the subscription ended."""
        if not self._left:
            self._left = True
            self._closed = True
            self.feed.leave(self)


class _Feed:
    """One distinct subscription, asked once per interval for all its subscribers."""

    def __init__(self, hub: "LiveQueries", key: tuple[Any, ...], field_name: str, alias: str,
                 document: DocumentNode, operation_name: str | None, variables: dict[str, Any],
                 principal: Principal, window_hours: int) -> None:  # fmt: skip
        self.hub = hub
        self.key = key
        self.live = LIVE_FIELDS[field_name]
        self.field_name = field_name
        self.alias = alias
        self.document = document
        self.operation_name = operation_name
        self.variables = variables
        self.principal = principal  # any of the key's principals: the policy sees only its scope
        self.window = timedelta(hours=window_hours)
        self.subscribers: set[Subscriber] = set()
        self.digests: dict[Any, bytes] = {}
        self.whole_digest: bytes | None = None
        self.last: _Message | None = None  # the current state, for those who join later
        self.polls = 0
        self.task: asyncio.Task[None] | None = None
        self.asked: frozenset[str] | None = None  # the ports the last poll asked; None: not yet
        self.references: frozenset[str] | None = None  # containerUpdates: the boxes it asks
        self.told: set[str] = set()  # ports that said something changed since the last poll
        self.woken = asyncio.Event()
        self.timer: asyncio.Future[None] | None = None  # the interval running to the next poll

    def join(self, subscriber: Subscriber) -> None:
        self.subscribers.add(subscriber)
        if self.last is not None:
            subscriber.offer(self.last)
        if self.task is None:
            self.task = asyncio.create_task(self._run(), name=f"portgate live {self.field_name}")

    def leave(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        self.hub._left(self, subscriber)
        if not self.subscribers and self.task is not None:
            self.task.cancel()
            self.task = None

    def payload(self, message: _Message) -> dict[str, Any]:
        if self.live.keys is None:
            data: Any = message.whole
        else:
            data = list(message.items.values())
        payload: dict[str, Any] = {"data": {self.alias: data}}
        if message.errors:
            payload["errors"] = message.errors
        if message.extensions:
            payload["extensions"] = message.extensions
        return payload

    def concerns(self, port: str, notice: ChangeNotice) -> bool:
        """Whether what ``port`` says changed may change this feed's answer."""
        if self.asked is not None and port not in self.asked:
            return False
        if notice.everything or self.live.keys is None:  # the outlook counts everything
            return True
        if self.field_name == "vesselCallUpdates":
            return bool(notice.vessel_calls)
        return self.references is None or not self.references.isdisjoint(notice.containers)

    def tell(self, port: str) -> None:
        self.told.add(port)
        self.woken.set()

    async def _run(self) -> None:
        try:
            bypass: Bypass = True  # the first answer is asked of every port, past the cache
            while self.subscribers:
                await self.poll(bypass)
                bypass = await self._next()
        except asyncio.CancelledError:
            raise
        except Exception:  # a fault here must not leave subscribers waiting forever
            log.exception("a subscription feed failed")
            failed = SubscriptionFailed("the subscription failed; subscribe again")
            for subscriber in list(self.subscribers):
                subscriber.end([failed.to_graphql().formatted])
        finally:
            if self.timer is not None:  # the interval being waited out ends with the feed
                self.timer.cancel()

    async def _next(self) -> Bypass:
        """Wait for the next poll; what it asks past the cache: the ports that said something
        changed, or at the interval those that do not push (every port, when all of them
        push: a lost notice is found then). The interval runs on across the polls notices
        bring, so ports that do not push are still asked once an interval."""
        hub = self.hub
        if self.timer is None:
            interval = hub.pushed_interval if self._all_push() else hub.interval
            self.timer = asyncio.ensure_future(hub.sleep(interval))
        if not self.told:
            self.woken.clear()
            woken = asyncio.ensure_future(self.woken.wait())
            try:
                await asyncio.wait((self.timer, woken), return_when=asyncio.FIRST_COMPLETED)
            finally:
                woken.cancel()
        if not self.timer.done():
            await hub.sleep(hub.min_gap)  # notices coming together make one poll
            told, self.told = frozenset(self.told), set()
            return told
        self.timer = None
        told, self.told = frozenset(self.told), set()
        # At the timer: every port when all of them push, or when it is not known whom the
        # answer comes from; else those that do not push, and those that said so.
        asked, pushes = self.asked or frozenset(), hub.pushes
        if self._all_push() or not asked or pushes is None:
            return True
        return frozenset(p for p in asked if not pushes.pushing(p)) | told

    def _all_push(self) -> bool:
        """Whether every port the last poll asked tells the gateway of its changes."""
        pushes, asked = self.hub.pushes, self.asked or frozenset()
        return bool(asked) and pushes is not None and all(map(pushes.pushing, asked))

    async def poll(self, bypass: Bypass = True) -> None:
        """Ask once, and tell every subscriber what changed since the last time."""
        variables = dict(self.variables)
        if self.live.nodes:
            now = self.hub.now()
            variables[FROM_VARIABLE] = (now - timedelta(hours=CALLS_FROM_HOURS_AGO)).isoformat()
            variables[TO_VARIABLE] = (now + self.window).isoformat()
        self.polls += 1
        outcome = await self.hub.run(
            self.document, self.operation_name, variables, self.principal, bypass
        )
        if outcome is None:
            return
        self.asked = frozenset(
            s["port"] for s in outcome.sources if s.get("status") != "skipped" and "port" in s
        )
        result = outcome.result
        if outcome.status is not None:  # refused as a whole (the policy's reject mode, 400)
            errors = [e.formatted for e in result.errors or ()]
            for subscriber in list(self.subscribers):
                subscriber.end(errors)
            return
        answer = (result.data or {}).get(self.alias)
        message = _Message(
            errors=[e.formatted for e in result.errors or ()],
            extensions={"sources": outcome.sources} if outcome.sources else {},
        )
        if self.live.keys is None:
            # When it was computed is not a change: the outlook changed when its figures did.
            digest = _digest(
                {k: v for k, v in answer.items() if k not in VOLATILE}
                if isinstance(answer, dict)
                else answer
            )
            if digest != self.whole_digest or self.last is None:
                self.whole_digest = digest
                message.whole, message.has_whole = answer, True
            current = _Message(whole=answer, has_whole=True)
        else:
            items = answer.get("nodes") if self.live.nodes and isinstance(answer, dict) else answer
            current = _Message()
            for item in items or ():
                if not isinstance(item, dict):
                    continue
                key = (item.pop(PORT_ALIAS, None), item.pop(KEY_ALIAS, None))
                current.items[key] = item
                digest = _digest(item)
                if self.digests.get(key) != digest:
                    self.digests[key] = digest
                    message.items[key] = item
            for gone in set(self.digests) - set(current.items):
                del self.digests[gone]  # out of the window or no longer known: forgotten
        current.errors, current.extensions = message.errors, message.extensions
        first = self.last is None
        self.last = current
        if first or message.items or message.has_whole:
            for subscriber in list(self.subscribers):
                subscriber.offer(current if first else message)


class LiveQueries:
    """Every subscription of one gateway, and the feeds that answer them."""

    def __init__(
        self,
        run: Run,
        *,
        interval: float,
        max_per_principal: int,
        max_total: int,
        sleep: Sleep = asyncio.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        pushes: Pushing | None = None,
        pushed_interval: float | None = None,
        min_gap: float = 1.0,
    ) -> None:
        self.run = run
        self.interval = interval
        self.pushes = pushes
        self.pushed_interval = pushed_interval or interval
        self.min_gap = min_gap
        self.max_per_principal = max_per_principal
        self.max_total = max_total
        self.sleep = sleep
        self.now = now
        self.feeds: dict[tuple[Any, ...], _Feed] = {}
        self.total = 0
        self._by_principal: dict[str, int] = {}

    def open(
        self,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any],
        principal: Principal,
        still_allowed: StillAllowed,
        *,
        arguments: Mapping[str, Any],
        holder: str | None = None,
    ) -> Subscriber:
        """A new subscription to the (validated) subscription ``document``; ``arguments`` are
        its root field's coerced arguments; ``holder`` whom it counts against (by default the
        principal's client id: the edge passes the address for anonymous callers). Raises
        :class:`TooManySubscriptions` past a bound, ValueError for a document that is not a
        subscription the gateway answers."""
        operation = get_operation_ast(document, operation_name)
        assert operation is not None
        root = operation.selection_set.selections[0]
        assert isinstance(root, FieldNode)
        poll = poll_document(document, operation_name)
        who = holder or f"client:{principal.client_id}"
        if self.total >= self.max_total:
            raise TooManySubscriptions(f"the gateway holds {self.max_total} subscriptions")
        if self._by_principal.get(who, 0) >= self.max_per_principal:
            raise TooManySubscriptions(
                f"at most {self.max_per_principal} subscriptions for one client at a time"
            )
        window = int(arguments.get("window") or 0)
        scope = (
            tuple(sorted(principal.roles)),
            None if principal.ports is None else tuple(sorted(principal.ports)),
        )
        used = {v.variable.name.value for v in operation.variable_definitions or ()}
        values = {k: v for k, v in variables.items() if k in used}
        key = (print_ast(poll), orjson.dumps(values, option=orjson.OPT_SORT_KEYS), scope, window)
        feed = self.feeds.get(key)
        if feed is None:
            alias = (root.alias or root.name).value
            feed = _Feed(self, key, root.name.value, alias, poll, operation_name, values,
                         principal, window)  # fmt: skip
            references = arguments.get("references")
            if isinstance(references, list):
                feed.references = frozenset(str(r).strip().upper() for r in references)
            self.feeds[key] = feed
            if self.pushes is not None:
                self.pushes.start()
        subscriber = Subscriber(feed, principal, still_allowed, who)
        self.total += 1
        self._by_principal[who] = self._by_principal.get(who, 0) + 1
        feed.join(subscriber)
        return subscriber

    def _left(self, feed: _Feed, subscriber: Subscriber) -> None:
        self.total -= 1
        who = subscriber.holder
        left = self._by_principal.get(who, 1) - 1
        if left:
            self._by_principal[who] = left
        else:
            self._by_principal.pop(who, None)
        if not feed.subscribers:
            self.feeds.pop(feed.key, None)
            if not self.feeds and self.pushes is not None:
                self.pushes.stop()

    def told(self, port: str, notice: ChangeNotice) -> None:
        """``port`` says that what ``notice`` names changed: the feeds it concerns ask it."""
        for feed in self.feeds.values():
            # A feed already told by this port asks it after its gap anyway: a port that sends
            # many notices costs one look per feed, not one ask.
            if port not in feed.told and feed.concerns(port, notice):
                feed.tell(port)

    async def close(self) -> None:
        """End every subscription (at shutdown): each gets its end, the feeds stop."""
        for feed in list(self.feeds.values()):
            for subscriber in list(feed.subscribers):
                subscriber.end()
            if feed.task is not None:
                feed.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feed.task
        if self.pushes is not None:
            await self.pushes.close()
