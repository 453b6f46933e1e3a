"""Async SDK for the ClickSend REST API v3 and Voximplant GetCallHistory.

from clicksend_async import AsyncClickSend, errors
"""

from clicksend_async import errors
from clicksend_async._client import AsyncClickSend
from clicksend_async._pagination import AsyncPaginator
from clicksend_async._response import APIResponse

__all__ = ["APIResponse", "AsyncClickSend", "AsyncPaginator", "errors"]
__version__ = "0.1.0"
