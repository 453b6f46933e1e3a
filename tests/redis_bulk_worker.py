"""One worker process of a campaign shared in Redis (tests and bench): sends ``numbers(n)`` with
a ``RedisCheckpoint``; prints its worker id, waits for a line on stdin (so that all workers start
sending together), then prints one JSON line: its counts and requests, or the typed error that
stopped it.

    python -m tests.redis_bulk_worker BASE_URL REDIS_URL CAMPAIGN N CHUNK FLIGHT [BODY] [RATE]

With RATE, the client's limiter is a ``RedisRateBackend`` at RATE requests/s (shared by all).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from clicksend_async import AsyncClickSend, errors
from clicksend_async.redis_checkpoint import RedisCheckpoint
from clicksend_async.redis_limiter import RedisRateBackend
from tests.bulk_helpers import numbers


async def work(
    base_url: str, redis_url: str, campaign: str, n: int, size: int, flight: int, body: str,
    rate: float | None,
) -> None:  # fmt: skip
    options: dict[str, Any] = {}
    if rate is not None:
        options = {"rate_limit": rate, "limiter_backend": RedisRateBackend(redis_url)}
    with RedisCheckpoint(redis_url, campaign=campaign) as store:
        print(f"worker {store.worker}", flush=True)
        sys.stdin.readline()  # "go"
        async with AsyncClickSend("sandbox", "sandbox", base_url=base_url, **options) as cs:
            try:
                report = await cs.sms.send_bulk(
                    numbers(n, body=body), checkpoint=store, chunk_size=size,
                    max_chunks_in_flight=flight,
                )  # fmt: skip
            except errors.CheckpointError as exc:
                print(json.dumps({"error": type(exc).__name__, "field": getattr(exc, "field", "")}))
                return
    out = {**report.counts, "requests": report.requests, "consistent": report.consistent}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    url, redis_url, campaign, count, chunk, width = sys.argv[1:7]
    text = sys.argv[7] if len(sys.argv) > 7 else "Hello"
    per_second = float(sys.argv[8]) if len(sys.argv) > 8 else None
    asyncio.run(
        work(url, redis_url, campaign, int(count), int(chunk), int(width), text, per_second)
    )
