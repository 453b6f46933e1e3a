"""Property: whatever the faults, inputs, chunking, cancellation, crash and resume, every input
message is in exactly one bucket after every step, and the server stores each message at most
once (and, after reconcile and resending what is safe, exactly once)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from clicksend_async import AsyncClickSend, errors
from clicksend_async.bulk import BulkReport, MemoryCheckpoint
from clicksend_async.sandbox import FAULT_KINDS, Sandbox
from tests.bulk_helpers import buckets

FAULT = st.one_of(st.none(), st.none(), st.sampled_from(FAULT_KINDS))
KIND = st.sampled_from(["ok", "ok", "ok", "tag", "invalid", "unsendable"])


def message(index: int, kind: str) -> dict[str, Any]:
    base = {"to": f"+6141{index:07d}", "body": f"m{index}"}
    if kind == "tag":
        return {**base, "custom_string": "campaign-tag"}  # repeated on purpose
    if kind == "invalid":
        return {"body": f"m{index}"}  # no recipient
    if kind == "unsendable":
        return {**base, "body": f"m{index} \udfff"}
    return base


def client(sandbox: Sandbox, timeout: float = 0.05) -> AsyncClickSend:
    # No retries and no waiting on Retry-After: every fault reaches the bulk engine, fast. The
    # short timeout turns a "slow" fault into a read timeout (a send whose outcome is unknown).
    return AsyncClickSend.sandbox(
        sandbox, max_retries=0, max_retry_after=0, timeout=httpx.Timeout(timeout)
    )


def cancel_after_send(sandbox: Sandbox, number: int, scope: anyio.CancelScope) -> None:
    """Cancel the run right after the server has processed its ``number``-th send."""
    original = sandbox.handle
    sends = 0

    async def handle(*args: Any) -> Any:
        nonlocal sends
        answer = await original(*args)
        if args[1].endswith("/send"):
            sends += 1
            if sends == number:
                scope.cancel()
        return answer

    sandbox.handle = handle  # type: ignore[method-assign]


def check(report: BulkReport, n: int, *, complete: bool) -> None:
    placed = buckets(report)
    assert report.consistent
    if complete:
        assert sorted(placed) == list(range(n))


def crash(checkpoint: MemoryCheckpoint, at: int) -> None:
    """As if the process had been killed at record ``at``: the final records written after it
    are lost. In-flight ones are kept (their requests were sent: the worst case for a resume)."""
    checkpoint.records = [
        r
        for i, r in enumerate(checkpoint.records)
        if i < at or r.get("state") in (None, "inflight")
    ]


def stored_once(sandbox: Sandbox) -> Counter[tuple[str, str]]:
    stored = Counter((m.to, m.body) for m in sandbox.state.messages.values())
    assert max(stored.values(), default=1) == 1, "a message was stored twice"
    return stored


async def scenario(
    script: list[str | None],
    kinds: list[str],
    chunk_size: int,
    flight: int,
    cancel: int | None,
    crash_at: int | None,
) -> None:
    inputs = [message(i, kind) for i, kind in enumerate(kinds)]
    n = len(inputs)
    sandbox = Sandbox(fault_script=script, slow_seconds=0.2)
    checkpoint = MemoryCheckpoint()
    options: dict[str, Any] = {"chunk_size": chunk_size, "max_chunks_in_flight": flight}
    async with client(sandbox) as cs:
        first = BulkReport(channel="sms", run_id="")
        with anyio.CancelScope() as scope:
            if cancel is not None:
                cancel_after_send(sandbox, cancel, scope)
            await cs.sms.send_bulk(inputs, checkpoint=checkpoint, report=first, **options)
        check(first, n, complete=not scope.cancelled_caught)
        stored_once(sandbox)
        if crash_at is not None:
            crash(checkpoint, crash_at)

        report = await cs.sms.send_bulk(inputs, checkpoint=checkpoint, **options)
        check(report, n, complete=True)
        stored_once(sandbox)
    # Reconciled with a patient client (a busy machine must not turn history pages into
    # timeouts); every failed attempt uses up a fault of the script, so this ends.
    async with client(sandbox, timeout=10.0) as patient:
        for _ in range(len(script) + 1):
            try:
                await report.reconcile(patient, min_age=0)
                break
            except errors.ClickSendError:
                check(report, n, complete=True)
    check(report, n, complete=True)
    assert report.counts["unknown"] == 0  # recipients differ: nothing is ambiguous

    sandbox._script.clear()  # the resend below is not under test
    resend = [
        {**inputs[o.index], "custom_string": o.reference}
        for o in [*report.safe_to_resend, *(m for f in report.failed for m in f.messages)]
    ]
    async with client(sandbox, timeout=10.0) as patient:
        if resend:
            assert (await patient.sms.send_bulk(resend)).counts["accepted"] == len(resend)
    sendable = {
        (m["to"], m["body"]) for m, kind in zip(inputs, kinds, strict=True) if kind in ("ok", "tag")
    }
    assert set(stored_once(sandbox)) == sendable


@settings(max_examples=60, deadline=None)
@given(
    script=st.lists(FAULT, max_size=14),
    kinds=st.lists(KIND, max_size=40),
    chunk_size=st.integers(1, 12),
    flight=st.integers(1, 3),
    cancel=st.none() | st.integers(1, 5),
    crash_at=st.none() | st.integers(1, 30),
)
def test_every_message_in_one_bucket_and_stored_at_most_once(
    script: list[str | None],
    kinds: list[str],
    chunk_size: int,
    flight: int,
    cancel: int | None,
    crash_at: int | None,
) -> None:
    anyio.run(scenario, script, kinds, chunk_size, flight, cancel, crash_at)
