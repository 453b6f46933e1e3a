"""Checkpoints bound to their run: reuse, longer/shorter/changed/fixed input, damage, locking,
write-ahead, and ``kill -9`` of a sending process against the sandbox as a real server."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process

from clicksend_async import AsyncClickSend, errors
from clicksend_async.bulk import BulkReport, FileCheckpoint, MemoryCheckpoint
from clicksend_async.bulk import _validate as bulk_validate
from clicksend_async.sandbox import Sandbox, serve_in_background
from tests.bulk_helpers import ROOT, buckets, child_command, line_count, numbers, records


async def send(sandbox: Sandbox, messages: Any, checkpoint: Any, **options: Any) -> Any:
    async with AsyncClickSend.sandbox(sandbox) as cs:
        return await cs.sms.send_bulk(messages, checkpoint=checkpoint, **options)


def sends(sandbox: Sandbox) -> int:
    return sandbox.state.requests["sms_send"]


# -- reuse --------------------------------------------------------------------------------------


async def test_a_longer_input_resumes_the_recorded_chunks_and_sends_the_rest(
    tmp_path: Path,
) -> None:
    sandbox, checkpoint = Sandbox(), tmp_path / "campaign.jsonl"
    first = await send(sandbox, numbers(2500), checkpoint)
    assert first.counts["accepted"] == 2500 and sends(sandbox) == 3
    again = await send(sandbox, numbers(3000), checkpoint)
    assert again.run_id == first.run_id and again.resumed_chunks == 3 and again.requests == 1
    assert again.counts["accepted"] == 3000 and again.consistent
    assert sorted(buckets(again)) == list(range(3000))
    assert len(sandbox.state.messages) == 3000 and sandbox.state.duplicates == 0


async def test_a_finished_run_resumed_with_the_same_input_sends_nothing(tmp_path: Path) -> None:
    sandbox, checkpoint = Sandbox(), tmp_path / "campaign.jsonl"
    first = await send(sandbox, numbers(2500), checkpoint)
    again = await send(sandbox, numbers(2500), checkpoint)
    assert again.requests == 0 and again.counts == first.counts
    assert {o.message_id for o in again.accepted} == set(sandbox.state.messages)


@pytest.mark.parametrize(
    ("second", "chunk", "detail"),
    [
        (lambda: numbers(2500, body="Another campaign"), 0, "not the ones the recorded run sent"),
        (lambda: numbers(2499), 2, "the input ends before message 2499"),
        (lambda: numbers(999), 0, "the input ends before message 999"),
        (lambda: [*numbers(1500), {"to": "x", "body": "y"}, *numbers(999, 1501)], 1, "refused"),
    ],
    ids=["changed-body", "one-row-short", "999-of-1000", "row-now-invalid"],
)
async def test_an_input_that_does_not_match_the_checkpoint_is_refused_before_sending(
    tmp_path: Path, second: Any, chunk: int, detail: str
) -> None:
    sandbox, checkpoint = Sandbox(), tmp_path / "campaign.jsonl"
    await send(sandbox, numbers(2500), checkpoint)
    before = sends(sandbox)
    with pytest.raises(errors.CheckpointMismatchError) as caught:
        await send(sandbox, second(), checkpoint)
    assert caught.value.chunk == chunk and caught.value.field == "messages"
    assert caught.value.path == str(checkpoint) and str(checkpoint) in str(caught.value)
    assert detail in str(caught.value) and "nothing was sent" in str(caught.value)
    assert sends(sandbox) == before and sandbox.state.duplicates == 0


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"shared": {"from": "Shop"}}, "shared"),
        ({"chunk_size": 500}, "chunk_size"),
    ],
)
async def test_other_run_settings_are_refused_naming_the_setting(
    tmp_path: Path, options: dict[str, Any], field: str
) -> None:
    sandbox, checkpoint = Sandbox(), tmp_path / "campaign.jsonl"
    await send(sandbox, numbers(1000), checkpoint)
    with pytest.raises(errors.CheckpointMismatchError) as caught:
        await send(sandbox, numbers(1000), checkpoint, **options)
    assert caught.value.field == field and caught.value.chunk is None
    assert sends(sandbox) == 1


async def test_another_channel_is_refused(tmp_path: Path) -> None:
    checkpoint = tmp_path / "campaign.jsonl"
    await send(Sandbox(), numbers(10), checkpoint)
    async with AsyncClickSend.sandbox() as cs:
        with pytest.raises(errors.CheckpointMismatchError) as caught:
            await cs.voice.send_bulk(numbers(10), checkpoint=checkpoint)
    assert caught.value.field == "channel"


async def test_a_fixed_row_is_sent_on_resume_and_nothing_else(tmp_path: Path) -> None:
    sandbox, checkpoint = Sandbox(), tmp_path / "campaign.jsonl"
    rows = list(numbers(2500))
    rows[1200] = {"to": "+6141000120O", "body": "typo in the number"}
    first = await send(sandbox, rows, checkpoint)
    assert [o.index for o in first.rejected] == [1200] and sends(sandbox) == 3
    rows[1200] = {"to": "+61410001200", "body": "fixed"}
    again = await send(sandbox, rows, checkpoint)
    assert again.requests == 1 and again.rejected == []
    assert again.counts["accepted"] == 2500 and again.consistent
    fixed = next(o for o in again.accepted if o.index == 1200)
    assert fixed.message_id is not None
    assert sandbox.state.messages[fixed.message_id].body == "fixed"
    assert len(sandbox.state.messages) == 2500 and sandbox.state.duplicates == 0
    # and a third run finds the fixed row recorded (as its own part of chunk 1)
    third = await send(sandbox, rows, checkpoint)
    assert third.requests == 0 and third.counts["accepted"] == 2500


async def test_a_schedule_that_has_passed_since_the_recorded_run_is_not_a_mismatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    soon = int(time.time()) + 60
    rows = [{**m, "schedule": soon} for m in numbers(150)]
    sandbox, checkpoint = Sandbox(fault_script=[None, "http_429"]), tmp_path / "c.jsonl"
    async with AsyncClickSend.sandbox(sandbox, max_retries=0, max_retry_after=0) as cs:
        first = await cs.sms.send_bulk(
            rows, chunk_size=100, max_chunks_in_flight=1, checkpoint=checkpoint
        )
        assert first.counts["accepted"] == 100 and first.counts["failed"] == 50
        later = time.time() + 7200  # two hours on: the schedule is now in the past
        monkeypatch.setattr(bulk_validate, "_now", lambda: later)
        again = await cs.sms.send_bulk(rows, chunk_size=100, checkpoint=checkpoint)
    assert again.requests == 0 and again.counts["accepted"] == 100  # chunk 0: resumed
    assert {o.reason for o in again.rejected} == {"schedule: in the past"}  # never sent late
    assert again.counts["rejected"] == 50 and again.consistent


async def test_mode_new_starts_a_new_run_in_an_existing_file(tmp_path: Path) -> None:
    sandbox, path = Sandbox(), tmp_path / "campaign.jsonl"
    first = await send(sandbox, numbers(100), path)
    second = await send(sandbox, numbers(100, body="Round two"), FileCheckpoint(path, mode="new"))
    assert second.run_id != first.run_id and second.requests == 1
    assert second.counts["accepted"] == 100 and len(sandbox.state.messages) == 200
    resumed = await send(sandbox, numbers(100, body="Round two"), path)  # the newest run
    assert resumed.run_id == second.run_id and resumed.requests == 0
    with pytest.raises(ValueError, match="mode"):
        FileCheckpoint(path, mode="fresh")  # type: ignore[arg-type]


async def test_failed_chunks_are_sent_again_on_resume(tmp_path: Path) -> None:
    sandbox, checkpoint = Sandbox(fault_script=[None, "http_429"]), tmp_path / "c.jsonl"
    # A 429 is retried while the call has time, unless its Retry-After (1 s) is past the client's
    # ceiling: then it fails, provably not processed.
    async with AsyncClickSend.sandbox(sandbox, max_retries=0, max_retry_after=0.5) as cs:
        first = await cs.sms.send_bulk(
            numbers(300), chunk_size=100, max_chunks_in_flight=1, checkpoint=checkpoint
        )
        assert first.counts["failed"] == 100
        again = await cs.sms.send_bulk(numbers(300), chunk_size=100, checkpoint=checkpoint)
    assert again.requests == 1 and again.counts["accepted"] == 300
    assert len(sandbox.state.messages) == 300 and sandbox.state.duplicates == 0


# -- damage ---------------------------------------------------------------------------------------


def rewrite_line(path: Path, number: int, text: bytes) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[number - 1] = text
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize(
    ("line", "text"),
    [(1, b'{"kind": "run", "format": 2'), (4, b"\x00\x00\x00"), (3, b"[1, 2]")],
    ids=["header", "middle-line", "not-a-record"],
)
async def test_a_damaged_checkpoint_is_a_typed_error_naming_the_line(
    tmp_path: Path, line: int, text: bytes
) -> None:
    sandbox, checkpoint = Sandbox(), tmp_path / "campaign.jsonl"
    await send(sandbox, numbers(3000), checkpoint)
    rewrite_line(checkpoint, line, text)
    with pytest.raises(errors.CheckpointCorruptError) as caught:
        await send(sandbox, numbers(3000), checkpoint)
    assert caught.value.line == line and f"line {line}" in str(caught.value)
    assert sends(sandbox) == 3


async def test_a_checkpoint_of_the_old_format_is_refused(tmp_path: Path) -> None:
    checkpoint = tmp_path / "old.jsonl"
    old = [{"kind": "run", "run_id": "ab12", "channel": "sms", "started": 1.0}]
    old.append({"kind": "chunk", "chunk": 0, "state": "done", "accepted": [], "rejected": []})
    checkpoint.write_text("".join(json.dumps(r) + "\n" for r in old))
    with pytest.raises(errors.CheckpointMismatchError) as caught:
        await send(Sandbox(), numbers(10), checkpoint)
    assert caught.value.field == "format" and "mode='new'" in str(caught.value)


async def test_a_torn_last_line_is_dropped_and_that_chunk_is_reconciled_not_resent(
    tmp_path: Path,
) -> None:
    sandbox, checkpoint = Sandbox(), tmp_path / "campaign.jsonl"
    await send(sandbox, numbers(3000), checkpoint, max_chunks_in_flight=1)
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: len(data) - 40])  # a crash while appending the last record
    async with AsyncClickSend.sandbox(sandbox) as cs:
        again = await cs.sms.send_bulk(numbers(3000), checkpoint=checkpoint)
        assert again.requests == 0 and again.counts["unknown"] == 1000
        await again.reconcile(cs)
    assert again.counts["accepted"] == 3000 and again.consistent
    assert len(sandbox.state.messages) == 3000 and sandbox.state.duplicates == 0
    assert checkpoint.read_bytes().endswith(b"\n")  # the torn text was cut before appending


async def test_two_runs_on_one_file_the_second_gets_a_typed_error(tmp_path: Path) -> None:
    sandbox, checkpoint = Sandbox(latency=0.05), tmp_path / "campaign.jsonl"
    sending = anyio.Event()
    original = sandbox.handle

    async def handle(*args: Any) -> Any:
        sending.set()  # the first run holds the file and is sending
        return await original(*args)

    sandbox.handle = handle  # type: ignore[method-assign]
    outcome: list[BaseException] = []

    async def second() -> None:
        await sending.wait()
        try:
            await send(sandbox, numbers(1000), checkpoint)
        except errors.CheckpointLockedError as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(second)
        report = await send(sandbox, numbers(1000), checkpoint, chunk_size=100)
    assert len(outcome) == 1 and str(checkpoint) in str(outcome[0])
    assert report.counts["accepted"] == 1000 and len(sandbox.state.messages) == 1000
    # the lock is released with the run
    assert (await send(sandbox, numbers(1000), checkpoint, chunk_size=100)).requests == 0


def test_the_lock_holds_across_processes(tmp_path: Path) -> None:
    checkpoint = tmp_path / "campaign.jsonl"
    held = FileCheckpoint(checkpoint)
    held.acquire()
    try:
        code = (
            "import sys; from clicksend_async import errors; "
            "from clicksend_async.bulk import FileCheckpoint\n"
            "try: FileCheckpoint(sys.argv[1]).acquire()\n"
            "except errors.CheckpointLockedError: print('locked')"
        )
        cmd = [sys.executable, "-c", code, str(checkpoint)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT, timeout=60)
        assert out.stdout.strip() == "locked"
    finally:
        held.release()


def test_memory_checkpoint_is_held_by_one_run_at_a_time() -> None:
    checkpoint = MemoryCheckpoint()
    checkpoint.acquire()
    with pytest.raises(errors.CheckpointLockedError):
        checkpoint.acquire()
    checkpoint.release()
    checkpoint.acquire()


# -- write-ahead and kill -9 ----------------------------------------------------------------------


async def test_each_request_is_recorded_in_flight_before_it_is_written(tmp_path: Path) -> None:
    sandbox, checkpoint = Sandbox(), tmp_path / "campaign.jsonl"
    seen: list[dict[str, Any]] = []
    original = sandbox.handle

    async def spy(*args: Any) -> Any:
        body = json.loads(args[4])
        last = records(checkpoint)[-1]
        seen.append(last)
        assert last["state"] == "inflight"
        first_index = int(body["messages"][0]["custom_string"].rsplit("-", 1)[1])
        assert last["indices"][0][0] == first_index
        return await original(*args)

    sandbox.handle = spy  # type: ignore[method-assign]
    await send(sandbox, numbers(300), checkpoint, chunk_size=100, max_chunks_in_flight=1)
    assert [r["chunk"] for r in seen] == [0, 1, 2]


async def wait_for_growth(path: Path, lines: int, process: Process) -> None:
    with anyio.fail_after(60):
        # Another process writes the file: polling is the only way to see it grow.
        while line_count(path) <= lines and process.returncode is None:  # noqa: ASYNC110
            await anyio.sleep(0.005)


async def kill_and_resume(tmp_path: Path, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    n, size, flight = 3000, 100, 3
    sandbox, checkpoint = Sandbox(latency=0.03), tmp_path / "campaign.jsonl"
    async with serve_in_background(sandbox) as url:
        command = child_command(url, checkpoint, n, size, flight)
        for _ in range(kills):
            lines = line_count(checkpoint)
            process = await anyio.open_process(command, cwd=ROOT, stdout=subprocess.DEVNULL)
            try:
                await wait_for_growth(checkpoint, lines + 1, process)  # it is sending
                await anyio.sleep(rng.uniform(0, 0.15))
            finally:
                process.kill()  # SIGKILL: no cleanup, no final records
                await process.wait()
        async with AsyncClickSend("sandbox", "sandbox", base_url=url + "/v3") as cs:
            report = await cs.sms.send_bulk(numbers(n), checkpoint=checkpoint, chunk_size=size)
            assert sandbox.state.duplicates == 0  # the chunks in flight at a kill were not resent
            await report.reconcile(cs, min_age=0)
            assert sorted(buckets(report)) == list(range(n)) and report.consistent
            assert report.counts["unknown"] == 0 and report.counts["failed"] == 0
            resend = [
                {"to": o.to, "body": f"Hello {o.index}", "custom_string": o.reference}
                for o in report.safe_to_resend
            ]
            if resend:
                await cs.sms.send_bulk(resend)
    assert sandbox.state.duplicates == 0  # nothing was sent twice ...
    assert len(sandbox.state.messages) == n  # ... and nothing was lost


async def test_kill_9_of_a_sending_process_then_resume_loses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    await kill_and_resume(tmp_path, kills=5, seed=1)


# -- a run that cannot go on ends with its own error and a consistent report --------------------


class FullDisk(MemoryCheckpoint):
    """Saving fails from the ``fail_at``-th record on."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at

    def save(self, record: dict[str, Any]) -> None:
        if len(self.records) + 1 >= self.fail_at:
            raise OSError(28, "No space left on device")
        super().save(record)


