"""What a call returns when the raw HTTP response is wanted too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import httpx

from clicksend_async._transport import RawResponse

T = TypeVar("T")


class APIResponse(Generic[T]):
    """The parsed envelope of one call plus the HTTP response it came from.

    ``cs.sms.with_raw_response.send(...)`` returns one of these; the plain ``cs.sms.send(...)``
    returns ``.data``.
    """

    __slots__ = ("_raw", "attempts", "parsed")

    def __init__(self, raw: RawResponse, parsed: T, attempts: int = 1) -> None:
        self._raw = raw
        self.parsed = parsed
        self.attempts = attempts

    @property
    def http_response(self) -> httpx.Response:
        """The answer as an ``httpx.Response`` (built on first access)."""
        return self._raw.to_httpx()

    @property
    def data(self) -> Any:
        """The envelope's ``data`` (typed for generated operations)."""
        parsed: Any = self.parsed
        if isinstance(parsed, dict):
            return parsed.get("data")
        return getattr(parsed, "data", None)

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
