from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from typing import Any

import httpx
import pytest
import respx

from clicksend_async import _constants
from clicksend_async._client import AsyncClickSend

BASE = "https://rest.clicksend.com/v3"


def envelope(data: Any = None, *, http_code: int = 200, code: str = "SUCCESS") -> dict[str, Any]:
    return {"http_code": http_code, "response_code": code, "response_msg": "msg", "data": data}


@pytest.hookimpl(hookwrapper=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> Generator[None, Any, None]:
    """Tests marked ``anyio`` (tests/test_backends.py) belong to anyio's plugin, which runs them
    on the backend of their ``anyio_backend``. pytest-asyncio's auto mode claims every async
    test and would run the trio variants on asyncio, so its items are turned back into plain
    functions here (this wrapper sits outside pytest-asyncio's)."""
    outcome = yield
    result = outcome.get_result()
    if not result:
        return
    items = result if isinstance(result, list) else [result]
    converted: list[Any] = []
    for item in items:
        if isinstance(item, pytest.Function) and type(item) is not pytest.Function:
            if item.get_closest_marker("anyio") is not None:
                plain = pytest.Function.from_parent(
                    item.parent,
                    name=item.name,
                    callspec=getattr(item, "callspec", None),
                    callobj=item.obj,
                    fixtureinfo=item._fixtureinfo,
                    keywords={k: v for k, v in item.keywords.items() if k != "asyncio"},
                    originalname=item.originalname,
                )
                item = plain
        converted.append(item)
    outcome.force_result(converted)


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
