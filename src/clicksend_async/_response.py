"""What comes back: the ClickSend envelope, its typed parse, API errors, and ``APIResponse``.

Core layer. ``parse_envelope`` decides what a 2xx means (the envelope may still carry an error);
``api_error`` builds the typed error of a failed answer. Both clients decode JSON through
``decode_json`` so a garbled body always becomes ``ResponseDecodeError`` with its first bytes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import httpx
from pydantic import ValidationError
from pydantic_core import from_json

from clicksend_async import errors
from clicksend_async._base import fast_validator
from clicksend_async._operation import Operation
from clicksend_async._transport import RawResponse

if TYPE_CHECKING:
    from pydantic_core import SchemaValidator

T = TypeVar("T")
EnvelopeT = TypeVar("EnvelopeT")

ENVELOPE_KEYS = ("http_code", "response_code", "response_msg")
_ENVELOPE_KEY_SET = frozenset(ENVELOPE_KEYS)


class APIResponse(Generic[T]):
    """The parsed envelope of one call plus the HTTP response it came from.

    ``cs.sms.with_raw_response.send(...)`` returns one of these; the plain ``cs.sms.send(...)``
    returns its ``.data``.
    """

    __slots__ = ("_raw", "attempts", "parsed")

    def __init__(self, raw: RawResponse, parsed: Any, attempts: int = 1) -> None:
        self._raw = raw
        self.parsed = parsed  # the whole envelope: a model, or the decoded JSON
        self.attempts = attempts

    @property
    def http_response(self) -> httpx.Response:
        """The answer as an ``httpx.Response`` (built on first access)."""
        return self._raw.to_httpx()

    @property
    def data(self) -> T:
        """The envelope's ``data`` (typed for generated operations)."""
        parsed: Any = self.parsed
        if isinstance(parsed, dict):
            return cast(T, parsed.get("data"))
        return cast(T, getattr(parsed, "data", None))

    @property
    def status_code(self) -> int:
        return self._raw.status

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers (case-insensitive)."""
        return self._raw.headers

    @property
    def rate_limit(self) -> dict[str, str]:
        """The ``x-ratelimit-*`` headers, names without the prefix (e.g. ``remaining``)."""
        prefix = "x-ratelimit-"
        return {
            name[len(prefix) :]: value
            for name, value in self._raw.headers.items()
            if name.lower().startswith(prefix)
        }

    def __repr__(self) -> str:
        return (
            f"<APIResponse {self._raw.method} {self._raw.url} "
            f"[{self.status_code}] {type(self.parsed).__name__}>"
        )


# -- raw-response capture -------------------------------------------------------------------------
# `with_raw_response.x(...)` runs the plain method `x` and wants the APIResponse it was built from.
# The client records each response here when someone in the same task is listening.
_captured: ContextVar[list[APIResponse[Any]] | None] = ContextVar("clicksend_raw", default=None)


@contextlib.contextmanager
def capture_responses() -> Iterator[list[APIResponse[Any]]]:
    """Collect the APIResponse of every call made by this task inside the block."""
    seen: list[APIResponse[Any]] = []
    token = _captured.set(seen)
    try:
        yield seen
    finally:
        _captured.reset(token)


def record_response(response: APIResponse[Any]) -> None:
    seen = _captured.get()
    if seen is not None:
        seen.append(response)


# -- decoding ----------------------------------------------------------------------------


def ensure_envelope(body: Any) -> Any:
    """Return ``body`` as an envelope.

    A few calls (GET /mms-campaigns in the docs) answer with the bare data object; wrapping it keeps
    every response model and the error checks on one shape instead of special-casing those calls.
    """
    if isinstance(body, dict) and not _ENVELOPE_KEY_SET.isdisjoint(body):
        return body
    return {"http_code": 200, "response_code": "SUCCESS", "response_msg": "", "data": body}


def loads(content: bytes) -> Any:
    """``json.loads(content)``, through pydantic-core's parser where it can (a 1,000-record send
    answer: 0.42 ms against 0.68 ms). It refuses whatever ``json.loads`` refuses, plus a few
    bodies ``json.loads`` reads (a lone surrogate escape, a BOM, UTF-16, nesting past its depth
    limit): those go to ``json.loads``, so the result is always what ``json.loads`` gives.
    Object keys are cached (a page repeats them per record); values are not."""
    try:
        return from_json(content, cache_strings="keys")
    except ValueError:
        return json.loads(content)


def decode_json(
    response: RawResponse,
    *,
    method: str,
    path: str,
    outcome_unknown: bool = False,
    references: Sequence[str] = (),
) -> Any:
    """The body as JSON, or a ``ResponseDecodeError`` showing the status and the first bytes."""
    try:
        return loads(response.content)
    except ValueError as exc:  # json.loads's own error: the reason shown
        raise errors.ResponseDecodeError(
            method=method,
            path=path,
            status_code=response.status,
            content=response.content,
            reason=str(exc) if response.content else "empty body",
            outcome_unknown=outcome_unknown,
            references=references,
        ) from None


def parse_envelope(
    response: RawResponse,
    operation: Operation[EnvelopeT],
    path: str,
    references: Sequence[str],
) -> EnvelopeT:
    """A 2xx answer as the operation's typed envelope, or the typed error it carries.

    Any 2xx to a send means the server processed it: when its body cannot be read, or the
    envelope reports a server error, the error says ``outcome_unknown`` for a non-idempotent call,
    so nobody resends it blindly.
    """
    processed = not operation.idempotent and 200 <= response.status < 300
    model = operation.response_model
    fast = None if model is None or response.status == 204 else fast_validator(cast(Any, model))
    parsed: Any = None if fast is None else _fitting_envelope(fast, response.content)
    if parsed is not None:
        if operation.data_required and getattr(parsed, "data", None) is None:
            raise _missing_data(response, operation, path, processed, references)
        return cast(EnvelopeT, parsed)
    if response.status == 204:
        # 204 No Content (DELETE /senders/default-senders/{id}, officially): a success without
        # an envelope. Its data is absent; an operation that promises data says so below.
        decoded: Any = {"http_code": response.status, "response_code": "SUCCESS", "data": None}
    else:
        decoded = decode_json(
            response,
            method=operation.method,
            path=path,
            outcome_unknown=processed,
            references=references,
        )
    body = ensure_envelope(decoded)
    code = body.get("http_code") if isinstance(body, dict) else None
    if isinstance(code, int) and code >= 400:
        raise api_error(
            response,
            operation.method,
            path,
            references,
            body=body,
            status=code,
            outcome_unknown=processed and code >= 500,
        )
    if model is None:
        return cast(EnvelopeT, body)
    # The fast validator had its try on the bytes: the model decides the rest (where the fast one
    # would succeed, the model gives the same result).
    try:
        parsed = cast(Any, model).model_validate(body)
    except ValidationError as exc:
        raise errors.ResponseDecodeError(
            method=operation.method,
            path=path,
            status_code=response.status,
            content=response.content,
            reason=f"does not match {model.__name__}: {exc.errors()[0].get('msg')}",
            outcome_unknown=processed,
            references=references,
        ) from None
    if operation.data_required and getattr(parsed, "data", None) is None:
        raise _missing_data(response, operation, path, processed, references)
    return cast(EnvelopeT, parsed)


def _fitting_envelope(fast: SchemaValidator, content: bytes) -> Any:
    """The answer validated straight from its bytes (no ``json.loads`` and dict in between) when
    it is a success envelope whose every field fits; else None, and the general path decides:
    a body that is not JSON, not an envelope (bare data), an error envelope, or one that only
    the lenient model can read. What it returns is what the general path returns for it."""
    try:
        parsed = fast.validate_json(content)
    except ValidationError:
        return None
    if _ENVELOPE_KEY_SET.isdisjoint(parsed.model_fields_set):
        return None  # bare data: the general path wraps it
    code = getattr(parsed, "http_code", None)
    if isinstance(code, int) and code >= 400:
        return None  # an error envelope: the general path raises its typed error
    return parsed


def _missing_data(
    response: RawResponse,
    operation: Operation[Any],
    path: str,
    processed: bool,
    references: Sequence[str],
) -> errors.MissingDataError:
    # The method's return type promises the data: say so rather than hand back None.
    return errors.MissingDataError(
        method=operation.method,
        path=path,
        status_code=response.status,
        content=response.content,
        operation=operation.operation_id,
        outcome_unknown=processed,
        references=references,
    )


def api_error(
    response: RawResponse,
    method: str,
    path: str,
    references: Sequence[str],
    *,
    body: Any = None,
    status: int | None = None,
    retry_after: float | None = None,
    outcome_unknown: bool = False,
) -> errors.APIError:
    """The typed error of a ClickSend answer that failed (by HTTP status or envelope code)."""
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
        method=method,
        path=path,
        response_code=fields.get("response_code"),
        response_msg=response_msg,
        body=body,
        headers=response.headers,
        outcome_unknown=outcome_unknown,
        references=references,
    )
