from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from clicksend_async import _constants
from clicksend_async._client import AsyncClickSend

BASE = "https://rest.clicksend.com/v3"


def envelope(data: Any = None, *, http_code: int = 200, code: str = "SUCCESS") -> dict[str, Any]:
    return {"http_code": http_code, "response_code": code, "response_msg": "msg", "data": data}


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries wait milliseconds in tests; the policy numbers are tested on their own."""
    monkeypatch.setattr(_constants, "BACKOFF_INITIAL", 0.001)
    monkeypatch.setattr(_constants, "BACKOFF_MAX", 0.004)


@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(base_url=BASE, assert_all_called=False)


@pytest.fixture
async def cs(router: respx.MockRouter) -> AsyncIterator[AsyncClickSend]:
    """A client whose HTTP traffic goes to the respx router (whatever the default transport)."""
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    client = AsyncClickSend("user", "secret-key", http_client=http)
    yield client
    await client.aclose()
    await http.aclose()
