"""Retry policy: how long to wait before the next attempt. The numbers live in ``_constants``."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from clicksend_async import _constants as c


def backoff_delay(attempt: int, *, rng: random.Random | None = None) -> float:
    """Exponential backoff with added jitter for retry number ``attempt`` (1-based)."""
    base = min(c.BACKOFF_MAX, c.BACKOFF_INITIAL * c.BACKOFF_MULTIPLIER ** (attempt - 1))
    return base + (rng or random).uniform(0.0, base * c.JITTER_FRACTION)


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
