"""The runtime on both event loops anyio supports (issue 14, point 2): every test here runs under
asyncio and under trio through anyio's pytest plugin. Under trio the default client picks an
httpx sender by itself (aiohttp is asyncio-only); the servers are written on anyio
(tests/proxyserver.py), so the same loopback target and proxy serve both backends.

The rest of the suite stays on pytest-asyncio; tests/conftest.py hands the ``anyio``-marked
tests back to anyio's plugin.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
import sniffio

from clicksend_async import AsyncClickSend, errors
from clicksend_async._sender import DefaultSender
from clicksend_async.sandbox import Sandbox
from clicksend_async.voximplant import AsyncVoximplant
from tests.proxyserver import (
    OK_ANSWER,
    STALL,
    basic,
    proxy_server,
    self_signed,
    target_server,
)

pytestmark = pytest.mark.anyio
SEND = {"messages": [{"to": "+61411111111", "body": "hi", "custom_string": "ref-1"}]}
BACKENDS = ["asyncio", "trio"]


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def expected_backend(anyio_backend: str) -> str:
    return "wire" if anyio_backend == "asyncio" else "httpx"


async def test_default_client_sends_on_this_backend(anyio_backend: str) -> None:
    assert sniffio.current_async_library() == anyio_backend
    async with target_server() as target:
        async with AsyncClickSend("u", "k", base_url=target.url) as cs:
            sent = await cs.sms.send(**SEND)
            account = await cs.account.get()
            sender = cs._sender
            assert isinstance(sender, DefaultSender)
            assert sender.backend == expected_backend(anyio_backend)
        assert sent.messages and sent.messages[0].message_id == "M1"
        assert account.username == "u"
    assert [r.line.split(" ")[1] for r in target.requests] == ["/v3/sms/send", "/v3/account"]


async def test_a_429_is_retried_and_a_5xx_send_is_not(anyio_backend: str) -> None:
    busy = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n"
    failed = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
    async with target_server(script=[busy, busy, OK_ANSWER, failed]) as target:
        async with AsyncClickSend("u", "k", base_url=target.url, adaptive_rate_limit=False) as cs:
            await cs.sms.send(**SEND)  # two 429s, then 200
            assert len(target.requests) == 3
            with pytest.raises(errors.ServerError) as info:
                await cs.sms.send(**SEND)
            assert info.value.outcome_unknown and len(target.requests) == 4


async def test_a_silent_server_ends_at_the_timeout(anyio_backend: str) -> None:
    async with target_server(script=[STALL, STALL]) as target:
        async with AsyncClickSend("u", "k", base_url=target.url, max_retries=0) as cs:
            with anyio.fail_after(10):
                with pytest.raises(errors.TimeoutError) as read:
                    await cs.account.get(timeout=0.3)  # each phase and the whole call
                with pytest.raises(errors.TimeoutError) as sent:
                    await cs.sms.send(**SEND, timeout=0.3)
    assert not read.value.outcome_unknown and sent.value.outcome_unknown
    assert sent.value.references == ("ref-1",)


async def test_cancellation_leaves_the_limiter_idle(anyio_backend: str) -> None:
    async with target_server(script=[STALL, STALL]) as target:
        cs = AsyncClickSend(
            "u", "k", base_url=target.url, max_concurrency=2, adaptive_rate_limit=False
        )  # not adaptive: its first request would go alone
        async with cs:
            with anyio.move_on_after(0.3) as scope:
                async with anyio.create_task_group() as tg:
                    for _ in range(5):  # 2 stall in flight, 3 queue in the limiter
                        tg.start_soon(cs.request, "GET", "/account")
            assert scope.cancelled_caught and len(target.requests) == 2
            assert cs.limiter.in_flight == 0
            assert cs._sender.connections_in_use == 0  # type: ignore[union-attr]
            with anyio.fail_after(5):  # full capacity is back
                async with anyio.create_task_group() as tg:
                    tg.start_soon(cs.request, "GET", "/account")
                    tg.start_soon(cs.request, "GET", "/account")


async def test_proxy_from_the_environment_on_this_backend(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cert, server_tls = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    async with (
        proxy_server() as proxy,
        target_server() as plain,
        target_server(server_tls) as secure,
    ):
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        for target in (plain, secure):
            async with AsyncClickSend("u", "k", base_url=target.url) as cs:
                await cs.account.get()
                await cs.sms.send(**SEND)
        assert len(proxy.forwarded) == 2 == len(plain.requests)  # 0 bypassed the proxy
        assert len(secure.requests) == 2 and len(proxy.tunnels) == secure.connections >= 1
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with AsyncClickSend("u", "k", base_url=plain.url) as cs:
            await cs.account.get()
        assert len(proxy.forwarded) == 2 and len(plain.requests) == 3


async def test_sandbox_in_process_with_pagination_and_webhook_pushes(anyio_backend: str) -> None:
    async with target_server() as hook:
        sandbox = Sandbox(webhook_url=hook.url + "/hook")
        async with sandbox.client() as cs:
            for i in range(3):
                await cs.sms.send(messages=[{"to": f"+6141111111{i}", "body": f"m{i}"}] * 20)
            since = datetime.now(timezone.utc) - timedelta(hours=1)
            seen = [m.message_id async for m in cs.sms.history(date_from=since, limit=15)]
            assert len(seen) == 60 == len(set(seen))
            await sandbox.wait_for_pushes()
        assert len(sandbox.pushed) == 60 and all(p["status"] == 200 for p in sandbox.pushed)
        assert len(hook.requests) == 60
    sandbox = Sandbox(webhook_url="http://127.0.0.1:1/hook", receipt_delay=30.0)
    async with sandbox.client() as cs:  # pending pushes are cancelled on close
        await cs.sms.send(**SEND)
        assert sandbox._tasks
    assert not sandbox._tasks


async def test_voximplant_sandbox_last_day(anyio_backend: str) -> None:
    async with AsyncVoximplant.sandbox() as vox:
        until = datetime.now(timezone.utc)
        sessions = [
            s
            async for s in vox.call_history(
                from_date=until - timedelta(days=1), to_date=until, with_calls=True, count=250
            )
        ]
    assert len(sessions) == 1000
    assert sessions[0].calls and sessions[0].calls[0].remote_number
    assert vox.tokens is not None and vox.tokens.signed == 1


async def test_event_hooks_and_with_options_on_this_backend(anyio_backend: str) -> None:
    events: list[Any] = []

    async def on_response(event: Any) -> None:
        await anyio.lowlevel.checkpoint()
        events.append(event)

    async with AsyncClickSend.sandbox(event_hooks={"response": [on_response]}) as cs:
        quick = cs.with_options(max_retries=0)
        await quick.account.get()
        await quick.aclose()
        await cs.account.get()
    assert [e.status for e in events] == [200, 200]


def test_a_client_first_used_in_one_trio_run_refuses_another() -> None:
    import trio

    cs = AsyncClickSend.sandbox()

    async def use() -> None:
        await cs.account.get()

    trio.run(use)
    with pytest.raises(errors.EventLoopError):
        trio.run(use)


@pytest.mark.parametrize("tls", [False, True], ids=["http-407", "connect-407"])
async def test_refused_proxy_credentials_stay_hidden_on_this_backend(
    anyio_backend: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    tls: bool,
) -> None:
    caplog.set_level(logging.DEBUG)  # the SDK's, httpx's, httpcore's, aiohttp's loggers
    secret = "b4ckend-pr0xy-pw"
    cert, server_tls = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    async with (
        proxy_server(require=basic("ops", "another")) as proxy,
        target_server(server_tls if tls else None) as target,
    ):
        url = proxy.url.replace("://", f"://ops:{secret}@")
        async with AsyncClickSend("u", "k", base_url=target.url, proxy=url, max_retries=0) as cs:
            with pytest.raises(errors.ClickSendError) as info:
                await cs.account.get()
        assert proxy.refused == 1 and target.requests == []
    assert isinstance(info.value, errors.ConnectionError if tls else errors.APIError)
    assert secret not in str(info.value) + repr(info.value) + caplog.text
