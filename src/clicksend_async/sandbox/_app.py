"""The emulator as an ASGI app: ClickSend v3 under /v3 and Voximplant's GetCallHistory under
/platform_api, with Basic auth, a rate limit, latency and fault knobs, and webhook pushes.

Use it in-process (``AsyncClickSend.sandbox()``, no sockets) or as a real server
(``clicksend sandbox --port 8080`` / :func:`serve`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import os
import random
import re
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

import anyio
import httpx
import sniffio

from clicksend_async._client import AsyncClickSend
from clicksend_async.sandbox import _directory  # noqa: F401  (registers its handlers)
from clicksend_async.sandbox._config import FAULTS_BEFORE, SandboxConfig
from clicksend_async.sandbox._handlers import HANDLERS, ApiError, Request
from clicksend_async.sandbox._handlers_official import register as _register_official
from clicksend_async.sandbox._state import SandboxState
from clicksend_async.sandbox._voximplant import CallHistory, new_service_account_key, verify_jwt

if TYPE_CHECKING:
    from clicksend_async.voximplant import AsyncVoximplant

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_register_official()  # alpha tags, own numbers, default senders, one template/inbound by id

API_PREFIX = "/v3"
BASE_URL = "http://sandbox.invalid"  # in-process clients: the host is never resolved
VOXIMPLANT_PATH = "/platform_api/GetCallHistory"
STATS_PATH = "/__sandbox/stats"
HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
)


class DroppedConnection(Exception):
    """Raised by the app to make the server drop the connection mid-answer (a fault knob)."""


class _QuietDrops(logging.Filter):
    """An injected drop is the knob working, not an error: keep it out of the server's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


def _quiet_drops() -> None:
    server_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in server_log.filters):
        server_log.addFilter(_QuietDrops())


@dataclass(frozen=True, slots=True)
class Operation:
    """One row of the generated route table (operations.json)."""

    operation_id: str
    method: str
    path: str
    authenticated: bool


class Route:
    """One operation's path template. Its regex is compiled on the first path that starts with the
    template's literal part: a process that makes one call compiles one or two of ~200 patterns
    (compiling them all made the first call's routing take ~9 ms instead of ~3 ms)."""

    __slots__ = ("_pattern", "literal", "operation", "params")

    def __init__(self, operation: Operation) -> None:
        self.operation = operation
        self.params = re.findall(r"{(\w+)}", operation.path)
        self.literal = API_PREFIX + operation.path.partition("{")[0]
        self._pattern: re.Pattern[str] | None = None

    def match(self, path: str) -> re.Match[str] | None:
        if not path.startswith(self.literal):
            return None  # the regex starts with this literal: it cannot match
        if self._pattern is None:
            regex = re.sub(
                r"{(\w+)}",
                r"(?P<\1>[^/]+)",
                re.escape(self.operation.path).replace(r"\{", "{").replace(r"\}", "}"),
            )
            self._pattern = re.compile(f"^{API_PREFIX}{regex}/?$")
        return self._pattern.match(path)


def operation_table() -> list[dict[str, Any]]:
    """The generated table of every operation (routes + documented examples)."""
    # (open(), not importlib.resources: that costs the first sandbox call ~8 ms of imports)
    with open(os.path.join(os.path.dirname(__file__), "operations.json"), "rb") as fh:
        table: list[dict[str, Any]] = json.load(fh)
    return table


def envelope(data: Any = None, *, status: int = 200, code: str = "SUCCESS", msg: str = "") -> bytes:
    body = {"http_code": status, "response_code": code, "response_msg": msg or code, "data": data}
    return json.dumps(body, separators=(",", ":")).encode()


