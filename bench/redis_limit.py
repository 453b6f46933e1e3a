"""The Redis-shared rate limit across worker processes, measured on the server (issue 15).

    .venv/bin/python bench/redis_limit.py            # (a) and (b); needs redis-server on PATH
    .venv/bin/python bench/redis_limit.py --only a   # (`make test-deps` installs it)

(a) 2 worker processes, each with its own client, share one RedisRateBackend at 5 requests/s
    (burst 5) and send 100 ``GET /account`` between them: the minimum is (100 - 5) / 5 = 19 s; two
    unshared buckets would take (50 - 5) / 5 = 9 s. Times are the server's arrival times.
(b) the same 2 workers sending without end; Redis is killed after 4 s: every worker must stop
    with RateLimiterUnavailableError, and the server must count nothing beyond the requests that
    already had their token (at most one per worker slot).

Everything runs on loopback: redis-server on a free port (no persistence), the sandbox as a real
server (uvicorn) in this process, the workers as subprocesses of this script (``--worker``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from clicksend_async import AsyncClickSend, errors  # noqa: E402
from clicksend_async.redis_limiter import RedisRateBackend  # noqa: E402
from clicksend_async.sandbox import Sandbox, serve_in_background  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Redis:
    """redis-server on a free loopback port, no persistence."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            sys.exit("redis-server not found: run `make test-deps`")
        self.port = free_port()
        self.dir = tempfile.TemporaryDirectory(prefix="bench-redis-")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir.name],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"redis://127.0.0.1:{self.port}/0"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


class Recording(Sandbox):
    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []

    async def handle(self, *args: Any) -> Any:
        self.arrivals.append(time.monotonic())
        return await super().handle(*args)


# -- the worker process ---------------------------------------------------------------------------


async def worker(base_url: str, redis_url: str, n: int, rate: float, width: int) -> None:
    done, failures = 0, []
    async with AsyncClickSend(
        "sandbox", "sandbox", base_url=base_url, rate_limit=rate, max_concurrency=width,
        limiter_backend=RedisRateBackend(redis_url),
    ) as cs:  # fmt: skip
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

        await asyncio.gather(*(one() for _ in range(width)))
    print(json.dumps({"done": done, "failures": failures}), flush=True)


async def spawn(base_url: str, redis_url: str, n: int, rate: float, width: int) -> Any:
    return await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--worker", base_url, redis_url, str(n), str(rate), str(width),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


# -- the scenarios --------------------------------------------------------------------------------


async def part_a(requests: int, workers: int, rate: float) -> dict[str, Any]:
    redis = Redis()
    sandbox = Recording()
    try:
        async with serve_in_background(sandbox) as url:
            started = time.monotonic()
            procs = [
                await spawn(url + "/v3", redis.url, requests // workers, rate, 4)
                for _ in range(workers)
            ]
            outputs = [json.loads((await p.communicate())[0]) for p in procs]
            wall = time.monotonic() - started
    finally:
        redis.kill()
    arrivals = sorted(sandbox.arrivals)
    span = arrivals[-1] - arrivals[0]
    burst = int(rate)
    return {
        "workers": workers,
        "requests (server)": len(arrivals),
        "per worker": [o["done"] for o in outputs],
        "failures": sum(len(o["failures"]) for o in outputs),
        "first->last arrival s": round(span, 2),
        "minimum s": (requests - burst) / rate,
        "unshared would be s": (requests // workers - burst) / rate,
        "max in any 1 s": max_in_window(arrivals, 1.0),
        "allowed in 1 s": burst + rate,
        "wall s (incl. process start)": round(wall, 2),
    }


async def part_b(workers: int, rate: float, kill_after: float) -> dict[str, Any]:
    redis = Redis()
    sandbox = Recording()
    width = 4
    async with serve_in_background(sandbox) as url:
        procs = [await spawn(url + "/v3", redis.url, 10_000, rate, width) for _ in range(workers)]
        await asyncio.sleep(kill_after)
        at_kill = len(sandbox.arrivals)
        redis.kill()
        killed = time.monotonic()
        outputs = [json.loads((await p.communicate())[0]) for p in procs]
        stopped = time.monotonic() - killed
        await asyncio.sleep(1.0)  # anything late would arrive meanwhile
    after = len(sandbox.arrivals) - at_kill
    kinds = sorted({kind for o in outputs for kind in o["failures"]})
    return {
        "workers": workers,
        "requests before the kill": at_kill,
        "requests after the kill": after,
        "allowed after (slots with a token)": workers * width,
        "worker failures": sum(len(o["failures"]) for o in outputs),
        "failure types": kinds,
        "workers stopped within s": round(stopped, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["a", "b"])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--worker", nargs=5, metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        base, redis_url, n, rate, width = args.worker
        asyncio.run(worker(base, redis_url, int(n), float(rate), int(width)))
        return
    results: dict[str, Any] = {}
    if args.only in (None, "a"):
        results["a"] = asyncio.run(part_a(args.requests, args.workers, args.rate))
        print("(a) shared bucket:", json.dumps(results["a"], indent=2), flush=True)
    if args.only in (None, "b"):
        results["b"] = asyncio.run(part_b(args.workers, args.rate, kill_after=4.0))
        print("(b) Redis killed mid-run:", json.dumps(results["b"], indent=2), flush=True)


if __name__ == "__main__":
    main()
