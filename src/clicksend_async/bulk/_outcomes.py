"""What happened to each message and chunk, and the progress events of a run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    checked_at: float | None = None  # when reconcile() last looked it up in the history

    def record(self) -> dict[str, Any]:
        """The fields that are set, for a checkpoint (``dataclasses.asdict`` is far slower)."""
        return {name: value for name in _FIELDS if (value := getattr(self, name)) is not None}


_FIELDS = tuple(MessageOutcome.__slots__)


@dataclass
class ChunkFailure:
    """Messages of one request (up to 1000) that failed together, or whose outcome is unknown.

    ``sent_at``/``answered_at`` (unix seconds, this machine's clock) bound when the server may
    have processed the request: ``reconcile()`` searches the history around them only.
    """

    chunk: int
    error: str  # the typed error's class name and message
    error_type: str
    messages: list[MessageOutcome]
    exception: Exception | None = None  # the error itself (not kept in checkpoints)
    part: int = 0  # a chunk resumed with new messages (e.g. a fixed row) is sent in parts
    sent_at: float | None = None
    answered_at: float | None = None  # None: the run stopped with the request in flight
    until: float | None = None  # the latest schedule of its messages (history dates them so)
    unknown_since: float | None = None  # when the outcome became unknown (for ``min_age``)


@dataclass
class BulkProgress:
    """Passed to ``on_progress`` after every chunk; ``str()`` of it is a one-line summary."""

    accepted: int
    rejected: int
    failed: int  # messages of chunks that provably were not processed
    done: int  # messages settled so far (in any bucket)
    total: int | None  # input size when known (a sized input), else None
    rate: float  # messages per second since the start
    eta: float | None  # seconds left, when total is known
    unknown: int = 0  # messages whose outcome is unknown (to reconcile, not failed)

    def __str__(self) -> str:
        done = f"{self.done:,}" if self.total is None else f"{self.done:,}/{self.total:,}"
        text = f"{done} done: {self.accepted:,} accepted, {self.rejected:,} rejected"
        if self.failed:
            text += f", {self.failed:,} failed"
        if self.unknown:
            text += f", {self.unknown:,} unknown"
        text += f", {self.rate:,.0f}/s"
        if self.eta is not None:
            text += f", eta {self.eta:,.0f} s"
        return text
