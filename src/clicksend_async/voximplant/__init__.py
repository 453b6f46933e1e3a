"""Voximplant Management API: GetCallHistory.

from clicksend_async.voximplant import AsyncVoximplant
"""

from clicksend_async.voximplant._client import (
    DEFAULT_BASE_URL,
    AsyncVoximplant,
    CallHistoryPaginator,
    encode_params,
    format_date,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "AsyncVoximplant",
    "CallHistoryPaginator",
    "encode_params",
    "format_date",
]
