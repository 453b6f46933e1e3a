"""AsyncVoximplant: the Management API's GetCallHistory, typed, past the 10,000-offset cap."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import AsyncIterator, Generator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
from pydantic import ValidationError

from clicksend_async import _constants, errors
from clicksend_async._base_client import ClientBase, RetryLater
from clicksend_async._observe import EventHooks
from clicksend_async._pagination import AsyncPaginator, ReadAhead
from clicksend_async._response import decode_json
from clicksend_async._transport import RawResponse
from clicksend_async._types import NOT_GIVEN, NotGiven, TimeoutArg
from clicksend_async.models.voximplant import CallSessionInfo, GetCallHistoryResponse
from clicksend_async.voximplant._auth import VoximplantTokens


class _Emulator(Protocol):  # clicksend_async.sandbox.Sandbox, without importing the feature
    def voximplant_client(self, **options: Any) -> AsyncVoximplant: ...


__all__ = ["DEFAULT_BASE_URL", "AsyncVoximplant", "CallHistoryPaginator"]

DEFAULT_BASE_URL = _constants.VOXIMPLANT_BASE_URL
MAX_COUNT = _constants.VOXIMPLANT_MAX_COUNT
MAX_OFFSET = _constants.VOXIMPLANT_MAX_OFFSET
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
# Error codes (seed 004 / Voximplant's error list): credentials refused, and "try again later".
AUTH_ERROR_CODES = frozenset({100, 433, 447, 454, 455, 456})
RETRYABLE_ERROR_CODES = frozenset({2, 162, 314, 340})


def format_date(value: datetime | str) -> str:
    """``YYYY-MM-DD HH:MM:SS``; aware datetimes are converted to UTC, naive ones sent as given."""
    if isinstance(value, str):
        try:
            datetime.strptime(value, DATE_FORMAT)
        except ValueError:
            raise ValueError(f"expected 'YYYY-MM-DD HH:MM:SS', got {value!r}") from None
        return value
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime(DATE_FORMAT)


def encode_params(params: Mapping[str, Any]) -> dict[str, str]:
    """GetCallHistory's query encoding: lists joined by ';', booleans 'true'/'false'."""
    encoded: dict[str, str] = {}
    for name, value in params.items():
        if value is None or isinstance(value, NotGiven):
            continue
        if isinstance(value, bool):
            encoded[name] = "true" if value else "false"
        elif isinstance(value, datetime):
            encoded[name] = format_date(value)
        elif isinstance(value, (list, tuple, set, frozenset)):
            encoded[name] = ";".join(str(item) for item in value)
        else:
            encoded[name] = str(value)
    return encoded


