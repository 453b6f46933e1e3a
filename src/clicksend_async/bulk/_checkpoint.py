"""Checkpoints: a run's record of what it sent, bound to that run, written ahead of each request.

A checkpoint is a list of JSON records (a JSON-lines file for :class:`FileCheckpoint`):

- a header ``{"kind": "run", "format": 2, ...}`` with the run's fingerprint: channel, operation,
  chunk size and a digest of the shared fields; a later header starts a new run in the same file
  (``mode="new"``), and only the records after the last header count;
- per request, an *in-flight* record (the part's input indices and the digest of their wire
  content), saved and fsync'd **before** the request is written, then a final record once the
  answer is in: ``done`` (per-message outcomes), ``unknown`` (may have been processed) or
  ``failed`` (provably not processed: sent again on resume). An in-flight record without a final
  one means the run stopped mid-request: that part is ``unknown`` and goes to ``reconcile()``,
  never resent blindly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeGuard

from clicksend_async import errors
from clicksend_async.bulk._outcomes import MessageOutcome
from clicksend_async.bulk._store import Checkpoint, Claiming, store_name
from clicksend_async.bulk._validate import MAX_PER_REQUEST

FORMAT = 2  # bumped whenever the records change meaning; older files are refused, not misread
FINAL_STATES = ("done", "unknown", "failed")
_OUTCOME_FIELDS = frozenset(f.name for f in fields(MessageOutcome))


# -- the records of one run -----------------------------------------------------------------------


@dataclass
class PartRecord:
    """One request of a run, as the checkpoint remembers it."""

    chunk: int
    part: int
    digest: str
    indices: list[int]
    sent_at: float
    until: float | None
    state: str = "inflight"
    answered_at: float | None = None
    accepted: list[MessageOutcome] = field(default_factory=list)
    rejected: list[MessageOutcome] = field(default_factory=list)
    unknown: list[MessageOutcome] = field(default_factory=list)  # the answer left unsettled
    error: str | None = None
    error_type: str | None = None


@dataclass
class Run:
    run_id: str
    started: float
    parts: dict[int, dict[int, PartRecord]]  # chunk -> part -> what is recorded

    @property
    def last_chunk(self) -> int | None:
        return max(self.parts) if self.parts else None


def header_record(
    run_id: str, channel: str, operation: str, chunk_size: int, shared: str, started: float
) -> dict[str, Any]:
    return {
        "kind": "run", "format": FORMAT, "run_id": run_id, "channel": channel,
        "operation": operation, "chunk_size": chunk_size, "shared": shared, "started": started,
    }  # fmt: skip


def inflight_record(
    chunk: int, part: int, digest: str, indices: Iterable[int], sent_at: float, until: float | None
) -> dict[str, Any]:
    return {
        "kind": "chunk", "chunk": chunk, "part": part, "state": "inflight", "digest": digest,
        "indices": ranges(indices), "sent_at": sent_at, "until": until,
    }  # fmt: skip


def final_record(
    chunk: int, part: int, state: str, answered_at: float, **fields: Any
) -> dict[str, Any]:
    """``done``: accepted/rejected/unknown outcomes; else ``error`` and ``error_type``."""
    return {
        "kind": "chunk",
        "chunk": chunk,
        "part": part,
        "state": state,
        "answered_at": answered_at,
        **fields,
    }


def ranges(indices: Iterable[int]) -> list[list[int]]:
    """Sorted indices as ``[start, stop)`` runs: a chunk with a few rejections stays short."""
    out: list[list[int]] = []
    for index in sorted(indices):
        if out and out[-1][1] == index:
            out[-1][1] = index + 1
        else:
            out.append([index, index + 1])
    return out


def open_run(
    store: Checkpoint,
    run_id: str,
    channel: str,
    operation: str,
    chunk_size: int,
    shared: str,
    now: float,
) -> Run:
    """The run recorded in ``store`` (checked against this one), or a new one (header saved)."""
    name = store_name(store)
    header = header_record(run_id, channel, operation, chunk_size, shared, now)
    # A shared store keeps the first worker's header: all workers join its run (and run id).
    records = store.begin(header) if isinstance(store, Claiming) else store.load()
    if records and records[0].get("kind") != "run":
        raise errors.CheckpointCorruptError(name, 1, "the first record is not a run header")
    last = max((i for i, r in enumerate(records) if r.get("kind") == "run"), default=None)
    if getattr(store, "mode", "resume") == "new" or last is None:
        store.save(header)
        return Run(run_id, now, {})
    header = records[last]
    _check_header(name, last + 1, header, channel, operation, chunk_size, shared)
    run = Run(str(header["run_id"]), float(header["started"]), {})
    for number, record in enumerate(records[last + 1 :], last + 2):
        _apply(name, number, record, run)
    return run


def _check_header(
    name: str,
    number: int,
    header: Mapping[str, Any],
    channel: str,
    operation: str,
    chunk_size: int,
    shared: str,
) -> None:
    if header.get("format") != FORMAT:
        raise errors.CheckpointMismatchError(
            name,
            f"written in checkpoint format {header.get('format', 1)}, this version reads format "
            f"{FORMAT}; finish that run with the version that wrote it, or start a new run "
            "(FileCheckpoint(path, mode='new'))",
            field="format",
        )
    if not isinstance(header.get("run_id"), str) or not isinstance(
        header.get("started"), int | float
    ):
        raise errors.CheckpointCorruptError(name, number, "the run header lacks run_id or started")
    expected = {
        "channel": channel,
        "operation": operation,
        "chunk_size": chunk_size,
        "shared": shared,
    }
    for key, value in expected.items():
        if header.get(key) != value:
            what = (
                "the shared fields differ"
                if key == "shared"
                else f"{key} {value!r} here, {header.get(key)!r} in the checkpoint"
            )
            raise errors.CheckpointMismatchError(
                name,
                f"it records another run ({what}); resume with the same settings, or start a new "
                "run (FileCheckpoint(path, mode='new'))",
                field=key,
            )


def _apply(name: str, number: int, record: Mapping[str, Any], run: Run) -> None:
    """Fold one chunk record into ``run`` (a final record completes its in-flight one)."""

    def bad(reason: str) -> errors.CheckpointCorruptError:
        return errors.CheckpointCorruptError(name, number, reason)

    if record.get("kind") == "run":
        raise bad("a second run header")  # only the last header's run is read
    chunk, part, state = record.get("chunk"), record.get("part"), record.get("state")
    if not (_natural(chunk) and _natural(part)):
        raise bad("chunk and part must be whole numbers")
    parts = run.parts.setdefault(chunk, {})
    try:
        if state == "inflight":
            digest, sent_at, until = record["digest"], record["sent_at"], record["until"]
            spans = [(int(start), int(stop)) for start, stop in record["indices"]]
            if sum(stop - start for start, stop in spans) > MAX_PER_REQUEST:
                raise ValueError
            indices = [i for start, stop in spans for i in range(start, stop)]
            if not isinstance(digest, str) or not indices or not all(_natural(i) for i in indices):
                raise ValueError
            parts[part] = PartRecord(
                chunk,
                part,
                digest,
                indices,
                float(sent_at),
                None if until is None else float(until),
            )
            return
        if state not in FINAL_STATES:
            raise bad(f"unknown state {state!r}")
        known = parts.get(part)
        if known is None:
            raise bad(f"a {state} record for chunk {chunk} part {part} that was never in flight")
        known.state, known.answered_at = str(state), float(record["answered_at"])
        known.error, known.error_type = record.get("error"), record.get("error_type")
        if state == "done":
            known.accepted = [_outcome(item) for item in record.get("accepted", [])]
            known.rejected = [_outcome(item) for item in record.get("rejected", [])]
            known.unknown = [_outcome(item) for item in record.get("unknown", [])]
            settled = [o.index for o in known.accepted + known.rejected + known.unknown]
            if sorted(settled) != known.indices:
                raise bad(f"chunk {chunk} part {part}: the outcomes do not cover its messages")
    except (KeyError, TypeError, ValueError):
        raise bad(f"a malformed {state} record") from None


def _natural(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _outcome(item: Any) -> MessageOutcome:
    if not isinstance(item, dict) or not set(item) <= _OUTCOME_FIELDS:
        raise ValueError
    outcome = MessageOutcome(**item)
    if not _natural(outcome.index):
        raise ValueError
    return outcome
