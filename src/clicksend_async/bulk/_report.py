"""The report of a bulk run: every input message in exactly one bucket, and ``reconcile()``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from clicksend_async.bulk import _reconcile
from clicksend_async.bulk._calls import BulkClient
from clicksend_async.bulk._outcomes import ChunkFailure, MessageOutcome


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
    # Skipped by this worker: another worker of the campaign had claimed their chunk (a shared
    # checkpoint); the campaign's merged report says what became of them.
    claimed_elsewhere: list[MessageOutcome] = field(default_factory=list)
    total: int = 0  # messages read from the input
    requests: int = 0  # send requests made by this run
    resumed_chunks: int = 0  # chunks settled from the checkpoint instead of being sent
    history_pages: int = 0  # history pages read by reconcile()
    cancelled: bool = False
    # A reconcile pass that failed part-way, continued by the next call.
    _pass: _reconcile.Pass | None = field(default=None, repr=False, compare=False)

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
            "claimed_elsewhere": len(self.claimed_elsewhere),
        }

    @property
    def consistent(self) -> bool:
        """Every message read is in exactly one bucket."""
        counts = self.counts
        return counts.pop("total") == sum(counts.values())

    async def reconcile(
        self,
        client: BulkClient,
        *,
        min_age: float | None = None,
        skew: float = _reconcile.HISTORY_SKEW,
    ) -> None:
        """Settle ``unknown`` chunks from the history: found -> ``accepted``, absent for
        ``min_age`` seconds (default ``DEFAULT_MIN_AGE``, 60) since the outcome became unknown
        -> ``safe_to_resend``; younger absent ones and ambiguous ones stay ``unknown`` with
        their reason, and every looked-up message gets ``checked_at``.

        Each chunk is searched in its own send window (± ``skew`` seconds for clock
        differences). Nothing moves until every search has succeeded: when a history page
        fails, the error is raised and the next call continues where this one stopped, so a
        message is never moved (or counted) twice. Call it again later to settle what stayed.
        """
        if not self.unknown:
            self._pass = None
            return
        age = _reconcile.DEFAULT_MIN_AGE if min_age is None else min_age
        if age < 0 or skew < 0:
            raise ValueError("min_age and skew must be >= 0")
        current = self._pass
        if current is None or current.key != _reconcile.pass_key(self.unknown):
            current, pages = await _reconcile.plan(
                client,
                self.channel,
                self.run_id,
                self.started_at,
                self.unknown,
                self.accepted,
                skew,
            )
            self.history_pages += pages
            self._pass = current
        pages, error = await _reconcile.run(client, self.channel, current.searches)
        self.history_pages += pages
        if error is not None:
            raise error
        self.unknown = _reconcile.settle(
            current,
            self.unknown,
            self.accepted,
            self.safe_to_resend,
            min_age=age,
            started_at=self.started_at,
        )
        self._pass = None
