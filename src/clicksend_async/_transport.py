"""The HTTP layer under the SDK, chosen by measurement (bench/send.py; numbers in bench/README.md).

Two senders share one small interface:

- ``AiohttpSender`` (default): aiohttp's connection pool, called directly. httpx's own pool
  degrades sharply with many requests in flight and its Request/Response machinery costs more CPU
  than the whole rest of a call, so the hot path builds no httpx objects; they are made lazily if
  a caller asks for ``APIResponse.http_response``.
- ``HttpxSender``: an injected ``httpx.AsyncClient`` (proxies, custom TLS, respx in tests).

Retry safety hinges on one question, answered by :func:`classify_transport_error`: could the
request have reached the server? Only failures while *connecting* say no. :func:`map_aiohttp_error`
keeps that answer honest: a connection dropped after the request was written (aiohttp's
``ServerDisconnectedError``, resets, payload errors) becomes a read-side httpx error, never a
connect error. (The third-party ``httpx-aiohttp`` maps every ``ClientConnectionError`` to
``ConnectTimeout``, which would make an unsafe retry of a send look safe.)
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp
import httpx
import yarl

from clicksend_async import _constants
from clicksend_async._types import NOT_GIVEN, NotGiven, TimeoutArg
from clicksend_async.errors import ClickSendError, redact

# Failures that provably happened before any byte of the request left: safe to retry any call.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class CertificateError(httpx.ConnectError):
    """The server's TLS certificate was refused (untrusted, expired, wrong host). Nothing was
    sent, and trying again cannot succeed, so it is never retried."""


class BodyTooLarge(httpx.ReadError):
    """The answer is larger than the sender's ``max_response_bytes``; the connection was
    discarded. Only ``prefix`` (the first bytes) is kept."""

    def __init__(self, message: str, *, request: httpx.Request, status: int, prefix: bytes) -> None:
        super().__init__(message, request=request)
        self.status = status
        self.prefix = prefix


# Transport failures that retrying cannot fix.
NOT_RETRYABLE = (CertificateError, BodyTooLarge)
PREFIX_BYTES = 1024  # what an error keeps of a body it refused


def _too_large(method: str, url: str, status: int, prefix: bytes, limit: int) -> BodyTooLarge:
    return BodyTooLarge(
        f"the answer (HTTP {status}) is larger than max_response_bytes={limit:,}",
        request=httpx.Request(method, url),
        status=status,
        prefix=prefix[:PREFIX_BYTES],
    )


def classify_transport_error(exc: httpx.TransportError) -> bool:
    """True when the request may have reached the server (read/write failure, dropped
    connection, read timeout), False when it provably did not."""
    return not isinstance(exc, NOT_SENT)


class RawResponse:
    """Status, headers and body of one answer; the httpx view is built only on demand."""

    __slots__ = ("_http", "content", "headers", "method", "status", "url")

    def __init__(
        self,
        status: int,
        headers: Mapping[str, str],
        content: bytes,
        *,
        method: str,
        url: str,
        http: httpx.Response | None = None,
    ) -> None:
        self.status = status
        self.headers = headers  # case-insensitive (aiohttp CIMultiDictProxy or httpx.Headers)
        self.content = content
        self.method = method
        self.url = url
        self._http = http

    def to_httpx(self) -> httpx.Response:
        if self._http is None:
            self._http = httpx.Response(
                self.status,
                headers=list(self.headers.items()),
                content=self.content,
                request=httpx.Request(self.method, self.url),
            )
        return self._http


def map_aiohttp_error(exc: BaseException, method: str, url: str) -> httpx.TransportError:
    """The httpx error that says as much as is known about whether the request was sent."""
    request = httpx.Request(method, url)
    message = redact(f"{type(exc).__name__}: {exc}")  # aiohttp's text includes the URL
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # connect phase only
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return CertificateError(f"TLS certificate verification failed: {message}", request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):  # DNS, refused, TLS handshake
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, (aiohttp.SocketTimeoutError, aiohttp.ServerTimeoutError, TimeoutError)):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientResponseError)):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return httpx.UnsupportedProtocol(message, request=request)
    # Resets, payload errors and anything unknown: it may have been written.
    return httpx.ReadError(message, request=request)


def _aiohttp_timeout(timeout: TimeoutArg) -> aiohttp.ClientTimeout:
    # connect bounds the TCP/TLS handshake, read each wait for data. No pool timeout: the SDK
    # queues callers itself, so nobody waits for a pooled connection.
    if timeout is None or isinstance(timeout, (int, float)):
        return aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
    return aiohttp.ClientTimeout(total=None, sock_connect=timeout.connect, sock_read=timeout.read)


class AiohttpSender:
    """Requests over one ``aiohttp.ClientSession``, created on first use inside the running
    event loop (never at construction, so a client can be made in a notebook cell)."""

    def __init__(
        self,
        *,
        timeout: TimeoutArg,
        max_connections: int | None,
        max_response_bytes: int = _constants.MAX_RESPONSE_BYTES,
    ) -> None:
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self._default_timeout = _aiohttp_timeout(timeout)
        self._max_connections = max_connections or 0  # aiohttp: 0 = unbounded
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClickSendError("this client is closed; create a new one")
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, keepalive_timeout=_constants.KEEPALIVE_SECONDS
        )
        session = aiohttp.ClientSession(
            connector=connector,
            skip_auto_headers=("User-Agent", "Content-Type"),
            timeout=aiohttp.ClientTimeout(total=None),
        )
        # aiohttp silently resends GET/PUT/DELETE once when a kept-alive connection drops. The SDK
        # decides retries itself (PUT /recharge/purchase must never be repeated), so turn it off.
        # No public switch exists; tests/test_transport.py fails if this stops working.
        if not hasattr(session, "_retry_connection"):
            raise RuntimeError("unsupported aiohttp version: cannot disable its implicit retry")
        session._retry_connection = False
        self._session = session
        return session

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def connections_in_use(self) -> int:
        """Connections checked out of the pool right now (a leak check)."""
        if self._session is None or self._session.closed:
            return 0
        return len(getattr(self._session.connector, "_acquired", ()))

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
    ) -> RawResponse:
        session = self._session or self._open()
        client_timeout = (
            self._default_timeout if isinstance(timeout, NotGiven) else _aiohttp_timeout(timeout)
        )
        # encoded=True: the path is sent exactly as the SDK escaped it. Parsed normally, yarl
        # would decode "%2E%2E" and drop the dot segment (DELETE /lists/1/contacts/.. -> /lists/1/).
        target = yarl.URL(url, encoded=True)
        if params:
            target = target.with_query(params)
        limit = self.max_response_bytes
        try:
            async with session.request(
                method,
                target,
                headers=headers,
                data=content,
                allow_redirects=False,
                timeout=client_timeout,
            ) as response:
                declared = response.content_length
                if declared is not None and declared > limit:
                    response.close()  # discard the connection, never read the body
                    raise _too_large(method, url, response.status, b"", limit)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(65536):
                    size += len(chunk)
                    chunks.append(chunk)
                    if size > limit:
                        response.close()
                        raise _too_large(method, url, response.status, chunks[0], limit)
                return RawResponse(
                    response.status, response.headers, b"".join(chunks), method=method, url=url
                )
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise map_aiohttp_error(exc, method, url) from exc

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None


class HttpxSender:
    """Requests through an ``httpx.AsyncClient`` (injected by the caller, or made for them)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        owned: bool,
        max_response_bytes: int = _constants.MAX_RESPONSE_BYTES,
    ) -> None:
        self.client = client
        self.owned = owned
        self.max_response_bytes = max_response_bytes

    @property
    def timeout(self) -> httpx.Timeout:
        return self.client.timeout

    @property
    def is_closed(self) -> bool:
        return self.client.is_closed

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        content: bytes | None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
    ) -> RawResponse:
        request = self.client.build_request(
            method,
            url,
            params=params,
            headers=headers,
            content=content,
            timeout=httpx.USE_CLIENT_DEFAULT if isinstance(timeout, NotGiven) else timeout,
        )
        if self.client.is_closed:
            raise ClickSendError("this client is closed; create a new one")
        limit = self.max_response_bytes
        try:
            response = await self.client.send(request, stream=True)
        except httpx.ConnectError as exc:
            if _certificate_refused(exc):
                raise CertificateError(
                    f"TLS certificate verification failed: {redact(str(exc))}", request=request
                ) from exc
            raise
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(method, url, response.status_code, b"", limit)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                chunks.append(chunk)
                if size > limit:
                    raise _too_large(method, url, response.status_code, chunks[0], limit)
        finally:
            await response.aclose()  # unread: httpx discards the connection
        body = b"".join(chunks)
        response._content = body  # what response.content / .json() would have read
        return RawResponse(
            response.status_code,
            response.headers,
            body,
            method=method,
            url=str(request.url),
            http=response,
        )

    async def aclose(self) -> None:
        if self.owned:
            await self.client.aclose()


def _certificate_refused(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
