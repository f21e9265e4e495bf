"""An in-process httpx transport to a simulated system that keeps httpx's timeouts.

``httpx.ASGITransport`` ignores the request's timeout, since no socket is read; a simulated
port with ``latency_ms`` set would then never time out. :class:`TimedASGITransport` bounds the
whole exchange by the request's read timeout and raises ``httpx.ReadTimeout`` as a network
transport would, so clients and adapters see the same failure in-process as over loopback.
"""

import anyio
import httpx


class TimedASGITransport(httpx.ASGITransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {}).get("read")
        if timeout is None:
            return await super().handle_async_request(request)
        try:
            with anyio.fail_after(timeout):
                return await super().handle_async_request(request)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no answer within {timeout} s", request=request) from exc
