"""The typed error tree. Every message names the request; none contains a credential.

    ClickSendError
    ├── RequestValidationError        bad input, caught before anything is sent
    ├── APIError                      the API answered with an error
    │   ├── BadRequestError           400
    │   ├── AuthenticationError       401
    │   ├── PermissionDeniedError     403
    │   ├── NotFoundError             404
    │   ├── RateLimitError            429
    │   └── ServerError               5xx
    ├── TransportError                no usable answer
    │   ├── ConnectionError           (also a builtins.ConnectionError)
    │   └── TimeoutError              (also a builtins.TimeoutError)
    ├── ResponseDecodeError           an answer that is not the JSON it should be
    │   ├── ResponseTooLargeError     larger than max_response_bytes (not read)
    │   └── MissingDataError          a 2xx envelope without the `data` the operation returns
    ├── EventLoopError                a client used on another event loop than its first
    ├── CheckpointError               a bulk checkpoint that cannot be used (names the file)
    │   ├── CheckpointCorruptError    a damaged record (other than a torn last line)
    │   ├── CheckpointMismatchError   the checkpoint belongs to another run or input
    │   └── CheckpointLockedError     another run holds the checkpoint
    ├── RateLimiterUnavailableError   the shared rate limiter (Redis) cannot be reached; not sent
    ├── ClientClosedError             a client used after aclose() (also a RuntimeError)
    └── VoximplantError               Voximplant's {"error": {"code", "msg"}} (sent with HTTP 200)
        └── VoximplantAuthenticationError   codes 100, 433, 447, 454-456 (bad/expired key or JWT)

``outcome_unknown`` is True when the request may have been processed (a send after a read timeout,
a dropped connection or a 5xx): such a request is never repeated automatically, and ``references``
carries the ``custom_string`` of every message in it so the caller can reconcile against history.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "CheckpointCorruptError",
    "CheckpointError",
    "CheckpointLockedError",
    "CheckpointMismatchError",
    "ClickSendError",
    "ClientClosedError",
    "ConnectionError",
    "EventLoopError",
    "MissingDataError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimiterUnavailableError",
    "RequestValidationError",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "ServerError",
    "TimeoutError",
    "TransportError",
    "VoximplantAuthenticationError",
    "VoximplantError",
    "escape_control",
]

# Query parameters and URL parts whose values are credentials: never shown in a message.
_SECRET_QUERY = re.compile(
    r"(?i)\b(api_?key|key|password|passwd|token|access_token|secret|signature|jwt)=([^&\s'\"]*)"
)
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")


def redact(text: str) -> str:
    """``text`` with the values of credential-like query parameters and URL user-info masked."""
    return _URL_USERINFO.sub(r"\1***@", _SECRET_QUERY.sub(r"\1=***", text))


_CONTENT_KEPT = 4096  # bytes of an undecodable body kept on the error

_UNKNOWN_NOTE = "outcome unknown: the server may have processed this request, so it was not retried"


def escape_control(text: str) -> str:
    """``text`` with each non-printable character escaped the way ``repr()`` escapes it.

    For quoting received values in messages and logs: CR, LF, NUL, ESC, TAB, DEL, the C1
    controls, U+2028/U+2029, bidi overrides, lone surrogates, ... become ``\\r``, ``\\n``,
    ``\\x00``, ``\\x1b``, ``\\u2028``, ``\\ud800``, so a value can neither end the line it is quoted
    in (forging a log line) nor drive a terminal. Printable text in any script, spaces and
    backslashes are kept as they are (this is not ``repr``: no quotes are added and nothing
    printable changes).
    """
    if text.isprintable():  # the common case, in C
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


class ClickSendError(Exception):
    """Root of every error this SDK raises."""


class RequestValidationError(ClickSendError, ValueError):
    """The arguments do not match the operation's request schema; nothing was sent."""

    def __init__(self, operation: str, errors: Sequence[Mapping[str, Any]]) -> None:
        self.operation = operation
        self.errors = [dict(e) for e in errors]
        details = "; ".join(
            f"{'.'.join(str(part) for part in e.get('loc', ())) or '<body>'}: {e.get('msg', '')}"
            for e in self.errors
        )
        super().__init__(escape_control(f"invalid arguments for {operation}: {details}"))


