"""``send_bulk``: stream the input, validate, chunk by input position, check a resumed run
against its checkpoint before sending anything, write ahead, send concurrently, attribute."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import secrets
import time
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sized
from dataclasses import dataclass
from typing import Any, Final

import anyio
from anyio.abc import TaskGroup
from pydantic import BaseModel
from pydantic_core import to_json

from clicksend_async import errors
from clicksend_async._operation import Operation, WireBody
from clicksend_async.bulk._calls import BulkClient, field_of, outcome_unknown, send_chunk
from clicksend_async.bulk._checkpoint import (
    PartRecord,
    Run,
    final_record,
    inflight_record,
    open_run,
)
from clicksend_async.bulk._match import attribute
from clicksend_async.bulk._outcomes import BulkProgress, ChunkFailure, MessageOutcome
from clicksend_async.bulk._report import BulkReport
from clicksend_async.bulk._store import Checkpoint, Claiming, FileCheckpoint, held, store_name
from clicksend_async.bulk._validate import (
    MAX_PER_REQUEST,
    Prepared,
    chunk_digest,
    prepare,
    ready_sms,
    shared_digest,
)

DEFAULT_CHUNKS_IN_FLIGHT = 16  # when the client sets no max_concurrency
NEW_RUN_HINT = "resume with the same input, or start a new run (FileCheckpoint(path, mode='new'))"


# A sendable message while it waits for its request: (wire form, digest, schedule, why it is late)
# of its ``Prepared``, whose outcome the engine keeps apart. The cyclic GC stops tracking a plain
# tuple of strings, bytes and floats at its first pass; a ``Prepared`` (it refers to the outcome)
# stays tracked, and tens of thousands of them waiting were traversed by every full pass
# (100,000 messages: GC time 0.15 -> 0.12 s, wall -4 %).
_Ready = tuple[dict[str, Any], bytes, float | None, str | None]
# its fields (Final: a type checker reads each index as its literal, so each field keeps its type)
WIRE: Final = 0
DIGEST: Final = 1
SCHEDULE: Final = 2
LATE: Final = 3


def _ready(item: Prepared) -> _Ready:
    return item.wire, item.digest, item.schedule, item.late


@dataclass(slots=True)
class _Part:
    """One request to make: messages of one chunk (a resumed chunk may get a further part)."""

    chunk: int
    part: int
    items: list[_Ready]  # emptied once its body is built
    digest: str
    outcomes: list[MessageOutcome]
    until: float | None  # the latest schedule of its messages


def _part(
    chunk: int,
    number: int,
    outcomes: list[MessageOutcome],
    items: list[_Ready],
    with_digest: bool,
) -> _Part:
    """The part of ``items`` (``outcomes`` theirs, in order); its digest only when a checkpoint
    will record it."""
    digest = ""
    if with_digest:
        pairs = zip(outcomes, items, strict=True)
        digest = chunk_digest([(outcome.index, item[DIGEST]) for outcome, item in pairs])
    schedules = [item[SCHEDULE] for item in items if item[SCHEDULE] is not None]
    until = max(schedules) if schedules else None
    return _Part(chunk, number, items, digest, outcomes, until)


async def send_bulk(
    client: BulkClient,
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
    """The engine behind ``cs.sms/mms/voice.send_bulk`` (see the package docstring)."""
    if not 1 <= chunk_size <= MAX_PER_REQUEST:
        raise ValueError(f"chunk_size must be between 1 and {MAX_PER_REQUEST}, got {chunk_size}")
    channel = operation.operation_id.split("_", 1)[0]
    shared = dict(shared or {})
    fingerprint = shared_digest(operation.operation_id, shared)
    store = FileCheckpoint(checkpoint) if isinstance(checkpoint, str | os.PathLike) else checkpoint
    with held(store):
        now, run_id = time.time(), secrets.token_hex(4)
        run = Run(run_id, now, {})
        if store is not None:
            run = open_run(
                store, run_id, channel, operation.operation_id, chunk_size, fingerprint, now
            )
        if report is None:
            report = BulkReport(channel=channel, run_id=run.run_id)
        report.channel, report.run_id, report.started_at = channel, run.run_id, run.started
        engine = _Engine(
            client, _answered_as_json(client, operation), item_model, shared, store, run, report,
            chunk_size,
        )  # fmt: skip
        engine.on_progress = on_progress
        engine.total = len(messages) if isinstance(messages, Sized) else None
        concurrency = max_chunks_in_flight or client.limiter.max_concurrency
        engine.slots = anyio.Semaphore(concurrency or DEFAULT_CHUNKS_IN_FLIGHT)
        await engine.execute(messages)
    return report


class _Engine:
    on_progress: Callable[[BulkProgress], Any] | None = None
    total: int | None = None
    slots: anyio.Semaphore
    _tg: TaskGroup

    def __init__(
        self,
        client: BulkClient,
        operation: Operation[Any],
        item_model: type[BaseModel],
        shared: dict[str, Any],
        store: Checkpoint | None,
        run: Run,
        report: BulkReport,
        chunk_size: int,
    ) -> None:
        self.client, self.operation, self.item_model = client, operation, item_model
        self.channel = operation.operation_id.split("_", 1)[0]
        self.shared, self.store, self.book, self.report = shared, store, run, report
        self.chunk_size = chunk_size
        self.name = store_name(store) if store is not None else "<none>"
        # While recorded chunks remain to be checked against the input, nothing is sent: the
        # parts to send wait here, so a mismatch is raised before any request.
        self.last_recorded = run.last_chunk
        self.held_back: list[_Part] = []
        self.items: dict[int, _Ready] = {}  # the current chunk's sendable messages
        self.any_late = False  # ... one of them scheduled in the past
        self.outcomes: dict[int, MessageOutcome] = {}  # ... their outcomes
        self.refused: dict[int, MessageOutcome] = {}  # ... and its rejected ones
        self.pending: dict[tuple[int, int], list[MessageOutcome]] = {}  # dispatched, not begun
        self.fatal: BaseException | None = None
        self.started = time.monotonic()
        self.body_head = body_head(shared)
        self.sms = self.channel == "sms"
        self.with_digest = store is not None  # only a checkpoint compares digests

    # -- the input ------------------------------------------------------------------------------

    async def execute(self, messages: Iterable[Any] | AsyncIterable[Any]) -> None:
        try:
            async with anyio.create_task_group() as self._tg:
                try:
                    await self._read(messages)
                except Exception as exc:  # raised as itself below, not in an exception group
                    self._stop(exc)  # (the requests in flight finish and are settled first)
        except BaseException:
            self._unsent()
            raise
        if self.fatal is not None:
            self._unsent()
            raise self.fatal
        await self._progress()

    async def _read(self, messages: Iterable[Any] | AsyncIterable[Any]) -> None:
        chunk, read, size, take = 0, 0, self.chunk_size, self._take
        prefix = self._reference_prefix(chunk)
        # The same loop twice: a sync input is read without an async generator per message.
        if isinstance(messages, AsyncIterable):
            index = -1
            async for raw in messages:
                index += 1
                if self.fatal is not None:
                    return  # what was read stays not_sent
                if index // size != chunk:
                    await self._complete(chunk)
                    chunk = index // size
                    prefix = self._reference_prefix(chunk)
                read += 1
                take(prefix, index, raw)
        else:
            # As above, with _take's one-step case in the loop (locals, no call per message). A
            # sync input yields only at _complete, so that is where the run may have stopped.
            report, model, digest, usual = self.report, self.item_model, self.with_digest, self.sms
            items, outcomes = self.items, self.outcomes
            for index, raw in enumerate(messages):
                if index // size != chunk:
                    await self._complete(chunk)
                    if self.fatal is not None:
                        return  # what was read stays not_sent
                    chunk = index // size
                    prefix = self._reference_prefix(chunk)
                    items, outcomes = self.items, self.outcomes  # (the next chunk's)
                read += 1
                reference = prefix + str(index)
                if usual and type(raw) is dict:
                    ready = ready_sms(raw, index, reference, model, digest)
                    if ready is not None:
                        report.total += 1
                        items[index] = (ready[1], ready[2], None, None)
                        outcomes[index] = ready[0]
                        continue
                self._take_general(reference, index, raw)
        if read and self.fatal is None:
            await self._complete(chunk)
        if self.book.parts and self.fatal is None:  # recorded chunks past the end of the input
            first = min(self.book.parts)
            raise self._mismatch(
                first, f"the input has {read:,} messages, but the checkpoint records chunk {first}"
            )
        if isinstance(self.store, Claiming) and self.fatal is None:
            self._save({"kind": "end", "total": read})  # the campaign's length, for its report
        await self._release_held_back()

    def _reference_prefix(self, chunk: int) -> str:
        """What the references of a chunk's messages start with: ``{run}-{chunk}-{index}``."""
        return f"{self.report.run_id}-{chunk}-"

    def _take(self, prefix: str, index: int, raw: Any) -> None:
        """Read message ``index``: kept to send (``items``, ``outcomes``) or ``refused``, in
        input order. (The sync loop in ``_read`` does the one-step case itself.)"""
        reference = prefix + str(index)
        if self.sms and type(raw) is dict:  # the usual message, in one step
            ready = ready_sms(raw, index, reference, self.item_model, self.with_digest)
            if ready is not None:
                self.report.total += 1
                self.items[index] = (ready[1], ready[2], None, None)
                self.outcomes[index] = ready[0]
                return
        self._take_general(reference, index, raw)

    def _take_general(self, reference: str, index: int, raw: Any) -> None:
        """``_take`` for a message the one-step case did not take (it is not tried again)."""
        self.report.total += 1
        item = prepare(
            self.channel, raw, index, reference, self.shared, self.item_model,
            digest=self.with_digest, one_step=False,
        )  # fmt: skip
        if isinstance(item, MessageOutcome):
            self.report.rejected.append(item)
            self.refused[index] = item
        else:
            self.items[index] = _ready(item)
            self.outcomes[index] = item.outcome
            self.any_late = self.any_late or item.late is not None

    async def _complete(self, chunk: int) -> None:
        """Every message of ``chunk`` has been read: check it against the checkpoint, settle what
        was recorded, and send the rest."""
        recorded = sorted(self.book.parts.get(chunk, {}).values(), key=lambda r: r.part)
        resumed = [r for r in recorded if r.state != "failed"]  # failed: provably not processed
        for record in resumed:
            self._verify(chunk, record)
        self.book.parts.pop(chunk, None)
        covered = {i for record in resumed for i in record.indices}
        for record in resumed:
            self._resume(record)
        if resumed:
            self.report.resumed_chunks += 1
        refused = list(self.refused.values())
        fresh: list[_Ready] = []
        fresh_outcomes: list[MessageOutcome] = []
        if not covered and not self.any_late:  # the usual chunk: all it kept, in input order
            fresh, fresh_outcomes = list(self.items.values()), list(self.outcomes.values())
        else:
            for index, item in self.items.items():  # in input order
                if index in covered:
                    continue
                outcome, late = self.outcomes[index], item[LATE]
                if late is not None:  # refused now, though a resumed run may have sent it
                    outcome.status, outcome.reason = "INVALID", late
                    self.report.rejected.append(outcome)
                    refused.append(outcome)
                else:
                    fresh.append(item)
                    fresh_outcomes.append(outcome)
        if refused and isinstance(self.store, Claiming):  # in no request: the campaign's
            # merged report learns of them from this record
            self._save(
                {"kind": "refused", "chunk": chunk, "messages": [o.record() for o in refused]}
            )
        self.items, self.outcomes, self.refused, self.any_late = {}, {}, {}, False
        if fresh:
            number = max((r.part for r in recorded), default=-1) + 1
            part = _part(chunk, number, fresh_outcomes, fresh, self.with_digest)
            self.held_back.append(part)
        if self.last_recorded is None or chunk >= self.last_recorded:
            await self._release_held_back()  # every recorded chunk up to here matched
        if resumed:
            await self._progress()

    def _verify(self, chunk: int, record: PartRecord) -> None:
        for index in record.indices:
            if index in self.refused:
                raise self._mismatch(
                    chunk,
                    f"message {index} was sent by the recorded run but is now refused "
                    f"({self.refused[index].reason})",
                )
            if index not in self.items:
                raise self._mismatch(
                    chunk, f"the input ends before message {index}, which the recorded run sent"
                )
        digest = chunk_digest([(i, self.items[i][DIGEST]) for i in record.indices])
        if digest != record.digest:
            first, last = record.indices[0], record.indices[-1]
            raise self._mismatch(
                chunk, f"messages {first}-{last} are not the ones the recorded run sent"
            )

    def _mismatch(self, chunk: int, detail: str) -> errors.CheckpointMismatchError:
        return errors.CheckpointMismatchError(
            self.name,
            f"chunk {chunk} does not match the input: {detail}; nothing was sent. {NEW_RUN_HINT}",
            field="messages",
            chunk=chunk,
        )

    def _resume(self, record: PartRecord) -> None:
        """Settle a recorded part into the report (an in-flight one becomes unknown)."""
        outcomes = [self.outcomes[i] for i in record.indices]
        report = self.report
        if record.state == "done":
            report.accepted.extend(record.accepted)
            report.rejected.extend(record.rejected)
            if not record.unknown:
                return
            outcomes = record.unknown
            error, error_type = "the answer does not settle these messages", "UnmatchedAnswer"
        elif record.state == "unknown":
            error, error_type = record.error or "outcome unknown", record.error_type or "Unknown"
        else:
            error = "the run stopped while this request was in flight (recorded write-ahead)"
            error_type = "Interrupted"
        report.unknown.append(
            ChunkFailure(
                record.chunk, error, error_type, outcomes, part=record.part,
                sent_at=record.sent_at, answered_at=record.answered_at, until=record.until,
                unknown_since=record.answered_at or time.time(),
            )
        )  # fmt: skip

    # -- sending --------------------------------------------------------------------------------

    async def _release_held_back(self) -> None:
        self.last_recorded = None
        while self.held_back:
            await self._dispatch(self.held_back.pop(0))

    async def _dispatch(self, part: _Part) -> None:
        # Pending before the first await: a cancellation from here on finds it (not_sent).
        self.pending[(part.chunk, part.part)] = part.outcomes
        if self.fatal is not None:
            return
        await self.slots.acquire()
        if self.fatal is not None:  # the run failed while this part waited for a slot
            self.slots.release()
            return
        self._tg.start_soon(self._send, part)

    async def _send(self, part: _Part) -> None:
        key, outcomes = (part.chunk, part.part), part.outcomes
        sent_at, until = time.time(), part.until
        try:
            # Write-ahead: after a crash from here on, this part is unknown, never resent.
            if self.store is not None:  # (no checkpoint: nothing to record)
                indices = [o.index for o in outcomes]
                ahead = inflight_record(*key, part.digest, indices, sent_at, until)
                if isinstance(self.store, Claiming):
                    if not self._claim(part, self.store, ahead):
                        return  # another worker has it, or the run stopped
                elif not self._save(ahead):
                    return  # not sent: it stays pending (not_sent)
            del self.pending[key]
            self.report.requests += 1
            body = chunk_body(self.shared, self.body_head, [item[WIRE] for item in part.items])
            part.items = []  # the body holds what is still needed of them
            record: dict[str, Any] | None = None
            failure: ChunkFailure | None = None
            try:
                envelope = await send_chunk(self.client, self.operation, body)
                answered = time.time()
                answers = field_of(field_of(envelope, "data"), "messages")
                del body, envelope  # the request and the answer are no longer needed
                result = attribute(outcomes, answers if isinstance(answers, list) else [])
                del answers
                if self.store is not None:
                    record = final_record(
                        *key, "done", answered, accepted=[o.record() for o in result.accepted],
                        rejected=[o.record() for o in result.rejected],
                        unknown=[o.record() for o in result.unknown],
                    )  # fmt: skip
                self.report.accepted.extend(result.accepted)
                self.report.rejected.extend(result.rejected)
                if result.unknown:
                    failure = self._failure(part, result.unknown, None, sent_at, answered)
                    self.report.unknown.append(failure)
            except Exception as exc:
                answered = time.time()
                state = "unknown" if outcome_unknown(exc) else "failed"
                failure = self._failure(part, outcomes, exc, sent_at, answered)
                record = final_record(
                    *key, state, answered, error=failure.error, error_type=failure.error_type
                )
                (self.report.unknown if state == "unknown" else self.report.failed).append(failure)
            except BaseException as exc:  # cancelled mid-request: it may have been written
                answered = time.time()
                cancelled = errors.ClickSendError(f"cancelled while sending ({type(exc).__name__})")
                failure = self._failure(part, outcomes, cancelled, sent_at, answered)
                record = final_record(
                    *key, "unknown", answered, error=failure.error, error_type="Cancelled"
                )
                self.report.unknown.append(failure)
                self._save(record)
                raise
            if record is not None:
                self._save(record)
        finally:
            self.slots.release()
        await self._progress()

    def _failure(
        self,
        part: _Part,
        outcomes: list[MessageOutcome],
        exc: BaseException | None,
        sent_at: float,
        answered: float,
    ) -> ChunkFailure:
        if exc is None:
            error, error_type = "the answer does not settle these messages", "UnmatchedAnswer"
        else:
            error, error_type = f"{type(exc).__name__}: {exc}", type(exc).__name__
        return ChunkFailure(
            part.chunk, error, error_type, outcomes,
            exc if isinstance(exc, Exception) else None, part=part.part, sent_at=sent_at,
            answered_at=answered, until=part.until, unknown_since=answered,
        )  # fmt: skip

    def _save(self, record: dict[str, Any] | None) -> bool:
        """Record in the checkpoint; a failure ends the run (it could not be resumed)."""
        if self.store is None or record is None:
            return True
        try:
            self.store.save(record)
        except Exception as exc:
            self._unwritable(exc)
            return False
        return True

    def _claim(self, part: _Part, store: Claiming, record: dict[str, Any]) -> bool:
        """Claim the part in a shared checkpoint: True when this worker is to send it. A part
        another worker holds is ``claimed_elsewhere``; one it holds with other messages means
        another input, and stops this worker (its part unsent)."""
        try:
            holder = store.claim(record, [o.record() for o in part.outcomes])
        except Exception as exc:
            self._unwritable(exc)
            return False
        if holder is None:
            return True
        if holder.get("digest") != part.digest:
            self._stop(
                errors.CheckpointMismatchError(
                    self.name,
                    f"chunk {part.chunk} does not match the input: another worker sent other "
                    f"messages as chunk {part.chunk} part {part.part}; this worker stopped and "
                    "did not send it. Every worker of a campaign needs the same input",
                    field="messages",
                    chunk=part.chunk,
                )
            )
            return False
        del self.pending[(part.chunk, part.part)]
        for outcome in part.outcomes:
            outcome.reason = "claimed by another worker of the campaign"
        self.report.claimed_elsewhere.extend(part.outcomes)
        return False

    def _unwritable(self, exc: Exception) -> None:
        self._stop(
            exc
            if isinstance(exc, errors.CheckpointError)
            else errors.CheckpointError(
                self.name, f"cannot be written ({type(exc).__name__}: {exc}); run stopped"
            )
        )

    def _stop(self, exc: BaseException) -> None:
        """End the run with ``exc``: nothing more is sent; the requests in flight finish first
        (cancelling them would make their outcome unknown for nothing)."""
        if self.fatal is None:
            self.fatal = exc

    # -- bookkeeping ----------------------------------------------------------------------------

    def _unsent(self) -> None:
        """The run stopped: what was read but never handed to a request is ``not_sent``."""
        report = self.report
        report.cancelled = True
        report.not_sent.extend(self.outcomes.values())
        report.not_sent.extend(o for part in self.held_back for o in part.outcomes)
        report.not_sent.extend(o for outcomes in self.pending.values() for o in outcomes)
        self.items, self.outcomes, self.held_back = {}, {}, []
        self.pending.clear()

    async def _progress(self) -> None:
        if self.on_progress is None:
            return
        counts = self.report.counts
        done = sum(counts[k] for k in ("accepted", "rejected", "failed", "unknown"))
        done += counts["safe_to_resend"] + counts["claimed_elsewhere"]
        rate = done / max(time.monotonic() - self.started, 1e-9)
        total = self.total
        eta = (total - done) / rate if total is not None and rate > 0 else None
        event = BulkProgress(
            counts["accepted"], counts["rejected"], counts["failed"], done, total, rate, eta,
            counts["unknown"],
        )  # fmt: skip
        try:
            result = self.on_progress(event)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:  # the caller's callback: its error ends the run, as itself
            self._stop(exc)


