"""kill -9 a bulk campaign at random moments, resume it each time, then reconcile and resend.

    python bench/bulk_kill.py                    # 20 kills, 20,000 messages
    python bench/bulk_kill.py --kills 50 --n 50000 --seed 3

The sandbox runs as a real HTTP server on loopback; each run of the campaign is a child process
(``cs.sms.send_bulk(..., checkpoint=FILE)``) killed with SIGKILL a random moment after it has
started sending. After the last kill the campaign is resumed to the end in this process, the
unknown chunks are reconciled and the ``safe_to_resend`` messages resent. The promise: the server
stored every message exactly once (0 duplicates, 0 lost) and every message is in one bucket.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

CHUNK, IN_FLIGHT = 100, 4


def messages(n: int) -> Any:
    for i in range(n):
        yield {"to": f"+6141{i:07d}", "body": f"Kill bench {i}"}


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def states(path: Path) -> Counter[str]:
    from clicksend_async.bulk import FileCheckpoint

    last: dict[tuple[int, int], str] = {}
    for record in FileCheckpoint(path).load():
        if record["kind"] == "chunk":
            last[(record["chunk"], record["part"])] = record["state"]
    return Counter(last.values())


async def child(url: str, checkpoint: str, n: int) -> None:
    from clicksend_async import AsyncClickSend

    async with AsyncClickSend("sandbox", "sandbox", base_url=url + "/v3") as cs:
        await cs.sms.send_bulk(
            messages(n), checkpoint=checkpoint, chunk_size=CHUNK, max_chunks_in_flight=IN_FLIGHT
        )


async def bench(kills: int, n: int, seed: int, latency: float, workdir: Path) -> list[str]:
    from clicksend_async import AsyncClickSend
    from clicksend_async.sandbox import Sandbox, serve_in_background

    rng = random.Random(seed)
    checkpoint = workdir / "kill-bench.jsonl"
    checkpoint.unlink(missing_ok=True)
    sandbox = Sandbox(latency=latency)
    rows = []
    started = time.monotonic()
    async with serve_in_background(sandbox) as url:
        command = [sys.executable, __file__, "--child", url, str(checkpoint), str(n)]
        for kill in range(kills):
            before = lines(checkpoint)
            process = await asyncio.create_subprocess_exec(*command, cwd=ROOT)
            # Another process writes the file: polling is the only way to see it grow.
            while lines(checkpoint) <= before + 1 and process.returncode is None:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            await asyncio.sleep(rng.uniform(0, 0.3))
            finished = process.returncode is not None
            if not finished:
                process.kill()
            await process.wait()
            seen = states(checkpoint)
            rows.append(
                f"    kill {kill + 1:2}: {'(run had finished)' if finished else 'SIGKILL'}  "
                f"parts done {seen['done']}, in flight {seen['inflight']}, "
                f"unknown {seen['unknown']}, failed {seen['failed']}; "
                f"server stored {len(sandbox.state.messages):,}, duplicates "
                f"{sandbox.state.duplicates}"
            )
        async with AsyncClickSend("sandbox", "sandbox", base_url=url + "/v3") as cs:
            report = await cs.sms.send_bulk(
                messages(n), checkpoint=checkpoint, chunk_size=CHUNK, max_chunks_in_flight=IN_FLIGHT
            )
            resumed = dict(report.counts)
            duplicates_after_resume = sandbox.state.duplicates
            # min_age=0: the emulator's history never lags; against the real API keep the default
            await report.reconcile(cs, min_age=0)
            reconciled = dict(report.counts)
            again = [
                {"to": o.to, "body": f"Kill bench {o.index}", "custom_string": o.reference}
                for o in [*report.safe_to_resend, *(m for f in report.failed for m in f.messages)]
            ]
            resent = (await cs.sms.send_bulk(again)).counts["accepted"] if again else 0
    elapsed = time.monotonic() - started
    stored = Counter(m.body for m in sandbox.state.messages.values())
    lost = n - len(stored)
    return [
        f"kill -9 bench: {n:,} messages, chunks of {CHUNK}, {IN_FLIGHT} in flight, "
        f"server latency {latency * 1000:.0f} ms, {kills} kills (seed {seed})",
        *rows,
        f"    final resume        requests {report.requests}, chunks resumed "
        f"{report.resumed_chunks}: accepted {resumed['accepted']:,}, unknown "
        f"{resumed['unknown']:,}, failed {resumed['failed']:,}; duplicates so far "
        f"{duplicates_after_resume}",
        f"    after reconcile     accepted {reconciled['accepted']:,}, safe to resend "
        f"{reconciled['safe_to_resend']:,}, unknown {reconciled['unknown']:,} "
        f"({report.history_pages} history pages); every message in one bucket: "
        f"{report.consistent and reconciled['total'] == n}",
        f"    resent              {resent:,}",
        f"    server              stored {len(sandbox.state.messages):,} messages, duplicates "
        f"{sandbox.state.duplicates}, lost {lost}, stored twice "
        f"{sum(1 for c in stored.values() if c > 1)}",
        f"    wall time           {elapsed:.1f} s",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.02, help="server latency, seconds")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, checkpoint, n = args.child
        asyncio.run(child(url, checkpoint, int(n)))
        return
    for line in asyncio.run(bench(args.kills, args.n, args.seed, args.latency, args.workdir)):
        print(line, flush=True)


if __name__ == "__main__":
    main()
