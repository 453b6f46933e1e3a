"""One worker process of the shared-limiter tests and bench: N ``GET /account`` calls through a
client whose limiter is in Redis. Prints one JSON line: the calls made and the errors seen.

    python -m tests.redis_worker BASE_URL REDIS_URL N RATE [CONCURRENCY]
"""

from __future__ import annotations

import asyncio
import json
import sys

from clicksend_async import AsyncClickSend, errors
from clicksend_async.redis_limiter import RedisRateBackend


async def work(base_url: str, redis_url: str, n: int, rate: float, concurrency: int) -> None:
    done = 0
    failures: list[str] = []
    async with AsyncClickSend(
        "sandbox",
        "sandbox",
        base_url=base_url,
        rate_limit=rate,
        max_concurrency=concurrency,
        limiter_backend=RedisRateBackend(redis_url),
    ) as cs:
        todo = iter(range(n))

        async def one() -> None:
            nonlocal done
            for _ in todo:
                try:
                    await cs.account.get()
                    done += 1
                except errors.ClickSendError as exc:
                    failures.append(type(exc).__name__)
                    return

        await asyncio.gather(*(one() for _ in range(concurrency)))
    print(json.dumps({"done": done, "failures": failures}), flush=True)


if __name__ == "__main__":
    base, redis_url, count, per_second = sys.argv[1:5]
    width = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    asyncio.run(work(base, redis_url, int(count), float(per_second), width))
