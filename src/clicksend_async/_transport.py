"""The HTTP layer under the SDK, chosen by measurement (bench/send.py; numbers in bench/README.md).

Three senders share one small interface:

- ``WireSender`` (``_wire.py``, the default under asyncio): HTTP/1.1 on asyncio's transports,
  answers parsed by httptools; a quarter of aiohttp's CPU per request.
- ``AiohttpSender`` (here; the default when a proxy is configured): aiohttp's connection pool,
  called directly. httpx's own pool degrades sharply with many requests in flight and its
  Request/Response machinery costs more CPU than the whole rest of a call, so the hot path
  builds no httpx objects; they are made lazily if a caller asks for
  ``APIResponse.http_response``.
- ``HttpxSender`` (here): an injected ``httpx.AsyncClient`` (custom transports, respx in
  tests), and the default under trio, where aiohttp (asyncio-only) cannot run.

``DefaultSender`` (``_sender.py``) is what a client uses unless given
``transport=``/``http_client=``: it picks one of them at first use, inside the running event
loop (``sniffio``). This module holds what they share: the answer (``RawResponse``), the error
mapping, proxy and TLS settings.

Proxies and CA files come from ``proxy=`` and, with ``trust_env`` (the default, as in httpx),
from ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY`` and
``SSL_CERT_FILE``/``SSL_CERT_DIR``.

Retry safety hinges on one question, answered by :func:`classify_transport_error`: could the
request have reached the server? Only failures while *connecting* say no. :func:`map_aiohttp_error`
keeps that answer honest: a connection dropped after the request was written (aiohttp's
``ServerDisconnectedError``, resets, payload errors) becomes a read-side httpx error, never a
connect error. (The third-party ``httpx-aiohttp`` maps every ``ClientConnectionError`` to
``ConnectTimeout``, which would make an unsafe retry of a send look safe.)
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import ssl
import types
import urllib.request
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from clicksend_async import _constants
from clicksend_async._types import NOT_GIVEN, NotGiven, TimeoutArg
from clicksend_async.errors import ClickSendError, ClientClosedError, redact

if TYPE_CHECKING:
    import aiohttp  # imported when the first session opens: ~100 ms off `import clicksend_async`
    import yarl  # (with aiohttp, or by the first proxy or aiohttp URL: not on a sandbox's path)


def _aiohttp() -> types.ModuleType:
    import aiohttp

    return aiohttp


# Failures that provably happened before any byte of the request left: safe to retry any call.
# A proxy that refuses the CONNECT tunnel (407, 502, ...) never passed the request on.
NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.ProxyError,
)
PROXY_SCHEMES = ("http", "https")  # what both senders can tunnel through without extras


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
    import aiohttp

    """The httpx error that says as much as is known about whether the request was sent."""
    request = httpx.Request(method, url)
    message = redact(f"{type(exc).__name__}: {exc}")  # aiohttp's text includes the URL
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # connect phase only
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return CertificateError(f"TLS certificate verification failed: {message}", request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):  # DNS, refused, TLS handshake, proxy down
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, aiohttp.ClientHttpProxyError):  # the proxy refused the CONNECT tunnel
        return httpx.ProxyError(message, request=request)
    if isinstance(exc, (aiohttp.SocketTimeoutError, aiohttp.ServerTimeoutError, TimeoutError)):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientResponseError)):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return httpx.UnsupportedProtocol(message, request=request)
    # Resets, payload errors and anything unknown: it may have been written.
    return httpx.ReadError(message, request=request)


def _aiohttp_timeout(timeout: TimeoutArg) -> aiohttp.ClientTimeout:
    import aiohttp

    # connect bounds the TCP/TLS handshake, read each wait for data. No pool timeout: the SDK
    # queues callers itself, so nobody waits for a pooled connection.
    if timeout is None or isinstance(timeout, (int, float)):
        return aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
    return aiohttp.ClientTimeout(total=None, sock_connect=timeout.connect, sock_read=timeout.read)


class ProxySettings:
    """Which proxy a request goes through: ``proxy=`` for every request, else (``trust_env``)
    the environment's ``<scheme>_PROXY``/``ALL_PROXY`` unless ``NO_PROXY`` matches the host.

    Read once, when the client is made (as httpx does). Proxy credentials are kept apart from
    the URL (sent as ``Proxy-Authorization``), so no URL the SDK prints can carry them.
    """

    def __init__(self, proxy: str | None, *, trust_env: bool) -> None:
        self.explicit = _parse_proxy(proxy, "proxy=") if proxy is not None else None
        self.trust_env = trust_env
        self._env: dict[str, tuple[yarl.URL, str | None]] = {}
        self._no_proxy: tuple[str, ...] = ()
        if self.explicit is None and trust_env:
            found = urllib.request.getproxies_environment()  # lower-case wins, as in curl
            for scheme in ("http", "https", "all"):
                if found.get(scheme):
                    self._env[scheme] = _parse_proxy(found[scheme], f"{scheme.upper()}_PROXY")
            entries = (e.strip().lower() for e in found.get("no", "").split(","))
            self._no_proxy = tuple(e for e in entries if e)
        self._cache: dict[tuple[str, str], tuple[yarl.URL, str | None] | None] = {}

    @property
    def configured(self) -> bool:
        return self.explicit is not None or bool(self._env)

    def for_url(self, url: yarl.URL) -> tuple[yarl.URL, str | None] | None:
        """(proxy URL without credentials, Proxy-Authorization value) or None: go direct."""
        if self.explicit is not None:
            return self.explicit
        if not self._env:
            return None
        key = (url.scheme, url.raw_authority)
        if key not in self._cache:
            chosen = self._env.get(url.scheme) or self._env.get("all")
            if chosen is not None and _bypassed(url, self._no_proxy):
                chosen = None
            self._cache[key] = chosen
        return self._cache[key]


def _bypassed(url: yarl.URL, no_proxy: Sequence[str]) -> bool:
    """``NO_PROXY`` as curl and httpx read it: ``*``, host names (a name also matches its
    subdomains; a leading dot is optional), IP addresses, each optionally with ``:port``."""
    host = (url.host or "").lower().strip("[]")
    for entry in no_proxy:
        if entry == "*":
            return True
        name, port = entry, None
        if entry.count(":") == 1 or (entry.startswith("[") and "]:" in entry):
            name, _, port = entry.rpartition(":")
        name = name.strip("[]").lstrip(".")
        if port is not None and port != str(url.port):
            continue
        if host == name or host.endswith("." + name):
            return True
    return False


def _shown(value: str) -> str:
    """A proxy URL as an error may show it: user-info masked, with or without a scheme."""
    scheme, sep, rest = value.rpartition("://")
    return f"{scheme}{sep}***@{rest.rpartition('@')[2]}" if "@" in rest else value


def _parse_proxy(value: str, source: str) -> tuple[yarl.URL, str | None]:
    try:
        import yarl

        url = yarl.URL(value if "://" in value else f"http://{value}")
        host = url.host
    except (TypeError, ValueError):
        raise ClickSendError(f"{source}: not a proxy URL: {_shown(str(value))!r}") from None
    if url.scheme not in PROXY_SCHEMES or not host:
        raise ClickSendError(
            f"{source}: unsupported proxy {_shown(value)!r}: the SDK's sender takes "
            "http:// or https:// proxies (for SOCKS pass http_client=httpx.AsyncClient("
            "proxy=...) with httpx[socks] installed, or trust_env=False to ignore the variable)"
        )
    authorization = None
    if url.user is not None:
        token = f"{url.user}:{url.password or ''}".encode()
        authorization = "Basic " + base64.b64encode(token).decode("ascii")
    return url.with_user(None).with_password(None), authorization


def ssl_context(trust_env: bool) -> ssl.SSLContext | bool:
    """The TLS verification of the default sender: the system's CAs, or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR`` when set (read when the connection pool opens, as httpx does)."""
    cafile = os.environ.get("SSL_CERT_FILE") if trust_env else None
    capath = os.environ.get("SSL_CERT_DIR") if trust_env else None
    cafile = cafile if cafile and os.path.isfile(cafile) else None
    capath = capath if capath and os.path.isdir(capath) else None
    if cafile is None and capath is None:
        return True  # aiohttp's default verified context
    stamp = os.stat(cafile).st_mtime_ns if cafile else 0
    return _verified_context(cafile, capath, stamp)


