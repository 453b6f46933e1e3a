"""Chunk claiming: one campaign sent by several worker processes with a ``RedisCheckpoint`` on a
real redis-server, against the sandbox as a real server; kill -9 of a worker; the merged report."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from redis import Redis

from clicksend_async import AsyncClickSend, errors
from clicksend_async.bulk import BulkReport
from clicksend_async.redis_checkpoint import RedisCheckpoint
from clicksend_async.sandbox import Sandbox, serve_in_background
from tests.bulk_helpers import ROOT, buckets, numbers
from tests.redisserver import RedisServer, redis_server


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def worker_command(url: str, redis_url: str, campaign: str, n: int, *args: Any) -> list[str]:
    module = "tests.redis_bulk_worker"
    return [sys.executable, "-m", module, url + "/v3", redis_url, campaign, str(n), *map(str, args)]


async def start(command: list[str], count: int) -> list[tuple[Process, str]]:
    """Worker processes (and their worker ids), told to start sending once all are ready."""
    workers = []
    for _ in range(count):
        process = await anyio.open_process(command, cwd=ROOT, stderr=subprocess.DEVNULL)
        assert process.stdout is not None
        line = b""
        while not line.endswith(b"\n"):
            line += await process.stdout.receive(1)
        workers.append((process, line.decode().split()[1]))
    for process, _ in workers:
        assert process.stdin is not None
        await process.stdin.send(b"go\n")
    return workers


async def result(process: Process) -> dict[str, Any]:
    assert process.stdout is not None
    data = b""
    async for piece in process.stdout:
        data += piece
    await process.wait()
    out: dict[str, Any] = json.loads(data.decode().strip().splitlines()[-1])
    return out


def in_flight_of(client: Redis, campaign: str, worker: str) -> bool:
    """Has ``worker`` a part claimed and not answered yet?"""
    parts = client.hgetall(f"clicksend:{{{campaign}}}:parts")
    finals = client.hgetall(f"clicksend:{{{campaign}}}:final")
    return any(json.loads(v)["worker"] == worker and k not in finals for k, v in parts.items())


def every_message_once(report: BulkReport, n: int) -> None:
    assert sorted(buckets(report)) == list(range(n)) and report.consistent
    assert report.total == n


async def test_three_worker_processes_send_each_chunk_once(redis: RedisServer) -> None:
    n, size = 3000, 100
    sandbox = Sandbox(latency=0.05)
    async with serve_in_background(sandbox) as url:
        command = worker_command(url, redis.url, "three", n, size, 2)
        workers = await start(command, 3)
        results = [await result(process) for process, _ in workers]
    assert sandbox.state.duplicates == 0 and len(sandbox.state.messages) == n
    # One request per chunk in all: every chunk claimed by exactly one worker.
    assert sum(r["requests"] for r in results) == sandbox.state.requests["sms_send"] == n // size
    assert all(r["consistent"] and r["total"] == n for r in results)
    assert sum(1 for r in results if r["requests"]) >= 2  # the work was shared
    with RedisCheckpoint(redis.url, campaign="three") as store:
        merged = store.report()
    every_message_once(merged, n)
    assert merged.counts["accepted"] == n and not merged.cancelled
    assert {o.message_id for o in merged.accepted} == set(sandbox.state.messages)


async def test_a_killed_worker_leaves_its_chunks_unknown_for_reconcile(redis: RedisServer) -> None:
    n, size = 3000, 100
    sandbox = Sandbox(latency=0.1)
    client = Redis.from_url(redis.url)
    async with serve_in_background(sandbox) as url:
        command = worker_command(url, redis.url, "killed", n, size, 1)
        (victim, victim_id), *others = await start(command, 3)
        with anyio.fail_after(20):
            while client.hlen("clicksend:{killed}:final") < 3 or not in_flight_of(  # noqa: ASYNC110
                client, "killed", victim_id
            ):
                await anyio.sleep(0.002)
        victim.kill()  # SIGKILL mid-request: no final record
        await victim.wait()
        results = [await result(process) for process, _ in others]
        assert sandbox.state.duplicates == 0  # nobody resent the victim's chunk
        assert all(r["consistent"] for r in results)
        with RedisCheckpoint(redis.url, campaign="killed") as store:
            merged = store.report()
            every_message_once(merged, n)
            interrupted = [f for f in merged.unknown if f.error_type == "Interrupted"]
            assert interrupted and merged.counts["not_sent"] == 0
            async with AsyncClickSend("sandbox", "sandbox", base_url=url + "/v3") as cs:
                # A later worker sees the victim's chunk as unknown and sends nothing.
                before = sandbox.state.requests["sms_send"]
                later = await cs.sms.send_bulk(numbers(n), checkpoint=store, chunk_size=size)
                assert sandbox.state.requests["sms_send"] == before and later.requests == 0
                assert later.counts["unknown"] == merged.counts["unknown"] and later.consistent
                await merged.reconcile(cs, min_age=0)
        every_message_once(merged, n)
        assert merged.counts["unknown"] == 0 and merged.counts["failed"] == 0
        assert merged.counts["accepted"] + merged.counts["safe_to_resend"] == n
        assert sandbox.state.duplicates == 0 and len(sandbox.state.messages) <= n
    client.close()


async def test_another_input_under_the_campaign_id_is_refused_before_sending(
    redis: RedisServer,
) -> None:
    sandbox = Sandbox()
    async with AsyncClickSend.sandbox(sandbox) as cs:
        with RedisCheckpoint(redis.url, campaign="mismatch") as store:
            first = await cs.sms.send_bulk(numbers(500), checkpoint=store, chunk_size=100)
            assert first.counts["accepted"] == 500
        sent = sandbox.state.requests["sms_send"]
        with RedisCheckpoint(redis.url, campaign="mismatch") as store:
            with pytest.raises(errors.CheckpointMismatchError) as caught:
                await cs.sms.send_bulk(numbers(600, body="Other"), checkpoint=store, chunk_size=100)
            assert caught.value.field == "messages" and caught.value.chunk == 0
            with pytest.raises(errors.CheckpointMismatchError) as caught:
                await cs.sms.send_bulk(numbers(500), checkpoint=store, chunk_size=50)
            assert caught.value.field == "chunk_size"
        assert sandbox.state.requests["sms_send"] == sent  # nothing was sent


async def test_a_chunk_claimed_with_other_messages_stops_the_worker_there(
    redis: RedisServer,
) -> None:
    sandbox = Sandbox(latency=0.01)
    other = RedisCheckpoint(redis.url, campaign="clash")

    def clash(_: Any) -> None:  # another worker, other input: it claims chunk 5 meanwhile
        other.begin({})  # joins the stored run
        record = {"kind": "chunk", "chunk": 5, "part": 0, "state": "inflight", "digest": "x",
                  "indices": [[500, 600]], "sent_at": 0.0, "until": None}  # fmt: skip
        other.claim(record, [])

    async with AsyncClickSend.sandbox(sandbox) as cs:
        with RedisCheckpoint(redis.url, campaign="clash") as store:
            report = BulkReport(channel="sms", run_id="")
            with pytest.raises(errors.CheckpointMismatchError) as caught:
                await cs.sms.send_bulk(
                    numbers(1000), checkpoint=store, chunk_size=100, max_chunks_in_flight=1,
                    on_progress=clash, report=report,
                )  # fmt: skip
    other.close()
    assert caught.value.chunk == 5 and "another worker" in str(caught.value)
    assert sandbox.state.requests["sms_send"] == 5  # chunks 0-4; nothing from chunk 5 on
    assert report.consistent and report.counts["accepted"] == 500  # the rest not_sent
    assert report.counts["not_sent"] == report.total - 500 > 0


async def test_a_chunk_claimed_by_a_live_worker_is_claimed_elsewhere(redis: RedisServer) -> None:
    sandbox = Sandbox()
    other = RedisCheckpoint(redis.url, campaign="elsewhere")
    async with AsyncClickSend.sandbox(sandbox) as cs:
        with RedisCheckpoint(redis.url, campaign="elsewhere") as store:
            claimed: list[int] = []

            def grab(_: Any) -> None:  # the other worker claims chunk 3 as this one would
                if claimed:
                    return
                parts = Redis.from_url(redis.url).hgetall("clicksend:{elsewhere}:parts")
                mine = json.loads(parts[b"0:0"])  # what this worker claimed for chunk 0
                run_id = other.begin({})[0]["run_id"]
                digest = store_digest(numbers(400), 3, run_id)
                record = {**mine["record"], "chunk": 3, "digest": digest,
                          "indices": [[300, 400]]}  # fmt: skip
                assert other.claim(record, []) is None
                claimed.append(3)

            report = await cs.sms.send_bulk(
                numbers(400), checkpoint=store, chunk_size=100, max_chunks_in_flight=1,
                on_progress=grab,
            )  # fmt: skip
    other.close()
    assert report.counts["claimed_elsewhere"] == 100 and report.consistent
    assert {o.index for o in report.claimed_elsewhere} == set(range(300, 400))
    assert sandbox.state.requests["sms_send"] == 3


def store_digest(messages: Iterator[dict[str, Any]], chunk: int, run_id: str) -> str:
    """The digest the engine records for ``chunk`` of ``messages`` (chunks of 100)."""
    from clicksend_async.bulk import _validate
    from clicksend_async.models.clicksend import SmsMessage

    items = []
    for index, raw in enumerate(messages):
        if index // 100 == chunk:
            reference = f"{run_id}-{chunk}-{index}"
            prepared = _validate.prepare("sms", raw, index, reference, {}, SmsMessage)
            assert isinstance(prepared, _validate.Prepared)
            items.append((index, prepared.digest))
    return _validate.chunk_digest(items)


def test_redis_unreachable_is_a_typed_error_before_sending() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = RedisCheckpoint(f"redis://:s3cret@127.0.0.1:{port}/0", campaign="down", timeout=0.5)
    with pytest.raises(errors.CheckpointError) as caught:
        store.begin({})
    assert "s3cret" not in str(caught.value) and "Redis unavailable" in str(caught.value)


@pytest.mark.parametrize("campaign", ["", "a{b}", "a b", "x" * 201])
def test_a_bad_campaign_id_is_a_typed_error(campaign: str) -> None:
    with pytest.raises(errors.ClickSendError, match="campaign"):
        RedisCheckpoint("redis://127.0.0.1:1/0", campaign=campaign)


async def test_a_failed_chunk_is_sent_again_by_a_later_worker_and_the_report_says_so(
    redis: RedisServer,
) -> None:
    # The second request gets a 429 whose Retry-After is past the client's ceiling: provably
    # not processed, so `failed`.
    sandbox = Sandbox(fault_script=[None, "http_429"])
    async with AsyncClickSend.sandbox(sandbox, max_retries=0, max_retry_after=0.5) as cs:
        with RedisCheckpoint(redis.url, campaign="failed") as store:
            first = await cs.sms.send_bulk(
                numbers(300), checkpoint=store, chunk_size=100, max_chunks_in_flight=1
            )
            assert first.counts["failed"] == 100 and first.counts["accepted"] == 200
            merged = store.report()
            assert merged.counts["failed"] == 100 and merged.consistent
            later = await cs.sms.send_bulk(numbers(300), checkpoint=store, chunk_size=100)
            assert later.requests == 1 and later.counts["accepted"] == 300
            merged = store.report()  # the part that resent it supersedes the failed one
    every_message_once(merged, 300)
    assert merged.counts["accepted"] == 300 and merged.counts["failed"] == 0
    assert sandbox.state.duplicates == 0 and len(sandbox.state.messages) == 300
