"""Per-message cost of ``send_bulk``: 100,000 messages against an instant loopback server,
against raw aiohttp posting the same 100 requests with bodies built before the clock starts.

    python bench/bulk_throughput.py                 # n=100,000, medians of 3, one table
    python bench/bulk_throughput.py --n 20000 --repeat 1 --clients aiohttp sdk-list
    python bench/bulk_throughput.py --profile sdk-list   # cProfile of one SDK run (top 30)
    python bench/bulk_throughput.py --json /tmp/bulk.json  # the table, and its numbers as JSON

The server (this file with ``--serve``: a raw ASGI app under uvicorn, its own process) answers
``POST /v3/sms/send`` at once with a ClickSend envelope holding one record per input message
(``to``, ``custom_string``, ``body``, ``list_id`` echoed, a fresh ``message_id``, status SUCCESS),
written by the same code for every client. Each client run is a fresh subprocess; the clients
alternate within each round and the median wall time of the rounds is shown.

Clients:

- ``aiohttp``: ``aiohttp.ClientSession`` with ``TCPConnector(limit=64)`` (the concurrency
  ``send_bulk`` uses with a default client: one chunk per ``max_concurrency`` slot), 64 tasks
  posting the 100 pre-built bodies of 1,000 messages and parsing each JSON reply.
- ``sdk-list``: ``AsyncClickSend(username, key, base_url=...)`` with every default, then
  ``cs.sms.send_bulk(messages)`` with the messages as a list of plain dicts built before the clock.
- ``sdk-gen``: the same, the messages from a generator (built while sending).
- ``sdk-lifted``: ``sdk-list`` with ``adaptive_rate_limit=False`` (the documented way to switch
  off the limiter's slow start; the default limit has no token bucket, so nothing else paces).
- ``aiohttp-validated``: ``aiohttp`` with the bodies built on the clock the way a client that
  checks its input builds them: each message validated into the SDK's ``SmsMessage`` and dumped
  (pydantic-core), then encoded. The floor under any bulk sender that validates every message.

Memory, for the SDK runs: the peak RSS growth of the client process during ``send_bulk`` (the
kernel's high-water mark ``VmHWM``, reset through ``/proc/self/clear_refs`` just before the call,
minus the RSS just before; on other systems ``ru_maxrss`` minus the RSS before), and the size
of the ``BulkReport`` it returns, measured two ways after the run: ``deep`` is a deep
``sys.getsizeof`` over every object reachable from the report (each counted once; classes,
modules and functions excluded; strings the report shares with the interpreter, such as interned
status values, counted too); ``traced`` is what ``tracemalloc`` sees allocated while a pickled copy
of the report is loaded (the allocator's own overhead included). The ratio uses ``deep``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import pickle
import resource
import socket
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from clicksend_async._constants import (  # noqa: E402  (after the sys.path line above)
    BULK_MAX_PER_REQUEST,
    DEFAULT_MAX_CONCURRENCY,
)

HOST = "127.0.0.1"  # loopback only
CHUNK = BULK_MAX_PER_REQUEST  # send_bulk's chunk: one request per this many messages
CONCURRENCY = DEFAULT_MAX_CONCURRENCY  # send_bulk's chunks in flight with a default client
USERNAME, KEY = "bench-user", "bench-key"
CLIENTS = ["aiohttp", "sdk-list", "sdk-gen", "sdk-lifted", "aiohttp-validated"]


# -- the instant server ----------------------------------------------------------------------------


def make_app() -> Any:
    """Raw ASGI3 app: every send answered at once, one SUCCESS record per input message."""
    counter = [0]
    head = b'{"http_code":200,"response_code":"SUCCESS","response_msg":"Messages queued.","data":'

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
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        if scope["method"] != "POST" or scope["path"] != "/v3/sms/send":
            await _respond(send, 404, b'{"http_code":404,"response_code":"NOT_FOUND"}')
            return
        payload = json.loads(b"".join(chunks))
        start = counter[0]
        records = [
            {
                "to": msg.get("to"),
                "list_id": msg.get("list_id"),
                "body": msg.get("body"),
                "custom_string": msg.get("custom_string"),
                "message_id": f"BF7AD270-0DE2-418B-B606-{start + i:012X}",
                "status": "SUCCESS",
            }
            for i, msg in enumerate(payload["messages"])
        ]
        counter[0] = start + len(records)
        data = {"total_count": len(records), "queued_count": len(records), "messages": records}
        body = head + json.dumps(data, separators=(",", ":")).encode() + b"}"
        await _respond(send, 200, body)

    return app


async def _respond(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve(port: int) -> None:
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
        make_app(), host=HOST, port=port, log_level="warning", access_log=False,
        lifespan="on", backlog=2048, timeout_keep_alive=60, **options,
    )  # fmt: skip


class Server:
    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            self.port = int(sock.getsockname()[1])
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(self.port)],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the benchmark server exited")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the benchmark server did not start")

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


# -- the input -------------------------------------------------------------------------------------


def message(i: int) -> dict[str, Any]:
    return {"to": f"+6141{i:07d}", "body": f"Benchmark message {i}: your code is {i % 9973}."}


def generate(n: int) -> Any:
    for i in range(n):
        yield message(i)


# -- memory ----------------------------------------------------------------------------------------


def rss_now() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); False when it cannot be."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


_SKIP = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def deep_size(root: Any) -> int:
    """sys.getsizeof over every object reachable from ``root``, each once (no classes/modules)."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _SKIP):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def traced_size(report: Any) -> int:
    import tracemalloc

    blob = pickle.dumps(report)
    gc.collect()
    tracemalloc.start()
    copy = pickle.loads(blob)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del copy
    return size