async def test_a_checkpoint_that_cannot_be_written_ends_the_run_with_a_typed_error() -> None:
    sandbox = Sandbox()
    report = BulkReport(channel="sms", run_id="")
    async with AsyncClickSend.sandbox(sandbox) as cs:
        with pytest.raises(errors.CheckpointError, match="No space left"):
            await cs.sms.send_bulk(
                numbers(500), chunk_size=100, max_chunks_in_flight=1,
                checkpoint=FullDisk(fail_at=6), report=report,
            )  # fmt: skip
    # header, chunk 0 in flight + done, chunk 1 in flight + done; chunk 2's in-flight record
    # failed, so chunk 2 was never sent, and reading stopped soon after
    assert report.consistent and report.counts["accepted"] == 200
    assert report.counts["not_sent"] == report.total - 200 and report.total < 500
    assert len(sandbox.state.messages) == 200


async def test_an_input_that_raises_ends_the_run_with_that_error_after_the_sends_settle() -> None:
    def rows() -> Any:
        yield from numbers(250)
        raise ValueError("row 251 is unreadable")

    sandbox = Sandbox(latency=0.02)
    report = BulkReport(channel="sms", run_id="")
    async with AsyncClickSend.sandbox(sandbox) as cs:
        with pytest.raises(ValueError, match="row 251"):
            await cs.sms.send_bulk(rows(), chunk_size=100, report=report)
    assert report.consistent and report.counts["accepted"] == 200
    assert report.counts["unknown"] == 0 and report.counts["not_sent"] == 50
