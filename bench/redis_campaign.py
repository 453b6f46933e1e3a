"""One 100,000-message campaign sent by 4 worker processes sharing a RedisCheckpoint (chunk
claims) and a RedisRateBackend (the rate limit), against the sandbox limited to 10 req/s (issue 15).

    .venv/bin/python bench/redis_campaign.py                 # (a) and (b); redis-server on PATH
    .venv/bin/python bench/redis_campaign.py --only b --n 20000

(a) 4 workers, one campaign: combined pace (server arrival times) vs the limit, 429 share,
    duplicates (server side), requests vs chunks, the merged report.
(b) the same, one worker SIGKILLed mid-run (while it has a chunk in flight); the others finish;
    then the merged report and reconcile(min_age=0): duplicates, every message in one bucket.

Everything on loopback: redis-server on a free port, the sandbox as a real server (uvicorn) in
this process, the workers as subprocesses (``tests/redis_bulk_worker.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from redis import Redis  # noqa: E402

from clicksend_async import AsyncClickSend  # noqa: E402
from clicksend_async.redis_checkpoint import RedisCheckpoint  # noqa: E402
from clicksend_async.sandbox import Sandbox, serve_in_background  # noqa: E402
from tests.redisserver import RedisServer  # noqa: E402


class Recording(Sandbox):
    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.arrivals: list[float] = []

    async def handle(self, *args: Any) -> Any:
        self.arrivals.append(time.monotonic())
        return await super().handle(*args)


async def spawn(url: str, redis_url: str, campaign: str, n: int, rate: float) -> Any:
    command = [
        sys.executable, "-m", "tests.redis_bulk_worker", url + "/v3", redis_url, campaign,
        str(n), "1000", "2", "Hello", str(rate),
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    worker = (await process.stdout.readline()).decode().split()[1]
    return process, worker  # it sends once told "go" on stdin


async def finish(process: Any) -> dict[str, Any]:
    out, _ = await process.communicate()
    lines = out.decode().strip().splitlines()
    return json.loads(lines[-1]) if lines else {"killed": process.returncode}


def in_flight(client: Redis, campaign: str, worker: str) -> bool:
    parts = client.hgetall(f"clicksend:{{{campaign}}}:parts")
    finals = client.hgetall(f"clicksend:{{{campaign}}}:final")
    return any(json.loads(v)["worker"] == worker and k not in finals for k, v in parts.items())


async def run(redis: RedisServer, n: int, workers: int, rate: float, kill: bool) -> dict[str, Any]:
    campaign = f"bench-{'kill' if kill else 'plain'}-{time.time_ns()}"
    sandbox = Recording(rate_limit=rate)
    client = Redis.from_url(redis.url)
    async with serve_in_background(sandbox) as url:
        spawned = [await spawn(url, redis.url, campaign, n, rate) for _ in range(workers)]
        started = time.monotonic()
        for process, _ in spawned:
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        killed_at = None
        if kill:
            victim, victim_id = spawned[0]
            await asyncio.sleep(n / 1000 / rate / 3)  # about a third of the way
            while not in_flight(client, campaign, victim_id):  # noqa: ASYNC110
                await asyncio.sleep(0.002)
            victim.kill()  # SIGKILL
            killed_at = round(time.monotonic() - started, 1)
        results = [await finish(process) for process, _ in spawned]
        wall = time.monotonic() - started
        with RedisCheckpoint(redis.url, campaign=campaign) as store:
            merged = store.report()
            before = dict(merged.counts)
            t0 = time.monotonic()
            async with AsyncClickSend("sandbox", "sandbox", base_url=url + "/v3") as cs:
                await merged.reconcile(cs, min_age=0)
            reconcile_s = time.monotonic() - t0
            store.delete()
    client.close()
    stats = sandbox.state.stats()
    sends = sandbox.state.requests["sms_send"]
    arrivals = sorted(sandbox.arrivals)
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    too_many = int(stats["responses"].get("429", 0))
    accepted_ids = {o.message_id for o in merged.accepted}
    return {
        "workers": workers,
        "messages": n,
        "limit req/s": rate,
        "killed worker at s": killed_at,
        "wall s": round(wall, 1),
        "send requests (server)": sends,
        "chunks": -(-n // 1000),
        "combined pace req/s (arrivals)": round((len(arrivals) - 1) / span, 2) if span else None,
        "429 share": f"{too_many / max(1, stats['requests']):.1%}",
        "duplicates (server)": stats["duplicates"],
        "messages at server": stats["messages"],
        "per worker": results,
        "merged before reconcile": before,
        "merged consistent": merged.consistent,
        "merged after reconcile": merged.counts,
        "reconcile s": round(reconcile_s, 2),
        "accepted ids all at server": accepted_ids <= set(sandbox.state.messages),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--only", choices=["a", "b"])
    args = parser.parse_args()
    redis = RedisServer()
    try:
        for part, kill in (("a", False), ("b", True)):
            if args.only in (None, part):
                result = asyncio.run(run(redis, args.n, args.workers, args.rate, kill))
                print(f"({part})", json.dumps(result, indent=1), flush=True)
    finally:
        redis.close()


if __name__ == "__main__":
    main()
