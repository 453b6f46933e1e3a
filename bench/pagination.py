"""Pagination benchmark: ``async for`` over a long SMS history, sequential vs prefetching.

    python bench/pagination.py                      # 20,000 records, 20 ms, prefetch 1 4 8, 3 runs
    python bench/pagination.py --records 5000 --latency-ms 50 --prefetch 1 2 4 --repeat 1
    python bench/pagination.py --json /tmp/pagination.json   # the same, and the numbers as JSON

A loopback server in its own process (uvicorn, this file with ``--serve``) answers
``GET /v3/sms/history?page=&limit=`` from records built once at start-up, each page after
``--latency-ms``. Every client run is a fresh process: an ``AsyncClickSend`` with its default
settings reads one page first (models built, connection open), then iterates every record with
``cs.sms.history()`` and the given ``prefetch``, checking count and order. It reports the wall
time of the iteration and the RSS growth over it (peak RSS during the iteration minus RSS just
before it). Runs alternate between the prefetch values; medians are shown, with ratios against
``prefetch=1`` (today's sequential reading).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
SRC_DIR = BENCH_DIR.parent / "src"
sys.path.insert(0, str(BENCH_DIR))

from server import HOST, free_port, wait_until_accepting  # noqa: E402

PAGE_MAX = 100


# --------------------------------------------------------------------------- server


def history_record(i: int) -> dict[str, Any]:
    """One record in the shape of the sandbox's (and the API's) SMS history."""
    return {
        "direction": "out",
        "date": 1_700_000_000 - i,
        "to": f"+6141{i:07d}",
        "body": f"Benchmark message {i}: your code is {i % 9973}.",
        "from": "sendmobile",
        "schedule": "",
        "message_id": f"BF7AD270-0DE2-418B-B606-{i:012X}",
        "message_parts": 1,
        "message_price": "0.0770",
        "custom_string": f"ref-{i}",
        "list_id": None,
        "country": "AU",
        "carrier": "Telstra",
        "status": "Delivered",
        "status_code": "201",
        "status_text": "Success: Message received on handset.",
        "user_id": 1,
        "subaccount_id": 1,
    }


def make_app(records: int, latency_ms: float) -> Any:
    rows = [history_record(i) for i in range(records)]
    delay = latency_ms / 1000.0
    cache: dict[tuple[int, int], bytes] = {}

    def body(page: int, limit: int) -> bytes:
        key = (page, limit)
        if key not in cache:  # built once per page: the server's CPU stays out of the way
            last = max(1, -(-records // limit))
            start = (page - 1) * limit
            chunk = rows[start : start + limit]
            data = {
                "total": records,
                "per_page": limit,
                "current_page": page,
                "last_page": last,
                "next_page_url": f"/?page={page + 1}" if page < last else None,
                "prev_page_url": f"/?page={page - 1}" if page > 1 else None,
                "from": start + 1 if chunk else None,
                "to": start + len(chunk) if chunk else None,
                "data": chunk,
            }
            envelope = {
                "http_code": 200,
                "response_code": "SUCCESS",
                "response_msg": "Here are your data.",
                "data": data,
            }
            cache[key] = json.dumps(envelope, separators=(",", ":")).encode()
        return cache[key]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        status, payload = 404, b'{"http_code":404,"response_code":"NOT_FOUND","data":null}'
        if scope["path"] == "/v3/sms/history" and scope["method"] == "GET":
            query = dict(
                part.split("=", 1) for part in scope["query_string"].decode().split("&") if part
            )
            page = max(1, int(query.get("page", 1)))
            limit = min(PAGE_MAX, max(15, int(query.get("limit", 15))))
            if delay:
                await asyncio.sleep(delay)
            status, payload = 200, body(page, limit)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


def serve(port: int, records: int, latency_ms: float) -> None:
    import uvicorn

    options: dict[str, Any] = {"loop": "asyncio", "http": "h11"}
    try:
        import uvloop  # noqa: F401

        options["loop"] = "uvloop"
    except ImportError:
        pass
    try:
        import httptools  # noqa: F401

        options["http"] = "httptools"
    except ImportError:
        pass
    uvicorn.run(
        make_app(records, latency_ms),
        host=HOST,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        backlog=2048,
        **options,
    )


class Server:
    def __init__(self, records: int, latency_ms: float) -> None:
        self.port = free_port()
        args = [
            sys.executable,
            __file__,
            "--serve",
            str(self.port),
            "--records",
            str(records),
            "--latency-ms",
            str(latency_ms),
        ]
        self.process = subprocess.Popen(args)
        try:
            wait_until_accepting(self.port, proc=self.process)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


# --------------------------------------------------------------------------- client


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def client_run(url: str, records: int, prefetch: int) -> dict[str, Any]:
    from clicksend_async import AsyncClickSend

    async with AsyncClickSend("bench", "bench-key", base_url=url + "/v3") as cs:
        await cs.sms.history()  # warm-up: models built, connection open
        baseline = current_rss_mb()
        history = cs.sms.history()
        history.prefetch = prefetch
        count = 0
        ordered = True
        started = time.perf_counter()
        async for item in history:
            ordered = ordered and item.custom_string == f"ref-{count}"
            count += 1
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    if count != records or not ordered:
        raise SystemExit(f"prefetch={prefetch}: {count} records, in order: {ordered}")
    return {"seconds": seconds, "rss_growth_mb": max(0.0, peak - baseline)}


def run_client(url: str, records: int, prefetch: int) -> dict[str, Any]:
    """One iteration in a fresh process, for clean RSS accounting."""
    env = {**os.environ, "PYTHONPATH": str(SRC_DIR)}
    args = [sys.executable, __file__, "--client", url, str(records), str(prefetch)]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=600, env=env)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--prefetch", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", metavar="FILE", help="also write the medians and runs here")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=3, metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve is not None:
        serve(args.serve, args.records, args.latency_ms)
        return
    if args.client is not None:
        url, records, prefetch = args.client
        print(json.dumps(asyncio.run(client_run(url, int(records), int(prefetch)))))
        return

    modes = sorted(set(args.prefetch))
    if 1 not in modes:
        modes.insert(0, 1)  # the baseline every ratio is against
    runs: dict[int, list[dict[str, Any]]] = {p: [] for p in modes}
    server = Server(args.records, args.latency_ms)
    try:
        for _ in range(args.repeat):
            for prefetch in modes:  # alternating, so drift hits every mode alike
                runs[prefetch].append(run_client(server.url, args.records, prefetch))
    finally:
        server.stop()

    def median(prefetch: int, key: str) -> float:
        return statistics.median(r[key] for r in runs[prefetch])

    base = median(1, "seconds")
    pages = -(-args.records // PAGE_MAX)
    print(
        f"pagination: {args.records:,} records ({pages} pages of {PAGE_MAX}) at "
        f"{args.latency_ms:g} ms latency, medians of {args.repeat} runs"
    )
    print(f"{'prefetch':>8}  {'seconds':>8}  {'records/s':>9}  {'speed-up':>8}  {'RSS growth':>10}")
    rows = []
    for prefetch in modes:
        seconds = median(prefetch, "seconds")
        row = {
            "prefetch": prefetch,
            "seconds": seconds,
            "records_per_s": args.records / seconds,
            "speedup": base / seconds,
            "rss_growth_mb": median(prefetch, "rss_growth_mb"),
        }
        rows.append(row)
        print(
            f"{prefetch:>8}  {seconds:>8.3f}  {row['records_per_s']:>9,.0f}  "
            f"{row['speedup']:>7.2f}x  {row['rss_growth_mb']:>7.1f} MB"
        )
    if args.json:
        result = {
            "records": args.records,
            "latency_ms": args.latency_ms,
            "repeat": args.repeat,
            "page_size": PAGE_MAX,
            "medians": rows,
            "runs": {str(prefetch): runs[prefetch] for prefetch in modes},
        }
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