class AsyncVoximplant(ClientBase):
    """Async client for Voximplant's GetCallHistory.

    Authenticate with a service account (``from_credentials_file``, ``from_credentials``, or the
    ``VOXIMPLANT_CREDENTIALS`` environment variable naming the file), or with the legacy
    ``account_id`` + ``api_key`` pair.
    """

    def __init__(
        self,
        *,
        account_id: int | str | None = None,
        api_key: str | None = None,
        key_id: str | None = None,
        private_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: TimeoutArg = _constants.DEFAULT_TIMEOUT,
        max_retries: int = _constants.DEFAULT_MAX_RETRIES,
        max_concurrency: int | None = _constants.DEFAULT_MAX_CONCURRENCY,
        rate_limit: float | None = None,
        max_retry_after: float = _constants.DEFAULT_MAX_RETRY_AFTER,
        adaptive_rate_limit: bool = True,
        max_response_bytes: int = _constants.MAX_RESPONSE_BYTES,
        proxy: str | None = None,
        trust_env: bool = True,
        event_hooks: EventHooks | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if key_id is None and private_key is None and api_key is None:
            path = os.environ.get("VOXIMPLANT_CREDENTIALS")
            if path:
                credentials = _read_credentials_file(path)
                account_id = credentials["account_id"]
                key_id, private_key = credentials["key_id"], credentials["private_key"]
        if account_id is None or (api_key is None and (key_id is None or private_key is None)):
            raise errors.ClickSendError(
                "missing Voximplant credentials: use AsyncVoximplant.from_credentials_file(path), "
                "set VOXIMPLANT_CREDENTIALS to that file, or pass account_id= and api_key="
            )
        self.account_id = account_id
        self.base_url = base_url.rstrip("/")
        self._tokens: VoximplantTokens | None = None
        self._legacy_body: bytes | None = None
        if api_key is not None and key_id is None:
            self._legacy_body = urlencode(
                {"account_id": str(account_id), "api_key": api_key}
            ).encode()
        else:
            assert key_id is not None and private_key is not None
            self._tokens = VoximplantTokens(
                account_id=account_id, key_id=key_id, private_key=private_key
            )
        self._init_requests(
            timeout=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
            rate_limit=rate_limit,
            rate_limit_burst=None,
            max_retry_after=max_retry_after,
            transport=transport,
            http_client=http_client,
            adaptive_rate_limit=adaptive_rate_limit,
            max_response_bytes=max_response_bytes,
            proxy=proxy,
            trust_env=trust_env,
            event_hooks=event_hooks,
        )

    @classmethod
    def from_credentials(cls, credentials: Mapping[str, Any], **kwargs: Any) -> AsyncVoximplant:
        """From a service-account ``credentials.json`` as a dict (also nested under ``result``)."""
        data = _normalise_credentials(credentials)
        return cls(
            account_id=data["account_id"],
            key_id=data["key_id"],
            private_key=data["private_key"],
            **kwargs,
        )

    @classmethod
    def from_credentials_file(cls, path: str | os.PathLike[str], **kwargs: Any) -> AsyncVoximplant:
        return cls.from_credentials(_read_credentials_file(path), **kwargs)

    @classmethod
    def sandbox(cls, sandbox: _Emulator | None = None, **kwargs: Any) -> AsyncVoximplant:
        """A client wired in-process to the emulator's synthetic call history: same as
        ``Sandbox().voximplant_client(**kwargs)``."""
        # The emulator is a feature beside the client; this delegate only keeps the short name.
        if sandbox is None:
            from clicksend_async.sandbox import Sandbox

            sandbox = Sandbox()
        return sandbox.voximplant_client(**kwargs)

    # -- lifecycle (async with / aclose: ClientBase) ------------------------------------------

    def __repr__(self) -> str:
        return f"<AsyncVoximplant account_id={self.account_id!r} base_url={self.base_url!r}>"

    @property
    def tokens(self) -> VoximplantTokens | None:
        """The JWT source (service-account auth), or None with the legacy api_key."""
        return self._tokens

    # -- GetCallHistory -------------------------------------------------------------------------

    def call_history(
        self,
        *,
        from_date: datetime | str,
        to_date: datetime | str,
        call_session_history_id: Sequence[int] | None = None,
        application_id: int | None = None,
        application_name: str | None = None,
        user_id: Sequence[int] | None = None,
        rule_name: str | None = None,
        remote_number: Sequence[str] | None = None,
        remote_number_list: Sequence[str] | None = None,
        local_number: Sequence[str] | None = None,
        call_session_history_custom_data: str | None = None,
        with_calls: bool | None = None,
        with_records: bool | None = None,
        with_other_resources: bool | None = None,
        child_account_id: Sequence[int] | None = None,
        children_calls_only: bool | None = None,
        desc_order: bool | None = None,
        with_total_count: bool | None = None,
        count: int = MAX_COUNT,
        offset: int = 0,
        max_items: int | None = None,
        prefetch: int = _constants.DEFAULT_PREFETCH,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
    ) -> CallHistoryPaginator:
        """Call sessions between ``from_date`` and ``to_date`` (see seed 004 for each filter).

        ``await`` it for one page, ``async for`` it for every session (any number: past the API's
        10,000-offset cap the date window is narrowed), ``.pages()`` for the raw pages.
        ``count`` is the page size (1..1000). Within a date window, once an answer gives
        ``total_count``, up to ``prefetch`` offset requests are kept in flight (through the
        client's limiter), yielded strictly in order; ``prefetch=1`` reads one page after another,
        and so does ``with_total_count=False``.
        """
        if not 1 <= count <= MAX_COUNT:
            raise ValueError(f"count must be between 1 and {MAX_COUNT}, got {count}")
        if not 0 <= offset <= MAX_OFFSET:
            raise ValueError(f"offset must be between 0 and {MAX_OFFSET}, got {offset}")
        if call_session_history_id is not None and len(call_session_history_id) > MAX_COUNT:
            raise ValueError(f"call_session_history_id takes at most {MAX_COUNT} ids")
        params: dict[str, Any] = {
            "call_session_history_id": call_session_history_id,
            "application_id": application_id,
            "application_name": application_name,
            "user_id": user_id,
            "rule_name": rule_name,
            "remote_number": remote_number,
            # Sent as a JSON array: the docs describe it as "a JS array of strings".
            "remote_number_list": None
            if remote_number_list is None
            else json.dumps(list(remote_number_list)),
            "local_number": local_number,
            "call_session_history_custom_data": call_session_history_custom_data,
            "with_calls": with_calls,
            "with_records": with_records,
            "with_other_resources": with_other_resources,
            "child_account_id": child_account_id,
            "children_calls_only": children_calls_only,
            "desc_order": desc_order,
            "with_total_count": with_total_count,
        }

        async def fetch(
            window_from: str, window_to: str, page_offset: int
        ) -> GetCallHistoryResponse:
            query = encode_params(
                {
                    "from_date": window_from,
                    "to_date": window_to,
                    **params,
                    "count": count,
                    "offset": page_offset,
                }
            )
            return await self._get_call_history(query, timeout=timeout, max_retries=max_retries)

        return CallHistoryPaginator(
            fetch,
            from_date=format_date(from_date),
            to_date=format_date(to_date),
            count=count,
            offset=offset,
            descending=bool(desc_order),
            max_items=max_items,
            prefetch=prefetch,
        )

    async def _get_call_history(
        self,
        query: dict[str, str],
        *,
        timeout: TimeoutArg | NotGiven,
        max_retries: int | NotGiven,
    ) -> GetCallHistoryResponse:
        path = "/GetCallHistory"
        tokens = self._tokens

        def interpret(response: RawResponse) -> GetCallHistoryResponse:
            body = decode_json(response, method="GetCallHistory", path=path)
            error = body.get("error") if isinstance(body, dict) else None
            if error is not None:
                code, msg = _error_fields(error)
                if code in AUTH_ERROR_CODES:
                    if tokens is not None:
                        tokens.invalidate()  # the next call signs a fresh token
                    raise errors.VoximplantAuthenticationError(
                        method="GetCallHistory", code=code, msg=msg
                    )
                failure = errors.VoximplantError(method="GetCallHistory", code=code, msg=msg)
                if code in RETRYABLE_ERROR_CODES:
                    raise RetryLater(failure)
                raise failure
            try:
                return GetCallHistoryResponse.model_validate(body)
            except ValidationError as exc:
                raise errors.ResponseDecodeError(
                    method="GetCallHistory",
                    path=path,
                    status_code=response.status,
                    content=response.content,
                    reason=f"not a GetCallHistory answer: {exc.errors()[0].get('msg')}",
                ) from None

        def status_error(
            response: RawResponse, status: int, retry_after: float | None, unknown: bool
        ) -> Exception:
            return errors.api_error(
                status_code=status,
                retry_after=retry_after,
                method="POST",
                path=path,
                response_code=None,
                response_msg=response.content[:200].decode("utf-8", "replace"),
                headers=response.headers,
                outcome_unknown=unknown,
            )

        result, _, _ = await self._requests.run(
            method="POST",
            url=self.base_url + path,
            path=path,
            params=query,
            # The legacy key goes in the form body, never the URL: URLs end up in logs.
            headers=tokens.headers if tokens is not None else _FORM,
            content=self._legacy_body,
            timeout=timeout,
            max_retries=max_retries,
            idempotent=True,  # a read: safe to repeat
            interpret=interpret,
            status_error=status_error,
        )
        return result


class CallHistoryPaginator(AsyncPaginator[GetCallHistoryResponse, CallSessionInfo]):
    """Pages of GetCallHistory by count/offset, continuing past the 10,000-offset cap.

    When the next offset would pass the cap, the date window is narrowed instead: the next window
    starts at the ``start_date`` of the last session seen (to_date when ``desc_order``), offsets
    restart at 0, and sessions of that boundary second already yielded are skipped by id. So the
    iteration has no gaps and no duplicates, with at most one overlapping second per window.

    Within a window, once an answer gives ``total_count``, up to ``prefetch`` offsets are
    requested ahead (never at or past the total, never past the cap, only as many as
    ``max_items`` can use) and yielded in order; early stop and cancellation cancel them.

    A total that changes between pages (calls arriving while the history is read): the latest
    reported total decides how far the window goes, and a short page still ends it. New sessions
    shift the older ones to later offsets when they sort first (``desc_order``), so a page can
    repeat the end of the one before: the iteration relies on the start_date order (as the window
    narrowing does) and skips every session on the passed side of the boundary second, and those
    of that second by id. A page read ahead that reports a smaller total than the page before it
    was answered from an older state of the history (so its sessions may not follow on): it is
    requested again after that page, once, and the pages read ahead are dropped with it. So
    nothing is yielded twice and no session present when the read began is missed. (Sessions
    removed before the read position shift the others back: offsets cannot see that, read one
    page at a time or not.)
    """

    def __init__(
        self,
        fetch: Any,
        *,
        from_date: str,
        to_date: str,
        count: int,
        offset: int,
        descending: bool,
        max_items: int | None,
        prefetch: int = _constants.DEFAULT_PREFETCH,
    ) -> None:
        self._fetch_window = fetch
        self.from_date = from_date
        self.to_date = to_date
        self.count = count
        self.offset = offset
        self.descending = descending
        self.max_items = max_items
        if max_items is not None and max_items < 0:
            raise ValueError(f"max_items must be >= 0, got {max_items}")
        self.prefetch = prefetch  # validated by the property

    def __await__(self) -> Generator[Any, None, GetCallHistoryResponse]:
        return self._fetch_window(self.from_date, self.to_date, self.offset).__await__()  # type: ignore[no-any-return]

    def _page_items(self, page: Any) -> Sequence[CallSessionInfo]:
        return page.result or []

    async def pages(self) -> AsyncIterator[GetCallHistoryResponse]:
        """Every page, in order, up to ``prefetch`` offset requests ahead within a date window."""
        window_from, window_to, offset = self.from_date, self.to_date, self.offset
        boundary: str | None = None  # the newest second yielded so far (oldest if descending)
        seen_at_boundary: set[int | None] = set()
        budget = self.max_items  # items still wanted: how far ahead max_items lets us read
        while True:  # one date window per turn
            ahead: ReadAhead[int, GetCallHistoryResponse] | None = None
            total: int | None = None  # the window's total_count, as last reported
            following = offset  # the next offset to request ahead
            try:
                page = await self._fetch_window(window_from, window_to, offset)
                while True:
                    fresh: list[CallSessionInfo] = []
                    for session in page.result or []:
                        second = format_date(session.start_date) if session.start_date else None
                        if second is not None and boundary is not None:
                            if (second > boundary) if self.descending else (second < boundary):
                                continue  # passed already: moved across an offset by new calls
                            if second == boundary:
                                if session.call_session_history_id in seen_at_boundary:
                                    continue  # already yielded (previous page or window)
                                seen_at_boundary.add(session.call_session_history_id)
                                fresh.append(session)
                                continue
                        if second is not None:
                            boundary, seen_at_boundary = second, {session.call_session_history_id}
                        fresh.append(session)
                    if page.total_count is not None:
                        total = page.total_count  # it may grow (or shrink) while it is read
                    received = len(page.result or [])
                    if fresh:
                        yield page.model_copy(update={"result": fresh})
                        if budget is not None:
                            budget -= len(fresh)
                    del page
                    if received < self.count:
                        return  # a short page is the last one
                    if total is not None and offset + self.count >= total:
                        return  # the window holds no more: never request past its total
                    if offset + self.count > MAX_OFFSET:
                        break  # past the offset cap: narrow the date window below
                    offset += self.count
                    if ahead is None and total is not None and self.prefetch > 1:
                        ahead = ReadAhead.open(
                            functools.partial(self._fetch_window, window_from, window_to)
                        )
                        following = offset
                    if ahead is None:
                        page = await self._fetch_window(window_from, window_to, offset)
                        continue
                    # Top up once the consumer asked for more (so at most `prefetch` pages are in
                    # flight or held): never past the total or the offset cap, never behind a
                    # page that ends the window, only as many as max_items can use (always the
                    # one asked for).
                    assert total is not None
                    while (
                        following < total
                        and following <= MAX_OFFSET
                        and len(ahead) < self.prefetch
                        and not any(self._stops(*held) for held in ahead)
                        and (not ahead or budget is None or len(ahead) * self.count < budget)
                    ):
                        ahead.start(following)
                        following += self.count
                    page = await ahead.next()
                    if page.total_count is not None and page.total_count < total:
                        # Answered from an older state of the history than the page before it
                        # (requests in flight together finish in any order): what it holds may
                        # not follow on from that page. Ask again, after it, as reading one page
                        # after another would have; what was read ahead is dropped with it.
                        await ahead.aclose()
                        page = await self._fetch_window(window_from, window_to, offset)
                        following = offset + self.count
            finally:
                # Early stop, error or cancellation: nothing may outlive the iteration.
                if ahead is not None:
                    await ahead.aclose()
            # Restart at the boundary second with offset 0. A window that could not move past
            # its own first second would repeat forever: refuse instead.
            if boundary is None or boundary == (window_to if self.descending else window_from):
                raise errors.ClickSendError(
                    f"more than {MAX_OFFSET + self.count} call sessions share the second "
                    f"{boundary}; GetCallHistory cannot page past them"
                )
            if self.descending:
                window_to = boundary
            else:
                window_from = boundary
            offset = 0

    def _stops(
        self, offset: int, page: GetCallHistoryResponse | None, error: BaseException | None
    ) -> bool:
        """An answer held ahead that ends the window (an error, a short page): read no further."""
        return error is not None or page is None or len(page.result or []) < self.count


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _error_fields(error: Any) -> tuple[int, str]:
    """(code, msg) of Voximplant's error member, whatever its shape: {"code", "msg"}, a bare
    string, or a code that is not a number (0 then: unknown)."""
    if isinstance(error, dict):
        raw_code, msg = error.get("code"), error.get("msg")
    else:
        raw_code, msg = None, error
    try:
        code = int(raw_code) if raw_code is not None and not isinstance(raw_code, bool) else 0
    except (TypeError, ValueError):
        code = 0
    text = msg if isinstance(msg, str) else json.dumps(msg, default=str)[:200]
    if code == 0 and raw_code is not None:
        text = f"{text} (code {str(raw_code)[:40]!r})"
    return code, text


def _normalise_credentials(credentials: Mapping[str, Any]) -> dict[str, Any]:
    data = credentials.get("result", credentials) if isinstance(credentials, Mapping) else None
    if not isinstance(data, Mapping):
        raise errors.ClickSendError("Voximplant credentials must be a JSON object")
    missing = [k for k in ("account_id", "key_id", "private_key") if not data.get(k)]
    if missing:
        raise errors.ClickSendError(
            f"Voximplant credentials are missing {', '.join(missing)} "
            "(expected a service-account credentials.json)"
        )
    return dict(data)


def _read_credentials_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise errors.ClickSendError(f"cannot read Voximplant credentials {path}: {exc}") from None
    try:
        return _normalise_credentials(json.loads(raw))
    except ValueError:
        raise errors.ClickSendError(f"Voximplant credentials {path} are not valid JSON") from None