# -- the clients (each in its own process) ---------------------------------------------------------


def validated_body(start: int, n: int) -> bytes:
    """One chunk's body as a client that checks its input builds it: every message validated
    into the SDK's ``SmsMessage`` and dumped to its wire form (what ``aiohttp-validated`` pays
    per message, inside the clock)."""
    from clicksend_async.models.clicksend import SmsMessage

    batch = []
    for i in range(start, min(start + CHUNK, n)):
        item = message(i)
        item["custom_string"] = f"run-{start // CHUNK}-{i}"
        wire = SmsMessage.model_validate(item).model_dump(
            mode="json", by_alias=True, exclude_unset=True
        )
        batch.append(wire)
    return json.dumps({"messages": batch}, separators=(",", ":")).encode()


async def run_aiohttp(url: str, n: int, validated: bool = False) -> dict[str, Any]:
    import base64

    import aiohttp

    auth = "Basic " + base64.b64encode(f"{USERNAME}:{KEY}".encode()).decode()
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    bodies: list[Any] = []
    for start in range(0, n, CHUNK):
        if validated:  # built by the worker that posts it, on the clock
            bodies.append(start)
            continue
        batch = []
        for i in range(start, min(start + CHUNK, n)):
            item = message(i)
            item["custom_string"] = f"run-{start // CHUNK}-{i}"
            batch.append(item)
        bodies.append(json.dumps({"messages": batch}, separators=(",", ":")).encode())
    if validated:
        validated_body(0, min(n, 1))  # the model's first build, outside the clock as for the SDK
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    accepted = 0
    async with aiohttp.ClientSession(connector=connector) as session:
        queue = list(reversed(bodies))
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal accepted
            while queue:
                body = queue.pop()
                if validated:
                    body = validated_body(body, n)
                async with session.post(url + "/v3/sms/send", data=body, headers=headers) as r:
                    reply = json.loads(await r.read())
                if reply["response_code"] != "SUCCESS":
                    raise RuntimeError(reply)
                accepted += sum(1 for m in reply["data"]["messages"] if m["status"] == "SUCCESS")

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        wall = time.perf_counter() - started
    if accepted != n:
        raise RuntimeError(f"aiohttp: {accepted} accepted of {n}")
    return {"wall": wall, "requests": len(bodies), "accepted": accepted}


async def run_sdk(url: str, n: int, kind: str) -> dict[str, Any]:
    from clicksend_async import AsyncClickSend

    options: dict[str, Any] = {}
    if kind == "sdk-lifted":
        options["adaptive_rate_limit"] = False
    messages: Any = generate(n) if kind == "sdk-gen" else [message(i) for i in range(n)]
    async with AsyncClickSend(USERNAME, KEY, base_url=url + "/v3", **options) as cs:
        # The first use of cs.sms imports the generated resources and models (a one-off cost
        # of the process, not of sending): timed on its own, outside the measured call.
        imported = time.perf_counter()
        resource = cs.sms
        # The SDK imports its sender and HTTP parser on its first request (they are not needed
        # before): imported here, as the raw aiohttp client has aiohttp imported before its
        # clock starts.
        import httptools  # noqa: F401

        import clicksend_async._wire  # noqa: F401

        imported = time.perf_counter() - imported
        gc.collect()
        before = rss_now()
        exact = reset_peak()
        started = time.perf_counter()
        report = await resource.send_bulk(messages)
        wall = time.perf_counter() - started
        peak = peak_rss()
    del messages
    counts = report.counts
    if counts["accepted"] != n or not report.consistent:
        raise RuntimeError(f"{kind}: {counts}")
    return {
        "wall": wall,
        "import": imported,
        "requests": report.requests,
        "accepted": counts["accepted"],
        "rss_growth": peak - before,
        "peak_exact": exact,
        "report_deep": deep_size(report),
        "report_traced": traced_size(report),
    }


