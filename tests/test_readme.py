"""The README's Python examples run as written (the HTTP layer is swapped for a respx router)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import respx

from clicksend_async import _client
from clicksend_async._transport import HttpxSender
from tests.conftest import BASE, envelope
from tests.spec_index import ROOT

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


def fake_api() -> respx.MockRouter:
    router = respx.MockRouter(base_url=BASE, assert_all_called=False)
    message = {
        "message_id": "M1",
        "status": "SUCCESS",
        "message_price": "0.0700",
        "date": "1436871253",
    }
    router.post("/sms/send").respond(200, json=envelope({"messages": [message]}))
    router.get("/sms/history").respond(
        200, json=envelope({"total": 1, "current_page": 1, "last_page": 1, "data": [message]})
    )
    router.get("/account").respond(
        200,
        json=envelope({"username": "demo", "balance": "12.500000"}),
        headers={"x-ratelimit-remaining": "99"},
    )
    return router


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2 and any("AsyncClickSend" in block for block in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(
    block: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    router = fake_api()

    def sender(**_: Any) -> HttpxSender:
        mock = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
        return HttpxSender(mock, owned=True)

    monkeypatch.setattr(_client, "AiohttpSender", sender)
    monkeypatch.setenv("CLICKSEND_USERNAME", "demo")
    monkeypatch.setenv("CLICKSEND_API_KEY", "demo-key")
    exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})
    if "AsyncClickSend" in block:
        out = capsys.readouterr().out
        assert "M1 SUCCESS 0.0700" in out and "demo" in out
