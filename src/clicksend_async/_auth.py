"""Authentication headers. ClickSend: HTTP Basic with the API username and key."""

from __future__ import annotations

import base64


def basic_authorization(username: str, api_key: str) -> str:
    """The ``Authorization`` header value, computed once per client rather than per request."""
    token = base64.b64encode(f"{username}:{api_key}".encode()).decode("ascii")
    return f"Basic {token}"
