"""A tiny HTTP proxy and a ClickSend-like target, both on loopback and both written on anyio so the
same servers run under asyncio and trio.

The proxy forwards plain HTTP requests (absolute-form request line, one upstream connection per
request) and CONNECT tunnels (bytes piped both ways), optionally demanding Basic credentials, and
records what it saw. The target answers every request with a small ClickSend envelope, over
plain TCP or TLS with a self-signed certificate made on the spot.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import anyio
from anyio.abc import ByteReceiveStream, ByteStream, SocketAttribute
from anyio.streams.buffered import BufferedByteReceiveStream
from anyio.streams.tls import TLSListener

OK_BODY = json.dumps(
    {
        "http_code": 200,
        "response_code": "SUCCESS",
        "response_msg": "ok",
        "data": {"username": "u", "messages": [{"message_id": "M1", "status": "SUCCESS"}]},
    }
).encode()
CLOSED = (
    anyio.EndOfStream,
    anyio.IncompleteRead,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    ssl.SSLError,
    OSError,
)


@dataclass
class Request:
    line: str
    headers: dict[str, str]
    body: bytes


async def read_request(buffered: BufferedByteReceiveStream) -> Request:
    head = (await buffered.receive_until(b"\r\n\r\n", 65536)).decode("latin-1")
    line, *rest = head.split("\r\n")
    headers: dict[str, str] = {}
    for item in rest:
        name, _, value = item.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = await buffered.receive_exactly(length) if length else b""
    return Request(line, headers, body)


def encode_request(method: str, target: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# -- the target ----------------------------------------------------------------------------------


@dataclass
class Target:
    url: str = ""  # base URL, ending in /v3
    requests: list[Request] = field(default_factory=list)
    connections: int = 0


OK_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(OK_BODY)}\r\n\r\n".encode()
    + OK_BODY
)
STALL = None  # in a script: never answer this request


@contextlib.asynccontextmanager
async def target_server(
    tls: ssl.SSLContext | None = None, script: list[bytes | None] | None = None
) -> AsyncIterator[Target]:
    """``script``: the raw answers to the first requests, in order (``STALL``: none); every
    other request gets a 200 envelope."""
    state = Target()
    pending = list(script or ())

    async def handle(stream: ByteStream) -> None:
        state.connections += 1
        buffered = BufferedByteReceiveStream(stream)
        with contextlib.suppress(*CLOSED):
            async with stream:
                while True:
                    request = await read_request(buffered)
                    state.requests.append(request)
                    answer = pending.pop(0) if pending else OK_ANSWER
                    if answer is None:  # STALL
                        await anyio.sleep_forever()
                    await stream.send(answer)
                    if request.headers.get("connection", "").lower() == "close":
                        return

    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(SocketAttribute.local_port)
        scheme = "https" if tls is not None else "http"
        state.url = f"{scheme}://127.0.0.1:{port}/v3"
        served = TLSListener(listener, tls, standard_compatible=False) if tls else listener
        async with anyio.create_task_group() as tg:
            tg.start_soon(served.serve, handle)
            try:
                yield state
            finally:
                tg.cancel_scope.cancel()


def self_signed(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """A certificate for 127.0.0.1 (its own CA), written as PEM; and a server context using it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clicksend-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "target-cert.pem"
    key_path = directory / "target-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    return cert_path, server


# -- the proxy -----------------------------------------------------------------------------------


@dataclass
class Proxy:
    url: str = ""  # http://127.0.0.1:port, without credentials
    forwarded: list[str] = field(default_factory=list)  # absolute-form request lines
    tunnels: list[str] = field(default_factory=list)  # CONNECT targets
    refused: int = 0  # requests answered 407
    authorizations: list[str | None] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return len(self.forwarded) + len(self.tunnels) + self.refused


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@contextlib.asynccontextmanager
async def proxy_server(require: str | None = None) -> AsyncIterator[Proxy]:
    """``require``: the Proxy-Authorization value demanded (407 otherwise)."""
    state = Proxy()

    async def forward(request: Request) -> bytes:
        method, target, _ = request.line.split(" ", 2)
        parts = urlsplit(target)
        headers = {
            k: v
            for k, v in request.headers.items()
            if k not in ("proxy-authorization", "proxy-connection", "connection")
        }
        headers["connection"] = "close"
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        async with await anyio.connect_tcp(parts.hostname or "", parts.port or 80) as upstream:
            await upstream.send(encode_request(method, path, headers, request.body))
            answer = b""
            with contextlib.suppress(*CLOSED):
                while True:
                    answer += await upstream.receive()
        return answer

    async def pipe(source: ByteReceiveStream, sink: ByteStream) -> None:
        with contextlib.suppress(*CLOSED):
            while True:
                await sink.send(await source.receive())
        with contextlib.suppress(*CLOSED):
            await sink.send_eof()

    async def handle(stream: ByteStream) -> None:
        buffered = BufferedByteReceiveStream(stream)
        with contextlib.suppress(*CLOSED):
            async with stream:
                while True:
                    request = await read_request(buffered)
                    given = request.headers.get("proxy-authorization")
                    state.authorizations.append(given)
                    if require is not None and given != require:
                        state.refused += 1
                        await stream.send(
                            b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                            b'Proxy-Authenticate: Basic realm="test"\r\n'
                            b"Content-Length: 0\r\n\r\n"
                        )
                        continue
                    method, target, _ = request.line.split(" ", 2)
                    if method == "CONNECT":
                        state.tunnels.append(target)
                        host, _, port = target.rpartition(":")
                        async with await anyio.connect_tcp(host, int(port)) as upstream:
                            await stream.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
                            # `buffered` first hands over what the client sent after CONNECT
                            async with anyio.create_task_group() as tg:
                                tg.start_soon(pipe, buffered, upstream)
                                tg.start_soon(pipe, upstream, stream)
                        return
                    state.forwarded.append(request.line)
                    await stream.send(await forward(request))

    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        state.url = f"http://127.0.0.1:{listener.extra(SocketAttribute.local_port)}"
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, handle)
            try:
                yield state
            finally:
                tg.cancel_scope.cancel()