class _RequestError(ClickSendError):
    """Shared fields of the errors that belong to one HTTP request."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        outcome_unknown: bool = False,
        references: Sequence[str] = (),
    ) -> None:
        self.method = method
        self.path = path
        self.outcome_unknown = outcome_unknown
        self.references = tuple(references)
        text = f"{method} {path}: {message}"
        if outcome_unknown:
            text += f" ({_UNKNOWN_NOTE}"
            text += f"; references: {', '.join(self.references)})" if self.references else ")"
        super().__init__(escape_control(redact(text)))


class APIError(_RequestError):
    """The API answered with an error status (HTTP, or ``http_code`` in a 2xx envelope)."""

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status_code: int,
        response_code: str | None,
        response_msg: str | None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        outcome_unknown: bool = False,
        references: Sequence[str] = (),
    ) -> None:
        self.status_code = status_code
        self.response_code = response_code
        self.response_msg = response_msg
        self.body = body
        self.headers = dict(headers or {})
        super().__init__(
            f"HTTP {status_code} {response_code or ''}: {response_msg or ''}".rstrip(": "),
            method=method,
            path=path,
            outcome_unknown=outcome_unknown,
            references=references,
        )


class BadRequestError(APIError):
    """400: the API rejected the request (e.g. MISSING_REQUIRED_FIELDS, TOO_MANY_RECIPIENTS)."""


class AuthenticationError(APIError):
    """401: missing or invalid credentials."""


class PermissionDeniedError(APIError):
    """403: the account may not do this (e.g. not activated, banned)."""


class NotFoundError(APIError):
    """404: no such resource."""


class RateLimitError(APIError):
    """429: too many requests; ``retry_after`` is the server's requested pause in seconds."""

    def __init__(self, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(**kwargs)


class ServerError(APIError):
    """5xx: the server failed."""


class TransportError(_RequestError):
    """No usable HTTP answer: the connection failed or timed out."""


class ConnectionError(TransportError, builtins.ConnectionError):
    """The connection could not be made, or dropped before the answer arrived."""


class TimeoutError(TransportError, builtins.TimeoutError):
    """A connect, write, read or pool timeout."""


class ResponseDecodeError(_RequestError):
    """The body is not the JSON the API promises (HTML error page, truncated body, ...)."""

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status_code: int,
        content: bytes,
        reason: str,
        outcome_unknown: bool = False,
        references: Sequence[str] = (),
    ) -> None:
        self.status_code = status_code
        self.content = content[:_CONTENT_KEPT]  # a bounded prefix: bodies can be huge
        head = content[:120].decode("utf-8", "replace")
        super().__init__(
            f"HTTP {status_code}, undecodable body ({reason}); first bytes: {head!r}",
            method=method,
            path=path,
            outcome_unknown=outcome_unknown,
            references=references,
        )


class ResponseTooLargeError(ResponseDecodeError):
    """The answer is larger than the client's ``max_response_bytes``: it was not read, its
    connection was discarded, and ``content`` holds only its first bytes."""


class MissingDataError(ResponseDecodeError):
    """A 2xx answer whose envelope lacks the ``data`` the operation always returns (the method's
    return type promises it). For a send, ``outcome_unknown`` is True: the request was processed."""

    def __init__(
        self,
        *,
        method: str,
        path: str,
        status_code: int,
        content: bytes,
        operation: str,
        outcome_unknown: bool = False,
        references: Sequence[str] = (),
    ) -> None:
        self.status_code = status_code
        self.content = content[:_CONTENT_KEPT]
        self.operation = operation
        head = content[:120].decode("utf-8", "replace")
        _RequestError.__init__(
            self,
            f"HTTP {status_code} without the `data` that {operation} always returns; "
            f"first bytes: {head!r}",
            method=method,
            path=path,
            outcome_unknown=outcome_unknown,
            references=references,
        )


class EventLoopError(ClickSendError, RuntimeError):
    """The client is bound to the event loop it was first used on."""


class CheckpointError(ClickSendError):
    """A bulk-send checkpoint that cannot be used; ``path`` names it (a file, or ``<memory>``)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"checkpoint {path}: {message}")


class CheckpointCorruptError(CheckpointError):
    """A record of the checkpoint is damaged (``line``, 1-based); nothing was sent.

    Only a torn last line (a crash while appending) is tolerated; anything else would make a
    resumed run forget what it already sent.
    """

    def __init__(self, path: str, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(path, f"line {line}: {reason}")


class CheckpointMismatchError(CheckpointError):
    """The checkpoint was written for another run or another input; nothing was sent.

    ``field`` is the run setting that differs (``channel``, ``shared``, ``chunk_size``, ...) or
    ``"messages"``; ``chunk`` is the first chunk whose messages differ (None for a run setting).
    """

    def __init__(self, path: str, message: str, *, field: str, chunk: int | None = None) -> None:
        self.field = field
        self.chunk = chunk
        super().__init__(path, message)


class CheckpointLockedError(CheckpointError):
    """Another run (this process or another one) is using the checkpoint file."""


class RateLimiterUnavailableError(ClickSendError):
    """The shared rate limiter (``limiter_backend``) could not be asked for a token, so the
    request was not sent: sending unthrottled could break the account's limit for every worker.
    ``backend`` names it without credentials."""

    def __init__(self, message: str, *, backend: str) -> None:
        self.backend = escape_control(redact(backend))
        super().__init__(escape_control(redact(f"rate limiter {self.backend}: {message}")))


class ClientClosedError(ClickSendError, RuntimeError):
    """The client (or the ``http_client`` it was given) is closed; create a new one."""


class VoximplantError(ClickSendError):
    """An error answer of the Voximplant Management API: ``code`` and ``msg`` as sent."""

    def __init__(self, *, method: str, code: int, msg: str) -> None:
        self.method = method
        self.code = code
        self.msg = msg
        super().__init__(escape_control(f"Voximplant {method}: error {code}: {msg}"))


class VoximplantAuthenticationError(VoximplantError):
    """The credentials or the JWT were refused (codes 100, 433, 447, 454-456)."""


_STATUS_ERRORS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def error_class_for(status_code: int) -> type[APIError]:
    if status_code >= 500:
        return ServerError
    return _STATUS_ERRORS.get(status_code, APIError)


def api_error(*, status_code: int, retry_after: float | None = None, **fields: Any) -> APIError:
    """The typed error for an HTTP status (``retry_after`` is kept on a RateLimitError)."""
    error_class = error_class_for(status_code)
    if error_class is RateLimitError:
        return RateLimitError(retry_after=retry_after, status_code=status_code, **fields)
    return error_class(status_code=status_code, **fields)
