"""What a call returns when the raw HTTP response is wanted too."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import httpx

T = TypeVar("T")


class APIResponse(Generic[T]):
    """The parsed envelope of one call plus the HTTP response it came from.

    ``cs.sms.with_raw_response.send(...)`` returns one of these; the plain ``cs.sms.send(...)``
    returns ``.data``.
    """

    __slots__ = ("attempts", "http_response", "parsed")

    def __init__(self, http_response: httpx.Response, parsed: T, attempts: int = 1) -> None:
        self.http_response = http_response
        self.parsed = parsed
        self.attempts = attempts

    @property
    def data(self) -> Any:
        """The envelope's ``data`` (typed for generated operations)."""
        parsed: Any = self.parsed
        if isinstance(parsed, dict):
            return parsed.get("data")
        return getattr(parsed, "data", None)

    @property
    def status_code(self) -> int:
        return self.http_response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.http_response.headers

    @property
    def rate_limit(self) -> dict[str, str]:
        """The ``x-ratelimit-*`` headers, names without the prefix (e.g. ``remaining``)."""
        prefix = "x-ratelimit-"
        return {
            name[len(prefix) :]: value
            for name, value in self.http_response.headers.items()
            if name.lower().startswith(prefix)
        }

    def __repr__(self) -> str:
        request = self.http_response.request
        return (
            f"<APIResponse {request.method} {request.url.path} "
            f"[{self.status_code}] {type(self.parsed).__name__}>"
        )
