"""The ClickSend response envelope: ``{http_code, response_code, response_msg, data}``."""

from __future__ import annotations

from typing import Any

ENVELOPE_KEYS = ("http_code", "response_code", "response_msg")


def ensure_envelope(body: Any) -> Any:
    """Return ``body`` as an envelope.

    A few calls (GET /mms-campaigns in the docs) answer with the bare data object; wrapping it keeps
    every response model and the error checks on one shape instead of special-casing those calls.
    """
    if isinstance(body, dict) and any(key in body for key in ENVELOPE_KEYS):
        return body
    return {"http_code": 200, "response_code": "SUCCESS", "response_msg": "", "data": body}
