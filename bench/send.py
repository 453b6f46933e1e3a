"""Benchmark single-message ``POST /v3/sms/send`` calls through several HTTP clients.

For every latency in ``--latency-ms`` one server (``bench/server.py``) is started in
its own process; for every concurrency in ``--concurrency`` each client in
``--clients`` is run in its own fresh subprocess (isolated event loop and CPU
accounting) and one table is printed, with ratios against the official SDK
(``official``) measured in the same run.

    .bench-venv/bin/python bench/send.py                        # defaults
    .bench-venv/bin/python bench/send.py --n 2000 --concurrency 1 64 --latency-ms 0 20
    .bench-venv/bin/python bench/send.py --clients aiohttp httpx-aiohttp official

See bench/README.md for the meaning of each column.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
SRC_DIR = REPO_ROOT / "src"
sys.path.insert(0, str(BENCH_DIR))

USERNAME = "bench-user"
API_KEY = "BENCH-API-KEY-0000-0000"
AUTH_HEADER = "Basic " + base64.b64encode(f"{USERNAME}:{API_KEY}".encode()).decode()
TO = "+61411111111"
BODY = "Benchmark message: your verification code is 123456."
SEND_PATH = "/v3/sms/send"

# name -> one-line description (order = default order in the table)
CLIENTS: dict[str, str] = {
    "httpx": "httpx.AsyncClient, default (httpcore) transport, pool sized to C",
    "httpx-aiohttp": "httpx.AsyncClient(transport=httpx_aiohttp.AiohttpTransport), pool sized to C",
    "httpx-aiohttp-direct": "httpx.Request built by hand + AiohttpTransport.handle_async_request",
    "aiohttp": "raw aiohttp.ClientSession, TCPConnector(limit=C)",
    "aiohttp-typed": "raw aiohttp + the SDK's request and response models (a typed floor)",
    "official": "clicksend-client 6.0.2 SmsApi.send_sms + ThreadPoolExecutor(C), pool sized to C",
    "official-default": "clicksend-client 6.0.2 as configured out of the box (urllib3 pool 10)",
    "sdk": "clicksend_async.AsyncClickSend(max_concurrency=C).sms.send",
    "sdk-aiohttp": "the same SDK call on its aiohttp sender (what a client with a proxy uses)",
    # not in the default set:
    "httpx-deflimits": "httpx.AsyncClient() with httpx's default Limits(100, keepalive 20)",
}
DEFAULT_CLIENTS = ["httpx", "official", "official-default", "sdk"]
BASELINE = "official"


def request_body(i: int) -> bytes:
    return json.dumps(
        {"messages": [{"source": "bench", "body": BODY, "to": TO, "custom_string": f"c{i}"}]},
        separators=(",", ":"),
    ).encode()


def check_envelope(payload: dict[str, Any], i: int) -> None:
    if payload.get("response_code") != "SUCCESS":
        raise RuntimeError(f"unexpected envelope: {str(payload)[:200]}")
    echoed = payload["data"]["messages"][0]["custom_string"]
    if echoed != f"c{i}":
        raise RuntimeError(f"custom_string mismatch: {echoed!r} != 'c{i}'")


# ============================================================================ SDK hook
# ---------------------------------------------------------------------------------------
#  OPTIONAL ENTRY "sdk": fill these two functions in once the SDK has its client.
#  Until ``clicksend_async.AsyncClickSend`` exists the "sdk" client is skipped with a
#  printed notice (see ``sdk_available``). The constructor keywords and the send call
#  below are a GUESS at the future API: adapt them, nothing else in this file needs
#  to change.
# ---------------------------------------------------------------------------------------


def sdk_client(base_url: str, username: str, api_key: str, concurrency: int) -> Any:
    """Construct the SDK's own async client (placeholder, adapt to the real API)."""
    if str(SRC_DIR) not in sys.path:
        sys.path.insert(0, str(SRC_DIR))
    from clicksend_async import AsyncClickSend  # type: ignore[attr-defined]

    return AsyncClickSend(
        username=username,
        api_key=api_key,
        base_url=base_url,
        max_concurrency=concurrency,
    )


