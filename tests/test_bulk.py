"""Bulk sends: chunking, validation, exact accounting under faults, no duplicates, resume."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import respx

from clicksend_async import AsyncClickSend
from clicksend_async.bulk import BulkProgress, BulkReport, FileCheckpoint, MemoryCheckpoint
from clicksend_async.sandbox import DOCS_TEST_KEY, Sandbox
from tests.conftest import envelope


def numbers(n: int, start: int = 0) -> Iterator[dict[str, Any]]:
    for i in range(start, start + n):
        yield {"to": f"+6141{i:07d}", "body": f"Hello {i}"}


def buckets(report: BulkReport) -> dict[int, str]:
    """input index -> the one bucket it ended in (fails on a message in two buckets)."""
    placed: dict[int, str] = {}
    groups: dict[str, list[Any]] = {
        "accepted": report.accepted,
        "rejected": report.rejected,
        "failed": [m for f in report.failed for m in f.messages],
        "unknown": [m for f in report.unknown for m in f.messages],
        "safe_to_resend": report.safe_to_resend,
        "not_sent": report.not_sent,
    }
    for name, outcomes in groups.items():
        for outcome in outcomes:
            assert outcome.index not in placed, f"message {outcome.index} in two buckets"
            placed[outcome.index] = name
    return placed


async def test_chunks_of_at_most_1000_per_request(router: respx.MockRouter) -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        messages = json.loads(request.content)["messages"]
        sizes.append(len(messages))
        answers = [
            {**m, "status": "SUCCESS", "message_id": f"id-{m['custom_string']}"} for m in messages
        ]
        return httpx.Response(200, json=envelope({"messages": answers}))

    router.post("/sms/send").mock(side_effect=handler)
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    cs = AsyncClickSend("u", "k", http_client=http)
    report = await cs.sms.send_bulk(numbers(2500))
    assert sorted(sizes) == [500, 1000, 1000]
    assert report.counts["accepted"] == 2500 and report.consistent
    await http.aclose()


async def test_invalid_messages_are_reported_and_never_sent() -> None:
    sandbox = Sandbox()
    async with AsyncClickSend.sandbox(sandbox) as cs:
        messages = [
            {"to": "+61411111111", "body": "fine"},
            {"body": "no recipient"},
            {"to": "+61411111111", "body": "  "},
            {"to": "not-a-number", "body": "x"},
            {"to": "+61411111111", "body": "x", "schedule": int(time.time()) - 86400},
            {"to": "+61411111111", "body": "x", "schedule": "tomorrow"},
            "not a message",
        ]
        report = await cs.sms.send_bulk(messages)  # type: ignore[arg-type]
    reasons = {o.index: o.reason or "" for o in report.rejected}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6]
    assert reasons[1].startswith("to:") and reasons[2].startswith("body:")
    assert reasons[3].startswith("to:") and reasons[4] == "schedule: in the past"
    assert reasons[5].startswith("schedule:") and "mapping" in reasons[6]
    assert all(o.status == "INVALID" for o in report.rejected)
    assert [m.body for m in sandbox.state.messages.values()] == ["fine"]
    assert report.counts["accepted"] == 1 and report.consistent


async def test_api_rejections_are_per_recipient() -> None:
    sandbox = Sandbox(username="nocredit", api_key=DOCS_TEST_KEY)
    async with AsyncClickSend.sandbox(sandbox) as cs:
        report = await cs.sms.send_bulk(numbers(3))
    assert [(o.status, o.reason) for o in report.rejected] == [
        ("INSUFFICIENT_CREDIT", "the API answered INSUFFICIENT_CREDIT")
    ] * 3


async def test_each_message_gets_a_unique_reference_unless_set() -> None:
    sandbox = Sandbox()
    async with AsyncClickSend.sandbox(sandbox) as cs:
        messages = [*numbers(3), {"to": "+61411111111", "body": "mine", "custom_string": "order-7"}]
        report = await cs.sms.send_bulk(messages)
    references = [o.reference for o in report.accepted]
    assert len(set(references)) == 4 and "order-7" in references
    assert all(r.startswith(report.run_id) for r in references if r != "order-7")
    assert {m.custom_string for m in sandbox.state.messages.values()} == set(references)


async def test_exact_accounting_under_injected_faults() -> None:
    faults = [None, "drop", "http_500", "truncated_json", None, "html_502", "invalid_json", None]
    sandbox = Sandbox(fault_script=faults)
    async with AsyncClickSend.sandbox(sandbox, max_retries=0) as cs:
        report = await cs.sms.send_bulk(numbers(800), chunk_size=100, max_chunks_in_flight=1)
        placed = buckets(report)
        assert sorted(placed) == list(range(800)) and report.consistent
        assert report.counts["accepted"] == 300 and report.counts["unknown"] == 500
        await report.reconcile(cs)
    placed = buckets(report)
    assert sorted(placed) == list(range(800)) and report.consistent
    # processed despite the fault (drop, truncated, invalid JSON) -> found in history
    assert report.counts["accepted"] == 600 and report.counts["safe_to_resend"] == 200
    assert {o.message_id for o in report.accepted} == set(sandbox.state.messages)
    assert sandbox.state.duplicates == 0


async def test_no_duplicate_after_a_dropped_connection() -> None:
    sandbox = Sandbox(fault_script=["drop"])
    async with AsyncClickSend.sandbox(sandbox) as cs:
        report = await cs.sms.send_bulk(numbers(50))
        assert report.counts["unknown"] == 50  # the chunk was written, then the answer lost
        await report.reconcile(cs)
        assert report.counts["accepted"] == 50 and report.safe_to_resend == []
        # resending what is safe (nothing) cannot duplicate anything
        again = await cs.sms.send_bulk([{"to": o.to, "body": "x"} for o in report.safe_to_resend])
    assert again.total == 0
    assert sandbox.state.requests["sms_send"] == 1 and sandbox.state.duplicates == 0


async def test_failed_chunks_carry_their_typed_error() -> None:
    sandbox = Sandbox(username="banned", api_key=DOCS_TEST_KEY)
    async with AsyncClickSend.sandbox(sandbox) as cs:
        report = await cs.sms.send_bulk(numbers(10))
    assert len(report.failed) == 1 and report.failed[0].error_type == "PermissionDeniedError"
    assert report.failed[0].exception is not None and report.counts["failed"] == 10


async def test_resume_after_cancellation_never_resends(tmp_path: Path) -> None:
    sandbox = Sandbox(latency=0.05)
    checkpoint = tmp_path / "campaign.jsonl"
    report = BulkReport(channel="sms", run_id="")
    async with AsyncClickSend.sandbox(sandbox) as cs:
        with anyio.move_on_after(0.18):
            await cs.sms.send_bulk(
                numbers(2000), chunk_size=100, max_chunks_in_flight=1,
                checkpoint=checkpoint, report=report,
            )  # fmt: skip
        assert report.cancelled and report.consistent
        first_run = report.counts
        assert 0 < first_run["accepted"] < 2000 and first_run["not_sent"] > 0
        # restart: same input, same checkpoint file
        resumed = await cs.sms.send_bulk(numbers(2000), chunk_size=100, checkpoint=checkpoint)
        await resumed.reconcile(cs)
    assert resumed.resumed_chunks >= first_run["accepted"] // 100
    assert resumed.run_id == report.run_id
    assert resumed.counts["accepted"] + resumed.counts["safe_to_resend"] == 2000
    assert resumed.consistent
    assert sandbox.state.duplicates == 0
    assert len(sandbox.state.messages) == resumed.counts["accepted"]
    records = FileCheckpoint(checkpoint).load()
    assert records[0]["kind"] == "run"


async def test_input_is_streamed_not_materialised() -> None:
    pulled = 0

    def source() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for message in numbers(20_000):
            pulled += 1
            yield message

    seen_at_first_request: list[int] = []
    sandbox = Sandbox()
    original = sandbox.handle

    async def spy(*args: Any) -> Any:
        if not seen_at_first_request:
            seen_at_first_request.append(pulled)
        return await original(*args)

    sandbox.handle = spy  # type: ignore[method-assign]
    async with AsyncClickSend.sandbox(sandbox) as cs:
        report = await cs.sms.send_bulk(source(), max_chunks_in_flight=2)
    assert seen_at_first_request[0] <= 3000  # a few chunks ahead at most, never the whole input
    assert report.counts["accepted"] == 20_000


async def test_async_iterable_input_and_progress_events() -> None:
    async def source() -> AsyncIterator[dict[str, Any]]:
        for message in numbers(2500):
            yield message

    events: list[BulkProgress] = []
    async with AsyncClickSend.sandbox() as cs:
        report = await cs.sms.send_bulk(source(), on_progress=events.append)
    assert report.counts["accepted"] == 2500
    assert [e.done for e in events][-1] == 2500 and events[-1].accepted == 2500
    assert all(e.total is None for e in events)  # an async stream has no known length
    list_events: list[BulkProgress] = []
    async with AsyncClickSend.sandbox() as cs:
        await cs.sms.send_bulk(list(numbers(2500)), on_progress=list_events.append)
    assert list_events[-1].total == 2500 and list_events[-1].eta == 0


async def test_mms_and_voice_bulk() -> None:
    sandbox = Sandbox()
    async with AsyncClickSend.sandbox(sandbox) as cs:
        mms = await cs.mms.send_bulk(
            [{"to": "+61411111111", "body": "pic", "subject": "Hi", "from": "Shop"}],
            shared={"media_file": "https://example.com/a.jpg"},
        )
        voice = await cs.voice.send_bulk([{"to": "+61411111111", "body": "call", "voice": "male"}])
        bad = await cs.mms.send_bulk([{"to": "+61411111111", "body": "no subject"}])
    assert mms.counts["accepted"] == 1 and voice.counts["accepted"] == 1
    assert bad.rejected[0].reason == "subject: required for MMS"
    assert {m.channel for m in sandbox.state.messages.values()} == {"mms", "voice"}


def test_memory_checkpoint_round_trip() -> None:
    checkpoint = MemoryCheckpoint()
    checkpoint.save({"kind": "run", "run_id": "abc"})
    assert checkpoint.load() == [{"kind": "run", "run_id": "abc"}]
