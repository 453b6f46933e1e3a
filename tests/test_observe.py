"""What a caller can observe (_observe.py): event hooks on every attempt, the log lines of
retries, 429 pauses and transport errors, and ``CLICKSEND_LOG`` (issue 14, point 3)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from typing import Any

import httpx
import pytest
import respx

from clicksend_async import AsyncClickSend, RequestEvent, ResponseEvent, errors
from clicksend_async._observe import Hooks
from clicksend_async.sandbox import Sandbox
from clicksend_async.voximplant import AsyncVoximplant
from tests.conftest import envelope

SEND = {"messages": [{"to": "+61411111111", "body": "hi", "custom_string": "ref-1"}]}
KEY = "key-that-must-stay-hidden"


def client_for(router: respx.MockRouter, **options: Any) -> AsyncClickSend:
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    return AsyncClickSend("user", KEY, http_client=http, **options)


# -- event hooks ---------------------------------------------------------------------------------


async def test_sync_and_async_hooks_see_every_attempt(router: respx.MockRouter) -> None:
    router.get("/account").mock(
        side_effect=[
            httpx.Response(503),
            httpx.ConnectError("refused"),
            httpx.Response(200, json=envelope({"username": "u"}), headers={"x-trace": "t1"}),
        ]
    )
    requests: list[RequestEvent] = []
    responses: list[ResponseEvent] = []

    async def on_response(event: ResponseEvent) -> None:
        responses.append(event)

    cs = client_for(
        router, max_retries=2, event_hooks={"request": [requests.append], "response": [on_response]}
    )
    await cs.account.get()
    assert [(e.method, e.path, e.attempt) for e in requests] == [
        ("GET", "/account", 1),
        ("GET", "/account", 2),
        ("GET", "/account", 3),
    ]
    assert all({"Authorization", "authorization"}.isdisjoint(e.headers) for e in requests)
    assert requests[0].headers["User-Agent"].startswith("clicksend-async/")
    assert [(e.attempt, e.status) for e in responses] == [(1, 503), (2, None), (3, 200)]
    assert responses[1].error is not None and responses[1].error.startswith("ConnectError")
    assert responses[2].headers["x-trace"] == "t1" and responses[2].elapsed >= 0
    assert KEY not in repr(requests) + repr(responses)


async def test_a_failing_hook_is_logged_and_the_call_keeps_its_retry_semantics(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    # A send answered 200: a hook that raises must not turn it into an error (the caller
    # would resend a processed message), nor make a read-timeout send look retryable.
    route = router.post("/sms/send").respond(200, json=envelope({"messages": []}))

    def broken(event: Any) -> None:
        raise RuntimeError("metrics backend down")

    cs = client_for(router, event_hooks={"request": [broken], "response": [broken]})
    with caplog.at_level(logging.ERROR, logger="clicksend_async"):
        await cs.sms.send(**SEND)
    assert route.call_count == 1
    failures = [r for r in caplog.records if "event hook" in r.getMessage()]
    assert len(failures) == 2 and failures[0].exc_info is not None

    router.post("/sms/send").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(errors.TimeoutError) as info:
        await cs.sms.send(**SEND)
    assert info.value.outcome_unknown  # still the send-safety answer, not the hook's error


async def test_hooks_on_voximplant_and_the_sandbox() -> None:
    seen: list[ResponseEvent] = []
    async with AsyncVoximplant.sandbox(event_hooks={"response": [seen.append]}) as vox:
        await vox.call_history(from_date="2000-01-01 00:00:00", to_date="2100-01-01 00:00:00")
    assert [(e.method, e.path, e.status) for e in seen] == [("POST", "/GetCallHistory", 200)]


@pytest.mark.parametrize(
    ("hooks", "match"),
    [
        ({"requests": []}, "unknown kind requests"),
        ({"request": print}, "must be a list of callables"),
        ({"response": ["not callable"]}, "str is not callable"),
    ],
)
def test_bad_event_hooks_are_typed_errors(hooks: Any, match: str) -> None:
    with pytest.raises(errors.ClickSendError, match=match):
        AsyncClickSend("u", "k", event_hooks=hooks)
    with pytest.raises(errors.ClickSendError, match=match):
        Hooks.from_option(hooks)


# -- log lines -----------------------------------------------------------------------------------


async def test_retries_pauses_and_transport_errors_are_logged_without_secrets(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    router.get("/account").mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "0"}),
            httpx.Response(502),
            httpx.ConnectError("refused"),
            httpx.Response(200, json=envelope({"username": "u"})),
        ]
    )
    router.post("/sms/send").mock(side_effect=httpx.ReadError("reset"))
    cs = client_for(router, max_retries=3, adaptive_rate_limit=False)
    with caplog.at_level(logging.DEBUG, logger="clicksend_async"):
        await cs.account.get()
        with pytest.raises(errors.ConnectionError):
            await cs.sms.send(**SEND)
    lines = [r.getMessage() for r in caplog.records if r.name == "clicksend_async"]
    expected = [
        "GET /account -> 429 in",
        "GET /account: attempt 1: 429, client paused 0.00 s (Retry-After)",
        "GET /account: attempt 2: HTTP 502, retry 1 in",
        "GET /account: attempt 3: ConnectError, retry 2 in",
        "GET /account -> 200 in",
        "POST /sms/send: attempt 1: ReadError (not retried: the request may have been processed)",
    ]
    for text in expected:
        assert any(line.startswith(text) for line in lines), (text, lines)
    assert not any(KEY in line or "Basic " in line for line in lines)


async def test_a_refused_long_retry_after_is_logged() -> None:
    sandbox = Sandbox(fault_script=["http_429"])
    async with sandbox.client(max_retry_after=0.5) as cs:
        logger = logging.getLogger("clicksend_async")
        records: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = records.append  # type: ignore[method-assign]
        logger.addHandler(handler)
        old = logger.level
        logger.setLevel(logging.INFO)
        try:
            with pytest.raises(errors.RateLimitError):
                await cs.account.get()
        finally:
            logger.removeHandler(handler)
            logger.setLevel(old)
    assert any("exceeds max_retry_after=0.5 s: raised" in r.getMessage() for r in records)


def run_with_log(level: str) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(
        """
        import asyncio
        from clicksend_async.sandbox import Sandbox

        async def main():
            async with Sandbox(fault_script=["http_500"]).client() as cs:
                await cs.account.get()
                await cs.sms.send(messages=[{"to": "+61411111111", "body": "hi"}])

        asyncio.run(main())
        """
    )
    env = {**os.environ, "CLICKSEND_LOG": level}
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )


def test_clicksend_log_debug_prints_each_attempt_to_stderr_without_secrets() -> None:
    result = run_with_log("debug")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert any("DEBUG clicksend_async: GET /account -> 500 in" in line for line in lines), lines
    retry = "INFO clicksend_async: GET /account: attempt 1: HTTP 500, retry 1"
    assert any(retry in line for line in lines), lines
    assert any("POST /sms/send -> 200" in line for line in lines)
    assert "sandbox" not in result.stderr.replace("sandbox.invalid", "")  # the key is "sandbox"
    assert "Basic " not in result.stderr


def test_clicksend_log_info_hides_debug_lines_and_a_bad_value_is_a_typed_error() -> None:
    info = run_with_log("INFO")
    assert info.returncode == 0, info.stderr
    assert "attempt 1: HTTP 500, retry 1" in info.stderr and "DEBUG" not in info.stderr
    bad = run_with_log("verbose")
    assert bad.returncode == 1
    assert "ClickSendError: CLICKSEND_LOG must be one of debug, info, warning" in bad.stderr