class Sandbox:
    """An in-memory ClickSend (and Voximplant) to send to, page through and break on purpose."""

    def __init__(self, config: SandboxConfig | None = None, **options: Any) -> None:
        self.config = config or SandboxConfig(**options)
        self.state = SandboxState()
        self.pushed: list[dict[str, Any]] = []  # every webhook push: kind, url, status/error
        self._rng = random.Random(self.config.seed)
        self._script = deque(self.config.fault_script or ())
        self._tokens = float(self.config.rate_limit_burst or math.ceil(self.config.rate_limit or 1))
        self._refilled = time.monotonic()
        self._tasks: set[_Push] = set()  # webhook pushes scheduled and not finished
        self._push_client: httpx.AsyncClient | None = None
        self.voximplant = CallHistory(
            self.config.voximplant_sessions,
            self.config.voximplant_account_id,
            self.config.voximplant_history_end,
        )

    # -- tables -----------------------------------------------------------------------------------

    @cached_property
    def routes(self) -> dict[str, list[Route]]:
        table: dict[str, list[Route]] = {}
        for row in operation_table():
            operation = Operation(
                row["operation_id"], row["method"], row["path"], row["authenticated"]
            )
            table.setdefault(operation.method, []).append(Route(operation))
        for routes in table.values():  # literal segments win over placeholders
            routes.sort(key=lambda r: (len(r.params), -len(r.operation.path)))
        return table

    @cached_property
    def examples(self) -> dict[str, Any]:
        return {
            row["operation_id"]: row["example"] for row in operation_table() if "example" in row
        }

    # -- clients wired to this emulator -----------------------------------------------------------

    def transport(self) -> SandboxTransport:
        """An httpx transport into this emulator, in-process (no sockets)."""
        return SandboxTransport(self)

    def client(self, **options: Any) -> AsyncClickSend:
        """An :class:`AsyncClickSend` talking to this emulator in-process, with its credentials;
        keyword arguments go to the client (``max_retries``, ``timeout``, ...)."""
        return AsyncClickSend(
            self.config.username,
            self.config.api_key,
            base_url=BASE_URL + API_PREFIX,
            transport=self.transport(),
            **options,
        )

    def voximplant_client(self, **options: Any) -> AsyncVoximplant:
        """An :class:`AsyncVoximplant` paging this emulator's synthetic call history, signing
        with a fresh service-account key whose public half the emulator verifies."""
        from clicksend_async.voximplant import AsyncVoximplant

        private_pem, public_pem = new_service_account_key()
        self.config.voximplant_public_key = public_pem
        return AsyncVoximplant(
            account_id=self.config.voximplant_account_id,
            key_id="sandbox-key",
            private_key=private_pem,
            base_url=BASE_URL + "/platform_api",
            transport=self.transport(),
            **options,
        )

    # -- ASGI -------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?")[0]
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        status, content, extra = await self.handle(scope["method"], raw_path, query, headers, body)
        if isinstance(content, DroppedConnection):
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"4096"),
                    ],
                }
            )
            raise content
        response_headers = [
            (b"content-type", extra.pop("content-type", "application/json").encode())
        ]
        response_headers += [(k.encode(), v.encode()) for k, v in extra.items()]
        response_headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": content})

    async def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes | DroppedConnection, dict[str, str]]:
        if path == STATS_PATH:
            return 200, json.dumps(self.state.stats()).encode(), {}
        if path == VOXIMPLANT_PATH:
            if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                # Voximplant takes parameters from the query string or a form body alike.
                query = {**query, **dict(parse_qsl(body.decode("latin-1")))}
            return self._voximplant(query, headers)
        route, params, allowed = self._match(method, path)
        if route is None:
            status, code = (405, "METHOD_NOT_ALLOWED") if allowed else (404, "NOT_FOUND")
            self.state.responses[status] += 1
            return status, envelope(status=status, code=code, msg=f"no {method} {path}"), {}
        operation = route.operation
        self.state.requests[operation.operation_id] += 1
        status, content, extra = await self._answer(operation, params, query, headers, body)
        self.state.responses[status] += 1
        if self.config.rate_limit is not None and self.config.rate_limit_headers:
            extra = {**self._rate_headers(), **extra}
        return status, content, extra

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        for route in self.routes.get(method, ()):
            found = route.match(path)
            if found:
                return route, {k: unquote(v) for k, v in found.groupdict().items()}, True
        allowed = any(r.match(path) for m, rs in self.routes.items() if m != method for r in rs)
        return None, {}, allowed

    async def _answer(
        self,
        operation: Operation,
        params: dict[str, str],
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, bytes | DroppedConnection, dict[str, str]]:
        user: str | None = None
        if operation.authenticated:
            user, refusal = self._authenticate(headers.get("authorization"), operation)
            if refusal is not None:
                return refusal[0], refusal[1], {}
        if self.config.rate_limit is not None:
            wait = self._take_token()
            if wait > 0:
                retry_after = str(max(1, math.ceil(wait)))
                msg = "Rate Limit Exceeded"
                return (
                    429,
                    envelope(status=429, code="TOO_MANY_REQUESTS", msg=msg),
                    {"retry-after": retry_after},
                )
        if self.config.latency:
            await anyio.sleep(self.config.latency)
        fault = self._pick_fault()
        if fault is not None:
            self.state.faults[fault] += 1
        if fault in FAULTS_BEFORE:
            if fault == "http_500":
                return (
                    500,
                    envelope(status=500, code="INTERNAL_SERVER_ERROR", msg="Internal error"),
                    {},
                )
            if fault == "html_502":
                return 502, HTML_502, {"content-type": "text/html"}
            return (
                429,
                envelope(status=429, code="TOO_MANY_REQUESTS", msg="Rate Limit Exceeded"),
                {"retry-after": "1"},
            )
        try:
            parsed = json.loads(body) if body.strip() else None
        except ValueError:
            return (
                400,
                envelope(status=400, code="BAD_REQUEST", msg="the body is not valid JSON"),
                {},
            )
        handler = HANDLERS.get(operation.operation_id)
        try:
            if handler is None:
                answer = self.examples.get(operation.operation_id) or {
                    "http_code": 200, "response_code": "SUCCESS", "response_msg": "", "data": None,
                }  # fmt: skip
                content = json.dumps(answer, separators=(",", ":")).encode()
            else:
                request = Request(
                    method=operation.method,
                    operation_id=operation.operation_id,
                    path_params=params,
                    query=query,
                    body=parsed,
                    user=user,
                    state=self.state,
                    receipt_delay=self.config.receipt_delay,
                    push=self._push,
                )
                data = await handler(request)
                if data is None:  # the handler changed the state; the docs show the answer
                    data = (self.examples.get(operation.operation_id) or {}).get("data")
                content = envelope(data, msg="Here is your data.")
        except ApiError as error:
            return (
                error.status,
                envelope(error.data, status=error.status, code=error.code, msg=error.msg),
                {},
            )
        # Faults after the work: the request WAS processed (a send went out).
        if fault == "drop":
            return 200, DroppedConnection("sandbox fault: connection dropped"), {}
        if fault == "truncated_json":
            return 200, content[: max(1, len(content) // 2)], {}
        if fault == "invalid_json":
            return 200, b"{" + content[1:].replace(b":", b"=", 3), {}
        if fault == "slow":
            await anyio.sleep(self.config.slow_seconds)
        return 200, content, {}

    def _authenticate(
        self, header: str | None, operation: Operation
    ) -> tuple[str | None, tuple[int, bytes] | None]:
        if not header or not header.lower().startswith("basic "):
            return None, (
                401,
                envelope(status=401, code="MISSING_CREDENTIALS", msg="Missing credentials"),
            )
        try:
            user, _, key = base64.b64decode(header[6:].strip()).decode().partition(":")
        except ValueError:
            user, key = "", ""
        if self.config.credentials().get(user) != key or not user:
            return None, (
                401,
                envelope(status=401, code="INVALID_CREDENTIALS", msg="Invalid credentials"),
            )
        if user == "notactive" and operation.operation_id != "account_get":
            return user, (
                403,
                envelope(status=403, code="ACCOUNT_NOT_ACTIVATED", msg="Account not activated"),
            )
        if user == "banned":
            return user, (403, envelope(status=403, code="FORBIDDEN", msg="This account is banned"))
        return user, None

    def _rate_headers(self) -> dict[str, str]:
        """What a rate-limited API tells its clients: the per-second limit, the requests left
        now, and the seconds until the next one is allowed."""
        rate = float(self.config.rate_limit or 0)
        burst = float(self.config.rate_limit_burst or max(1, math.ceil(rate)))
        tokens = min(burst, self._tokens + (time.monotonic() - self._refilled) * rate)
        reset = 0.0 if tokens >= 1 else (1 - tokens) / rate
        return {
            "x-ratelimit-limit": f"{rate:g}",
            "x-ratelimit-remaining": str(int(tokens)),
            "x-ratelimit-reset": f"{reset:.3f}",
        }

    def _take_token(self) -> float:
        """0 when a request may pass, else the seconds until one may (server-side token bucket)."""
        rate = float(self.config.rate_limit or 0)
        burst = float(self.config.rate_limit_burst or max(1, math.ceil(rate)))
        now = time.monotonic()
        self._tokens = min(burst, self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / rate

    def _pick_fault(self) -> str | None:
        if self._script:
            return self._script.popleft()
        if self.config.fault_rate and self._rng.random() < self.config.fault_rate:
            return self._rng.choice(list(self.config.faults))
        return None

    # -- webhooks ---------------------------------------------------------------------------------

    def _push(self, kind: str, payload: dict[str, Any], url: str | None, delay: float) -> None:
        target = url or self.config.webhook_url
        if not target:
            return
        push = _Push()
        self._tasks.add(push)

        async def deliver() -> None:
            try:
                with push.scope:
                    await self._deliver(kind, payload, target, delay)
            finally:
                self._tasks.discard(push)
                push.done.set()

        # A push outlives the request that scheduled it, so it cannot live in a task group of
        # that request: it is a detached task of whichever event loop runs the emulator.
        if sniffio.current_async_library() == "trio":
            import trio

            trio.lowlevel.spawn_system_task(deliver)
        else:
            push.task = asyncio.get_running_loop().create_task(deliver())

    async def _deliver(self, kind: str, payload: dict[str, Any], url: str, delay: float) -> None:
        if delay > 0:
            await anyio.sleep(delay)
        from clicksend_async.webhooks import parse_webhook, webhook_body  # (off the import path)

        event = parse_webhook(payload)
        if self.config.webhook_encoding == "form":
            body, content_type = webhook_body(event, encoding="form")
        else:
            body, content_type = webhook_body(event, encoding="json")
        if self._push_client is None:
            self._push_client = httpx.AsyncClient(timeout=30.0)
        record: dict[str, Any] = {"kind": kind, "url": url, "payload": payload}
        try:
            response = await self._push_client.post(
                url, content=body, headers={"content-type": content_type}
            )
            record["status"] = response.status_code
        except httpx.HTTPError as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a detached task must never crash the event loop (trio)
            record["error"] = f"{type(exc).__name__}: {exc}"
        self.pushed.append(record)

    async def wait_for_pushes(self, timeout: float = 10.0) -> None:
        """Wait until every scheduled webhook push has been attempted."""
        with anyio.fail_after(timeout):
            while self._tasks:
                await next(iter(self._tasks)).done.wait()

    async def aclose(self) -> None:
        """Cancel the pushes still pending and close the push client (asyncio or trio)."""
        pending = list(self._tasks)
        for push in pending:
            push.scope.cancel()
        for push in pending:
            await push.done.wait()
        if self._push_client is not None:
            await self._push_client.aclose()
            self._push_client = None

    # -- Voximplant -------------------------------------------------------------------------------

    def _voximplant(
        self, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str]]:
        self.state.requests["voximplant_get_call_history"] += 1
        auth = headers.get("authorization", "")
        if self.config.voximplant_public_key is not None:
            if not auth.lower().startswith("bearer "):
                return (
                    200,
                    json.dumps({"error": {"code": 100, "msg": "Authorization required"}}).encode(),
                    {},
                )
            reason = verify_jwt(
                auth[7:].strip(),
                self.config.voximplant_public_key,
                self.config.voximplant_account_id,
            )
            if reason is not None:
                return 200, json.dumps({"error": {"code": 454, "msg": reason}}).encode(), {}
        elif not auth and "api_key" not in query:
            return (
                200,
                json.dumps({"error": {"code": 100, "msg": "Authorization required"}}).encode(),
                {},
            )
        return 200, json.dumps(self.voximplant.answer(query)).encode(), {}


class _Push:
    """One scheduled webhook push: its cancel scope and a "finished" event (any backend)."""

    __slots__ = ("done", "scope", "task")

    def __init__(self) -> None:
        self.scope = anyio.CancelScope()
        self.done = anyio.Event()
        self.task: asyncio.Task[None] | None = None  # asyncio keeps only weak refs to tasks


class SandboxTransport(httpx.AsyncBaseTransport):
    """httpx → the emulator in-process (no sockets). A dropped-connection fault becomes
    ``httpx.RemoteProtocolError`` and the read timeout is enforced, as over a real socket."""

    # Nothing on a call's way holds an anyio shield (httpx's ASGI transport runs the app in the
    # caller's task; the emulator only sleeps): its deadline may cancel it natively.
    shield_free = True

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._asgi = httpx.ASGITransport(app=sandbox)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        read_timeout = (request.extensions.get("timeout") or {}).get("read")
        try:
            if not read_timeout:
                return await self._asgi.handle_async_request(request)
            if sys.version_info >= (3, 11) and sniffio.current_async_library() == "asyncio":
                # anyio.fail_after's asyncio twin: spares the first call anyio's asyncio
                # backend (~20 ms of imports)
                async with asyncio.timeout(read_timeout):
                    return await self._asgi.handle_async_request(request)
            with anyio.fail_after(read_timeout):
                return await self._asgi.handle_async_request(request)
        except TimeoutError:
            raise httpx.ReadTimeout(
                "sandbox: no answer within the read timeout", request=request
            ) from None
        except DroppedConnection:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a complete response", request=request
            ) from None

    async def aclose(self) -> None:
        await self.sandbox.aclose()


@contextlib.asynccontextmanager
async def serve_in_background(
    sandbox: Sandbox, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Run the emulator as a real HTTP server in this event loop; yields its base URL.

    asyncio only (uvicorn); under trio use the in-process client or ``clicksend sandbox``.
    """
    import uvicorn

    if sniffio.current_async_library() != "asyncio":
        raise RuntimeError(
            "serve_in_background runs uvicorn, which needs asyncio; under trio use "
            "Sandbox().client() (in-process) or a `clicksend sandbox` server"
        )
    _quiet_drops()
    config = uvicorn.Config(sandbox, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the sandbox server stopped during start-up")
            await asyncio.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()
        yield f"http://{host}:{bound[1]}"
    finally:
        server.should_exit = True
        await task


def serve(sandbox: Sandbox, *, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Run the emulator as a blocking HTTP server (``clicksend sandbox``)."""
    import uvicorn

    _quiet_drops()
    uvicorn.run(sandbox, host=host, port=port, log_level="warning")
