"""The base client: one request loop (limiter + sender + retry policy) shared by both clients.

One logical request = attempts through the client's limiter and sender, with the retry policy of
``_retry``: failures that provably happened before the request was written and 429s are retried
for every call; 5xx, read timeouts, dropped connections and undecodable bodies only for idempotent
calls, otherwise they raise with ``outcome_unknown``. What a 2xx means is the API's business:
``interpret`` turns it into a result, raises a typed error, or raises :class:`RetryLater` for a
retryable API error.

Core layer: it knows no API and no feature. :class:`ClientBase` assembles sender, limiter and
loop once for every client (``transport=`` an httpx transport, ``http_client=`` an injected
``httpx.AsyncClient``, else the default sender: aiohttp under asyncio, httpx under trio) and gives
them ``async with``/``aclose``/``with_options``. Every attempt is logged (``_observe``) and shown
to the event hooks.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import sys
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import anyio
import httpx
import sniffio

from clicksend_async import _constants, _retry, errors
from clicksend_async._observe import (
    EventHooks,
    Hooks,
    RequestEvent,
    ResponseEvent,
    configure_logging_from_env,
    emit,
    logger,
    visible_headers,
)
from clicksend_async._rate_backend import RateBackendFactory, current_time, plain_asyncio_loop
from clicksend_async._ratelimit import RateLimiter
from clicksend_async._sender import DefaultSender
from clicksend_async._transport import (
    NOT_RETRYABLE,
    AiohttpSender,
    BodyTooLarge,
    HttpxSender,
    RawResponse,
    classify_transport_error,
)
from clicksend_async._types import NOT_GIVEN, NotGiven, TimeoutArg, total_seconds
from clicksend_async.errors import redact

T = TypeVar("T")
ClientT = TypeVar("ClientT", bound="ClientBase")
Sender = AiohttpSender | HttpxSender | DefaultSender
_AIOHTTP_SENDERS = (DefaultSender, AiohttpSender)  # (bound now: tests replace the names)

Headers = Mapping[str, str] | Callable[[], Awaitable[Mapping[str, str]]]
ErrorFactory = Callable[[RawResponse, int, float | None, bool], Exception]


class RetryLater(Exception):
    """Raised by an ``interpret`` hook: the API said "try again later" inside a 2xx answer."""

    def __init__(self, error: Exception, delay: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error  # raised as is once the retries are used up
        self.delay = delay


class LoopPin:
    """The event loop (asyncio) or run (trio) a connection pool belongs to: the first one that
    used it. Shared by a client and the clients ``with_options`` derives from it."""

    __slots__ = ("_ref",)

    def __init__(self) -> None:
        self._ref: weakref.ReferenceType[Any] | None = None

    def check(self, client_name: str) -> asyncio.AbstractEventLoop | None:
        """Refuse another loop than the first one; the loop when running on plain asyncio."""
        loop = plain_asyncio_loop()
        current: Any
        if loop is not None:
            ref = self._ref
            if ref is not None and ref() is loop:
                return loop  # the common case: the loop of the first call
            current = loop
        else:
            try:
                library = sniffio.current_async_library()
            except sniffio.AsyncLibraryNotFoundError:
                return None  # not inside an event loop: the call will fail on its own terms
            if library == "asyncio":
                current = asyncio.get_running_loop()
            elif library == "trio":
                import trio  # only ever reached under trio, so it is installed

                current = trio.lowlevel.current_trio_token()
            else:
                return None
        if self._ref is None:
            self._ref = weakref.ref(current)
        elif self._ref() is not current:
            raise errors.EventLoopError(
                f"this {client_name} was first used on another event loop; its connections "
                "belong to that loop. Create one client per event loop (e.g. per asyncio.run)."
            )
        return loop


class RequestLoop:
    """Limiter + sender + retry policy of one client, bound to the first event loop it runs on."""

    def __init__(
        self,
        sender: Sender,
        limiter: RateLimiter,
        *,
        max_retries: int,
        max_retry_after: float,
        client_name: str,
        timeout: TimeoutArg = _constants.DEFAULT_TIMEOUT,
        hooks: Hooks | None = None,
        pin: LoopPin | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        if max_retry_after < 0:
            raise ValueError(f"max_retry_after must be >= 0, got {max_retry_after}")
        self.sender = sender
        self.limiter = limiter
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.timeout = timeout  # the default of every call: its phases and its total deadline
        self.hooks = hooks or Hooks()
        self.closed = False  # this client's aclose(); the sender may be shared and stay open
        self._client_name = client_name
        self._pin = pin or LoopPin()
        # Under asyncio the total deadline can be a plain asyncio timer, cheaper than an anyio
        # cancel scope, when nothing inside a call can hold an anyio shield that should defer
        # it: aiohttp (not httpx/httpcore, which shield their cleanup) or an httpx transport
        # that declares it holds none (``shield_free``, e.g. the sandbox's in-process one), the
        # in-memory limiter (a shared backend shields its publishing) and no hooks (the
        # caller's code). (Task.uncancel() needs Python 3.11: checked where the timer is set.)
        self._native_deadline = (
            (isinstance(sender, _AIOHTTP_SENDERS) or getattr(sender, "shield_free", False))
            and not limiter.shared
            and not self.hooks.request
            and not self.hooks.response
        )

    def derive(
        self,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        max_retry_after: float | NotGiven = NOT_GIVEN,
        hooks: Hooks | NotGiven = NOT_GIVEN,
    ) -> RequestLoop:
        """Another policy over the same sender, limiter and loop binding (``with_options``)."""
        return RequestLoop(
            self.sender,
            self.limiter,
            max_retries=self.max_retries if isinstance(max_retries, NotGiven) else max_retries,
            max_retry_after=(
                self.max_retry_after if isinstance(max_retry_after, NotGiven) else max_retry_after
            ),
            client_name=self._client_name,
            timeout=self.timeout if isinstance(timeout, NotGiven) else timeout,
            hooks=self.hooks if isinstance(hooks, NotGiven) else hooks,
            pin=self._pin,
        )

    @property
    def is_closed(self) -> bool:
        return self.closed or self.sender.is_closed

    def check_event_loop(self) -> asyncio.AbstractEventLoop | None:
        """Refuse a second event loop; the loop when the call runs on plain asyncio."""
        return self._pin.check(self._client_name)

    def check_open(self) -> None:
        if self.closed:
            raise errors.ClientClosedError(
                f"this {self._client_name} is closed (aclose() was called); create a new one"
            )
        if self.sender.is_closed:
            owner = "the http_client it was given" if _injected(self.sender) else "its pool"
            raise errors.ClientClosedError(
                f"this {self._client_name} is closed ({owner} was closed); create a new one"
            )

    async def run(
        self,
        *,
        method: str,
        url: str,
        path: str,
        params: Mapping[str, Any] | None,
        headers: Headers,
        content: bytes | None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        idempotent: bool,
        references: Sequence[str] = (),
        interpret: Callable[[RawResponse], T],
        status_error: ErrorFactory,
    ) -> tuple[T, RawResponse, int]:
        """Send until success or a final failure; returns (result, response, attempts).

        The whole call, queueing in the limiter included, ends by the ``total`` of its timeout
        with ``errors.TimeoutError`` (``outcome_unknown`` when a send may have been written).
        """
        self.check_open()
        loop = self.check_event_loop()
        effective = self.timeout if isinstance(timeout, NotGiven) else timeout
        total = total_seconds(effective)
        attempt = _Attempt()
        if total is None:
            return await self._attempts(
                attempt, method, url, path, params, headers, content, timeout, max_retries,
                idempotent, references, interpret, status_error, deadline=None,
            )  # fmt: skip
        deadline = current_time() + total
        task = asyncio.current_task() if loop is not None and self._native_deadline else None
        if sys.version_info >= (3, 11) and task is not None and isinstance(headers, Mapping):
            # asyncio.timeout_at(deadline), with one timer handle and none of its bookkeeping
            # (it costs several times as much): the deadline cancels the task once, and the
            # cancellation it caused (and only that one) is taken back and becomes the error.
            cancelling = task.cancelling()
            timer = loop.call_at(deadline, _expire, task, attempt)  # the clock: loop.time()
            try:
                result = await self._attempts(
                    attempt, method, url, path, params, headers, content, timeout, max_retries,
                    idempotent, references, interpret, status_error, deadline=deadline,
                )  # fmt: skip
            except asyncio.CancelledError:
                timer.cancel()
                if not attempt.expired or task.uncancel() > cancelling:
                    raise  # someone else's cancellation
            except BaseException:
                timer.cancel()
                if attempt.expired:
                    task.uncancel()  # the cancellation it caused was absorbed on the way
                raise
            else:
                timer.cancel()
                if attempt.expired:
                    task.uncancel()
                return result
        else:
            with anyio.CancelScope(deadline=deadline) as scope:
                return await self._attempts(
                    attempt, method, url, path, params, headers, content, timeout, max_retries,
                    idempotent, references, interpret, status_error, deadline=deadline,
                )  # fmt: skip
            assert scope.cancelled_caught
        maybe_sent = attempt.maybe_sent and not idempotent
        logger.info("%s %s: gave up at the call's %.3g s deadline", method, path, total)
        raise errors.TimeoutError(
            f"no complete answer within the call's total timeout of {total:g} s "
            f"({attempt.number} attempt(s))",
            method=method,
            path=path,
            outcome_unknown=maybe_sent,
            references=references,
        )

    async def _attempts(
        self,
        attempt: _Attempt,
        method: str,
        url: str,
        path: str,
        params: Mapping[str, Any] | None,
        headers: Headers,
        content: bytes | None,
        timeout: TimeoutArg | NotGiven,
        max_retries: int | NotGiven,
        idempotent: bool,
        references: Sequence[str],
        interpret: Callable[[RawResponse], T],
        status_error: ErrorFactory,
        *,
        deadline: float | None,
    ) -> tuple[T, RawResponse, int]:
        retries = self.max_retries if isinstance(max_retries, NotGiven) else max_retries
        send = self.sender.send
        limiter = self.limiter
        shared = limiter.shared
        hooks = self.hooks
        failures = 0  # attempts that count against max_retries (429s count against the clock)
        while True:
            attempt.number += 1
            retries_left = failures < retries
            header_values = headers if isinstance(headers, Mapping) else await headers()
            started = time.monotonic()
            try:
                # limiter.slot(), without its coroutines when no wait is needed
                probe = False if limiter.try_slot() else await limiter.acquire_slot()
                try:
                    if hooks.request:
                        await emit(
                            "request",
                            hooks.request,
                            RequestEvent(
                                method, path, attempt.number, visible_headers(header_values)
                            ),
                        )
                    attempt.maybe_sent = True
                    started = time.monotonic()
                    response = await send(
                        method,
                        url,
                        params=params,
                        headers=header_values,
                        content=content,
                        timeout=timeout,
                    )
                    if shared:
                        await limiter.aobserve(response.status, response.headers)
                    else:
                        limiter.observe(response.status, response.headers)  # the same, in memory
                finally:
                    limiter.release_slot(probe)
            except httpx.TransportError as exc:
                maybe_sent = classify_transport_error(exc)
                attempt.maybe_sent = maybe_sent
                if hooks.response:
                    await emit(
                        "response",
                        hooks.response,
                        ResponseEvent(
                            method, path, attempt.number, None, time.monotonic() - started, {},
                            error=redact(f"{type(exc).__name__}: {exc}"),
                        ),
                    )  # fmt: skip
                final = isinstance(exc, NOT_RETRYABLE)  # certificate refused, body too large
                if not final and (not maybe_sent or idempotent) and retries_left:
                    failures += 1
                    delay = _retry.backoff_delay(failures)
                    logger.info(
                        "%s %s: attempt %d: %s, retry %d in %.2f s", method, path,
                        attempt.number, type(exc).__name__, failures, delay,
                    )  # fmt: skip
                    await anyio.sleep(delay)
                    continue
                logger.info(
                    "%s %s: attempt %d: %s (%s)", method, path, attempt.number,
                    type(exc).__name__, _why_final(final, maybe_sent, idempotent),
                )  # fmt: skip
                raise transport_error(
                    exc,
                    method,
                    path,
                    outcome_unknown=maybe_sent and not idempotent,
                    references=references,
                ) from exc
            attempt.maybe_sent = False  # an answer arrived: what it means is decided below
            status = response.status
            elapsed = time.monotonic() - started
            if hooks.response:
                await emit(
                    "response",
                    hooks.response,
                    ResponseEvent(
                        method, path, attempt.number, status, elapsed,
                        visible_headers(response.headers),
                    ),
                )  # fmt: skip
            logger.debug(
                "%s %s -> %s in %.1f ms (attempt %d)",
                method, path, status, elapsed * 1000, attempt.number,
            )  # fmt: skip
            if status in _constants.RETRYABLE_STATUS:
                retry_after = _retry.parse_retry_after(response.headers.get("retry-after"))
                if status == 429:
                    # A 429 proves the request was not processed: retrying is always safe, and
                    # bounded by the call's deadline rather than by max_retries.
                    wait = retry_after if retry_after is not None else _retry.backoff_delay(1)
                    # One 429 pauses every task of this client (and every client sharing its
                    # limiter backend), not only the one that saw it.
                    await limiter.apause(min(wait, self.max_retry_after))
                    in_time = retries_left if deadline is None else current_time() + wait < deadline
                    if in_time and wait <= self.max_retry_after:
                        logger.info(
                            "%s %s: attempt %d: 429, client paused %.2f s%s", method, path,
                            attempt.number, wait,
                            "" if retry_after is None else " (Retry-After)",
                        )  # fmt: skip
                        continue  # the limiter's pause is the wait
                    logger.info(
                        "%s %s: attempt %d: 429, a %.2f s wait %s: raised", method, path,
                        attempt.number, wait,
                        "passes the call's deadline" if wait <= self.max_retry_after
                        else f"exceeds max_retry_after={self.max_retry_after:g} s",
                    )  # fmt: skip
                    raise status_error(response, status, retry_after, False)
                if idempotent and retries_left:
                    failures += 1
                    delay = _retry.backoff_delay(failures) if retry_after is None else retry_after
                    if delay <= self.max_retry_after:
                        logger.info(
                            "%s %s: attempt %d: HTTP %d, retry %d in %.2f s", method, path,
                            attempt.number, status, failures, delay,
                        )  # fmt: skip
                        await anyio.sleep(delay)
                        continue
                # A 5xx may have been processed: for a send, nobody can tell.
                logger.info(
                    "%s %s: attempt %d: HTTP %d (%s)", method, path, attempt.number, status,
                    _why_final(False, True, idempotent),
                )  # fmt: skip
                raise status_error(response, status, retry_after, not idempotent)
            if 300 <= status < 400:
                # Redirects are never followed (they could carry credentials elsewhere), and
                # following one later would not make it succeed: raise at once.
                raise status_error(response, status, None, False)
            if status >= 400:
                raise status_error(response, status, None, False)
            try:
                return interpret(response), response, attempt.number
            except RetryLater as later:
                if not (idempotent and retries_left):
                    raise later.error from None
                failures += 1
                delay = later.delay if later.delay is not None else _retry.backoff_delay(failures)
                logger.info(
                    "%s %s: attempt %d: %s, retry %d in %.2f s", method, path, attempt.number,
                    type(later.error).__name__, failures, delay,
                )  # fmt: skip
                await anyio.sleep(delay)
            except errors.ResponseDecodeError as exc:
                # A truncated or garbled body: repeating a read is safe, a send is not.
                if not (idempotent and retries_left):
                    logger.info(
                        "%s %s: attempt %d: %s (%s)", method, path, attempt.number,
                        type(exc).__name__, _why_final(False, True, idempotent),
                    )  # fmt: skip
                    raise
                failures += 1
                delay = _retry.backoff_delay(failures)
                logger.info(
                    "%s %s: attempt %d: %s, retry %d in %.2f s", method, path, attempt.number,
                    type(exc).__name__, failures, delay,
                )  # fmt: skip
                await anyio.sleep(delay)


def _why_final(final: bool, maybe_sent: bool, idempotent: bool) -> str:
    """Why a failure is raised rather than retried, for the log line."""
    if final:
        return "not retryable"
    if maybe_sent and not idempotent:
        return "not retried: the request may have been processed"
    return "retries used up"


def _injected(sender: Sender) -> bool:
    return isinstance(sender, HttpxSender) and not sender.owned


class _Attempt:
    """What the deadline handler needs to know about the attempt in progress."""

    __slots__ = ("expired", "maybe_sent", "number")

    def __init__(self) -> None:
        self.number = 0
        self.maybe_sent = False  # an attempt is between being handed to the sender and its answer
        self.expired = False  # the asyncio deadline timer fired (and cancelled the task)


def _expire(task: asyncio.Task[Any], attempt: _Attempt) -> None:
    attempt.expired = True
    task.cancel()


class ClientBase:
    """What both clients share: building the request loop, ``async with``, ``aclose()``,
    ``with_options()``."""

    _requests: RequestLoop
    _owns_pool: bool

    def _init_requests(
        self,
        *,
        timeout: TimeoutArg,
        max_retries: int,
        max_concurrency: int | None,
        rate_limit: float | None,
        rate_limit_burst: int | None,
        max_retry_after: float,
        transport: httpx.AsyncBaseTransport | None,
        http_client: httpx.AsyncClient | None,
        adaptive_rate_limit: bool = True,
        max_response_bytes: int = _constants.MAX_RESPONSE_BYTES,
        limiter_backend: RateBackendFactory | None = None,
        account: str | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        event_hooks: EventHooks | None = None,
    ) -> None:
        configure_logging_from_env()
        if max_response_bytes < 1:
            raise errors.ClickSendError(
                f"max_response_bytes must be >= 1, got {max_response_bytes}"
            )
        if transport is not None and http_client is not None:
            raise errors.ClickSendError("pass transport= or http_client=, not both")
        if proxy is not None and (transport is not None or http_client is not None):
            # The injected transport or client sends; its own proxy settings are the ones used.
            raise errors.ClickSendError(
                "proxy= applies to the SDK's own sender: with transport= or http_client=, set "
                "the proxy there (e.g. httpx.AsyncClient(proxy=...))"
            )
        hooks = Hooks.from_option(event_hooks)
        sender: Sender
        if http_client is not None:
            # its owner closes it
            sender = HttpxSender(http_client, owned=False, max_response_bytes=max_response_bytes)
        elif transport is not None:
            sender = HttpxSender(
                httpx.AsyncClient(transport=transport, timeout=timeout),
                owned=True,
                max_response_bytes=max_response_bytes,
                shield_free=getattr(transport, "shield_free", False) is True,
            )
        else:
            # The pool is sized to max_concurrency: callers queue in the limiter, not the pool.
            sender = DefaultSender(
                timeout=timeout,
                max_connections=max_concurrency,
                max_response_bytes=max_response_bytes,
                proxy=proxy,
                trust_env=trust_env,
            )
        self._owns_pool = True
        self._requests = RequestLoop(
            sender,
            RateLimiter(
                rate=rate_limit,
                burst=rate_limit_burst if rate_limit is not None else None,
                max_concurrency=max_concurrency,
                adaptive=adaptive_rate_limit,
                backend=limiter_backend,
                account=account,
            ),
            max_retries=max_retries,
            max_retry_after=max_retry_after,
            client_name=type(self).__name__,
            timeout=timeout,
            hooks=hooks,
        )

    def with_options(
        self: ClientT,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        max_retry_after: float | NotGiven = NOT_GIVEN,
        event_hooks: EventHooks | NotGiven | None = NOT_GIVEN,
    ) -> ClientT:
        """A client with other defaults that shares this one's connection pool, rate limiter
        (so both stay within one budget) and event-loop binding.

        Closing the derived client closes only it; closing this one closes the pool for both.
        """
        derived = copy.copy(self)
        for name in _cached_properties(type(self)):
            derived.__dict__.pop(name, None)  # resources bound to this client: rebuilt lazily
        derived._owns_pool = False
        derived._requests = self._requests.derive(
            timeout=timeout,
            max_retries=max_retries,
            max_retry_after=max_retry_after,
            hooks=(
                NOT_GIVEN if isinstance(event_hooks, NotGiven) else Hooks.from_option(event_hooks)
            ),
        )
        return derived

    async def __aenter__(self: ClientT) -> ClientT:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client and its connection pool (a pool shared by ``with_options`` is
        closed by the client that made it; an injected ``http_client`` is left to its owner) and
        the shared limiter's connections. Using a closed client raises
        :class:`~clicksend_async.errors.ClientClosedError`."""
        self._requests.closed = True
        if self._owns_pool:
            try:
                await self._requests.sender.aclose()
            finally:
                await self._requests.limiter.aclose()

    @property
    def is_closed(self) -> bool:
        return self._requests.is_closed

    @property
    def timeout(self) -> TimeoutArg:
        """The default timeout of every call (a call's own ``timeout=`` overrides it)."""
        return self._requests.timeout

    @property
    def max_retries(self) -> int:
        return self._requests.max_retries

    @property
    def limiter(self) -> RateLimiter:
        """The rate limiter shared by every call of this client."""
        return self._requests.limiter

    @property
    def _sender(self) -> Sender:
        return self._requests.sender


def _cached_properties(cls: type[Any]) -> tuple[str, ...]:
    return tuple(
        name
        for klass in cls.__mro__
        for name, value in vars(klass).items()
        if isinstance(value, functools.cached_property)
    )


def transport_error(
    exc: httpx.TransportError,
    method: str,
    path: str,
    *,
    outcome_unknown: bool,
    references: Sequence[str],
) -> errors.TransportError | errors.ResponseTooLargeError:
    if isinstance(exc, BodyTooLarge):
        return errors.ResponseTooLargeError(
            method=method,
            path=path,
            status_code=exc.status,
            content=exc.prefix,
            reason=str(exc),
            outcome_unknown=outcome_unknown,
            references=references,
        )
    timed_out = isinstance(exc, httpx.TimeoutException)
    error_class = errors.TimeoutError if timed_out else errors.ConnectionError
    return error_class(
        f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
        method=method,
        path=path,
        outcome_unknown=outcome_unknown,
        references=references,
    )