# json.dumps(..., separators=(",", ":"), ensure_ascii=False, allow_nan=False), built once
_SHARED_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def body_head(shared: dict[str, Any]) -> bytes | None:
    """Each request body's bytes up to its messages (``{"shared":...,"messages":``), or None
    when the core is to encode the whole body: a shared field JSON cannot carry, or one named
    ``messages`` (the engine's own field replaces it)."""
    if "messages" in shared:
        return None
    try:
        encoded = _SHARED_ENCODER.encode(shared).encode("utf-8")
    except (TypeError, ValueError):  # (UnicodeEncodeError: a lone surrogate)
        return None
    return encoded[:-1] + (b',"messages":' if shared else b'"messages":')


def chunk_body(
    shared: dict[str, Any], head: bytes | None, messages: list[dict[str, Any]]
) -> dict[str, Any]:
    """A send request's body, its bytes made here in one pass: ``json.dumps(body,
    separators=(",", ":"), ensure_ascii=False)`` in UTF-8 (pydantic-core writes the messages,
    ~4x faster than the ``json`` encoder on 1,000 of them; a float may be spelled differently,
    ``1e16`` for ``1e+16``, the same number). Only for what ``prepare`` sends: strings, or a
    model's JSON dump that :func:`canonical` accepted, so no NaN or infinity (which ``to_json``
    would write as null). Without ``head`` the core encodes the body, as for any request."""
    body = {**shared, "messages": messages}
    if head is None:
        return body  # the core encodes it, and names what cannot be sent
    try:
        content = head + to_json(messages) + b"}"
    except Exception:  # something pydantic-core cannot write: the core encodes it
        return body
    return WireBody(body, content)


def _answered_as_json(client: BulkClient, operation: Operation[Any]) -> Operation[Any]:
    """The send operation, its answer returned as decoded JSON rather than as a model.

    The engine reads five fields of each answer record (``_match`` takes models and dicts
    alike); building the envelope model of 1,000 records cost more than everything else the
    engine does per message. An error envelope is still an error (checked before any model),
    and a client with ``strict_response_validation=True`` keeps the model, so an answer that does
    not fit it still makes the chunk ``unknown``.
    """
    if getattr(client, "strict_response_validation", False) or operation.response_model is None:
        return operation
    return dataclasses.replace(operation, response_model=None)