@functools.lru_cache(maxsize=1)
def _system_context() -> ssl.SSLContext:
    return ssl.create_default_context()


@functools.lru_cache(maxsize=8)
def _verified_context(cafile: str | None, capath: str | None, stamp: int) -> ssl.SSLContext:
    # Loading a CA bundle costs milliseconds: one context per file (and version of it) is shared
    # by every pool, as aiohttp shares its default one.
    return ssl.create_default_context(cafile=cafile, capath=capath)


_TARGETS: dict[str, yarl.URL] = {}  # parsed request URLs (the same few, call after call)


def _target_url(url: str) -> yarl.URL:
    """The request URL as aiohttp sends it. encoded=True: the path is sent exactly as the SDK
    escaped it. Parsed normally, yarl would decode "%2E%2E" and drop the dot segment
    (DELETE /lists/1/contacts/.. -> /lists/1/)."""
    target = _TARGETS.get(url)
    if target is None:
        if len(_TARGETS) >= _constants.URL_CACHE_SIZE:
            _TARGETS.clear()  # ids in paths make URLs many: keep only recent ones
        import yarl

        target = _TARGETS[url] = yarl.URL(url, encoded=True)
    return target


class AiohttpSender:
    """Requests over one ``aiohttp.ClientSession``, created on first use inside the running
    event loop (never at construction, so a client can be made in a notebook cell)."""

    def __init__(
        self,
        *,
        timeout: TimeoutArg,
        max_connections: int | None,
        max_response_bytes: int = _constants.MAX_RESPONSE_BYTES,
        proxies: ProxySettings | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.proxies = proxies or ProxySettings(None, trust_env=False)
        self._default_timeout: aiohttp.ClientTimeout | None = None  # made with the session
        self._max_connections = max_connections or 0  # aiohttp: 0 = unbounded
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError("this client is closed; create a new one")
        import aiohttp

        self._default_timeout = _aiohttp_timeout(self.timeout)
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            keepalive_timeout=_constants.KEEPALIVE_SECONDS,
            ssl=ssl_context(self.proxies.trust_env),
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
        target = _target_url(url)
        if params:
            target = target.with_query(params)
        limit = self.max_response_bytes
        via = self.proxies.for_url(target)
        proxy: yarl.URL | None = None
        proxy_headers: dict[str, str] | None = None
        if via is not None:
            proxy, authorization = via
            if authorization is not None and target.scheme == "https":
                proxy_headers = {"Proxy-Authorization": authorization}  # on the CONNECT only
            elif authorization is not None:  # a forwarded request carries it; the proxy strips it
                headers = {**headers, "Proxy-Authorization": authorization}
        try:
            async with session.request(
                method,
                target,
                headers=headers,
                data=content,
                allow_redirects=False,
                timeout=client_timeout,
                proxy=proxy,
                proxy_headers=proxy_headers,
            ) as response:
                declared = response.content_length
                if declared is not None and declared > limit:
                    response.close()  # discard the connection, never read the body
                    raise _too_large(method, url, response.status, b"", limit)
                received = response.headers
                if (
                    declared is not None
                    and "Content-Encoding" not in received  # else it may inflate past the limit
                    and "Transfer-Encoding" not in received
                ):
                    # Exactly the declared bytes arrive, and they fit: read them at once.
                    body = await response.read()
                    return RawResponse(response.status, received, body, method=method, url=url)
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
        except (_aiohttp().ClientError, asyncio.TimeoutError) as exc:  # evaluated on error only
            raise map_aiohttp_error(exc, method, url) from exc

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    def __del__(self) -> None:
        # A client dropped without aclose() (a notebook cell run again): close its pool now, so
        # its sockets are freed and aiohttp does not report an "Unclosed client session".
        # Synchronous on purpose: no event loop call can be awaited from a finaliser.
        session = self._session
        if session is None or session.closed:
            return
        connector = session.connector
        try:
            if connector is not None:
                connector._close(abort_ssl=True)  # aborts every pooled and in-use connection
        except Exception:  # the loop may be closed already: nothing left to free
            pass
        session._connector = None  # the session now counts as closed


class HttpxSender:
    """Requests through an ``httpx.AsyncClient`` (injected by the caller, or made for them)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        owned: bool,
        max_response_bytes: int = _constants.MAX_RESPONSE_BYTES,
        shield_free: bool = False,
    ) -> None:
        self.client = client
        self.owned = owned
        self.max_response_bytes = max_response_bytes
        # The client's transport (made for this sender) holds no anyio shield, so a call's
        # deadline may cancel it natively (RequestLoop). httpx's own pool does shield.
        self.shield_free = shield_free

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
            raise ClientClosedError(
                "this client is closed; create a new one"
                if self.owned
                else "the http_client given to this client is closed"
            )
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
