"""Shared by the bulk tests: inputs, bucket accounting, a child process that sends a campaign."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from clicksend_async.bulk import BulkReport, FileCheckpoint

ROOT = Path(__file__).resolve().parent.parent


def numbers(n: int, start: int = 0, body: str = "Hello") -> Iterator[dict[str, Any]]:
    for i in range(start, start + n):
        yield {"to": f"+6141{i:07d}", "body": f"{body} {i}"}


def buckets(report: BulkReport) -> dict[int, str]:
    """input index -> the one bucket it ended in (fails on a message in two buckets)."""
    placed: dict[int, str] = {}
    groups: dict[str, list[Any]] = {
        "accepted": report.accepted,
        "rejected": report.rejected,
        "failed": [m for f in report.failed for m in f.messages],
        "unknown": [m for f in report.unknown for m in f.messages],
        "safe_to_resend": report.safe_to_resend,
        "not_sent": report.not_sent,
        "claimed_elsewhere": report.claimed_elsewhere,
    }
    for name, outcomes in groups.items():
        for outcome in outcomes:
            assert outcome.index not in placed, f"message {outcome.index} in two buckets"
            placed[outcome.index] = name
    return placed


def records(path: Path) -> list[dict[str, Any]]:
    return FileCheckpoint(path).load()


def line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def child_command(url: str, checkpoint: Path, n: int, chunk_size: int, in_flight: int) -> list[str]:
    """A process that sends ``numbers(n)`` to ``url`` with ``checkpoint`` (killed by tests)."""
    args = [url, str(checkpoint), str(n), str(chunk_size), str(in_flight)]
    return [sys.executable, "-m", "tests.bulk_helpers", *args]


async def _child(url: str, checkpoint: str, n: int, chunk_size: int, in_flight: int) -> None:
    from clicksend_async import AsyncClickSend

    async with AsyncClickSend("sandbox", "sandbox", base_url=url + "/v3") as cs:
        report = await cs.sms.send_bulk(
            numbers(n), checkpoint=checkpoint, chunk_size=chunk_size,
            max_chunks_in_flight=in_flight,
        )  # fmt: skip
    print(json.dumps(report.counts), flush=True)


if __name__ == "__main__":
    import asyncio

    url, path, n, size, flight = sys.argv[1:6]
    asyncio.run(_child(url, path, int(n), int(size), int(flight)))
