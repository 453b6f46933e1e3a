"""HTTP/1.1 on asyncio's own transports, parsed by httptools: the default sender under asyncio.

Core layer, chosen by measurement (issue 13; bench/send.py, figures in bench/README.md). At 64
calls in flight against a loopback server that answers at once, aiohttp's ``ClientSession``
spends ~100 us of CPU per request (URL and header objects, a ``ClientRequest``, a
``ClientResponse``, its stream reader, trace hooks and timers), more than the whole rest of an
SDK call. The SDK needs a small part of that: a request written as bytes, an answer parsed by
llhttp (the parser of Node.js, through httptools, which uvicorn uses too), a pool of kept-alive
connections. The same loop runs at ~25 us per request here. Parsing, the part that is easy to
get wrong, is left to the library; this module writes requests and keeps connections.

What it does, as the aiohttp sender does:

- one pool per client; at most ``max_connections`` connections in use, idle ones kept
  ``KEEPALIVE_SECONDS`` and reused newest first; a connection that was not read to its end, or
  whose answer said ``Connection: close``, is closed, never reused;
- ``connect`` bounds the TCP and TLS handshake, ``read`` each wait for data, ``write`` a body the
  socket will not take, ``pool`` a wait for a free connection (the limiter above queues callers,
  so it is rarely reached);
- never a redirect, never an implicit resend: the request loop decides retries;
- answers past ``max_response_bytes`` (declared, received or inflated) and header sections past
  ``MAX_RESPONSE_HEADER_BYTES`` are refused and their connection discarded;
- gzip and deflate answers are inflated (it asks for them, as aiohttp does);
- errors are httpx's, and say honestly whether the request may have been sent: only failures
  while connecting are "not sent".

Proxies are not spoken here: a client with a proxy configured uses the aiohttp sender.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx
from multidict import CIMultiDict, CIMultiDictProxy

from clicksend_async import _constants
from clicksend_async._transport import (
    BodyTooLarge,
    CertificateError,
    RawResponse,
    _certificate_refused,
    _system_context,
    _target_url,
    _too_large,
    ssl_context,
)
from clicksend_async._types import NOT_GIVEN, NotGiven, TimeoutArg
from clicksend_async.errors import ClientClosedError, redact

if TYPE_CHECKING:
    import yarl

_Key = tuple[str, str, int]  # scheme, host, port
_UNSAFE = frozenset("\r\n\x00")  # never in a request line or header: it would end the line
_DEFAULT_PORTS = {"http": 80, "https": 443}


def available() -> bool:
    """Whether httptools can be imported (a platform without its wheel uses aiohttp)."""
    try:
        import httptools  # noqa: F401
    except ImportError:  # pragma: no cover - every supported platform has a wheel
        return False
    return True


def _phase_timeouts(
    timeout: TimeoutArg,
) -> tuple[float | None, float | None, float | None, float | None]:
    """connect, read, write, pool seconds (None: unbounded) of a client or call timeout."""
    if timeout is None or isinstance(timeout, (int, float)):
        seconds = None if timeout is None else float(timeout)
        return seconds, seconds, seconds, seconds
    return timeout.connect, timeout.read, timeout.write, timeout.pool


class _Answer:
    """What one response gathered while it was parsed."""

    __slots__ = ("chunks", "field_bytes", "framed", "head_bytes", "headers", "size", "status")

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_bytes = 0  # received before the headers ended (interim answers included)
        self.field_bytes = 0  # of the headers parsed (they may end in the chunk that holds them)
        self.chunks: list[bytes] = []
        self.size = 0
        self.framed = False  # Content-Length or chunked: the end is known without EOF


class _Connection(asyncio.Protocol):
    """One kept-alive connection: httptools feeds the callbacks below, which fill ``answer`` and
    settle ``waiter`` (an answer, or the exception that ends it)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, key: _Key) -> None:
        import httptools

        self.loop = loop
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.parser_error = httptools.HttpParserError
        self.answer = _Answer()
        self.waiter: asyncio.Future[_Answer] | None = None
        self.limit = 0
        self.no_body = False  # HEAD: the headers end the answer
        self.headers_done = False
        self.settled = False  # the waiter has its answer: nothing more may touch it
        self.lost = False
        self.reusable = False
        self.last_data = 0.0
        self.idle_since = 0.0
        self.drained: asyncio.Future[None] | None = None
        self.paused = False

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.last_data = self.loop.time()
        if self.waiter is None or self.waiter.done():
            self.lost = True  # bytes nobody asked for: this connection cannot be trusted again
            self.abort()
            return
        try:
            self.parser.feed_data(data)
        except self.parser_error as exc:
            # httptools wraps what a callback raised: a refusal of ours, or a bug
            refused = exc.__context__
            if isinstance(refused, _Refused):
                self._fail(refused.error)
            else:
                self._fail(httpx.RemoteProtocolError(f"invalid HTTP answer: {exc}"))
            return
        if not self.headers_done:
            # Every byte so far belongs to the status line and headers, which httptools holds
            # until a line ends: bound them here, or one endless line would grow without end.
            answer = self.answer
            answer.head_bytes += len(data)
            if answer.head_bytes > _constants.MAX_RESPONSE_HEADER_BYTES:
                self._fail(_too_many_header_bytes())

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self.headers_done and not self.answer.framed and not self.no_body:
            self.reusable = False
            waiter.set_result(self.answer)  # no length, not chunked: the answer ends at EOF
            return
        said = "before answering" if not self.headers_done else "in the middle of its answer"
        reason = f": {exc}" if exc else ""
        waiter.set_exception(httpx.RemoteProtocolError(f"the server disconnected {said}{reason}"))

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    # -- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.settled:  # a second answer in the same bytes: nobody asked for it
            raise _Refused(_unsolicited())

    def on_header(self, name: bytes, value: bytes) -> None:
        answer = self.answer
        answer.headers.append((name, value))
        answer.field_bytes += len(name) + len(value)
        if answer.field_bytes > _constants.MAX_RESPONSE_HEADER_BYTES:
            raise _Refused(_too_many_header_bytes())

    def on_headers_complete(self) -> None:
        answer = self.answer
        answer.status = status = self.parser.get_status_code()
        if 100 <= status < 200:
            if status == 101:
                raise _Refused(httpx.RemoteProtocolError("the server switched protocols"))
            answer.headers = []  # an interim answer (100 Continue): the real one follows
            return
        self.headers_done = True
        for name, value in answer.headers:
            lowered = name.lower()
            if lowered == b"content-length":
                answer.framed = True
                declared = int(value) if value.strip().isdigit() else -1
                if declared > self.limit:
                    raise _Refused(_Limit(status, b""))
            elif lowered == b"transfer-encoding":
                answer.framed = True
        if self.no_body:
            self.reusable = False  # the parser still expects the body a HEAD answer omits
            self._settle()

    def on_body(self, body: bytes) -> None:
        if self.settled:  # a body after a HEAD answer, which has none
            raise _Refused(_unsolicited())
        answer = self.answer
        answer.size += len(body)
        answer.chunks.append(body)
        if answer.size > self.limit:
            raise _Refused(_Limit(answer.status, answer.chunks[0]))

    def on_message_complete(self) -> None:
        if not self.headers_done:
            return  # the end of an interim answer
        self.reusable = self.parser.should_keep_alive()
        self._settle()

    # -- helpers ----------------------------------------------------------------------------

    def _settle(self) -> None:
        self.settled = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(self.answer)

    def _fail(self, error: BaseException) -> None:
        self.reusable = False
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self.abort()

    def begin(self, limit: int, no_body: bool) -> asyncio.Future[_Answer]:
        self.answer = _Answer()
        self.limit = limit
        self.no_body = no_body
        self.headers_done = False
        self.settled = False
        self.reusable = False
        self.waiter = waiter = self.loop.create_future()
        return waiter

    def discard(self) -> None:
        """Close it for good, its answer abandoned (nobody will await the waiter again)."""
        waiter = self.waiter
        if waiter is not None:
            if not waiter.done():
                waiter.cancel()
            elif not waiter.cancelled():
                waiter.exception()  # its failure lost the race with a cancel: seen, not logged
        self.abort()

    def abort(self) -> None:
        self.reusable = False
        self.lost = True
        if self.transport is not None:
            self.transport.abort()