async def sdk_send_one(client: Any, i: int) -> str:
    """Send one message with the SDK client and return the echoed custom_string."""
    resp = await client.sms.send(
        messages=[{"source": "bench", "body": BODY, "to": TO, "custom_string": f"c{i}"}]
    )
    return str(resp.messages[0].custom_string)


async def sdk_close(client: Any) -> None:
    close = getattr(client, "aclose", None) or getattr(client, "close", None)
    if close is not None:
        result = close()
        if asyncio.iscoroutine(result):
            await result


def sdk_available() -> tuple[bool, str]:
    """Whether the optional "sdk" entry can run (checked in a subprocess: src is being edited)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import clicksend_async as m; "
        "sys.exit(0 if hasattr(m, 'AsyncClickSend') else 3)"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(SRC_DIR)], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return False, "importing clicksend_async timed out"
    if proc.returncode == 0:
        return True, ""
    if proc.returncode == 3:
        return False, "clicksend_async has no AsyncClickSend yet"
    return False, "cannot import clicksend_async: " + (proc.stderr.strip().splitlines() or ["?"])[
        -1
    ]


# ============================================================================ load loops


def _proc_cpu_seconds(pid: int | None) -> float | None:
    """utime+stime of another process from /proc (Linux), in seconds."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Recorder:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.first_error: str | None = None

    def error(self, exc: BaseException) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"[:300]


def summarize(rec: Recorder, wall: float, cpu: float, srv_cpu: float | None) -> dict[str, Any]:
    done = len(rec.latencies)
    lat = sorted(rec.latencies)

    def pct(p: float) -> float | None:
        if not lat:
            return None
        return lat[min(len(lat) - 1, round(p / 100.0 * (len(lat) - 1)))] * 1000.0

    return {
        "n": done,
        "errors": rec.errors,
        "first_error": rec.first_error,
        "wall_s": wall,
        "cpu_s": cpu,
        "rps": (done - rec.errors) / wall if wall > 0 else 0.0,
        "cpu_ms_per_req": cpu * 1000.0 / done if done else None,
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "srv_cpu_pct": (srv_cpu / wall * 100.0) if (srv_cpu is not None and wall > 0) else None,
    }


async def run_async_load(
    call: Callable[[int], Awaitable[None]],
    n: int,
    concurrency: int,
    warmup: int,
    budget_s: float,
    server_pid: int | None,
) -> dict[str, Any]:
    """Run ``warmup`` then ``n`` calls with ``concurrency`` workers; measure the second phase."""

    async def phase(count: int, start: int, rec: Recorder, deadline: float) -> None:
        idx = itertools.count(start)
        end = start + count

        async def worker() -> None:
            while True:
                i = next(idx)
                if i >= end or time.perf_counter() > deadline:
                    return
                t0 = time.perf_counter()
                try:
                    await call(i)
                except Exception as exc:
                    rec.error(exc)
                rec.latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    await phase(warmup, 0, Recorder(), time.perf_counter() + budget_s / 3)
    rec = Recorder()
    s0 = _proc_cpu_seconds(server_pid)
    c0, t0 = time.process_time(), time.perf_counter()
    await phase(n, warmup, rec, t0 + budget_s)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    s1 = _proc_cpu_seconds(server_pid)
    return summarize(rec, wall, cpu, (s1 - s0) if s0 is not None and s1 is not None else None)


def run_thread_load(
    call: Callable[[int], None],
    n: int,
    concurrency: int,
    warmup: int,
    budget_s: float,
    server_pid: int | None,
) -> dict[str, Any]:
    """Same as run_async_load, with ``concurrency`` OS threads (ThreadPoolExecutor)."""
    from concurrent.futures import ThreadPoolExecutor

    lock = threading.Lock()

    with ThreadPoolExecutor(max_workers=concurrency) as pool:

        def phase(count: int, start: int, rec: Recorder, deadline: float) -> None:
            idx = itertools.count(start)
            end = start + count

            def worker() -> None:
                while True:
                    i = next(idx)
                    if i >= end or time.perf_counter() > deadline:
                        return
                    t0 = time.perf_counter()
                    try:
                        call(i)
                    except Exception as exc:
                        with lock:
                            rec.error(exc)
                    rec.latencies.append(time.perf_counter() - t0)

            for fut in [pool.submit(worker) for _ in range(concurrency)]:
                fut.result()

        phase(warmup, 0, Recorder(), time.perf_counter() + budget_s / 3)
        rec = Recorder()
        s0 = _proc_cpu_seconds(server_pid)
        c0, t0 = time.process_time(), time.perf_counter()
        phase(n, warmup, rec, t0 + budget_s)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        s1 = _proc_cpu_seconds(server_pid)
    return summarize(rec, wall, cpu, (s1 - s0) if s0 is not None and s1 is not None else None)


