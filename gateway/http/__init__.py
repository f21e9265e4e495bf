"""HTTP-level pieces of the gateway: pure ASGI middleware, one per module."""
