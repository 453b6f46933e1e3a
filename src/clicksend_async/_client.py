"""AsyncClickSend: the ClickSend client's configuration and the call every operation makes."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import Any, Protocol

import httpx

from clicksend_async import _constants, errors
from clicksend_async._base import strict_validation
from clicksend_async._base_client import ClientBase
from clicksend_async._observe import EventHooks
from clicksend_async._operation import Operation, body_references, check_headers, json_body
from clicksend_async._pagination import AsyncPaginator
from clicksend_async._rate_backend import RateBackendFactory
from clicksend_async._response import (
    APIResponse,
    EnvelopeT,
    api_error,
    parse_envelope,
    record_response,
)
from clicksend_async._transport import RawResponse
from clicksend_async._types import NOT_GIVEN, NotGiven, TimeoutArg
from clicksend_async.resources import ResourcesMixin

__all__ = ["DEFAULT_BASE_URL", "AsyncClickSend"]

DEFAULT_BASE_URL = _constants.DEFAULT_BASE_URL
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _Emulator(Protocol):  # clicksend_async.sandbox.Sandbox, without importing the feature
    def client(self, **options: Any) -> AsyncClickSend: ...


def basic_authorization(username: str, api_key: str) -> str:
    """The ``Authorization`` header value, computed once per client rather than per request."""
    token = base64.b64encode(f"{username}:{api_key}".encode()).decode("ascii")
    return f"Basic {token}"


class AsyncClickSend(ClientBase, ResourcesMixin):
    """Async client for the ClickSend REST API v3.

    Credentials come from the arguments or from ``CLICKSEND_USERNAME`` / ``CLICKSEND_API_KEY``.
    Use it as ``async with AsyncClickSend() as cs: ...`` or call ``await cs.aclose()``.

    ``limiter_backend`` shares the rate limit (``rate_limit``/``rate_limit_burst``), the 429
    pauses and the learned pace with every client of the same account that uses the same backend,
    e.g. ``limiter_backend=RedisRateBackend("redis://127.0.0.1:6379/0")`` from
    ``clicksend_async.redis_limiter``; ``max_concurrency`` stays per client.
    """

    def __init__(
        self,
        username: str | None = None,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: TimeoutArg = _constants.DEFAULT_TIMEOUT,
        max_retries: int = _constants.DEFAULT_MAX_RETRIES,
        max_concurrency: int | None = _constants.DEFAULT_MAX_CONCURRENCY,
        rate_limit: float | None = _constants.DEFAULT_RATE_LIMIT_PER_SECOND,
        rate_limit_burst: int | None = None,
        max_retry_after: float = _constants.DEFAULT_MAX_RETRY_AFTER,
        adaptive_rate_limit: bool = True,
        max_response_bytes: int = _constants.MAX_RESPONSE_BYTES,
        strict_response_validation: bool = False,
        limiter_backend: RateBackendFactory | None = None,
        default_headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        event_hooks: EventHooks | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        username = username if username is not None else os.environ.get("CLICKSEND_USERNAME")
        api_key = api_key if api_key is not None else os.environ.get("CLICKSEND_API_KEY")
        if not username or not api_key:
            missing = [
                name for name, value in (("username", username), ("api_key", api_key)) if not value
            ]
            raise errors.ClickSendError(
                f"missing ClickSend credentials ({' and '.join(missing)}): pass username= and "
                "api_key= or set CLICKSEND_USERNAME and CLICKSEND_API_KEY"
            )
        self.base_url = (
            base_url or os.environ.get("CLICKSEND_BASE_URL") or DEFAULT_BASE_URL
        ).rstrip("/")
        check_headers("default_headers", default_headers or {})
        # Off: a response field that does not fit its type is kept raw and logged once (a call
        # that succeeded never fails on parsing). On: pydantic's errors, for tests.
        self.strict_response_validation = strict_response_validation
        self._headers = {
            "Authorization": basic_authorization(username, api_key),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": _constants.USER_AGENT,
            **(default_headers or {}),
        }
        self._init_requests(
            timeout=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
            rate_limit=rate_limit,
            rate_limit_burst=rate_limit_burst,
            max_retry_after=max_retry_after,
            transport=transport,
            http_client=http_client,
            adaptive_rate_limit=adaptive_rate_limit,
            max_response_bytes=max_response_bytes,
            limiter_backend=limiter_backend,
            account=username,
            proxy=proxy,
            trust_env=trust_env,
            event_hooks=event_hooks,
        )

    def with_options(
        self,
        *,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        max_retry_after: float | NotGiven = NOT_GIVEN,
        event_hooks: EventHooks | NotGiven | None = NOT_GIVEN,
        default_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
    ) -> AsyncClickSend:
        """A client with other defaults sharing this one's connection pool and rate limiter,
        e.g. ``cs.with_options(timeout=5.0, max_retries=0).account.get()``.

        ``default_headers`` are added to (and override) this client's. Closing the derived
        client leaves the pool open; closing this one closes it for both.
        """
        derived = super().with_options(
            timeout=timeout,
            max_retries=max_retries,
            max_retry_after=max_retry_after,
            event_hooks=event_hooks,
        )
        if not isinstance(default_headers, NotGiven):
            check_headers("default_headers", default_headers)
            derived._headers = {**self._headers, **default_headers}
        return derived

    @classmethod
    def sandbox(cls, sandbox: _Emulator | None = None, **options: Any) -> AsyncClickSend:
        """A client wired to the embedded emulator in-process (no sockets, no network).

        Same as ``Sandbox().client(**options)``: pass a :class:`~clicksend_async.sandbox.Sandbox`
        to set knobs or inspect its state; other keyword arguments go to the client.
        """
        # The emulator is a feature beside the client; this delegate only keeps the short name.
        if sandbox is None:
            from clicksend_async.sandbox import Sandbox

            sandbox = Sandbox()
        return sandbox.client(**options)

    def __repr__(self) -> str:
        # Never the username or key: reprs end up in logs and tracebacks.
        return f"<AsyncClickSend base_url={self.base_url!r}>"

    # -- escape hatches ------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Mapping[str, str] | None = None,
    ) -> APIResponse[Any]:
        """Call any path (e.g. one the spec does not document) with the same auth, retries and
        errors as the typed methods. The result's ``parsed`` is the decoded JSON envelope.

        ``idempotent`` defaults to True for GET/HEAD/OPTIONS only, so a POST is never repeated
        after an unknown outcome unless you say it is safe.
        """
        method = method.upper()
        if not path.startswith("/"):
            path = "/" + path
        operation: Operation[dict[str, Any]] = Operation(
            operation_id=f"{method} {path}",
            method=method,
            path=path,
            idempotent=method in IDEMPOTENT_METHODS if idempotent is None else idempotent,
            request_model=None,
            response_model=None,
        )
        return await self._send(
            operation,
            path,
            params=params,
            body=json,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
        )

    def paginate(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        limit: int | None = None,
        max_items: int | None = None,
        start_page: int = 1,
        prefetch: int = _constants.DEFAULT_PREFETCH,
    ) -> AsyncPaginator[dict[str, Any], dict[str, Any]]:
        """Iterate any page/limit list path: items are the decoded JSON objects."""

        async def fetch(page: int, size: int) -> dict[str, Any]:
            query = {**(params or {}), "page": page, "limit": size}
            response = await self.request(method, path, params=query)
            data = response.data
            return data if isinstance(data, dict) else {"data": data or []}

        return AsyncPaginator(
            fetch, limit=limit, max_items=max_items, start_page=start_page, prefetch=prefetch
        )

    # -- the call every operation makes --------------------------------------------------------

    async def _call(
        self,
        operation: Operation[EnvelopeT],
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Mapping[str, str] | None = None,
    ) -> EnvelopeT:
        """Run one operation; returns its parsed envelope (``with_raw_response`` sees the rest)."""
        response = await self._send(
            operation,
            path,
            params=params,
            body=body,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
        )
        parsed: EnvelopeT = response.parsed
        return parsed

    async def _send(
        self,
        operation: Operation[EnvelopeT],
        path: str,
        *,
        params: Mapping[str, Any] | None,
        body: Any,
        timeout: TimeoutArg | NotGiven,
        max_retries: int | NotGiven,
        extra_headers: Mapping[str, str] | None,
    ) -> APIResponse[Any]:
        references = body_references(body)
        if extra_headers:
            check_headers("extra_headers", extra_headers)
        try:
            content = None if body is None else json_body(body)
        except (TypeError, ValueError) as exc:  # only reachable through request(json=...)
            problem = {"loc": ("json",), "msg": f"cannot be sent as JSON: {exc}"}
            raise errors.RequestValidationError(operation.operation_id, [problem]) from None

        strict = self.strict_response_validation

        def interpret(response: RawResponse) -> EnvelopeT:
            if strict:
                with strict_validation():
                    return parse_envelope(response, operation, path, references)
            # Off, an outer strict_validation() block (if any) still applies.
            return parse_envelope(response, operation, path, references)

        def status_error(
            response: RawResponse, status: int, retry_after: float | None, unknown: bool
        ) -> Exception:
            return api_error(
                response,
                operation.method,
                path,
                references,
                status=status,
                retry_after=retry_after,
                outcome_unknown=unknown,
            )

        parsed, response, attempts = await self._requests.run(
            method=operation.method,
            url=self.base_url + path,
            path=path,
            params=params,
            headers={**self._headers, **extra_headers} if extra_headers else self._headers,
            content=content,
            timeout=timeout,
            max_retries=max_retries,
            idempotent=operation.idempotent,
            references=references,
            interpret=interpret,
            status_error=status_error,
        )
        result: APIResponse[Any] = APIResponse(response, parsed, attempts)
        record_response(result)
        return result
