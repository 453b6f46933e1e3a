"""Scratch measurements for choosing the SDK's HTTP transport.

Part (i)  -- exceptions: how ``httpx_aiohttp`` maps aiohttp exceptions to httpx ones
             (read from the installed module), plus live loopback demonstrations of
             what raw aiohttp, httpx+AiohttpTransport and httpx's default transport
             raise when a tiny raw asyncio server misbehaves.
Part (ii) -- cost: client CPU ms/request at C=64 of ``httpx.AsyncClient.send`` versus
             building ``httpx.Request`` and calling ``transport.handle_async_request``
             directly, for both httpcore and the aiohttp transport (against
             ``bench/server.py`` in a separate process, every variant in its own
             fresh subprocess), and the same without any network (in-memory
             transport) to isolate the client machinery.

    .bench-venv/bin/python bench/transports.py              # both parts
    .bench-venv/bin/python bench/transports.py --part i
    .bench-venv/bin/python bench/transports.py --part ii --n 3000

Everything talks to 127.0.0.1 only and every wait is bounded (timeouts <= 1 s per
demo, budget per cost variant).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import os
import socket
import struct
import sys
import time
import types
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import send as bench_send  # noqa: E402  (same directory)

HOST = "127.0.0.1"
T = 0.5  # every client timeout in the demos, seconds
BODY = json.dumps(
    {"messages": [{"body": "hi", "to": "+61411111111", "custom_string": "x"}]}
).encode()
HEADERS = {"Authorization": bench_send.AUTH_HEADER, "Content-Type": "application/json"}


def qualname(exc: BaseException | type[BaseException] | None) -> str:
    if exc is None:
        return "-"
    cls = exc if isinstance(exc, type) else type(exc)
    mod = cls.__module__.split(".")[0]
    mod = {"builtins": ""}.get(mod, mod)
    return f"{mod}.{cls.__name__}" if mod else cls.__name__


# ============================================================================ part (i) static


def static_mapping() -> None:
    import aiohttp
    import httpx_aiohttp.transport as hat
    from aiohttp import client_exceptions as ce

    print("== (i-a) httpx_aiohttp.transport.AIOHTTP_EXC_MAP as installed ==")
    print(f"   file: {inspect.getsourcefile(hat)}")
    for src, dst in hat.AIOHTTP_EXC_MAP.items():
        print(f"   {qualname(src):<45} -> {qualname(dst)}")
    print(
        "   selection rule (map_aiohttp_exceptions): walk the dict in order; for every entry\n"
        "   whose key matches isinstance(exc, key), take its value if nothing is chosen yet or\n"
        "   if the value is a SUBCLASS of the chosen one. A match never replaces a more general\n"
        "   choice with an unrelated class, so ClientConnectionError -> ConnectTimeout (listed\n"
        "   before ClientConnectorError) wins for every connection-level error."
    )

    key = types.SimpleNamespace(host=HOST, port=9, ssl=True)
    refused = ConnectionRefusedError(111, "Connection refused")
    candidates: list[tuple[str, str, BaseException | None]] = [
        ("ClientConnectorError", "not written", ce.ClientConnectorError(key, refused)),  # type: ignore[arg-type]
        (
            "ClientConnectorDNSError",
            "not written",
            ce.ClientConnectorDNSError(key, OSError(-2, "Name or service not known")),
        ),  # type: ignore[arg-type]
        ("ClientProxyConnectionError", "not written", ce.ClientProxyConnectionError(key, refused)),  # type: ignore[arg-type]
        (
            "ClientConnectorSSLError",
            "not written",
            ce.ClientConnectorSSLError(key, OSError(1, "ssl")),
        ),  # type: ignore[arg-type]
        (
            "ConnectionTimeoutError",
            "not written",
            ce.ConnectionTimeoutError("Connection timeout to host"),
        ),
        ("ServerDisconnectedError", "may be written", ce.ServerDisconnectedError()),
        ("ClientOSError", "may be written", ce.ClientOSError(104, "Connection reset by peer")),
        (
            "ClientConnectionResetError",
            "may be written",
            ce.ClientConnectionResetError("Cannot write to closing transport"),
        ),
        (
            "SocketTimeoutError",
            "written",
            ce.SocketTimeoutError("Timeout on reading data from socket"),
        ),
        ("ServerTimeoutError (base)", "-", ce.ServerTimeoutError("x")),
        ("ClientConnectionError (base)", "-", ce.ClientConnectionError("x")),
        (
            "ClientPayloadError",
            "written",
            ce.ClientPayloadError("Response payload is not completed"),
        ),
        (
            "UploadAbortedError",
            "partly",
            ce.UploadAbortedError("The request body was not fully sent"),
        ),
        ("TimeoutError (ClientTimeout.total)", "unknown", TimeoutError()),
    ]
    print(
        "\n== (i-b) what the installed map_aiohttp_exceptions() turns each aiohttp "
        "exception into =="
    )
    print(f"   {'aiohttp exception':<36} {'request on the wire?':<21} {'httpx-aiohttp raises'}")
    for label, phase, exc in candidates:
        try:
            with hat.map_aiohttp_exceptions():
                raise exc  # type: ignore[misc]
        except BaseException as got:
            out = qualname(got) if got is not exc else f"(unmapped) {qualname(got)}"
        print(f"   {label:<36} {phase:<21} {out}")
    del aiohttp


# ============================================================================ part (i) live


class RawServer:
    """Tiny raw asyncio TCP server on 127.0.0.1 with a misbehaviour ``mode``.

    modes: ok-then-close (answer the 1st request keep-alive, close after reading the
    2nd), close-after-request, reset-after-request, close-on-accept, hang.
    """

    RESPONSE = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n"
        b'{"response_code":"SUCCESS"}'
    )

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests_seen = 0
        self.bytes_read = 0
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._hold: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for w in self._hold:
            w.close()
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 1.0)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/v3/sms/send"

    async def _read_request(self, reader: asyncio.StreamReader) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return False
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await reader.readexactly(length) if length else b""
        self.bytes_read += len(head) + len(body)
        self.requests_seen += 1
        return True

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.mode == "close-on-accept":
                writer.close()
                return
            if self.mode == "ok-then-close":
                while await self._read_request(reader):
                    if self.requests_seen >= 2:
                        break
                    writer.write(self.RESPONSE)
                    await writer.drain()
                writer.close()
                return
            if not await self._read_request(reader):
                writer.close()
                return
            if self.mode == "close-after-request":
                writer.close()  # FIN after the whole request was read
            elif self.mode == "reset-after-request":
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()  # RST after the whole request was read
            elif self.mode == "hang":
                self._hold.append(writer)  # never answer; closed on exit
        except Exception:
            writer.close()


@contextlib.contextmanager
def not_listening_port() -> Any:
    """A loopback port with nothing listening (connect -> ECONNREFUSED)."""
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    yield port


@contextlib.contextmanager
def full_backlog_port() -> Any:
    """A loopback port whose accept queue is full, so new SYNs are dropped (connect hangs)."""
    lsock = socket.socket()
    lsock.bind((HOST, 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    fillers = []
    for _ in range(4):  # backlog 0 still admits ~1 queued connection on Linux
        c = socket.socket()
        c.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            c.connect((HOST, port))
        fillers.append(c)
    time.sleep(0.2)
    try:
        yield port
    finally:
        for c in fillers:
            c.close()
        lsock.close()


class Outcome:
    def __init__(self) -> None:
        self.exc: BaseException | None = None
        self.result: str | None = None
        self.headers_sent = False  # aiohttp trace on_request_headers_sent fired
        self.elapsed = 0.0

    def describe(self) -> str:
        if self.exc is None:
            return f"ok ({self.result})"
        cause = self.exc.__cause__
        extra = f" <- {qualname(cause)}" if cause is not None else ""
        return f"{qualname(self.exc)}{extra}"


async def _aiohttp_call(
    url: str, method: str = "POST", *, limit: int = 100, timeout: Any = None, pre: int = 0
) -> Outcome:
    import aiohttp

    out = Outcome()

    async def on_headers_sent(session: Any, ctx: Any, params: Any) -> None:
        if ctx.trace_request_ctx is not None:
            ctx.trace_request_ctx["sent"] = True

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(on_headers_sent)
    timeout = timeout or aiohttp.ClientTimeout(total=None, connect=T, sock_connect=T, sock_read=T)
    kwargs: dict[str, Any] = {"headers": HEADERS}
    if method == "POST":
        kwargs["data"] = BODY
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit), trace_configs=[trace], timeout=timeout
    ) as session:
        blockers = []
        for _ in range(pre):  # occupy the pool (pool-timeout demo)
            blockers.append(asyncio.create_task(_aiohttp_swallow(session, url)))
        await asyncio.sleep(0.05 if pre else 0)
        ctx: dict[str, bool] = {}
        if method == "POST-2":  # first request ok (keep-alive), second one on the reused connection
            async with session.post(url, data=BODY, headers=HEADERS) as r:
                await r.read()
            method = "POST"
        if method == "GET-2":
            async with session.get(url, headers=HEADERS) as r:
                await r.read()
            method = "GET"
        t0 = time.perf_counter()
        try:
            async with session.request(
                method,
                url,
                trace_request_ctx=ctx,
                **{k: v for k, v in kwargs.items() if method == "POST" or k != "data"},
            ) as resp:
                out.result = f"HTTP {resp.status} {(await resp.read())[:30]!r}"
        except BaseException as exc:
            out.exc = exc
        out.elapsed = time.perf_counter() - t0
        out.headers_sent = bool(ctx.get("sent"))
        for b in blockers:
            b.cancel()
        await asyncio.gather(*blockers, return_exceptions=True)
    return out


async def _aiohttp_swallow(session: Any, url: str) -> None:
    import aiohttp

    # holds the only pooled connection for up to 3 s (longer than the demo's pool wait)
    with contextlib.suppress(BaseException):
        async with session.post(
            url,
            data=BODY,
            headers=HEADERS,
            timeout=aiohttp.ClientTimeout(total=None, sock_read=3.0),
        ) as r:
            await r.read()


async def _httpx_call(
    url: str, transport_kind: str, method: str = "POST", *, limit: int = 100, pre: int = 0
) -> Outcome:
    import httpx

    out = Outcome()
    limits = httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
    if transport_kind == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        transport: httpx.AsyncBaseTransport = AiohttpTransport(limits=limits)
    else:
        transport = httpx.AsyncHTTPTransport(limits=limits)
    async with httpx.AsyncClient(
        transport=transport, timeout=httpx.Timeout(T), headers=HEADERS
    ) as client:
        blockers = []
        for _ in range(pre):
            blockers.append(asyncio.create_task(_httpx_swallow(client, url)))
        await asyncio.sleep(0.05 if pre else 0)
        if method in ("POST-2", "GET-2"):
            m = method[:-2]
            r = await client.request(m, url, content=BODY if m == "POST" else None)
            await r.aread()
            method = m
        t0 = time.perf_counter()
        try:
            r = await client.request(method, url, content=BODY if method == "POST" else None)
            out.result = f"HTTP {r.status_code}"
        except BaseException as exc:
            out.exc = exc
        out.elapsed = time.perf_counter() - t0
        for b in blockers:
            b.cancel()
        await asyncio.gather(*blockers, return_exceptions=True)
    return out


async def _httpx_swallow(client: Any, url: str) -> None:
    with contextlib.suppress(BaseException):
        await client.post(url, content=BODY, timeout=3.0)


async def live_demos() -> None:
    import aiohttp

    scenarios: list[dict[str, Any]] = [
        {"name": "(a) close after reading request", "mode": "close-after-request"},
        {"name": "(a') RST after reading request", "mode": "reset-after-request"},
        {"name": "(a'') close on accept, unread", "mode": "close-on-accept"},
        {
            "name": "(a''') 2nd POST on reused conn, closed",
            "mode": "ok-then-close",
            "method": "POST-2",
        },
        {
            "name": "(a'''') 2nd GET on reused conn, closed",
            "mode": "ok-then-close",
            "method": "GET-2",
        },
        {"name": "(b) not listening (refused)", "mode": "refused"},
        {"name": "(c) never answers (read timeout)", "mode": "hang"},
        {"name": "(d) SYN dropped (connect timeout)", "mode": "backlog"},
        {"name": "(e) pool exhausted (pool timeout)", "mode": "hang", "pool": True},
        {"name": "(f) never answers, aiohttp total=0.5 only", "mode": "hang", "total_only": True},
        {"name": "(g) SYN dropped, aiohttp total=0.5 only", "mode": "backlog", "total_only": True},
    ]
    print("\n== (i-c) live loopback demonstrations (client timeouts 0.5 s; POST unless noted) ==")
    print("   'srv saw' = requests the raw server read completely / bytes it read;")
    print(
        "   'hdrs sent' = aiohttp TraceConfig.on_request_headers_sent fired for the "
        "failing request."
    )
    rows = []
    for sc in scenarios:
        method = sc.get("method", "POST")
        pre = 1 if sc.get("pool") else 0
        limit = 1 if sc.get("pool") else 100
        total_only = sc.get("total_only", False)
        tmo = aiohttp.ClientTimeout(total=T) if total_only else None
        results: dict[str, Any] = {}
        seen = "-"
        for client in ("aiohttp", "httpx-aiohttp", "httpx"):
            if total_only and client != "aiohttp":
                results[client] = None
                continue
            if sc["mode"] == "refused":
                cm: Any = not_listening_port()
            elif sc["mode"] == "backlog":
                cm = full_backlog_port()
            else:
                cm = None
            if cm is not None:
                with cm as port:
                    url = f"http://{HOST}:{port}/v3/sms/send"
                    res = await _run_client(client, url, method, limit, pre, tmo)
                seen = "n/a"
            else:
                async with RawServer(sc["mode"]) as srv:
                    res = await _run_client(client, srv.url, method, limit, pre, tmo)
                    await asyncio.sleep(0.05)
                    if client == "aiohttp":
                        seen = f"{srv.requests_seen} req/{srv.bytes_read} B"
            results[client] = res
            if client == "aiohttp":
                results["seen"] = seen
        rows.append((sc["name"], results))

    w = 41
    print(
        f"   {'scenario':<{w}} {'raw aiohttp raises':<58} {'hdrs sent':<9} {'srv saw':<14} "
        f"{'httpx+AiohttpTransport raises':<60} {'httpx default transport raises'}"
    )
    for name, res in rows:
        a = res["aiohttp"]
        ha = res["httpx-aiohttp"]
        hx = res["httpx"]
        print(
            f"   {name:<{w}} {a.describe():<58} {('yes' if a.headers_sent else 'no'):<9} "
            f"{res['seen']:<14} "
            f"{(ha.describe() if ha else 'n/a (no total in httpx)'):<60} "
            f"{(hx.describe() if hx else 'n/a')}"
        )
    print("   ((e): the 1 request the server saw is the one holding the only pooled connection.)")
    print("\n   exception messages (raw aiohttp):")
    for name, res in rows:
        a = res["aiohttp"]
        if a.exc is not None:
            print(f"   {name:<{w}} {str(a.exc)[:110]!s}  [{a.elapsed * 1000:.0f} ms]")


async def _run_client(
    client: str, url: str, method: str, limit: int, pre: int, tmo: Any
) -> Outcome:
    coro = (
        _aiohttp_call(url, method, limit=limit, pre=pre, timeout=tmo)
        if client == "aiohttp"
        else _httpx_call(
            url,
            "aiohttp" if client == "httpx-aiohttp" else "httpcore",
            method,
            limit=limit,
            pre=pre,
        )
    )
    try:
        return await asyncio.wait_for(coro, 5.0)
    except asyncio.TimeoutError:
        out = Outcome()
        out.exc = RuntimeError("demo exceeded 5 s")
        return out


# ============================================================================ part (ii) cost

VARIANTS: dict[str, str] = {
    "httpcore:client.post": "httpx.AsyncClient (default transport).post(path, content=..)",
    "httpcore:client.send": "httpx.Request built by hand -> AsyncClient.send(req)",
    "httpcore:transport": "httpx.Request built by hand -> AsyncHTTPTransport.handle_async_request",
    "aiohttp:client.post": "AsyncClient(transport=AiohttpTransport).post(path, content=..)",
    "aiohttp:client.send": "httpx.Request built by hand -> AsyncClient(AiohttpTransport).send(req)",
    "aiohttp:transport": "httpx.Request built by hand -> AiohttpTransport.handle_async_request",
    "aiohttp:raw": "aiohttp.ClientSession.post (reference)",
    "aiohttp:raw+trace": "aiohttp.ClientSession.post with a TraceConfig(on_request_headers_sent)",
    "mem:client.send": "NO NETWORK: AsyncClient(transport=in-memory).send(req)",
    "mem:client.post": "NO NETWORK: AsyncClient(transport=in-memory).post(path, content=..)",
    "mem:transport": "NO NETWORK: in-memory transport.handle_async_request(req)",
}


class MemoryTransport:
    """In-memory httpx transport returning a canned ClickSend reply (no I/O at all)."""

    def __init__(self) -> None:
        import httpx

        self._httpx = httpx
        self._body_tpl = (
            '{"http_code":200,"response_code":"SUCCESS",'
            '"response_msg":"Messages queued for delivery.",'
            '"data":{"messages":[{"custom_string":"%s","status":"SUCCESS","message_price":"0.0700"}]}}'
        )

    async def handle_async_request(self, request: Any) -> Any:
        await request.aread()
        cs = json.loads(request.content)["messages"][0]["custom_string"]
        body = (self._body_tpl % cs).encode()
        return self._httpx.Response(
            200,
            headers=[
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            content=body,
            request=request,
        )

    async def aclose(self) -> None:
        return None


async def _cost_variant(
    name: str, base_url: str, n: int, c: int, warmup: int, budget: float, pid: int | None
) -> dict[str, Any]:
    import aiohttp
    import httpx
    from httpx_aiohttp import AiohttpTransport

    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    url = httpx.URL(base_url + bench_send.SEND_PATH)
    raw_headers = [
        (b"Host", url.netloc),
        (b"Accept", b"*/*"),
        (b"User-Agent", b"clicksend-async-bench"),
        (b"Authorization", bench_send.AUTH_HEADER.encode()),
        (b"Content-Type", b"application/json"),
    ]
    ext = {"timeout": {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 30.0}}

    def build(i: int) -> tuple[Any, bytes]:
        body = bench_send.request_body(i)
        req = httpx.Request(
            "POST",
            url,
            headers=[*raw_headers, (b"Content-Length", str(len(body)).encode())],
            content=body,
            extensions=ext,
        )
        return req, body

    kind, how = name.split(":", 1)
    if kind == "aiohttp" and how.startswith("raw"):
        traces = []
        if how == "raw+trace":

            async def on_sent(session: Any, ctx: Any, params: Any) -> None:
                if ctx.trace_request_ctx is not None:
                    ctx.trace_request_ctx["sent"] = True

            tc = aiohttp.TraceConfig()
            tc.on_request_headers_sent.append(on_sent)
            traces.append(tc)
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=c), trace_configs=traces, headers=dict(HEADERS)
        ) as session:
            target = str(url)

            async def call_raw(i: int) -> None:
                ctx: dict[str, bool] = {}
                async with session.post(
                    target,
                    data=bench_send.request_body(i),
                    trace_request_ctx=ctx if traces else None,
                ) as r:
                    data = await r.read()
                bench_send.check_envelope(json.loads(data), i)

            return await bench_send.run_async_load(call_raw, n, c, warmup, budget, pid)

    if kind == "httpcore":
        transport: Any = httpx.AsyncHTTPTransport(limits=limits)
    elif kind == "aiohttp":
        transport = AiohttpTransport(limits=limits)
    else:
        transport = MemoryTransport()
        pid = None

    client = httpx.AsyncClient(base_url=base_url, transport=transport, headers=dict(HEADERS))
    try:
        if how == "client.post":

            async def call(i: int) -> None:
                r = await client.post(bench_send.SEND_PATH, content=bench_send.request_body(i))
                r.raise_for_status()
                bench_send.check_envelope(r.json(), i)
        elif how == "client.send":

            async def call(i: int) -> None:
                req, _ = build(i)
                r = await client.send(req)
                r.raise_for_status()
                bench_send.check_envelope(r.json(), i)
        else:

            async def call(i: int) -> None:
                req, _ = build(i)
                resp = await transport.handle_async_request(req)
                try:
                    data = await resp.aread()
                finally:
                    await resp.aclose()
                if resp.status_code != 200:
                    raise RuntimeError(f"HTTP {resp.status_code}")
                bench_send.check_envelope(json.loads(data), i)

        return await bench_send.run_async_load(call, n, c, warmup, budget, pid)
    finally:
        await client.aclose()


def cost_part(args: argparse.Namespace) -> None:
    from server import start_server

    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    pin = ncpu >= 2 and hasattr(os, "sched_setaffinity")
    server_cpu, client_cpu = (1, 0) if pin else (None, None)
    c = args.concurrency
    print(
        f"\n== (ii) client CPU per request at C={c}, server latency {args.latency_ms:g} ms, "
        f"n={args.n} (budget {args.budget}s), each variant in a fresh subprocess, "
        f"pinning {'on' if pin else 'off'}; best of {args.repeat} =="
    )
    rows = []
    srv = start_server(args.latency_ms, date_type="int", cpu=server_cpu)
    try:
        for name in args.variants:
            best: dict[str, Any] | None = None
            for _ in range(args.repeat):
                child = [
                    "--_child",
                    name,
                    "--_base-url",
                    srv.base_url,
                    "--_server-pid",
                    str(srv.proc.pid),
                    "--n",
                    str(args.n),
                    "--concurrency",
                    str(c),
                    "--budget",
                    str(args.budget),
                    "--warmup",
                    str(bench_send.default_warmup(args.n, c)),
                ]
                res = bench_send.run_child(
                    Path(__file__), child, bench_send.hard_timeout(args.budget), client_cpu
                )
                if "failed" in res:
                    best = res
                    break
                if best is None or res["cpu_ms_per_req"] < best["cpu_ms_per_req"]:
                    best = res
            assert best is not None
            rows.append((name, best))
            print(f"   done {name}", file=sys.stderr)
    finally:
        srv.stop()
    print(
        f"   {'variant':<22} {'n':>5} {'err':>4} {'req/s':>7} {'cpu ms/req':>10} "
        f"{'p99 ms':>8}  what"
    )
    for name, r in rows:
        if "failed" in r:
            print(f"   {name:<22} FAILED {r['failed']}")
            continue
        print(
            f"   {name:<22} {r['n']:>5} {r['errors']:>4} {r['rps']:>7.0f} "
            f"{r['cpu_ms_per_req']:>10.3f} "
            f"{bench_send.fmt(r['p99_ms'], '.1f'):>8}  {VARIANTS[name]}"
        )
        if r.get("first_error"):
            print(f"   {'':<22} first error: {r['first_error']}")
    by = {n: r for n, r in rows if "failed" not in r}
    print("\n   per-request overhead of AsyncClient.send on top of transport.handle_async_request:")
    for kind in ("httpcore", "aiohttp", "mem"):
        s, t = by.get(f"{kind}:client.send"), by.get(f"{kind}:transport")
        if s and t:
            print(
                f"   {kind:<9} send {s['cpu_ms_per_req']:.3f} - direct {t['cpu_ms_per_req']:.3f} = "
                f"{s['cpu_ms_per_req'] - t['cpu_ms_per_req']:+.3f} ms CPU/request "
                f"(direct = {t['cpu_ms_per_req'] / s['cpu_ms_per_req'] * 100:.0f}% of send)"
            )


# ============================================================================ main


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--part", choices=["i", "ii", "all"], default="all")
    p.add_argument("--n", type=int, default=3000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--budget", type=float, default=10.0)
    p.add_argument("--repeat", type=int, default=1, help="runs per cost variant, best CPU kept")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_base-url", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_server-pid", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--_cpu", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--warmup", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args._child:
        if args._cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {args._cpu})
        res = asyncio.run(
            _cost_variant(
                args._child,
                args._base_url,
                args.n,
                args.concurrency,
                args.warmup or 0,
                args.budget,
                args._server_pid,
            )
        )
        print("RESULT " + json.dumps(res), flush=True)
        return

    from importlib import metadata

    import aiohttp
    import httpx

    print(
        f"# httpx {httpx.__version__}, aiohttp {aiohttp.__version__}, "
        f"httpx-aiohttp {metadata.version('httpx-aiohttp')}, "
        f"httpcore {metadata.version('httpcore')}, "
        f"python {sys.version.split()[0]}"
    )
    if args.part in ("i", "all"):
        static_mapping()
        asyncio.run(live_demos())
    if args.part in ("ii", "all"):
        cost_part(args)


if __name__ == "__main__":
    main()