def child(kind: str, url: str, n: int, profile: bool) -> None:
    if kind in ("aiohttp", "aiohttp-validated"):
        result = asyncio.run(run_aiohttp(url, n, validated=kind == "aiohttp-validated"))
    elif profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        result = profiler.runcall(asyncio.run, run_sdk(url, n, kind))
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)
    else:
        result = asyncio.run(run_sdk(url, n, kind))
    print(json.dumps(result))


def run_child(kind: str, url: str, n: int, timeout: float, profile: bool = False) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, __file__, "--child", kind, "--url", url, "--n", str(n)]
    if profile:
        command += ["--profile", kind]
    done = subprocess.run(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=None if profile else subprocess.PIPE,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed ({done.returncode}):\n{done.stderr}")
    if profile:
        print(done.stdout)
        return {}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- the table -------------------------------------------------------------------------------------


def mib(value: float) -> str:
    return f"{value / 2**20:,.1f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", nargs="+", default=CLIENTS, choices=CLIENTS)
    parser.add_argument("--timeout", type=float, default=300.0, help="per client run, seconds")
    parser.add_argument(
        "--profile",
        choices=[c for c in CLIENTS if c.startswith("sdk")],
        help="cProfile one SDK run, no table",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the medians and runs here")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return
    if args.child:
        child(args.child, args.url, args.n, bool(args.profile))
        return

    server = Server()
    try:
        if args.profile:
            run_child(args.profile, server.url, args.n, args.timeout, profile=True)
            return
        clients = list(dict.fromkeys(["aiohttp", *args.clients]))  # the baseline always runs
        runs: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
        for round_ in range(args.repeat):
            order = clients if round_ % 2 == 0 else list(reversed(clients))
            for kind in order:
                result = run_child(kind, server.url, args.n, args.timeout)
                runs[kind].append(result)
                print(f"round {round_ + 1} {kind}: {result['wall']:.3f} s", file=sys.stderr)
    finally:
        server.stop()

    base = statistics.median(r["wall"] for r in runs["aiohttp"])
    print(
        f"\n{args.n:,} messages, {CHUNK} per request, {CONCURRENCY} in flight, instant "
        f"loopback server; medians of {args.repeat} alternating runs (fresh process each)\n"
    )
    header = (
        "| client | wall s | msg/s | x aiohttp (<= 2) | RSS growth MiB | report MiB (deep) "
        "| report MiB (traced) | RSS / report (<= 2) |"
    )
    print(header)
    print("| --- " * 8 + "|")
    medians: dict[str, dict[str, Any]] = {}
    for kind in clients:
        results = sorted(runs[kind], key=lambda r: r["wall"])
        mid = results[len(results) // 2]
        wall = statistics.median(r["wall"] for r in results)
        medians[kind] = {"wall": wall, "msg_per_s": args.n / wall, "x_aiohttp": wall / base}
        row = [kind, f"{wall:.3f}", f"{args.n / wall:,.0f}", f"{wall / base:.2f}"]
        if kind.startswith("aiohttp"):
            row += ["", "", "", ""]
        else:
            growth = statistics.median(r["rss_growth"] for r in results)
            deep = mid["report_deep"]
            medians[kind].update(
                rss_growth=growth,
                report_deep=deep,
                report_traced=mid["report_traced"],
                rss_per_report=growth / deep,
            )
            row += [mib(growth), mib(deep), mib(mid["report_traced"]), f"{growth / deep:.2f}"]
        print("| " + " | ".join(row) + " |")
    exact = all(r.get("peak_exact", True) for rs in runs.values() for r in rs)
    if not exact:
        print("\n(peak RSS from ru_maxrss: /proc/self/clear_refs was not writable)")
    if args.json:
        result = {
            "n": args.n,
            "chunk": CHUNK,
            "concurrency": CONCURRENCY,
            "repeat": args.repeat,
            "peak_exact": exact,
            "medians": medians,  # bytes and seconds
            "runs": runs,
        }
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
