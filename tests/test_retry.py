"""Retry timing (_retry.py): backoff with jitter and cap, and Retry-After in both formats.

Which failures are retried is the request loop's business: test_base_client.py and
test_client.py (through the client), test_transport.py (real sockets).
"""

from __future__ import annotations

import email.utils
import random
from datetime import datetime, timedelta, timezone

import pytest

from clicksend_async import _constants, _retry


def test_retry_after_parses_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)
    later = email.utils.format_datetime(now + timedelta(seconds=7), usegmt=True)
    assert _retry.parse_retry_after("7", now=now) == 7.0
    assert _retry.parse_retry_after(later, now=now) == 7.0
    assert (
        _retry.parse_retry_after(
            email.utils.format_datetime(now - timedelta(seconds=5), usegmt=True), now=now
        )
        == 0.0
    )
    assert _retry.parse_retry_after("soon", now=now) is None
    assert _retry.parse_retry_after(None) is None


def test_backoff_is_exponential_with_jitter_and_capped() -> None:

    rng = random.Random(1)
    delays = [_retry.backoff_delay(n, rng=rng) for n in range(1, 12)]
    for attempt, delay in enumerate(delays, start=1):
        base = min(
            _constants.BACKOFF_MAX,
            _constants.BACKOFF_INITIAL * _constants.BACKOFF_MULTIPLIER ** (attempt - 1),
        )
        assert base <= delay <= base * (1 + _constants.JITTER_FRACTION)
    assert delays[-1] <= _constants.BACKOFF_MAX * (1 + _constants.JITTER_FRACTION)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "", "   ", "Mon, 99 Foo 2026"])
def test_retry_after_that_means_nothing_is_ignored(value: str) -> None:
    assert _retry.parse_retry_after(value) is None


def test_negative_retry_after_waits_nothing() -> None:
    assert _retry.parse_retry_after("-5") == 0.0


def test_backoff_reads_the_constants_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every policy number lives in _constants: changing it there changes the policy."""
    monkeypatch.setattr(_constants, "BACKOFF_INITIAL", 2.0)
    monkeypatch.setattr(_constants, "BACKOFF_MAX", 2.0)
    monkeypatch.setattr(_constants, "JITTER_FRACTION", 0.0)
    assert _retry.backoff_delay(1) == 2.0 and _retry.backoff_delay(5) == 2.0
