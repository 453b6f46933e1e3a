"""Bulk sends: any number of messages, chunked to the API's 1000 per request, sent concurrently
under the client's limits, resumable, and never duplicated.

    report = await cs.sms.send_bulk(messages, checkpoint="campaign.jsonl", on_progress=print)
    await report.reconcile(cs)          # settle the chunks whose outcome was unknown

Every input message ends in exactly one bucket of the :class:`BulkReport`:

- ``accepted``: the API took it (``message_id``),
- ``rejected``: refused before sending (invalid input) or by the API per recipient
  (``status`` such as INVALID_RECIPIENT),
- ``failed``: in a chunk that provably was not processed (a 4xx answer, a refused connection, a
  429 after every retry): safe to send again,
- ``unknown``: in a chunk that may have been processed (dropped connection after writing, read
  timeout, 5xx). Never retried automatically: :meth:`BulkReport.reconcile` looks the references up
  in the history and moves each message to ``accepted`` or ``safe_to_resend``,
- ``not_sent``: read from the input but never attempted (the run was cancelled).

Each message carries a unique ``custom_string`` reference (``<run id>-<input index>`` unless the
caller set one), which is what reconciliation and resumption match on.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import anyio
from pydantic import BaseModel, ValidationError

from clicksend_async import _constants, errors
from clicksend_async._operation import Operation
from clicksend_async._resource import OperationClient

__all__ = [
    "BulkProgress",
    "BulkReport",
    "Checkpoint",
    "ChunkFailure",
    "FileCheckpoint",
    "MemoryCheckpoint",
    "MessageOutcome",
    "history_of",
    "send_bulk",
]

MAX_PER_REQUEST = _constants.BULK_MAX_PER_REQUEST
PHONE = re.compile(r"^\+?[0-9]{6,15}$")


@dataclass(slots=True)
class MessageOutcome:
    """What happened to one input message."""

    index: int  # position in the input
    reference: str  # its custom_string
    to: str | None = None
    list_id: int | None = None
    message_id: str | None = None
    status: str | None = None  # the API's per-recipient status, or INVALID before sending
    reason: str | None = None


@dataclass
class ChunkFailure:
    """A request of up to 1000 messages that failed as a whole."""

    chunk: int
    error: str  # the typed error's class name and message
    error_type: str
    messages: list[MessageOutcome]
    exception: errors.ClickSendError | None = None  # the error itself (not kept in checkpoints)


@dataclass
class BulkProgress:
    """Passed to ``on_progress`` after every chunk."""

    accepted: int
    rejected: int
    failed: int  # messages in failed or unknown chunks
    done: int  # messages with a known fate so far
    total: int | None  # input size when known (a sized input), else None
    rate: float  # messages per second since the start
    eta: float | None  # seconds left, when total is known


class Checkpoint(Protocol):
    """Where a run records finished chunks, so a restart skips them (JSON-able records)."""

    def load(self) -> list[dict[str, Any]]: ...

    def save(self, record: dict[str, Any]) -> None: ...


class MemoryCheckpoint:
    """Records kept in memory (e.g. to resume a cancelled run in the same process)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def load(self) -> list[dict[str, Any]]:
        return list(self.records)

    def save(self, record: dict[str, Any]) -> None:
        self.records.append(record)


