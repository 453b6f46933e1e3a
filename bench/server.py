"""Minimal ClickSend-like ASGI server for transport benchmarks (no framework).

Answers ``POST /v3/sms/send`` (and ``POST /sms/send``) with a ClickSend-style
JSON envelope after an optional artificial latency. Requests without a Basic
``Authorization`` header get the 401 envelope. Everything else is 404/405.

Run it by hand (binds to 127.0.0.1 only)::

    .bench-venv/bin/python bench/server.py --port 8765 --latency-ms 20

or from Python, in a separate process on a free port::

    from server import start_server
    srv = start_server(latency_ms=20)
    ...  # srv.base_url == "http://127.0.0.1:PORT"
    srv.stop()
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"  # loopback only, never anything else

_CURRENCY = {
    "currency_name_short": "AUD",
    "currency_prefix_d": "$",
    "currency_prefix_c": "c",
    "currency_name_long": "Australian Dollars",
}


def _envelope(http_code: int, response_code: str, msg: str, data: Any) -> bytes:
    return json.dumps(
        {"http_code": http_code, "response_code": response_code, "response_msg": msg, "data": data},
        separators=(",", ":"),
    ).encode()


_UNAUTHORIZED = _envelope(401, "UNAUTHORIZED", "Unauthorized. Please check your credentials.", None)
_NOT_FOUND = _envelope(404, "NOT_FOUND", "Resource not found.", None)
_NOT_ALLOWED = _envelope(405, "METHOD_NOT_ALLOWED", "Method not allowed.", None)
_BAD_REQUEST = _envelope(400, "BAD_REQUEST", "Invalid request body.", None)

_SEND_PATHS = frozenset({"/v3/sms/send", "/sms/send"})


def make_app(latency_ms: float = 0.0, date_type: str = "str") -> Any:
    """Build the raw ASGI3 app.

    ``date_type`` selects how ``messages[].date`` is encoded: ``"str"`` gives
    ``"1436871253"``, ``"int"`` gives ``1436871253``. The official
    ``clicksend-client`` 6.0.2 declares ``date`` as ``StrictInt`` and rejects the
    string form, so ``bench/send.py`` runs the server with ``int``.
    """
    delay = max(0.0, latency_ms) / 1000.0
    date_value: Any = 1436871253 if date_type == "int" else "1436871253"
    counter = itertools.count(1)

    async def respond(send: Any, status: int, body: bytes) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

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

        # Always drain the request body first (keeps keep-alive connections clean).
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break

        if scope["path"] not in _SEND_PATHS:
            await respond(send, 404, _NOT_FOUND)
            return
        if scope["method"] != "POST":
            await respond(send, 405, _NOT_ALLOWED)
            return

        auth = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth = value
                break
        if not auth[:6].lower() == b"basic " or len(auth) <= 6:
            await respond(send, 401, _UNAUTHORIZED)
            return

        try:
            payload = json.loads(b"".join(chunks) or b"{}")
            in_messages = payload.get("messages") or []
            if not isinstance(in_messages, list):
                raise ValueError("messages must be a list")
        except (ValueError, AttributeError):
            await respond(send, 400, _BAD_REQUEST)
            return

        if delay:
            await asyncio.sleep(delay)

        out_messages = []
        for msg in in_messages:
            if not isinstance(msg, dict):
                continue
            n = next(counter)
            out: dict[str, Any] = {
                "direction": "out",
                "date": date_value,
                "to": msg.get("to", "+61411111111"),
                "body": msg.get("body", ""),
                "from": msg.get("from", "sendmobile"),
                "message_id": f"BF7AD270-0DE2-418B-B606-{n:012X}",
                "message_parts": 1,
                "message_price": "0.0700",
                "from_email": None,
                "list_id": None,
                "custom_string": msg.get("custom_string", ""),
                "contact_id": None,
                "user_id": 1,
                "subaccount_id": 1,
                "country": "AU",
                "carrier": "Telstra",
                "status": "SUCCESS",
            }
            if "schedule" in msg:
                out["schedule"] = msg["schedule"]
            out_messages.append(out)

        count = len(out_messages)
        data = {
            "total_price": round(0.07 * count, 4),
            "total_count": count,
            "queued_count": count,
            "messages": out_messages,
            "_currency": _CURRENCY,
        }
        await respond(send, 200, _envelope(200, "SUCCESS", "Messages queued for delivery.", data))

    return app


# --------------------------------------------------------------------------- process helpers


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (small race window, fine for benchmarks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_until_accepting(
    port: int, timeout: float = 15.0, proc: subprocess.Popen[Any] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"benchmark server exited early with code {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"server on {HOST}:{port} not accepting after {timeout}s"
                ) from None
            time.sleep(0.05)


@dataclass
class ServerHandle:
    proc: subprocess.Popen[Any]
    port: int
    latency_ms: float

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    latency_ms: float = 0.0,
    *,
    port: int | None = None,
    date_type: str = "str",
    cpu: int | None = None,
    python: str | None = None,
    quiet: bool = True,
) -> ServerHandle:
    """Start ``server.py`` in a subprocess on a free loopback port and wait until it accepts.

    ``cpu`` pins the server process to one CPU (Linux only) so client and server
    do not migrate across the same core during a measurement.
    """
    port = port or free_port()
    cmd = [
        python or sys.executable,
        str(Path(__file__).resolve()),
        "--port",
        str(port),
        "--latency-ms",
        str(latency_ms),
        "--date-type",
        date_type,
    ]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    out = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(cmd, stdout=out, stderr=out)
    handle = ServerHandle(proc=proc, port=port, latency_ms=latency_ms)
    try:
        wait_until_accepting(port, proc=proc)
    except BaseException:
        handle.stop()
        raise
    return handle


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="artificial delay before answering"
    )
    parser.add_argument(
        "--date-type", choices=["str", "int"], default="str", help="encoding of messages[].date"
    )
    parser.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU (Linux)")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    import uvicorn

    kwargs: dict[str, Any] = {}
    try:
        import uvloop  # noqa: F401

        kwargs["loop"] = "uvloop"
    except ImportError:
        kwargs["loop"] = "asyncio"
    try:
        import httptools  # noqa: F401

        kwargs["http"] = "httptools"
    except ImportError:
        kwargs["http"] = "h11"

    uvicorn.run(
        make_app(args.latency_ms, args.date_type),
        host=HOST,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        lifespan="on",
        backlog=2048,
        timeout_keep_alive=30,
        **kwargs,
    )


if __name__ == "__main__":
    main()