# ============================================================================ clients
# Each runner: (base_url, n, concurrency, warmup, budget, server_pid) -> result dict.
# All async clients use a precomputed Basic auth header and parse the JSON reply.


async def _client_httpx(
    base_url: str,
    n: int,
    c: int,
    warmup: int,
    budget: float,
    pid: int | None,
    default_limits: bool = False,
) -> dict[str, Any]:
    import httpx

    limits = (
        httpx.Limits()
        if default_limits
        else httpx.Limits(max_connections=c, max_keepalive_connections=c)
    )
    headers = {"Authorization": AUTH_HEADER, "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits) as client:

        async def call(i: int) -> None:
            r = await client.post(SEND_PATH, content=request_body(i))
            r.raise_for_status()
            check_envelope(r.json(), i)

        return await run_async_load(call, n, c, warmup, budget, pid)


async def _client_httpx_aiohttp(
    base_url: str, n: int, c: int, warmup: int, budget: float, pid: int | None
) -> dict[str, Any]:
    import httpx
    from httpx_aiohttp import AiohttpTransport

    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    headers = {"Authorization": AUTH_HEADER, "Content-Type": "application/json"}
    transport = AiohttpTransport(limits=limits)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, transport=transport) as client:

        async def call(i: int) -> None:
            r = await client.post(SEND_PATH, content=request_body(i))
            r.raise_for_status()
            check_envelope(r.json(), i)

        return await run_async_load(call, n, c, warmup, budget, pid)


async def _client_httpx_aiohttp_direct(
    base_url: str, n: int, c: int, warmup: int, budget: float, pid: int | None
) -> dict[str, Any]:
    """httpx.Request objects handed straight to the transport (no AsyncClient.send)."""
    import httpx
    from httpx_aiohttp import AiohttpTransport

    transport = AiohttpTransport(
        limits=httpx.Limits(max_connections=c, max_keepalive_connections=c)
    )
    url = httpx.URL(base_url + SEND_PATH)
    base_headers = [
        (b"Host", url.netloc),
        (b"Accept", b"*/*"),
        (b"User-Agent", b"clicksend-async-bench"),
        (b"Authorization", AUTH_HEADER.encode()),
        (b"Content-Type", b"application/json"),
    ]
    timeout = {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 30.0}
    try:

        async def call(i: int) -> None:
            body = request_body(i)
            req = httpx.Request(
                "POST",
                url,
                headers=[*base_headers, (b"Content-Length", str(len(body)).encode())],
                content=body,
                extensions={"timeout": timeout},
            )
            resp = await transport.handle_async_request(req)
            try:
                data = await resp.aread()
            finally:
                await resp.aclose()
            if resp.status_code != 200:
                raise RuntimeError(f"HTTP {resp.status_code}")
            check_envelope(json.loads(data), i)

        return await run_async_load(call, n, c, warmup, budget, pid)
    finally:
        await transport.aclose()


async def _client_aiohttp(
    base_url: str, n: int, c: int, warmup: int, budget: float, pid: int | None
) -> dict[str, Any]:
    import aiohttp

    headers = {"Authorization": AUTH_HEADER, "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=c)
    url = base_url + SEND_PATH
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def call(i: int) -> None:
            async with session.post(url, data=request_body(i)) as resp:
                data = await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"HTTP {resp.status}")
            check_envelope(json.loads(data), i)

        return await run_async_load(call, n, c, warmup, budget, pid)