class FileCheckpoint:
    """Records appended to a JSON-lines file, one line per finished chunk (fsync'd)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    break  # a line torn by a crash: everything before it is intact
        return records

    def save(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, separators=(",", ":")) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


@dataclass
class BulkReport:
    """The outcome of a bulk send; every input message is in exactly one bucket."""

    channel: str
    run_id: str
    started_at: float = field(default_factory=time.time)
    accepted: list[MessageOutcome] = field(default_factory=list)
    rejected: list[MessageOutcome] = field(default_factory=list)
    failed: list[ChunkFailure] = field(default_factory=list)
    unknown: list[ChunkFailure] = field(default_factory=list)
    safe_to_resend: list[MessageOutcome] = field(default_factory=list)
    not_sent: list[MessageOutcome] = field(default_factory=list)
    total: int = 0  # messages read from the input
    requests: int = 0  # send requests made by this run
    resumed_chunks: int = 0  # chunks skipped because the checkpoint had them
    cancelled: bool = False

    @property
    def counts(self) -> dict[str, int]:
        return {
            "total": self.total,
            "accepted": len(self.accepted),
            "rejected": len(self.rejected),
            "failed": sum(len(f.messages) for f in self.failed),
            "unknown": sum(len(f.messages) for f in self.unknown),
            "safe_to_resend": len(self.safe_to_resend),
            "not_sent": len(self.not_sent),
        }

    @property
    def consistent(self) -> bool:
        """Every message read is in exactly one bucket."""
        counts = self.counts
        return counts.pop("total") == sum(counts.values())

    async def reconcile(
        self, client: OperationClient, *, slack: float = _constants.BULK_HISTORY_SLACK
    ) -> None:
        """Settle ``unknown`` chunks from the history: found → accepted, absent → safe_to_resend.

        Looks at the channel's history from the start of the run (minus ``slack`` seconds for
        clock differences), matching on the messages' references.
        """
        if not self.unknown:
            return
        pending = {m.reference: m for failure in self.unknown for m in failure.messages}
        since = self.started_at - slack
        async for record in history_of(client, self.channel, since, set(pending)):
            outcome = pending.pop(str(record.custom_string))
            outcome.message_id = record.message_id
            outcome.status = "SUCCESS"
            outcome.reason = "found in history after an unknown outcome"
            self.accepted.append(outcome)
        self.safe_to_resend.extend(pending.values())
        self.unknown = []


async def history_of(
    client: OperationClient, channel: str, since: float, references: set[str]
) -> AsyncIterator[Any]:
    """The channel's history records carrying one of ``references`` (sent since ``since``);
    stops reading as soon as every reference has been seen."""
    pending = set(references)
    if not pending:
        return
    async for record in getattr(client, channel).history(date_from=int(since)):
        if record.custom_string in pending:
            pending.discard(record.custom_string)
            yield record
            if not pending:
                return


def _wire(message: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(message, BaseModel):
        return message.model_dump(by_alias=True, exclude_unset=True)
    if isinstance(message, Mapping):
        return dict(message)
    raise TypeError(f"a message must be a model or a mapping, got {type(message).__name__}")


def _problem(channel: str, message: dict[str, Any], shared: Mapping[str, Any]) -> str | None:
    """Why a message cannot be sent, naming the field; None when it is sendable."""
    body = message.get("body")
    if not isinstance(body, str) or not body.strip():
        return "body: empty message"
    to, list_id = message.get("to"), message.get("list_id")
    if to in (None, "") and list_id in (None, ""):
        return "to: a recipient (to) or a list_id is required"
    if to not in (None, "") and not PHONE.match(re.sub(r"[\s().-]", "", str(to))):
        return f"to: {to!r} is not a phone number"
    schedule = message.get("schedule")
    if isinstance(schedule, datetime):
        schedule = schedule.timestamp()
    if schedule not in (None, "", 0):
        try:
            when = float(schedule)
        except (TypeError, ValueError):
            return f"schedule: {schedule!r} is not a unix time or datetime"
        if when < time.time() - _constants.BULK_SCHEDULE_GRACE:
            return "schedule: in the past"
    if channel == "mms":
        if not (message.get("subject") or shared.get("subject")):
            return "subject: required for MMS"
        if not (message.get("media_file") or shared.get("media_file")):
            return "media_file: required for MMS"
    if channel == "voice" and message.get("voice") not in (None, "female", "male"):
        return f"voice: {message.get('voice')!r} is not female or male"
    return None


async def send_bulk(
    client: OperationClient,
    operation: Operation[Any],
    item_model: type[BaseModel],
    messages: Iterable[BaseModel | Mapping[str, Any]]
    | AsyncIterable[BaseModel | Mapping[str, Any]],
    *,
    shared: Mapping[str, Any] | None = None,
    checkpoint: str | os.PathLike[str] | Checkpoint | None = None,
    on_progress: Callable[[BulkProgress], Any] | None = None,
    chunk_size: int = MAX_PER_REQUEST,
    max_chunks_in_flight: int | None = None,
    report: BulkReport | None = None,
) -> BulkReport:
    """The engine behind ``cs.sms/mms/voice.send_bulk`` (see the module docstring)."""
    if not 1 <= chunk_size <= MAX_PER_REQUEST:
        raise ValueError(f"chunk_size must be between 1 and {MAX_PER_REQUEST}, got {chunk_size}")
    channel = operation.operation_id.split("_", 1)[0]
    shared = dict(shared or {})
    store: Checkpoint | None = (
        FileCheckpoint(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
    )
    records = store.load() if store is not None else []
    header = next((r for r in records if r.get("kind") == "run"), None)
    run_id = str(header["run_id"]) if header else secrets.token_hex(4)
    if store is not None and header is None:
        store.save({"kind": "run", "run_id": run_id, "channel": channel, "started": time.time()})
    finished = {int(r["chunk"]): r for r in records if r.get("kind") == "chunk"}
    report = report if report is not None else BulkReport(channel=channel, run_id=run_id)
    report.channel, report.run_id = channel, run_id
    if header:
        report.started_at = float(header.get("started", report.started_at))
    total_hint = len(messages) if isinstance(messages, Sequence) else None
    in_flight = anyio.Semaphore(max_chunks_in_flight or client.limiter.max_concurrency or 16)
    started = time.monotonic()

    async def progress() -> None:
        if on_progress is None:
            return
        counts = report.counts
        failed = counts["failed"] + counts["unknown"]
        done = counts["accepted"] + counts["rejected"] + failed + counts["safe_to_resend"]
        rate = done / max(time.monotonic() - started, 1e-9)
        eta = (total_hint - done) / rate if total_hint is not None and rate > 0 else None
        result = on_progress(
            BulkProgress(
                counts["accepted"], counts["rejected"], failed, done, total_hint, rate, eta
            )
        )
        if inspect.isawaitable(result):
            await result

    pending: dict[int, list[MessageOutcome]] = {}  # chunks dispatched, not finished

    def settle(chunk_no: int, record: dict[str, Any]) -> None:
        """Put a finished chunk's messages into their buckets, from a checkpoint record."""
        for item in record.get("accepted", []):
            report.accepted.append(MessageOutcome(**item))
        for item in record.get("rejected", []):
            report.rejected.append(MessageOutcome(**item))
        if record.get("state") == "unknown":
            failure = record["failure"]
            report.unknown.append(
                ChunkFailure(
                    chunk=chunk_no,
                    error=failure["error"],
                    error_type=failure["error_type"],
                    messages=[MessageOutcome(**m) for m in failure["messages"]],
                )
            )

    async def send_chunk(chunk_no: int, chunk: list[tuple[MessageOutcome, dict[str, Any]]]) -> None:
        outcomes = [outcome for outcome, _ in chunk]
        record: dict[str, Any] | None = None
        try:
            report.requests += 1
            envelope = await client._call(
                operation,
                operation.path,
                body={**shared, "messages": [wire for _, wire in chunk]},
            )
            record = _chunk_record(chunk_no, outcomes, envelope)
        except errors.ClickSendError as exc:
            if getattr(exc, "outcome_unknown", False):
                record = _unknown_record(chunk_no, outcomes, exc)
            else:
                report.failed.append(
                    ChunkFailure(chunk_no, _describe(exc), type(exc).__name__, outcomes, exc)
                )
        except BaseException as exc:  # cancelled mid-request: it may have been written
            cancelled = errors.ClickSendError(f"cancelled while sending ({type(exc).__name__})")
            record = _unknown_record(chunk_no, outcomes, cancelled)
            raise
        finally:
            pending.pop(chunk_no, None)
            in_flight.release()
            if record is not None:
                if store is not None:
                    store.save(record)
                settle(chunk_no, record)
        await progress()

    async def dispatch(chunk_no: int, chunk: list[tuple[MessageOutcome, dict[str, Any]]]) -> None:
        if chunk_no in finished:
            settle(chunk_no, finished[chunk_no])
            report.resumed_chunks += 1
            return
        await in_flight.acquire()
        pending[chunk_no] = [outcome for outcome, _ in chunk]
        tg.start_soon(send_chunk, chunk_no, chunk)

    chunk: list[tuple[MessageOutcome, dict[str, Any]]] = []
    chunk_no = 0
    try:
        async with anyio.create_task_group() as tg:
            async for index, raw in _enumerate(messages):
                report.total += 1
                try:
                    wire = _wire(raw)
                except TypeError as exc:
                    report.rejected.append(
                        MessageOutcome(
                            index, f"{run_id}-{index}", status="INVALID", reason=str(exc)
                        )
                    )
                    continue
                reference = str(wire.get("custom_string") or f"{run_id}-{index}")
                wire["custom_string"] = reference
                outcome = MessageOutcome(
                    index, reference, to=_text(wire.get("to")), list_id=_int(wire.get("list_id"))
                )
                reason = _problem(channel, wire, shared)
                if reason is None:
                    try:
                        wire = item_model.model_validate(wire).model_dump(
                            mode="json", by_alias=True, exclude_unset=True
                        )
                    except ValidationError as exc:
                        first = exc.errors()[0]
                        where = ".".join(str(p) for p in first.get("loc", ()))
                        reason = f"{where}: {first.get('msg')}"
                if reason is not None:
                    outcome.status, outcome.reason = "INVALID", reason
                    report.rejected.append(outcome)
                    continue
                chunk.append((outcome, wire))
                if len(chunk) == chunk_size:
                    await dispatch(chunk_no, chunk)
                    chunk, chunk_no = [], chunk_no + 1
            if chunk:
                await dispatch(chunk_no, chunk)
                chunk = []
    except BaseException:
        # Cancelled (or crashed): what was read but never handed to a request is not sent; a
        # chunk whose task never started is not sent either (started ones settled themselves).
        report.cancelled = True
        report.not_sent.extend(outcome for outcome, _ in chunk)
        report.not_sent.extend(o for outcomes in pending.values() for o in outcomes)
        pending.clear()
        raise
    await progress()
    return report


