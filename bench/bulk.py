"""Bulk-send benchmarks against the sandbox running as a real server on loopback.

    python bench/bulk.py               # (a) rate limit, (b) faults, (c) memory; prints one table
    python bench/bulk.py --only a

(a) 100,000 messages through ``cs.sms.send_bulk`` with the server limited to 10 requests/s:
    wall time against the theoretical minimum (100 requests / 10 per s = 10 s), 429s, duplicates.
(b) the same with 5 % of requests faulted (5xx, HTML 502, 429, dropped connection, truncated or
    invalid JSON, stalls): buckets after ``reconcile()``, then the safe-to-resend ones resent;
    duplicates must stay 0.
(c) peak RSS of the client process for 100,000 vs 10,000 messages (no rate limit).

The server and each client run in their own processes; numbers come from the server's own
counters (``GET /__sandbox/stats``) and the client's ``BulkReport``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

FAULTS = ["http_500", "html_502", "http_429", "drop", "truncated_json", "invalid_json", "slow"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """The sandbox under uvicorn in a subprocess (loopback only)."""

    def __init__(self, **config: Any) -> None:
        self.port = free_port()
        code = (
            "import json, sys; from clicksend_async.sandbox import Sandbox, serve; "
            "serve(Sandbox(**json.loads(sys.argv[1])), host='127.0.0.1', port=int(sys.argv[2]))"
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, json.dumps(config), str(self.port)], env=env
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the sandbox server did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/__sandbox/stats", timeout=10) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def messages(n: int) -> Any:
    for i in range(n):
        yield {"to": f"+6141{i:07d}", "body": f"Benchmark message {i}: your code is {i % 9973}."}


async def campaign(url: str, n: int, rate: float | None, resend: bool) -> dict[str, Any]:
    from clicksend_async import AsyncClickSend

    options: dict[str, Any] = {}  # rate None: a default client, pacing itself from the server
    if rate is not None:
        # burst 1: requests leave evenly spaced from the start, so the server's bucket (same
        # rate) never runs dry even with loopback jitter.
        options.update(rate_limit=rate, rate_limit_burst=1)
    async with AsyncClickSend("sandbox", "sandbox", base_url=url + "/v3", **options) as cs:
        started = time.monotonic()
        report = await cs.sms.send_bulk(messages(n))
        send_seconds = time.monotonic() - started
        before = dict(report.counts)
        reconcile_started = time.monotonic()
        # min_age=0: the emulator's history never lags; against the real API keep the default
        await report.reconcile(cs, min_age=0)
        reconcile_seconds = time.monotonic() - reconcile_started
        after = dict(report.counts)
        resent = None
        if resend and report.safe_to_resend:
            again = [
                {"to": o.to, "body": f"Benchmark message {o.index}", "custom_string": o.reference}
                for o in report.safe_to_resend
            ]
            resent = (await cs.sms.send_bulk(again)).counts
    return {
        "send_seconds": send_seconds,
        "reconcile_seconds": reconcile_seconds,
        "requests": report.requests,
        "before_reconcile": before,
        "after_reconcile": after,
        "resent": resent,
        "history_pages": report.history_pages,
        "consistent": report.consistent,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_client(url: str, n: int, rate: float | None, resend: bool) -> dict[str, Any]:
    """One campaign in a fresh process (clean RSS accounting)."""
    args = [sys.executable, __file__, "--client", url, str(n), str(rate or 0), str(int(resend))]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=900)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def bench_a() -> list[str]:
    server = Server(rate_limit=10, rate_limit_burst=10)
    try:
        result = run_client(server.url, 100_000, None, resend=False)  # a DEFAULT client
        stats = server.stats()
    finally:
        server.stop()
    minimum = 100 / 10
    rejected_429 = int(stats["responses"].get("429", 0))
    sends = int(stats["by_operation"].get("sms_send", 0))
    return [
        "(a) 100,000 messages, server limited to 10 req/s, default client (no rate_limit set)",
        f"    wall time             {result['send_seconds']:.2f} s "
        f"(theoretical minimum {minimum:.0f} s: x{result['send_seconds'] / minimum:.3f})",
        f"    send requests          {sends} (429 answers: {rejected_429}, "
        f"{100 * rejected_429 / max(1, sends + rejected_429):.2f} %)",
        f"    accepted               {result['after_reconcile']['accepted']}, "
        f"failed {result['before_reconcile']['failed']}",
        f"    duplicates             {stats['duplicates']}",
    ]


def bench_b() -> list[str]:
    server = Server(
        rate_limit=10, rate_limit_burst=10, fault_rate=0.05, faults=FAULTS, seed=7, slow_seconds=8
    )
    try:
        result = run_client(server.url, 100_000, 10.0, resend=True)
        stats = server.stats()
    finally:
        server.stop()
    before, after, resent = result["before_reconcile"], result["after_reconcile"], result["resent"]
    return [
        "(b) the same with 5 % of requests faulted "
        f"(server counted: {json.dumps(stats['faults'], sort_keys=True)})",
        f"    send phase             {result['send_seconds']:.2f} s, "
        f"reconcile {result['reconcile_seconds']:.2f} s",
        f"    before reconcile       accepted {before['accepted']}, rejected {before['rejected']}, "
        f"failed {before['failed']}, unknown {before['unknown']}",
        f"    after reconcile        accepted {after['accepted']}, rejected {after['rejected']}, "
        f"failed {after['failed']}, unknown {after['unknown']}, "
        f"safe to resend {after['safe_to_resend']}",
        f"    reconcile read         {result['history_pages']} history pages (a full scan of the "
        f"run's history: {-(-stats['messages'] // 100)} pages)",
        f"    resent safe ones       {resent}",
        f"    every message once     {result['consistent']}",
        f"    duplicates             {stats['duplicates']} "
        f"(messages stored by the server: {stats['messages']})",
    ]


def bench_c() -> list[str]:
    rss = {}
    for n in (10_000, 100_000):
        server = Server()
        try:
            rss[n] = run_client(server.url, n, None, resend=False)["peak_rss_mb"]
        finally:
            server.stop()
    return [
        "(c) client peak RSS",
        f"    10,000 messages        {rss[10_000]:.1f} MB",
        f"    100,000 messages       {rss[100_000]:.1f} MB (x{rss[100_000] / rss[10_000]:.2f})",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["a", "b", "c"], action="append")
    parser.add_argument("--client", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        url, n, rate, resend = args.client
        result = asyncio.run(campaign(url, int(n), float(rate) or None, bool(int(resend))))
        print(json.dumps(result))
        return
    benches = {"a": bench_a, "b": bench_b, "c": bench_c}
    for name in args.only or ["a", "b", "c"]:
        for line in benches[name]():
            print(line, flush=True)


if __name__ == "__main__":
    main()
