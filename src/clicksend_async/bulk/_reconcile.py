"""Settling unknown chunks from the history: atomic, resumable, and reading little of it.

A pass plans one search per unknown chunk: its send window (the chunk's recorded timestamps
± ``HISTORY_SKEW``), narrowed to the chunk's own references with the history's ``q`` search when
a probe has shown that the server's search finds this run's references. Searches run
concurrently and each stops as soon as it has found every message it looks for. Only when every
search has succeeded are the messages moved, all at once, so a failing page moves nothing and
the next call continues the same pass (completed searches are not read again).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from clicksend_async import _constants
from clicksend_async.bulk._calls import BulkClient, field_of, history_first_page, history_pages
from clicksend_async.bulk._match import answer_keys, look_up, recipient_key
from clicksend_async.bulk._outcomes import ChunkFailure, MessageOutcome

# The numbers and their reasons live in _constants (BULK_HISTORY_SKEW, BULK_MIN_AGE, ...).
HISTORY_SKEW = _constants.BULK_HISTORY_SKEW
DEFAULT_MIN_AGE = _constants.BULK_MIN_AGE
SEARCH_CONCURRENCY = _constants.BULK_SEARCH_CONCURRENCY
PROBE_PAGE_SIZE = 15  # the API's smallest page


@dataclass
class Search:
    """One history query and what it found (only records carrying a wanted reference)."""

    date_from: int
    date_to: int
    q: str | None
    wanted: Counter[tuple[str, str]]  # (reference, recipient) -> messages to find
    indices: set[int]  # input indices of the messages it settles
    records: list[dict[str, Any]] = field(default_factory=list)
    started_at: float | None = None  # when its first page was asked for
    done: bool = False


@dataclass
class Pass:
    """A reconcile pass in progress: kept on the report until it has been applied."""

    key: frozenset[tuple[int, int, int]]  # (chunk, part, index) of the messages it settles
    searches: list[Search]


def pass_key(unknown: Sequence[ChunkFailure]) -> frozenset[tuple[int, int, int]]:
    return frozenset((f.chunk, f.part, o.index) for f in unknown for o in f.messages)


def _window(failure: ChunkFailure, started_at: float, skew: float, now: float) -> tuple[int, int]:
    start = failure.sent_at if failure.sent_at is not None else started_at
    end = max(failure.answered_at or now, failure.until or 0.0)
    return math.floor(start - skew), math.ceil(end + skew)


def _merge(windows: list[Search]) -> list[Search]:
    """Overlapping windows read once."""
    merged: list[Search] = []
    for search in sorted(windows, key=lambda s: s.date_from):
        last = merged[-1] if merged else None
        if last is not None and search.date_from <= last.date_to:
            last.date_to = max(last.date_to, search.date_to)
            last.wanted.update(search.wanted)
            last.indices |= search.indices
        else:
            merged.append(search)
    return merged


async def plan(
    client: BulkClient,
    channel: str,
    run_id: str,
    started_at: float,
    unknown: Sequence[ChunkFailure],
    accepted: Sequence[MessageOutcome],
    skew: float,
) -> tuple[Pass, int]:
    """The searches of a new pass (and the history pages the probe read)."""
    now = time.time()
    known = [*accepted, *(o for f in unknown for o in f.messages)]
    narrow, pages = await _probe(client, channel, run_id, started_at, known, skew)
    narrowed: dict[int, Search] = {}
    windows: list[Search] = []
    for failure in unknown:
        date_from, date_to = _window(failure, started_at, skew, now)
        token = f"{run_id}-{failure.chunk}-"
        for outcome in failure.messages:
            key = (outcome.reference, recipient_key(outcome))
            if narrow and outcome.reference.startswith(token):
                search = narrowed.get(failure.chunk)
                if search is None:
                    search = Search(date_from, date_to, f"custom_string:{token}", Counter(), set())
                    narrowed[failure.chunk] = search
                search.date_from = min(search.date_from, date_from)
                search.date_to = max(search.date_to, date_to)
            else:
                search = Search(date_from, date_to, None, Counter(), set())
                windows.append(search)
            search.wanted[key] += 1
            search.indices.add(outcome.index)
    return Pass(pass_key(unknown), [*narrowed.values(), *_merge(windows)]), pages


async def _probe(
    client: BulkClient,
    channel: str,
    run_id: str,
    started_at: float,
    known: Sequence[MessageOutcome],
    skew: float,
) -> tuple[bool, int]:
    """Does the history's ``q`` search find this run's references? Asked once per pass with the
    reference prefix of a chunk known to be accepted: only a first page whose records all carry
    it, out of a total no larger than that chunk could explain, proves it. Anything else (no
    records, other records, a total of the whole history) means windows are read whole."""
    prefix = f"{run_id}-"
    sample = next((o for o in known if o.message_id and o.reference.startswith(prefix)), None)
    if sample is None:
        return False, 0
    token = prefix + sample.reference[len(prefix) :].split("-", 1)[0] + "-"
    mine = sum(1 for o in known if o.reference.startswith(token))
    items, total = await history_first_page(
        client,
        channel,
        date_from=math.floor(started_at - skew),
        q=f"custom_string:{token}",
        limit=PROBE_PAGE_SIZE,
    )
    refs = [str(field_of(item, "custom_string") or "") for item in items]
    works = bool(refs) and all(ref.startswith(token) for ref in refs)
    return works and (total is None or total <= 2 * mine), 1


async def run(
    client: BulkClient, channel: str, searches: list[Search]
) -> tuple[int, Exception | None]:
    """Run the pending searches concurrently: (pages read, the first error, if any)."""
    pages = 0
    failures: list[Exception] = []
    limit = anyio.Semaphore(SEARCH_CONCURRENCY)

    async def one(search: Search) -> None:
        nonlocal pages
        async with limit:
            records: list[dict[str, Any]] = []
            found: Counter[tuple[str, str]] = Counter()
            search.started_at = time.time()
            read = 0
            try:
                iterator = history_pages(
                    client, channel, date_from=search.date_from, date_to=search.date_to, q=search.q
                )
                async for items in iterator:
                    read += 1
                    for item in items:
                        record = _lite(item)
                        keys = [k for k in answer_keys(record) if k in search.wanted]
                        if keys:
                            records.append(record)
                            found.update(keys)
                    if all(found[k] >= n for k, n in search.wanted.items()):
                        await iterator.aclose()  # everything it looks for is found
                        break
            except Exception as exc:  # the pass stops; what other searches found is kept
                failures.append(exc)
                return
            finally:
                pages += max(read, 1)  # an empty window is one request that yields no page
            search.records, search.done = records, True

    async with anyio.create_task_group() as tg:
        for search in searches:
            if not search.done:
                tg.start_soon(one, search)
    return pages, failures[0] if failures else None


def _lite(item: Any) -> dict[str, Any]:
    """What a record is matched on (a whole page is not kept)."""
    return {name: field_of(item, name) for name in ("message_id", "custom_string", "to", "list_id")}


def settle(
    current: Pass,
    unknown: list[ChunkFailure],
    accepted: list[MessageOutcome],
    safe_to_resend: list[MessageOutcome],
    *,
    min_age: float,
    started_at: float,
) -> list[ChunkFailure]:
    """Apply a completed pass (no awaits: all of it or none); returns what stays unknown."""
    checked: dict[int, float] = {}
    for search in current.searches:
        for index in search.indices:
            checked[index] = search.started_at or time.time()
    outcomes = [o for f in unknown for o in f.messages]
    records = [r for s in current.searches for r in s.records]
    known = {str(o.message_id) for o in accepted if o.message_id}
    verdicts = {id(v.outcome): v for v in look_up(outcomes, records, known)}
    remaining: list[ChunkFailure] = []
    for failure in unknown:
        since = failure.unknown_since or failure.answered_at or failure.sent_at or started_at
        stay = []
        for outcome in failure.messages:
            verdict = verdicts[id(outcome)]
            outcome.checked_at = checked.get(outcome.index, time.time())
            age = outcome.checked_at - since
            if verdict.ambiguous:
                outcome.reason = (
                    f"ambiguous: other unknown messages have reference {outcome.reference!r} "
                    "and this recipient; the history cannot tell them apart"
                    if verdict.shared
                    else f"ambiguous: the history holds {len(verdict.found)} records with "
                    f"reference {outcome.reference!r} for this recipient"
                )
                stay.append(outcome)
            elif verdict.found:
                outcome.message_id = field_of(verdict.found[0], "message_id")
                outcome.status = "SUCCESS"
                outcome.reason = "found in history after an unknown outcome"
                accepted.append(outcome)
            elif age >= min_age:
                outcome.reason = f"not in the history {age:.0f} s after the unknown outcome"
                safe_to_resend.append(outcome)
            else:
                outcome.reason = (
                    f"not in the history yet, {age:.0f} s after the unknown outcome; it is "
                    f"declared safe to resend once it has stayed absent for {min_age:g} s (min_age)"
                )
                stay.append(outcome)
        if stay:
            failure.messages = stay
            remaining.append(failure)
    return remaining
