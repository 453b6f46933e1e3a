"""The HTTP client under the SDK, and what its failures mean for retry safety."""

from __future__ import annotations

import httpx

# Failures that provably happened before any byte of the request left: safe to retry any call.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def classify_transport_error(exc: httpx.TransportError) -> bool:
    """True when the request may have reached the server (read/write failure, dropped
    connection, read timeout), False when it provably did not."""
    return not isinstance(exc, NOT_SENT)


def create_http_client(
    *, timeout: float | httpx.Timeout | None, max_connections: int | None
) -> httpx.AsyncClient:
    # The SDK's own limiter queues callers (max_concurrency), so the pool is sized to match and
    # never makes a caller wait for a connection (no PoolTimeout under fan-out).
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
    )
    return httpx.AsyncClient(timeout=timeout, limits=limits)
