"""Where checkpoint records live: in memory, or a JSON-lines file (fsync'd, locked for a run).

Loading a file tolerates a torn last line only (a crash while appending); any other damage is a
:class:`~clicksend_async.errors.CheckpointCorruptError` naming the line, never a silent truncation
that would make a resumed run forget what it sent.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal, Protocol, runtime_checkable

from clicksend_async import errors

Mode = Literal["resume", "new"]
# What a non-blocking lock attempt reports when another open file holds the lock.
_HELD_ERRNOS = frozenset({errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EDEADLK})

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fh: IO[bytes]) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(fh: IO[bytes]) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fh: IO[bytes]) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fh: IO[bytes]) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class Checkpoint(Protocol):
    """Where a run records its requests, so a restart neither skips nor resends (JSON-able
    records). A ``mode`` attribute (``"resume"``/``"new"``) and ``acquire``/``release`` methods
    are honoured when present."""

    def load(self) -> list[dict[str, Any]]: ...

    def save(self, record: dict[str, Any]) -> None: ...


@runtime_checkable
class _Lockable(Protocol):
    def acquire(self) -> None: ...

    def release(self) -> None: ...


@runtime_checkable
class Claiming(Protocol):
    """A checkpoint shared by several workers running one campaign over the same input (e.g.
    :class:`~clicksend_async.redis_checkpoint.RedisCheckpoint`). The engine then calls
    ``begin`` instead of ``load`` (the run header is stored only if none is, atomically: every
    worker joins the same run) and ``claim`` instead of ``save`` for an in-flight record. It
    also saves ``{"kind": "refused", ...}`` (a chunk's messages refused before sending) and
    ``{"kind": "end", "total": n}`` (the input's length) records, so that the campaign's merged
    report knows every message."""

    def begin(self, header: dict[str, Any]) -> list[dict[str, Any]]:
        """Store ``header`` unless a run is stored; every record of the stored run."""
        ...

    def claim(
        self, record: dict[str, Any], messages: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Store the in-flight ``record`` (with its ``messages``) unless its chunk part is
        claimed already, atomically: None when this worker got it (it sends), else the record
        of the worker that has it (this one skips it)."""
        ...


def _check_mode(mode: str) -> Mode:
    if mode == "resume":
        return "resume"
    if mode == "new":
        return "new"
    raise ValueError(f"checkpoint mode must be 'resume' or 'new', got {mode!r}")


class MemoryCheckpoint:
    """Records kept in memory (e.g. to resume a cancelled run in the same process)."""

    def __init__(self, *, mode: Mode = "resume") -> None:
        self.records: list[dict[str, Any]] = []
        self.mode = _check_mode(mode)
        self._held = False

    def load(self) -> list[dict[str, Any]]:
        return list(self.records)

    def save(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def acquire(self) -> None:
        if self._held:
            raise errors.CheckpointLockedError("<memory>", "another run is using it")
        self._held = True

    def release(self) -> None:
        self._held = False


class FileCheckpoint:
    """Records appended to a JSON-lines file, one line each, fsync'd before the run goes on.

    ``mode="resume"`` (the default) continues the run recorded in the file, after checking that
    it is the same run and input; ``mode="new"`` starts a new run in the file (the old records
    stay, unused). While a run uses the file it holds an OS lock on it (``flock``), so a second
    run on the same file fails with :class:`~clicksend_async.errors.CheckpointLockedError`.
    """

    def __init__(self, path: str | os.PathLike[str], *, mode: Mode = "resume") -> None:
        self.path = Path(path)
        self.mode = _check_mode(mode)
        self._fh: IO[bytes] | None = None

    def __repr__(self) -> str:
        return f"FileCheckpoint({str(self.path)!r}, mode={self.mode!r})"

    def load(self) -> list[dict[str, Any]]:
        if self._fh is not None:
            self._fh.seek(0)
            data = self._fh.read()
        elif self.path.exists():
            data = self.path.read_bytes()
        else:
            return []
        return _parse(str(self.path), data)[0]

    def save(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n").encode()
        if self._fh is not None:
            self._write(self._fh, line)
            return
        with self.path.open("ab") as fh:
            self._write(fh, line)

    @staticmethod
    def _write(fh: IO[bytes], data: bytes) -> None:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())

    def acquire(self) -> None:
        """Lock the file for this run and cut a torn last line (left by a crash mid-append)."""
        if self._fh is not None:
            raise errors.CheckpointLockedError(str(self.path), "another run is using it")
        fh = self.path.open("a+b")  # append mode: every write lands at the end
        try:
            _lock(fh)
        except OSError as exc:
            fh.close()
            if exc.errno not in _HELD_ERRNOS:  # e.g. no locks on this file system
                raise errors.CheckpointError(
                    str(self.path), f"cannot be locked for this run ({exc.strerror or exc})"
                ) from exc
            raise errors.CheckpointLockedError(
                str(self.path),
                "another run is using it (the file is locked); wait for that run to end or "
                "use another file",
            ) from None
        try:
            fh.seek(0)
            data = fh.read()
            _, good, needs_newline = _parse(str(self.path), data)
            if good < len(data):
                fh.truncate(good)
                fh.flush()
                os.fsync(fh.fileno())
            elif needs_newline:
                self._write(fh, b"\n")
        except BaseException:
            _unlock(fh)
            fh.close()
            raise
        self._fh = fh

    def release(self) -> None:
        fh, self._fh = self._fh, None
        if fh is not None:
            try:
                _unlock(fh)
            finally:
                fh.close()


def _parse(name: str, data: bytes) -> tuple[list[dict[str, Any]], int, bool]:
    """(records, length of the intact part, whether the last record lacks its newline).

    Every complete line must be a record; only the text after the last newline may be torn.
    """
    lines = data.split(b"\n")
    tail = lines.pop()
    records = [_decode(name, number, line) for number, line in enumerate(lines, 1)]
    if not tail.strip():
        return records, len(data) - len(tail), False
    try:
        records.append(_decode(name, len(lines) + 1, tail))
    except errors.CheckpointCorruptError:
        return records, len(data) - len(tail), False  # torn by a crash mid-append: dropped
    return records, len(data), True


def _decode(name: str, number: int, line: bytes) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        raise errors.CheckpointCorruptError(name, number, "not a JSON record") from None
    if not isinstance(record, dict) or record.get("kind") not in ("run", "chunk"):
        raise errors.CheckpointCorruptError(name, number, "not a checkpoint record")
    return record


def store_name(store: Checkpoint) -> str:
    path = getattr(store, "path", None)
    if path is not None:
        return str(path)
    return "<memory>" if isinstance(store, MemoryCheckpoint) else type(store).__name__


@contextmanager
def held(store: Checkpoint | None) -> Iterator[None]:
    """The store locked for one run (when it can be)."""
    if not isinstance(store, _Lockable):
        yield
        return
    store.acquire()
    try:
        yield
    finally:
        store.release()