def _unsolicited() -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError("the server sent bytes after its answer")


def _too_many_header_bytes() -> httpx.RemoteProtocolError:
    limit = _constants.MAX_RESPONSE_HEADER_BYTES
    return httpx.RemoteProtocolError(f"the answer's headers are larger than {limit:,} bytes")


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; ``error`` is what the caller gets."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _Limit(Exception):
    """The body is larger than the limit: the sender turns it into ``BodyTooLarge``."""

    def __init__(self, status: int, prefix: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.prefix = prefix


class _Target:
    """A request URL split once: where to connect, and the head of the request's first lines."""

    __slots__ = ("host", "key", "port", "scheme", "server_hostname", "start")

    def __init__(self, url: yarl.URL) -> None:
        scheme = url.scheme
        host = url.raw_host or ""
        port = url.port or _DEFAULT_PORTS.get(scheme, 0)
        self.scheme = scheme
        self.host = host
        self.port = port
        self.key: _Key = (scheme, host, port)
        self.server_hostname = host
        shown = f"[{host}]" if ":" in host else host
        if port != _DEFAULT_PORTS.get(scheme):
            shown = f"{shown}:{port}"
        self.start = shown  # the Host header


class WireSender:
    """Requests over this module's pool (see the module docstring). Made on first use inside the
    running event loop, never at construction."""

    def __init__(
        self,
        *,
        timeout: TimeoutArg,
        max_connections: int | None,
        max_response_bytes: int = _constants.MAX_RESPONSE_BYTES,
        trust_env: bool = True,
    ) -> None:
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.trust_env = trust_env
        self._phases = _phase_timeouts(timeout)
        self._max_connections = max_connections or 0  # 0: unbounded
        self._idle: dict[_Key, list[_Connection]] = {}
        self._in_use: set[_Connection] = set()
        self._slots_taken = 0
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._targets: dict[str, _Target] = {}
        self._ssl: ssl.SSLContext | None = None
        self._closed = False

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def connections_in_use(self) -> int:
        """Connections checked out of the pool right now (a leak check)."""
        return len(self._in_use)

    @property
    def idle_connections(self) -> int:
        return sum(len(idle) for idle in self._idle.values())

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
        if self._closed:
            raise ClientClosedError("this client is closed; create a new one")
        connect, read, write, pool = (
            self._phases if isinstance(timeout, NotGiven) else _phase_timeouts(timeout)
        )
        parsed = _target_url(url)
        if params:
            parsed = parsed.with_query(params)
        target = self._targets.get(url)
        if target is None:
            if parsed.scheme not in _DEFAULT_PORTS or not parsed.raw_host:
                raise httpx.UnsupportedProtocol(
                    f"cannot send to {redact(url)!r}: only http:// and https:// URLs",
                    request=httpx.Request(method, url),
                )
            if len(self._targets) >= _constants.URL_CACHE_SIZE:
                self._targets.clear()
            target = self._targets[url] = _Target(parsed)
        head = _request_head(method, parsed.raw_path_qs or "/", target.start, headers, content)
        if head is None:
            raise httpx.UnsupportedProtocol(
                "refused to send a request line or header containing a line break or NUL",
                request=httpx.Request(method, url),
            )
        loop = asyncio.get_running_loop()
        connection = self._reuse(loop, target.key)
        if connection is None:
            connection = await self._acquire(loop, target, connect, pool, method, url)
        timer: asyncio.TimerHandle | None = None
        try:
            waiter = connection.begin(self.max_response_bytes, method == "HEAD")
            transport = connection.transport
            assert transport is not None
            transport.write(head if content is None else head + content)
            if connection.paused:
                await self._drained(connection, write, method, url)
            if read is not None:
                connection.last_data = started = loop.time()
                timer = loop.call_at(started + read, _check_read, connection, waiter, read)
            answer = await waiter
        except BaseException as exc:
            connection.discard()  # never reused: its answer was not read to the end
            self._release(connection)
            if isinstance(exc, _Limit):
                limit = self.max_response_bytes
                raise _too_large(method, url, exc.status, exc.prefix, limit) from None
            if isinstance(exc, httpx.TransportError):
                exc.request = httpx.Request(method, url)
            raise
        finally:
            if timer is not None:
                timer.cancel()
        self._release(connection)
        body = b"".join(answer.chunks) if len(answer.chunks) != 1 else answer.chunks[0]
        received = CIMultiDictProxy(
            CIMultiDict(
                (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
                for name, value in answer.headers
            )
        )
        encoding = received.get("Content-Encoding", "").strip().lower()
        if encoding and encoding != "identity" and body:
            body = _inflate(body, encoding, self.max_response_bytes, answer.status, method, url)
        return RawResponse(answer.status, received, body, method=method, url=url)

    async def _drained(
        self, connection: _Connection, write: float | None, method: str, url: str
    ) -> None:
        """Wait until the socket took the body (it paused writing), at most ``write`` seconds."""
        drained = connection.loop.create_future()
        connection.drained = drained
        try:
            await asyncio.wait_for(drained, write)
        except asyncio.TimeoutError:
            raise httpx.WriteTimeout(
                "the server did not take the request body in time",
                request=httpx.Request(method, url),
            ) from None
        finally:
            connection.drained = None

    # -- the pool ---------------------------------------------------------------------------

    def _reuse(self, loop: asyncio.AbstractEventLoop, key: _Key) -> _Connection | None:
        """An idle connection to ``key`` with a free slot, taken without waiting; else None."""
        idle = self._idle.get(key)
        if not idle:
            return None
        limit = self._max_connections
        if limit and (self._slots_taken >= limit or self._slot_waiters):
            return None
        connection = self._pop_idle(loop, idle)
        if connection is not None:
            self._slots_taken += 1
            self._in_use.add(connection)
        return connection

    def _pop_idle(
        self, loop: asyncio.AbstractEventLoop, idle: list[_Connection]
    ) -> _Connection | None:
        """The newest idle connection still fit to use; the unfit ones met on the way closed."""
        now = loop.time()
        while idle:
            connection = idle.pop()
            transport = connection.transport
            if (
                connection.lost
                or transport is None
                or transport.is_closing()
                or now - connection.idle_since > _constants.KEEPALIVE_SECONDS
            ):
                connection.abort()
                continue
            return connection
        return None

    async def _acquire(
        self,
        loop: asyncio.AbstractEventLoop,
        target: _Target,
        connect: float | None,
        pool: float | None,
        method: str,
        url: str,
    ) -> _Connection:
        await self._take_slot(pool, method, url)
        try:
            if self._closed:  # closed while this call waited for a slot: send nothing more
                raise ClientClosedError("this client is closed; create a new one")
            idle = self._idle.get(target.key)
            reused = self._pop_idle(loop, idle) if idle else None
            if reused is not None:
                self._in_use.add(reused)
                return reused
            connection = await self._connect(loop, target, connect, method, url)
            if self._closed:  # closed while connecting
                connection.abort()
                raise ClientClosedError("this client is closed; create a new one")
        except BaseException:
            self._give_slot()
            raise
        self._in_use.add(connection)
        return connection

    async def _connect(
        self,
        loop: asyncio.AbstractEventLoop,
        target: _Target,
        connect: float | None,
        method: str,
        url: str,
    ) -> _Connection:
        context: ssl.SSLContext | None = None
        if target.scheme == "https":
            context = self._ssl
            if context is None:
                chosen = ssl_context(self.trust_env)
                context = self._ssl = _system_context() if chosen is True else chosen  # type: ignore[assignment]
        request = httpx.Request(method, url)
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(loop, target.key),
                    target.host,
                    target.port,
                    ssl=context,
                    server_hostname=target.server_hostname if context is not None else None,
                ),
                connect,
            )
        except asyncio.TimeoutError:
            raise httpx.ConnectTimeout(
                f"connecting to {target.start} took longer than {connect} s", request=request
            ) from None
        except (OSError, ssl.SSLError) as exc:
            message = redact(f"cannot connect to {target.start}: {type(exc).__name__}: {exc}")
            if _certificate_refused(exc):
                raise CertificateError(
                    f"TLS certificate verification failed: {message}", request=request
                ) from exc
            raise httpx.ConnectError(message, request=request) from exc
        return protocol

    async def _take_slot(self, pool: float | None, method: str, url: str) -> None:
        limit = self._max_connections
        if not limit or (self._slots_taken < limit and not self._slot_waiters):
            self._slots_taken += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._slot_waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, pool)
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self._give_slot()  # handed over as this wait ended: pass it on
            else:
                waiter.cancel()
            if isinstance(exc, asyncio.TimeoutError):
                raise httpx.PoolTimeout(
                    f"no free connection within {pool} s", request=httpx.Request(method, url)
                ) from None
            raise
        # the slot was handed over by _give_slot: _slots_taken already counts it

    def _give_slot(self) -> None:
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to this waiter
                return
        self._slots_taken -= 1

    def _release(self, connection: _Connection) -> None:
        self._in_use.discard(connection)
        if connection.reusable and not connection.lost and not self._closed:
            connection.waiter = None
            connection.idle_since = connection.loop.time()
            idle = self._idle.setdefault(connection.key, [])
            idle.append(connection)
            limit = self._max_connections
            if limit and len(idle) > limit:
                idle.pop(0).abort()
        else:
            connection.abort()
        self._give_slot()

    async def aclose(self) -> None:
        self._closed = True
        self._abort_all()
        await asyncio.sleep(0)  # let the transports run their connection_lost

    def _abort_all(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.abort()
        self._idle.clear()
        for connection in list(self._in_use):
            connection.abort()

    def __del__(self) -> None:
        # A client dropped without aclose() (a notebook cell run again): free its sockets now.
        # Synchronous on purpose: no event loop call can be awaited from a finaliser.
        try:
            self._abort_all()
        except Exception:  # the loop may be closed already: nothing left to free
            pass


def _check_read(connection: _Connection, waiter: asyncio.Future[_Answer], read: float) -> None:
    """The read timer: fails the answer when no byte arrived for ``read`` seconds, else waits
    again from the last byte (one timer per request, not one per chunk)."""
    if waiter.done():
        return
    due = connection.last_data + read
    if connection.loop.time() >= due:
        connection._fail(httpx.ReadTimeout(f"no data from the server for {read} s"))
        return
    connection.loop.call_at(due, _check_read, connection, waiter, read)


def _request_head(
    method: str,
    target: str,
    host: str,
    headers: Mapping[str, str],
    content: bytes | None,
) -> bytes | None:
    """The request line and headers as bytes; None when any of them holds a line break or NUL
    (the client refuses such headers already, naming them: this is the last line of defence)."""
    probe = method + target + "".join(headers) + "".join(headers.values())
    if not _UNSAFE.isdisjoint(probe) or " " in method or " " in target:
        return None
    lines = [f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n"]
    seen_accept = seen_encoding = False
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "host" or lowered == "content-length" or lowered == "transfer-encoding":
            continue  # framing is this sender's to write
        if lowered == "accept":
            seen_accept = True
        elif lowered == "accept-encoding":
            seen_encoding = True
        lines.append(f"{name}: {value}\r\n")
    if not seen_accept:
        lines.append("Accept: */*\r\n")
    if not seen_encoding:
        lines.append("Accept-Encoding: gzip, deflate\r\n")
    if content is not None:
        lines.append(f"Content-Length: {len(content)}\r\n")
    elif method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Length: 0\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8", "surrogateescape")


def _inflate(body: bytes, encoding: str, limit: int, status: int, method: str, url: str) -> bytes:
    """A gzip or deflate body inflated, never past ``limit`` bytes."""
    if encoding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        wbits = zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS  # zlib or raw
    else:
        raise httpx.ReadError(  # as aiohttp's payload error maps: read, maybe processed
            f"the answer is encoded as {encoding!r}, which this client did not ask for",
            request=httpx.Request(method, url),
        )
    inflater = zlib.decompressobj(wbits)
    try:
        inflated = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise httpx.ReadError(
            f"the {encoding} answer cannot be inflated: {exc}", request=httpx.Request(method, url)
        ) from None
    if len(inflated) > limit:
        raise _too_large(method, url, status, inflated, limit)
    return inflated


__all__ = ["BodyTooLarge", "WireSender", "available"]