async def _client_aiohttp_typed(
    base_url: str, n: int, c: int, warmup: int, budget: float, pid: int | None
) -> dict[str, Any]:
    """Raw aiohttp plus the least a typed client does: the request validated into the SDK's
    request model and dumped, the answer validated into its response model (from the bytes, in
    pydantic-core) -- the floor under any SDK that returns models."""
    import aiohttp

    if str(SRC_DIR) not in sys.path:
        sys.path.insert(0, str(SRC_DIR))
    from clicksend_async.models.clicksend import SmsSendRequest, SmsSendResponse

    headers = {"Authorization": AUTH_HEADER, "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=c)
    url = base_url + SEND_PATH
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def call(i: int) -> None:
            message = {"source": "bench", "body": BODY, "to": TO, "custom_string": f"c{i}"}
            body = SmsSendRequest.model_validate({"messages": [message]}).model_dump_json(
                by_alias=True, exclude_unset=True
            )
            async with session.post(url, data=body.encode()) as resp:
                data = await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"HTTP {resp.status}")
            answer = SmsSendResponse.model_validate_json(data)
            if answer.data is None or answer.data.messages[0].custom_string != f"c{i}":
                raise RuntimeError("custom_string mismatch")

        return await run_async_load(call, n, c, warmup, budget, pid)


def _client_official(
    base_url: str, n: int, c: int, warmup: int, budget: float, pid: int | None, tuned: bool = True
) -> dict[str, Any]:
    """clicksend-client 6.0.2 (package ``clicksend``, OpenAPI-generator, urllib3 + pydantic)."""
    import clicksend
    from clicksend.models.send_sms_request import SendSmsRequest
    from clicksend.models.send_sms_request_messages_inner import SendSmsRequestMessagesInner

    # Configuration(host=...) replaces https://rest.clicksend.com (server_index becomes None,
    # so get_host_from_settings returns host verbatim); username/password feed the
    # 'basicAuth' auth setting. urllib3's pool defaults to cpu_count*5 connections, so
    # size it to the thread count.
    config = clicksend.Configuration(host=base_url, username=USERNAME, password=API_KEY)
    if tuned:
        config.connection_pool_maxsize = c
    api_client = clicksend.ApiClient(config)
    api = clicksend.SmsApi(api_client)

    def call(i: int) -> None:
        req = SendSmsRequest(
            messages=[
                SendSmsRequestMessagesInner(source="bench", body=BODY, to=TO, custom_string=f"c{i}")
            ]
        )
        result = api.send_sms(send_sms_request=req)
        if result.response_code != "SUCCESS":
            raise RuntimeError(f"unexpected envelope: {result}")
        echoed = result.data.messages[0].custom_string
        if echoed != f"c{i}":
            raise RuntimeError(f"custom_string mismatch: {echoed!r} != 'c{i}'")

    return run_thread_load(call, n, c, warmup, budget, pid)


async def _client_sdk(
    base_url: str, n: int, c: int, warmup: int, budget: float, pid: int | None, wire: bool = True
) -> dict[str, Any]:
    client = sdk_client(base_url, USERNAME, API_KEY, c)
    if not wire:
        client._sender.use_wire = False  # the sender chosen when a proxy is configured
    try:

        async def call(i: int) -> None:
            echoed = await sdk_send_one(client, i)
            if echoed != f"c{i}":
                raise RuntimeError(f"custom_string mismatch: {echoed!r} != 'c{i}'")

        return await run_async_load(call, n, c, warmup, budget, pid)
    finally:
        await sdk_close(client)


def run_client_inline(
    name: str,
    base_url: str,
    n: int,
    c: int,
    warmup: int,
    budget: float,
    pid: int | None,
    loop: str = "asyncio",
) -> dict[str, Any]:
    args = (base_url, n, c, warmup, budget, pid)
    if name == "official":
        return _client_official(*args)
    if name == "official-default":
        return _client_official(*args, tuned=False)
    coros: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
        "httpx": lambda: _client_httpx(*args),
        "httpx-deflimits": lambda: _client_httpx(*args, default_limits=True),
        "httpx-aiohttp": lambda: _client_httpx_aiohttp(*args),
        "httpx-aiohttp-direct": lambda: _client_httpx_aiohttp_direct(*args),
        "aiohttp": lambda: _client_aiohttp(*args),
        "aiohttp-typed": lambda: _client_aiohttp_typed(*args),
        "sdk": lambda: _client_sdk(*args),
        "sdk-aiohttp": lambda: _client_sdk(*args, wire=False),
    }
    if name not in coros:
        raise SystemExit(f"unknown client {name!r}")
    if loop == "uvloop":
        import uvloop

        return uvloop.run(coros[name]())  # type: ignore[no-any-return]
    return asyncio.run(coros[name]())


