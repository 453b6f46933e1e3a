"""Async SDK for the ClickSend REST API v3 and Voximplant GetCallHistory.

from clicksend_async import AsyncClickSend, errors
"""

from clicksend_async import errors
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
