"""AsyncClickSend: configuration, lifecycle and the request loop every operation goes through."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import ValidationError

from clicksend_async import _retry, errors
from clicksend_async._auth import basic_authorization
from clicksend_async._envelope import ensure_envelope
from clicksend_async._pagination import AsyncPaginator
from clicksend_async._ratelimit import RateLimiter
from clicksend_async._request import ClientBase, RequestLoop, decode_json
from clicksend_async._resource import NOT_GIVEN, NotGiven, Operation, TimeoutArg
from clicksend_async._response import APIResponse
from clicksend_async._transport import AiohttpSender, HttpxSender, RawResponse
from clicksend_async.resources import ResourcesMixin

__all__ = ["DEFAULT_BASE_URL", "AsyncClickSend"]

DEFAULT_BASE_URL = "https://rest.clicksend.com/v3"
SANDBOX_BASE_URL = "http://sandbox.invalid/v3"
USER_AGENT = "clicksend-async/0.1.0"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

if TYPE_CHECKING:
    from clicksend_async.sandbox import Sandbox


class AsyncClickSend(ClientBase, ResourcesMixin):
    """Async client for the ClickSend REST API v3.

    Credentials come from the arguments or from ``CLICKSEND_USERNAME`` / ``CLICKSEND_API_KEY``.
    Use it as ``async with AsyncClickSend() as cs: ...`` or call ``await cs.aclose()``.
    """

    def __init__(
        self,
        username: str | None = None,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: TimeoutArg = _retry.DEFAULT_TIMEOUT,
        max_retries: int = _retry.DEFAULT_MAX_RETRIES,
        max_concurrency: int | None = _retry.DEFAULT_MAX_CONCURRENCY,
        rate_limit: float | None = _retry.DEFAULT_RATE_LIMIT_PER_SECOND,
        rate_limit_burst: int | None = None,
        max_retry_after: float = _retry.DEFAULT_MAX_RETRY_AFTER,
        default_headers: Mapping[str, str] | None = None,
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
        self.timeout = timeout
        self.emulator: Sandbox | None = None  # set by AsyncClickSend.sandbox()
        self._headers = {
            "Authorization": basic_authorization(username, api_key),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **(default_headers or {}),
        }
        self._requests = RequestLoop(
            # The pool is sized to max_concurrency: callers queue in the limiter, not the pool.
            HttpxSender(http_client, owned=False)
            if http_client is not None
            else AiohttpSender(timeout=timeout, max_connections=max_concurrency),
            RateLimiter(
                rate=rate_limit,
                burst=rate_limit_burst if rate_limit is not None else None,
                max_concurrency=max_concurrency,
            ),
            max_retries=max_retries,
            max_retry_after=max_retry_after,
            client_name="AsyncClickSend",
        )

    @classmethod
    def sandbox(cls, sandbox: Sandbox | None = None, **options: Any) -> AsyncClickSend:
        """A client wired to the embedded emulator in-process (no sockets, no network).

        Pass a :class:`~clicksend_async.sandbox.Sandbox` to set knobs or inspect its state
        (``cs.emulator``); other keyword arguments go to the client (``max_retries``, ...).
        """
        from clicksend_async.sandbox import Sandbox, SandboxTransport

        emulator = sandbox if sandbox is not None else Sandbox()
        http = httpx.AsyncClient(
            transport=SandboxTransport(emulator),
            timeout=options.get("timeout", _retry.DEFAULT_TIMEOUT),
        )
        client = cls(
            emulator.config.username,
            emulator.config.api_key,
            base_url=SANDBOX_BASE_URL,
            http_client=http,
            **options,
        )
        client._attach_sandbox(http, emulator)
        return client

    # -- lifecycle (async with / aclose: ClientBase) ------------------------------------------

    @property
    def max_retries(self) -> int:
        return self._requests.max_retries

    @property
    def _sender(self) -> AiohttpSender | HttpxSender:
        return self._requests.sender

    def __repr__(self) -> str:
        # Never the username or key: reprs end up in logs and tracebacks.
        return f"<AsyncClickSend base_url={self.base_url!r}>"

    @property
    def limiter(self) -> RateLimiter:
        """The rate limiter shared by every call of this client."""
        return self._requests.limiter

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
    ) -> APIResponse[dict[str, Any]]:
        """Call any path (e.g. one the spec does not document) with the same auth, retries and
        errors as the typed methods. The result's ``parsed`` is the decoded JSON envelope.

        ``idempotent`` defaults to True for GET/HEAD/OPTIONS only, so a POST is never repeated
        after an unknown outcome unless you say it is safe.
        """
        method = method.upper()
        if not path.startswith("/"):
            path = "/" + path
        operation = Operation(
            operation_id=f"{method} {path}",
            method=method,
            path=path,
            idempotent=method in IDEMPOTENT_METHODS if idempotent is None else idempotent,
            request_model=None,
            response_model=None,
        )
        return await self._call(
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
    ) -> AsyncPaginator[dict[str, Any], dict[str, Any]]:
        """Iterate any page/limit list path: items are the decoded JSON objects."""

        async def fetch(page: int, size: int) -> dict[str, Any]:
            query = {**(params or {}), "page": page, "limit": size}
            response = await self.request(method, path, params=query)
            data = response.data
            return data if isinstance(data, dict) else {"data": data or []}

        return AsyncPaginator(fetch, limit=limit, max_items=max_items, start_page=start_page)

    # -- the request loop ------------------------------------------------------------------------

    async def _call(
        self,
        operation: Operation,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        extra_headers: Mapping[str, str] | None = None,
    ) -> APIResponse[Any]:
        references = _references(body)

        def interpret(response: RawResponse) -> Any:
            return self._parse(response, operation, path, references)

        def status_error(
            response: RawResponse, status: int, retry_after: float | None, unknown: bool
        ) -> Exception:
            return self._api_error(
                response,
                operation,
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
            content=None if body is None else json.dumps(body, separators=(",", ":")).encode(),
            timeout=timeout,
            max_retries=max_retries,
            idempotent=operation.idempotent,
            references=references,
            interpret=interpret,
            status_error=status_error,
        )
        return APIResponse(response, parsed, attempts)

    def _decode(
        self, response: RawResponse, operation: Operation, path: str, references: Sequence[str]
    ) -> Any:
        return decode_json(
            response,
            method=operation.method,
            path=path,
            # A 2xx we cannot read may still be a processed send.
            outcome_unknown=not operation.idempotent and response.status < 300,
            references=references,
        )

    def _parse(
        self, response: RawResponse, operation: Operation, path: str, references: Sequence[str]
    ) -> Any:
        body = ensure_envelope(self._decode(response, operation, path, references))
        code = body.get("http_code") if isinstance(body, dict) else None
        if isinstance(code, int) and code >= 400:
            raise self._api_error(response, operation, path, references, body=body, status=code)
        model = operation.response_model
        if model is None:
            return body
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise errors.ResponseDecodeError(
                method=operation.method,
                path=path,
                status_code=response.status,
                content=response.content,
                reason=f"does not match {model.__name__}: {exc.errors()[0].get('msg')}",
                outcome_unknown=False,
                references=references,
            ) from None

    def _api_error(
        self,
        response: RawResponse,
        operation: Operation,
        path: str,
        references: Sequence[str],
        *,
        body: Any = None,
        status: int | None = None,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
    ) -> errors.APIError:
        status = status or response.status
        if body is None:
            try:
                body = json.loads(response.content)
            except ValueError:
                body = None
        fields = body if isinstance(body, dict) else {}
        response_msg = fields.get("response_msg")
        if body is None and response.content:
            head = response.content[:120].decode("utf-8", "replace")
            response_msg = f"non-JSON body, first bytes: {head!r}"
        return errors.api_error(
            status_code=status,
            retry_after=retry_after,
            method=operation.method,
            path=path,
            response_code=fields.get("response_code"),
            response_msg=response_msg,
            body=body,
            headers=response.headers,
            outcome_unknown=outcome_unknown,
            references=references,
        )


def _references(body: Any) -> tuple[str, ...]:
    """The ``custom_string`` of every message/recipient in a body, for outcome reconciliation."""
    if not isinstance(body, dict):
        return ()
    refs: list[str] = []
    for key in ("messages", "recipients"):
        items = body.get(key)
        if isinstance(items, list):
            refs.extend(
                str(item["custom_string"])
                for item in items
                if isinstance(item, dict) and item.get("custom_string")
            )
    if body.get("custom_string"):
        refs.append(str(body["custom_string"]))
    return tuple(refs)
