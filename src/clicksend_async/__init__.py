"""Async SDK for the ClickSend REST API v3 and Voximplant GetCallHistory.

from clicksend_async import AsyncClickSend, errors

The public names load on first use (PEP 562), so ``import clicksend_async`` and tools that only
need ``errors`` or the version (``clicksend --version``) do not pay for httpx, pydantic and the
client until a client is made.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from clicksend_async import errors

if TYPE_CHECKING:
    from clicksend_async._client import AsyncClickSend
    from clicksend_async._observe import EventHooks, RequestEvent, ResponseEvent
    from clicksend_async._pagination import AsyncPaginator
    from clicksend_async._response import APIResponse
    from clicksend_async._types import Timeout

__all__ = [
    "APIResponse",
    "AsyncClickSend",
    "AsyncPaginator",
    "EventHooks",
    "RequestEvent",
    "ResponseEvent",
    "Timeout",
    "errors",
]
__version__ = "0.1.0"

_LAZY = {
    "AsyncClickSend": "clicksend_async._client",
    "APIResponse": "clicksend_async._response",
    "AsyncPaginator": "clicksend_async._pagination",
    "EventHooks": "clicksend_async._observe",
    "RequestEvent": "clicksend_async._observe",
    "ResponseEvent": "clicksend_async._observe",
    "Timeout": "clicksend_async._types",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
