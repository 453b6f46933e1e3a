"""Retry policy: which failures are retried, and how long to wait. Every number lives here."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx

DEFAULT_MAX_RETRIES = 2
BACKOFF_INITIAL = 0.5  # seconds before the first retry
BACKOFF_MULTIPLIER = 2.0
BACKOFF_MAX = 8.0  # cap of the exponential part
JITTER_FRACTION = 0.25  # up to this fraction of the delay is added at random
DEFAULT_MAX_RETRY_AFTER = 60.0  # a longer Retry-After is not waited out: the error is raised

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0, pool=None)  # pool: the SDK queues, not httpx
DEFAULT_MAX_CONCURRENCY = 64
DEFAULT_RATE_LIMIT_PER_SECOND: float | None = None  # client-side bucket off unless asked for

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


def backoff_delay(attempt: int, *, rng: random.Random | None = None) -> float:
    """Exponential backoff with added jitter for retry number ``attempt`` (1-based)."""
    base = min(BACKOFF_MAX, BACKOFF_INITIAL * BACKOFF_MULTIPLIER ** (attempt - 1))
    return base + (rng or random).uniform(0.0, base * JITTER_FRACTION)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
        return None
    return max(0.0, seconds)
