"""How a request body may be read: not past a size, not slower than a deadline, and a client
that goes away before sending it whole is counted, not treated as the gateway's fault.

:class:`BodyLimits` is pure ASGI middleware that wraps ``receive``:

- **size**: ``Content-Length`` or the streamed body past ``max_body_bytes`` is HTTP 413
  ``BAD_REQUEST``, without the body being read into memory whole;
- **time**: the whole body must arrive within ``server.body_timeout`` of the first read, else
  HTTP 408 ``REQUEST_TIMEOUT`` with ``Connection: close`` (the unread rest of the body is never
  taken for a next request). The deadline is enforced by :class:`ReadDeadlines`, one watcher
  task for the whole app: a read that finds its data already there (the usual case) costs a
  dict entry set and removed, not a timer;
- **client gone**: an ``http.disconnect`` before the body is complete is counted
  (``portgate_client_disconnects_total``) and ends the request quietly: no response (nobody is
  there to read it), no incident, no traceback.

Each case is signalled to the middleware by an exception that is a :class:`BodyReadAborted`;
the GraphQL view lets those pass through (``gateway/app.py``).
"""

import asyncio
import logging
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.edge.counts import EdgeCounts
from gateway.edge.responses import error_response, graphql_error_response
from gateway.errors import RequestTimeout

log = logging.getLogger(__name__)

MIN_WATCH_INTERVAL = 0.01
MAX_WATCH_INTERVAL = 1.0


class BodyReadAborted(Exception):
    """Reading the request body stopped; the body middleware answers (or not) for it."""


class BodyTooLarge(BodyReadAborted):
    pass


class BodyReadTimedOut(BodyReadAborted):
    pass


class ClientDisconnected(BodyReadAborted):
    pass


class ReadDeadlines:
    """Body reads under way, each with its deadline; :meth:`run` cancels those past it.

    A read registers only while it waits. The watcher wakes every ``timeout / 4`` (between
    ``MIN_WATCH_INTERVAL`` and ``MAX_WATCH_INTERVAL``), so a read overruns its deadline by at
    most that much.
    """

    def __init__(self, timeout: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.clock = clock
        self.interval = min(max(timeout / 4, MIN_WATCH_INTERVAL), MAX_WATCH_INTERVAL)
        self._waiting: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()

    async def receive(self, receive: Receive, deadline: float) -> Message:
        """``receive()``, or :class:`BodyReadTimedOut` once ``deadline`` has passed."""
        task = asyncio.current_task()
        if task is None:  # not in a task: nothing to cancel, so no deadline
            return await receive()
        self._waiting[task] = deadline
        try:
            return await receive()
        except asyncio.CancelledError:
            if task not in self._expired:
                raise
            self._expired.discard(task)
            if task.uncancel() > 0:  # cancelled by someone else too (a shutdown): let it go
                raise
            raise BodyReadTimedOut from None
        finally:
            self._waiting.pop(task, None)

    def expire_overdue(self) -> int:
        """Cancel every read past its deadline; how many."""
        now = self.clock()
        overdue = [task for task, deadline in self._waiting.items() if deadline <= now]
        for task in overdue:
            del self._waiting[task]
            self._expired.add(task)
            task.cancel()
        return len(overdue)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.expire_overdue()


class BodyLimits:
    """413 past ``max_bytes``, 408 past the read deadline, quiet end when the client leaves."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        *,
        deadlines: ReadDeadlines | None = None,
        counts: EdgeCounts | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.deadlines = deadlines
        self.counts = counts or EdgeCounts()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await self._too_large(scope, receive, send)
                return
        received = 0
        complete = False
        deadline = 0.0
        deadlines = self.deadlines
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, complete, deadline
            if complete or deadlines is None:
                message = await receive()
            else:
                if not deadline:
                    deadline = deadlines.clock() + deadlines.timeout
                message = await deadlines.receive(receive, deadline)
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
                complete = complete or not message.get("more_body", False)
            elif message["type"] == "http.disconnect" and not complete:
                raise ClientDisconnected
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if response_started:
                raise
            await self._too_large(scope, receive, send)
        except BodyReadTimedOut:
            self.counts.refused["body_timeout"] += 1
            if response_started or deadlines is None:
                raise
            error = RequestTimeout(
                f"the request body did not arrive within {deadlines.timeout:g}s; send it faster"
            )
            await error_response(error, 408, {"connection": "close"})(scope, receive, send)
        except ClientDisconnected:
            self.counts.client_disconnects += 1
            log.info("client went away before sending its whole request body")

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.counts.refused["body_too_large"] += 1
        response = graphql_error_response(
            f"request body larger than {self.max_bytes} bytes", "BAD_REQUEST", 413
        )
        # The rest of the body is never read: the connection cannot carry another request.
        response.headers["connection"] = "close"
        await response(scope, receive, send)
