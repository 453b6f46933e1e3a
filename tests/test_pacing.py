"""Rate-limited accounts (issue 10, situation 5): a default client against a server that allows
3 requests/s loses nothing to 429s, in-process and over real sockets alike, with the server's
headers (paced from the start) and without them (additive-increase/multiplicative-decrease)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
import pytest

from clicksend_async import AsyncClickSend
from clicksend_async.sandbox import Sandbox, serve_in_background


def recipients(n: int) -> list[dict[str, str]]:
    return [{"to": f"+6141{i:07d}", "body": f"hi {i}"} for i in range(n)]


@contextlib.asynccontextmanager
async def client(sandbox: Sandbox, how: str) -> AsyncIterator[AsyncClickSend]:
    if how == "in-process":
        async with sandbox.client() as cs:
            yield cs
        return
    async with serve_in_background(sandbox) as url:
        async with AsyncClickSend(
            sandbox.config.username, sandbox.config.api_key, base_url=url + "/v3"
        ) as cs:
            yield cs


@pytest.mark.parametrize("how", ["in-process", "server"])
async def test_a_default_client_sends_everything_at_the_server_pace(how: str) -> None:
    sandbox = Sandbox(rate_limit=3)
    async with client(sandbox, how) as cs:
        report = await cs.sms.send_bulk(recipients(10_000))
    assert report.counts["accepted"] == 10_000 and report.counts["failed"] == 0
    assert sandbox.state.duplicates == 0 and len(sandbox.state.messages) == 10_000
    requests = sum(sandbox.state.responses.values())
    assert sandbox.state.responses[429] <= 0.05 * requests, sandbox.state.stats()


@pytest.mark.parametrize("how", ["in-process", "server"])
async def test_without_rate_limit_headers_429s_slow_the_client_down_and_nothing_fails(
    how: str,
) -> None:
    sandbox = Sandbox(rate_limit=10, rate_limit_headers=False)
    async with client(sandbox, how) as cs:
        report = await cs.sms.send_bulk(recipients(20_000), chunk_size=500)
        pace = cs.limiter.pace
    assert report.counts["accepted"] == 20_000 and report.counts["failed"] == 0
    assert sandbox.state.duplicates == 0
    assert pace is not None and pace < 40  # it learned to slow down
    requests = sum(sandbox.state.responses.values())
    assert sandbox.state.responses[429] < requests  # far from one 429 per request


async def test_paused_tasks_are_released_at_the_pace_not_all_at_once() -> None:
    sandbox = Sandbox(rate_limit=5)
    started: list[float] = []
    async with sandbox.client() as cs:

        async def one() -> None:
            await cs.account.get()
            started.append(anyio.current_time())

        async with anyio.create_task_group() as tg:
            for _ in range(15):
                tg.start_soon(one)
    assert sandbox.state.responses[429] == 0
    gaps = [b - a for a, b in zip(sorted(started), sorted(started)[1:], strict=False)]
    # The probe, then the 4 left of the server's burst of 5, then one every ~0.2 s: never a wave.
    assert min(gaps[5:]) > 0.1