# ============================================================================ parent side


def hard_timeout(budget: float) -> float:
    """Kill a client subprocess after warm-up (budget/3) + measurement (budget) + slack."""
    return budget * 4 / 3 + 12


def default_warmup(n: int, c: int) -> int:
    return max(2 * c, min(200, n // 10))


def run_child(
    script: Path, child_args: list[str], timeout_s: float, cpu: int | None
) -> dict[str, Any]:
    cmd = [sys.executable, str(script), *child_args]
    if cpu is not None:
        cmd += ["--_cpu", str(cpu)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"failed": f"killed after {timeout_s:.0f}s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        return {"failed": f"exit {proc.returncode}: {tail}"}
    return json.loads(lines[-1][len("RESULT ") :])  # type: ignore[no-any-return]


def pick_median(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median req/s; adds the req/s spread of all runs."""
    ok = [r for r in results if "failed" not in r]
    if not ok:
        return results[-1] if results else {"failed": "no run"}
    ok.sort(key=lambda r: r["rps"])
    med = dict(ok[len(ok) // 2])
    med["runs"] = len(results)
    med["all_rps"] = [round(r["rps"], 1) for r in ok]
    med["all_cpu_ms_per_req"] = [r["cpu_ms_per_req"] for r in ok]
    if len(ok) > 1 and med["rps"] > 0:
        med["spread_pct"] = (ok[-1]["rps"] - ok[0]["rps"]) / med["rps"] * 100.0
    if len(ok) < len(results):
        med["note"] = f"{len(results) - len(ok)} of {len(results)} runs failed"
    return med


def fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_table(rows: list[dict[str, Any]], out: Any = sys.stdout) -> None:
    header = (
        f"{'lat ms':>6} {'C':>3}  {'client':<21} {'n':>5} {'err':>4} {'req/s':>8} "
        f"{'cpu ms/req':>10} {'p50 ms':>7} {'p99 ms':>7} {'srv cpu%':>8} "
        f"{'rps/off':>7} {'cpu/off':>7} {'spread':>6}"
    )
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in rows:
        if "failed" in r or "skipped" in r:
            note = r.get("failed") or r.get("skipped")
            print(
                f"{r['latency_ms']:>6g} {r['concurrency']:>3}  {r['client']:<21} {note}", file=out
            )
            continue
        print(
            f"{r['latency_ms']:>6g} {r['concurrency']:>3}  {r['client']:<21} "
            f"{r['n']:>5} {r['errors']:>4} "
            f"{r['rps']:>8.0f} {fmt(r['cpu_ms_per_req'], '.3f'):>10} {fmt(r['p50_ms'], '.2f'):>7} "
            f"{fmt(r['p99_ms'], '.2f'):>7} {fmt(r['srv_cpu_pct'], '.0f'):>8} "
            f"{fmt(r.get('rps_ratio'), '.2f'):>7} {fmt(r.get('cpu_ratio'), '.2f'):>7} "
            f"{fmt(r.get('spread_pct'), '.0f'):>5}%",
            file=out,
        )


def add_ratios(rows: list[dict[str, Any]]) -> None:
    base: dict[tuple[float, int], dict[str, Any]] = {}
    for r in rows:
        if r["client"] == BASELINE and "rps" in r and r["rps"] > 0:
            base[(r["latency_ms"], r["concurrency"])] = r
    for r in rows:
        b = base.get((r["latency_ms"], r["concurrency"]))
        if b is None or "rps" not in r:
            continue
        r["rps_ratio"] = r["rps"] / b["rps"]
        if r.get("cpu_ms_per_req") and b.get("cpu_ms_per_req"):
            r["cpu_ratio"] = r["cpu_ms_per_req"] / b["cpu_ms_per_req"]


def parent_main(args: argparse.Namespace) -> None:
    from server import start_server

    clients = list(args.clients)
    for name in clients:
        if name not in CLIENTS:
            raise SystemExit(f"unknown client {name!r}; known: {', '.join(CLIENTS)}")
    if "sdk" in clients:
        ok, why = sdk_available()
        if not ok:
            print(
                f"NOTICE: skipping optional client 'sdk' ({why}); "
                "fill in sdk_client() in bench/send.py."
            )

    ncpu = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )
    pin = args.pin and ncpu >= 2 and hasattr(os, "sched_setaffinity")
    server_cpu, client_cpu = (1, 0) if pin else (None, None)
    print(
        f"# python {sys.version.split()[0]}, {ncpu} CPUs, pinning "
        f"{'server->cpu1 client->cpu0' if pin else 'off'}, client loop {args.loop}, "
        f"n={args.n}, budget {args.budget}s per client run, {args.repeat} run(s) each"
    )
    sdk_ok = "sdk" in clients and sdk_available()[0]
    rows: list[dict[str, Any]] = []
    for latency in args.latency_ms:
        srv = start_server(latency, date_type="int", cpu=server_cpu)
        try:
            for c in args.concurrency:
                warmup = args.warmup if args.warmup is not None else default_warmup(args.n, c)
                runs: dict[str, list[dict[str, Any]]] = {name: [] for name in clients}
                # repeats are interleaved (A B C, A B C, ...) so slow drift hits every client alike
                for rep in range(args.repeat):
                    for name in clients:
                        if name == "sdk" and not sdk_ok:
                            continue
                        child_args = [
                            *("--_child", name, "--_base-url", srv.base_url),
                            *("--_server-pid", str(srv.proc.pid), "--n", str(args.n)),
                            *("--concurrency", str(c), "--warmup", str(warmup)),
                            *("--budget", str(args.budget), "--loop", args.loop),
                        ]
                        res = run_child(
                            Path(__file__), child_args, hard_timeout(args.budget), client_cpu
                        )
                        runs[name].append(res)
                        if not args.quiet:
                            state = res.get("failed") or f"{res.get('rps', 0):.0f} req/s"
                            print(
                                f"  done: latency={latency:g}ms C={c} {name} #{rep + 1}: {state}",
                                file=sys.stderr,
                            )
                        if res.get("first_error"):
                            print(
                                f"  ! {name} C={c} L={latency:g}: {res['errors']} errors, "
                                f"first: {res['first_error']}",
                                file=sys.stderr,
                            )
                for name in clients:
                    row: dict[str, Any] = {"client": name, "latency_ms": latency, "concurrency": c}
                    if name == "sdk" and not sdk_ok:
                        row["skipped"] = "skipped (no clicksend_async.AsyncClickSend)"
                    else:
                        row.update(pick_median(runs[name]))
                    rows.append(row)
        finally:
            srv.stop()
    add_ratios(rows)
    print()
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
        print(f"\n# raw results written to {args.json}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--n", type=int, default=2000, help="measured calls per client run (default 2000)"
    )
    p.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 64], help="calls in flight (list)"
    )
    p.add_argument(
        "--latency-ms", type=float, nargs="+", default=[0.0, 20.0], help="server latency (list)"
    )
    p.add_argument(
        "--clients",
        nargs="+",
        default=DEFAULT_CLIENTS,
        choices=list(CLIENTS),
        help="clients to run (default: %(default)s)",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=12.0,
        help="max seconds of the measured phase of one client run (warm-up gets a third "
        "of it); the run stops early and reports the smaller n (default 12)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="unmeasured calls first (default max(2C, min(200, n/10)))",
    )
    p.add_argument(
        "--loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="event loop of async clients",
    )
    p.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not pin server/client to separate CPUs",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per client and configuration (interleaved); the median-req/s run is shown",
    )
    p.add_argument("--json", default=None, help="also write raw results to this file")
    p.add_argument("--quiet", action="store_true")
    # child-process plumbing
    p.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_base-url", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_server-pid", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--_cpu", type=int, default=None, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args._child:
        if args._cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {args._cpu})
        if len(args.concurrency) != 1:
            raise SystemExit("child runs take exactly one concurrency")
        res = run_client_inline(
            args._child,
            args._base_url,
            args.n,
            args.concurrency[0],
            args.warmup or 0,
            args.budget,
            args._server_pid,
            args.loop,
        )
        print("RESULT " + json.dumps(res), flush=True)
        return
    parent_main(args)


if __name__ == "__main__":
    main()
