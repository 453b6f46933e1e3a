"""The HTTP layer under the SDK, chosen by measurement (bench/send.py, numbers in bench/README.md).

Default: aiohttp's connection pool behind a small ``httpx.AsyncBaseTransport``. httpx's own pool
degrades sharply with many requests in flight; aiohttp's does not. The SDK keeps httpx's
``Request``/``Response`` types, so an ``httpx.AsyncClient`` can still be injected instead
(``http_client=``), e.g. for proxies, custom TLS or respx in tests.

Retry safety hinges on one question, answered by :func:`classify_transport_error`: could the
request have reached the server? Only failures while *connecting* say no. The mapping below keeps
that answer honest: a connection dropped after the request was written (aiohttp's
``ServerDisconnectedError``, resets, payload errors) becomes a read-side httpx error, never a
connect error. (The third-party ``httpx-aiohttp`` maps every ``ClientConnectionError`` to
``ConnectTimeout``, which would make an unsafe retry of a send look safe.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import httpx

# Failures that provably happened before any byte of the request left: safe to retry any call.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def classify_transport_error(exc: httpx.TransportError) -> bool:
    """True when the request may have reached the server (read/write failure, dropped
    connection, read timeout), False when it provably did not."""
    return not isinstance(exc, NOT_SENT)


def _client_timeout(extension: dict[str, Any]) -> aiohttp.ClientTimeout:
    # httpx's per-request timeout extension -> aiohttp: connect bounds the TCP/TLS handshake,
    # read bounds each wait for data; "pool" is unused because the SDK queues callers itself.
    return aiohttp.ClientTimeout(
        total=None,
        sock_connect=extension.get("connect"),
        sock_read=extension.get("read"),
    )


def map_aiohttp_error(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """The httpx error that says as much as is known about whether the request was sent."""
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # connect phase only
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):  # DNS, refused, TLS handshake
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, (aiohttp.SocketTimeoutError, aiohttp.ServerTimeoutError)):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, asyncio.TimeoutError):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, aiohttp.ClientResponseError):  # malformed status line / headers
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return httpx.UnsupportedProtocol(message, request=request)
    # Resets, payload errors and anything unknown: it may have been written.
    return httpx.ReadError(message, request=request)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport over one ``aiohttp.ClientSession``, created on first use (inside the
    running event loop, never at construction, so it works from notebooks)."""

    def __init__(self, *, max_connections: int | None, keepalive_expiry: float = 30.0) -> None:
        self._max_connections = max_connections or 0  # aiohttp: 0 = unbounded
        self._keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=0,
            keepalive_timeout=self._keepalive_expiry,
            enable_cleanup_closed=False,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=True,
            skip_auto_headers=("User-Agent", "Content-Type"),
            timeout=aiohttp.ClientTimeout(total=None),
        )
        # aiohttp silently resends GET/PUT/DELETE once when a kept-alive connection drops. The SDK
        # decides retries itself (PUT /recharge/purchase must never be repeated), so turn it off.
        # No public switch exists; tests/test_transport.py fails if this stops working.
        if not hasattr(self._session, "_retry_connection"):
            raise RuntimeError("unsupported aiohttp version: cannot disable its implicit retry")
        self._session._retry_connection = False
        return self._session

    @property
    def connections_in_use(self) -> int:
        """Connections checked out of the pool right now (a leak check for tests)."""
        if self._session is None or self._session.closed:
            return 0
        connector = self._session.connector
        return len(getattr(connector, "_acquired", ()))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session if self._session is not None else self._open()
        try:
            async with session.request(
                request.method,
                str(request.url),
                headers=request.headers,
                data=request.content or None,
                allow_redirects=False,
                timeout=_client_timeout(request.extensions.get("timeout", {})),
            ) as response:
                content = await response.read()
                status = response.status
                headers = response.raw_headers
        except aiohttp.ClientError as exc:
            raise map_aiohttp_error(exc, request) from exc
        except asyncio.TimeoutError as exc:
            raise map_aiohttp_error(exc, request) from exc
        return httpx.Response(
            status,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def create_http_client(
    *, timeout: float | httpx.Timeout | None, max_connections: int | None
) -> httpx.AsyncClient:
    # The SDK's limiter queues callers (max_concurrency), so the pool is sized to match and never
    # makes a caller wait for a connection (no PoolTimeout under fan-out).
    return httpx.AsyncClient(
        timeout=timeout, transport=AiohttpTransport(max_connections=max_connections)
    )
