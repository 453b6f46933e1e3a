"""Bulk sends: chunking, validation, exact accounting under faults, no duplicates, resume,
attribution with repeated references, classification of odd answers, unsendable messages."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx

from clicksend_async import AsyncClickSend, errors
from clicksend_async.bulk import BulkProgress, BulkReport, MemoryCheckpoint
from clicksend_async.sandbox import DOCS_TEST_KEY, Sandbox
from tests.bulk_helpers import buckets, numbers, records
from tests.conftest import envelope


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
        await report.reconcile(cs, min_age=0)
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
        with anyio.move_on_after(0.5):
            await cs.sms.send_bulk(
                numbers(2000), chunk_size=100, max_chunks_in_flight=1,
                checkpoint=checkpoint, report=report,
            )  # fmt: skip
        assert report.cancelled and report.consistent
        first_run = report.counts
        assert 0 < first_run["accepted"] < 2000 and first_run["not_sent"] > 0
        # restart: same input, same checkpoint file
        resumed = await cs.sms.send_bulk(numbers(2000), chunk_size=100, checkpoint=checkpoint)
        await resumed.reconcile(cs, min_age=0)
    assert resumed.resumed_chunks >= first_run["accepted"] // 100
    assert resumed.run_id == report.run_id
    assert resumed.counts["accepted"] + resumed.counts["safe_to_resend"] == 2000
    assert resumed.consistent
    assert sandbox.state.duplicates == 0
    assert len(sandbox.state.messages) == resumed.counts["accepted"]
    assert records(checkpoint)[0]["kind"] == "run"


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


# -- attribution: repeated references never merge messages ---------------------------------------


def tagged(n: int, tag: str = "order-7") -> list[dict[str, Any]]:
    return [{**m, "custom_string": tag} for m in numbers(n)]


def assert_attributed(report: BulkReport, sandbox: Sandbox) -> None:
    """Every accepted message carries the id the server gave to *its* recipient."""
    ids = [o.message_id for o in report.accepted]
    assert len(set(ids)) == len(ids)
    for outcome in report.accepted:
        assert outcome.message_id is not None
        stored = sandbox.state.messages[outcome.message_id]
        assert (stored.to, stored.custom_string) == (outcome.to, outcome.reference)


async def test_a_repeated_custom_string_is_sent_as_given_and_never_collapses() -> None:
    sandbox = Sandbox()
    async with AsyncClickSend.sandbox(sandbox) as cs:
        report = await cs.sms.send_bulk(tagged(10))
    assert report.counts["accepted"] == 10 and report.consistent
    assert {m.custom_string for m in sandbox.state.messages.values()} == {"order-7"}
    assert_attributed(report, sandbox)


async def test_a_repeated_custom_string_after_a_drop_is_reconciled_one_to_one() -> None:
    sandbox = Sandbox(fault_script=["drop"])
    async with AsyncClickSend.sandbox(sandbox) as cs:
        report = await cs.sms.send_bulk(tagged(10))
        assert report.counts["unknown"] == 10
        await report.reconcile(cs)
    assert report.counts["accepted"] == 10 and report.consistent
    assert sorted(buckets(report)) == list(range(10))
    assert_attributed(report, sandbox)


async def test_messages_the_history_cannot_tell_apart_stay_unknown_with_a_reason() -> None:
    same = {"to": "+61411000001", "body": "Hi", "custom_string": "order-7"}
    sandbox = Sandbox(fault_script=["drop"])
    async with AsyncClickSend.sandbox(sandbox) as cs:
        report = await cs.sms.send_bulk([same, dict(same), *tagged(1, "order-8")])
        await report.reconcile(cs, min_age=0)
    assert [o.reference for o in report.accepted] == ["order-8"]
    stuck = [m for f in report.unknown for m in f.messages]
    assert sorted(o.index for o in stuck) == [0, 1]
    assert all("ambiguous" in (o.reason or "") for o in stuck) and report.consistent


async def test_answers_are_matched_by_position_then_by_unique_reference_and_recipient(
    router: respx.MockRouter,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        messages = json.loads(request.content)["messages"]
        answers = [
            {**m, "status": "SUCCESS", "message_id": f"id-{m['to']}"} for m in reversed(messages)
        ]
        answers[0]["to"] = "+61499999999"  # the last message's entry names another recipient
        return httpx.Response(200, json=envelope({"messages": answers}))

    router.post("/sms/send").mock(side_effect=handler)
    http = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    cs = AsyncClickSend("u", "k", http_client=http)
    report = await cs.sms.send_bulk(tagged(5))
    await http.aclose()
    assert sorted(o.index for o in report.accepted) == [0, 1, 2, 3]
    assert all(o.message_id == f"id-{o.to}" for o in report.accepted)
    [unmatched] = [m for f in report.unknown for m in f.messages]
    assert unmatched.index == 4 and report.unknown[0].error_type == "UnmatchedAnswer"


# -- classification: a 2xx answer to a send means the server processed it ------------------------


def corrupt_send(sandbox: Sandbox, number: int, mutate: Any) -> None:
    """The ``number``-th send is processed normally, then its answer is rewritten (still 200)."""
    original = sandbox.handle
    sends = 0

    async def handle(*args: Any) -> Any:
        nonlocal sends
        status, content, extra = await original(*args)
        if args[1].endswith("/send"):
            sends += 1
            if sends == number:
                content = json.dumps(mutate(json.loads(content))).encode()
        return status, content, extra

    sandbox.handle = handle  # type: ignore[method-assign]


def messages_not_a_list(body: dict[str, Any]) -> dict[str, Any]:
    body["data"]["messages"] = "unexpected"
    return body


def envelope_5xx(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "http_code": 500, "response_code": "INTERNAL_SERVER_ERROR"}


@pytest.mark.parametrize("mutate", [messages_not_a_list, envelope_5xx])
async def test_an_odd_2xx_answer_is_unknown_and_resending_creates_no_duplicate(mutate: Any) -> None:
    sandbox = Sandbox()
    corrupt_send(sandbox, 2, mutate)
    async with AsyncClickSend.sandbox(sandbox, max_retries=0) as cs:
        report = await cs.sms.send_bulk(numbers(300), chunk_size=100, max_chunks_in_flight=1)
        assert report.counts["failed"] == 0 and report.counts["unknown"] == 100
        await report.reconcile(cs, min_age=0)
        again = [
            {"to": o.to, "body": "again", "custom_string": o.reference}
            for o in [*report.safe_to_resend, *(m for f in report.failed for m in f.messages)]
        ]
        if again:
            await cs.sms.send_bulk(again)
    assert report.counts["accepted"] == 300 and report.consistent
    assert len(sandbox.state.messages) == 300 and sandbox.state.duplicates == 0


# -- a bad message is rejected, not fatal --------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("body", {"body": "lone surrogate \ud800"}),
        ("custom_string", {"custom_string": "tag \udc00"}),
        ("schedule", {"schedule": 10**400}),
        ("schedule", {"schedule": datetime.min}),
        ("schedule", {"schedule": datetime.max}),
        ("schedule", {"schedule": float("nan")}),
        ("body", {"body": b"\xff\xfe"}),
        ("extra", {"extra": object()}),
    ],
)
async def test_a_message_that_cannot_be_serialised_is_rejected_naming_the_field(
    field: str, bad: dict[str, Any]
) -> None:
    sandbox = Sandbox()
    good = list(numbers(2))
    async with AsyncClickSend.sandbox(sandbox) as cs:
        report = await cs.sms.send_bulk([good[0], {**good[1], **bad}, *numbers(1, start=5)])
    assert report.counts["accepted"] == 2 and report.consistent
    [rejected] = report.rejected
    assert rejected.index == 1 and rejected.status == "INVALID"
    assert (rejected.reason or "").startswith(f"{field}:"), rejected.reason
    assert len(sandbox.state.messages) == 2


async def test_one_unserialisable_message_among_6000_leaves_the_other_5999_sent() -> None:
    messages = list(numbers(6000))
    messages[4321] = {"to": "+61400004321", "body": "Hi \ud83d"}  # half of a surrogate pair
    sandbox = Sandbox()
    async with AsyncClickSend.sandbox(sandbox) as cs:
        report = await cs.sms.send_bulk(messages)
    assert report.counts["accepted"] == 5999 and report.consistent
    assert [(o.index, (o.reason or "")[:5]) for o in report.rejected] == [(4321, "body:")]
    assert len(sandbox.state.messages) == 5999 and sandbox.state.duplicates == 0


def test_bad_shared_fields_are_a_typed_error_before_sending() -> None:
    async def main() -> None:
        async with AsyncClickSend.sandbox() as cs:
            await cs.sms.send_bulk(numbers(1), shared={"media_file": "\ud800"})

    with pytest.raises(errors.RequestValidationError, match="media_file"):
        anyio.run(main)


# -- progress -------------------------------------------------------------------------------------


class Sized:
    """A sized input that is not a sequence (e.g. a database cursor with a count)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return numbers(self.n)


async def test_progress_knows_the_total_of_a_sized_input_and_reads_as_text() -> None:
    events: list[BulkProgress] = []
    async with AsyncClickSend.sandbox(Sandbox(fault_script=[None, "drop"])) as cs:
        await cs.sms.send_bulk(Sized(2500), on_progress=events.append, max_chunks_in_flight=1)
    assert {e.total for e in events} == {2500}
    last = events[-1]
    assert (last.accepted, last.failed, last.unknown, last.done) == (1500, 0, 1000, 2500)
    assert str(last).startswith("2,500/2,500 done: 1,500 accepted, 0 rejected, 1,000 unknown")
    stream: list[BulkProgress] = []

    async def source() -> AsyncIterator[dict[str, Any]]:
        for message in numbers(1000):
            yield message

    async with AsyncClickSend.sandbox() as cs:
        await cs.sms.send_bulk(source(), on_progress=stream.append)
    assert stream[-1].total is None and "None" not in str(stream[-1])
    assert str(stream[-1]).startswith("1,000 done: 1,000 accepted")