async def _enumerate(messages: Iterable[Any] | AsyncIterable[Any]) -> Any:
    """(index, message) over a sync or async iterable, one at a time."""
    if isinstance(messages, AsyncIterable):
        index = 0
        async for message in messages:
            yield index, message
            index += 1
    else:
        for index, message in enumerate(messages):
            yield index, message


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _int(value: Any) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _failure(error: str, error_type: str, outcomes: list[MessageOutcome]) -> dict[str, Any]:
    return {"error": error, "error_type": error_type, "messages": [asdict(o) for o in outcomes]}


def _unknown_record(
    chunk_no: int, outcomes: list[MessageOutcome], exc: BaseException
) -> dict[str, Any]:
    """A chunk that may have been processed: kept for reconcile(), never resent."""
    failure = _failure(_describe(exc), type(exc).__name__, outcomes)
    return {"kind": "chunk", "chunk": chunk_no, "state": "unknown", "failure": failure}


def _chunk_record(chunk_no: int, outcomes: list[MessageOutcome], parsed: Any) -> dict[str, Any]:
    """Match the API's per-recipient answers to the chunk's messages by reference."""
    answers: dict[str, list[Any]] = {}
    for answer in getattr(getattr(parsed, "data", None), "messages", None) or []:
        answers.setdefault(str(answer.custom_string), []).append(answer)
    accepted, rejected, missing = [], [], []
    for outcome in outcomes:
        mine = answers.get(outcome.reference)
        if not mine:
            missing.append(outcome)
            continue
        ok = [a for a in mine if a.status == "SUCCESS"]
        if ok:
            outcome.message_id, outcome.status = ok[0].message_id, "SUCCESS"
            accepted.append(asdict(outcome))
        else:
            outcome.status = str(mine[0].status)
            outcome.reason = f"the API answered {outcome.status}"
            rejected.append(asdict(outcome))
    record: dict[str, Any] = {
        "kind": "chunk",
        "chunk": chunk_no,
        "state": "done",
        "accepted": accepted,
        "rejected": rejected,
    }
    if missing:  # answered, but silent about these: settle them through reconcile()
        record["state"] = "unknown"
        record["failure"] = _failure(
            "the answer does not mention these messages", "MissingFromAnswer", missing
        )
    return record
