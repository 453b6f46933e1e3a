"""reconcile(): atomic and resumable when a history page fails, searching each unknown chunk's
own window (narrowed by the history search when the server proves it works), with a settle
delay before anything is declared safe to resend."""

from __future__ import annotations

import time
from typing import Any

import pytest

from clicksend_async import AsyncClickSend, errors
from clicksend_async.bulk import BulkReport
from clicksend_async.sandbox import Sandbox
from tests.bulk_helpers import buckets, numbers

# Chunks of 100, one request at a time: request k carries chunk k, so the script picks the fate
# of each chunk. drop/invalid_json: processed, answer lost; html_502: not processed.
SCRIPT = [None, "drop", None, "html_502", "invalid_json", None, "drop", None, None, "drop"]
PROCESSED = [None, "drop", None, "truncated_json", "invalid_json", None, "drop", None, None, "drop"]


def history_spy(sandbox: Sandbox, fail: set[int] | None = None, q: str = "honoured") -> list[Any]:
    """Records the query of every history request; fails the ones numbered in ``fail`` with a
    500; ``q="ignored"`` drops the search parameter, ``q="exact"`` makes it match nothing."""
    seen: list[dict[str, str]] = []
    original = sandbox.handle

    async def handle(method: str, path: str, query: dict[str, str], *rest: Any) -> Any:
        if path.endswith("/history"):
            seen.append(dict(query))
            if fail and len(seen) in fail:
                return 500, b'{"http_code":500,"response_code":"ERROR"}', {}
            if "q" in query and q == "ignored":
                query = {k: v for k, v in query.items() if k != "q"}
            elif "q" in query and q == "exact":
                query = {**query, "q": query["q"] + "\x00"}
        return await original(method, path, query, *rest)

    sandbox.handle = handle  # type: ignore[method-assign]
    return seen


async def campaign(cs: AsyncClickSend, n: int = 1000, **options: Any) -> BulkReport:
    report: BulkReport = await cs.sms.send_bulk(
        numbers(n), chunk_size=100, max_chunks_in_flight=1, **options
    )
    return report


def settled(report: BulkReport, sandbox: Sandbox) -> None:
    assert report.consistent and report.counts["unknown"] == 0
    assert {o.message_id for o in report.accepted} == set(sandbox.state.messages)
    assert len(report.accepted) == len(sandbox.state.messages)


async def test_a_failing_history_page_moves_nothing_and_the_next_call_continues() -> None:
    sandbox = Sandbox(fault_script=list(PROCESSED))  # every unknown chunk is in the history
    seen = history_spy(sandbox, fail={3})
    async with AsyncClickSend.sandbox(sandbox, max_retries=0) as cs:
        report = await campaign(cs)
        before = report.counts
        assert before["unknown"] == 500
        with pytest.raises(errors.ServerError):
            await report.reconcile(cs)
        assert report.counts == before  # nothing moved
        first_call = len(seen)
        await report.reconcile(cs)
        second_call = len(seen) - first_call
        await report.reconcile(cs)  # nothing left: no request, no change
    assert len(seen) - first_call == second_call
    assert sorted(buckets(report)) == list(range(1000))
    settled(report, sandbox)
    assert report.counts["accepted"] == 1000
    # the searches that had succeeded were not read again: probe + 5 searches in all, + 1 failed
    assert len(seen) == 1 + 5 + 1


async def test_each_unknown_chunk_is_searched_in_its_own_narrowed_window() -> None:
    sandbox = Sandbox(fault_script=list(SCRIPT))
    seen = history_spy(sandbox)
    started = time.time()
    async with AsyncClickSend.sandbox(sandbox) as cs:
        report = await campaign(cs)
        await report.reconcile(cs, min_age=0, skew=5)
    ended = time.time()
    probe, *searches = seen
    assert probe["q"] == f"custom_string:{report.run_id}-0-"  # a chunk known to be accepted
    chunks = sorted(int(s["q"].rsplit("-", 2)[1]) for s in searches)
    assert chunks == [1, 3, 4, 6, 9]
    for search in searches:
        assert started - 6 <= int(search["date_from"]) and int(search["date_to"]) <= ended + 6
    settled(report, sandbox)
    assert report.history_pages == 1 + 5


@pytest.mark.parametrize("q", ["ignored", "exact"])
async def test_a_server_whose_search_does_not_work_gets_whole_windows(q: str) -> None:
    sandbox = Sandbox(fault_script=list(SCRIPT))
    seen = history_spy(sandbox, q=q)
    async with AsyncClickSend.sandbox(sandbox) as cs:
        report = await campaign(cs)
        await report.reconcile(cs, min_age=0)
    assert all("q" not in s for s in seen[1:])  # the probe failed: no narrowed search
    settled(report, sandbox)
    assert report.counts["safe_to_resend"] == 100 and report.safe_to_resend[0].index == 300


async def test_absent_messages_become_safe_to_resend_only_after_min_age() -> None:
    sandbox = Sandbox(fault_script=[None, "html_502", "drop"])
    async with AsyncClickSend.sandbox(sandbox) as cs:
        report = await campaign(cs, 300)
        await report.reconcile(cs)  # default min_age: 60 s
        assert report.counts["accepted"] == 200 and report.safe_to_resend == []
        [young] = report.unknown
        assert [m.index for m in young.messages] == list(range(100, 200))
        assert "min_age" in (young.messages[0].reason or "")
        first_check = young.messages[0].checked_at
        assert first_check is not None and young.unknown_since is not None
        assert first_check >= young.unknown_since
        await report.reconcile(cs, min_age=0)
    assert report.counts["safe_to_resend"] == 100 and report.consistent
    assert all(
        o.checked_at is not None and o.checked_at >= first_check for o in report.safe_to_resend
    )


async def test_scheduled_messages_are_searched_at_their_schedule() -> None:
    later = int(time.time()) + 3600
    messages = [{**m, "schedule": later} for m in numbers(50)]
    sandbox = Sandbox(fault_script=["drop"])
    async with AsyncClickSend.sandbox(sandbox) as cs:
        report = await cs.sms.send_bulk(messages)
        await report.reconcile(cs, min_age=0, skew=5)
    assert report.counts["accepted"] == 50 and report.safe_to_resend == []


async def test_reconcile_with_nothing_unknown_reads_nothing() -> None:
    sandbox = Sandbox()
    seen = history_spy(sandbox)
    async with AsyncClickSend.sandbox(sandbox) as cs:
        report = await campaign(cs, 200)
        await report.reconcile(cs)
    assert seen == [] and report.history_pages == 0


async def test_negative_min_age_is_refused() -> None:
    async with AsyncClickSend.sandbox(Sandbox(fault_script=["drop"])) as cs:
        report = await campaign(cs, 10)
        with pytest.raises(ValueError, match="min_age"):
            await report.reconcile(cs, min_age=-1)
