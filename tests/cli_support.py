"""Helpers of the `clicksend` command's tests (tests/test_cli*.py): a CliRunner call, the
emulator seam, loopback servers started by the test itself, and ANSI colour checks."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from clicksend_async.cli import _clients
from clicksend_async.cli._app import app
from clicksend_async.sandbox import Sandbox, serve_in_background

WIDE = {"COLUMNS": "200"}  # rich tables and typer's error panel: no wrapping in assertions
ENVIRONMENT = ("CLICKSEND_USERNAME", "CLICKSEND_API_KEY", "CLICKSEND_BASE_URL")
ENVIRONMENT += ("VOXIMPLANT_CREDENTIALS", "NO_COLOR", "FORCE_COLOR")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
RED = re.compile(r"\x1b\[(?:[0-9]+;)*(?:31|91)m")


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No test reads the developer's credentials or writes their sandbox session: each gets a
    session file of its own. Returns its path."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    state = tmp_path / "sandbox-session.json"
    monkeypatch.setenv("CLICKSEND_SANDBOX_STATE", str(state))
    return state


def share(monkeypatch: pytest.MonkeyPatch, emulator: Sandbox) -> Sandbox:
    """Every `--sandbox` run of the test uses ``emulator`` (its knobs, and what it received)."""
    monkeypatch.setattr(_clients, "new_sandbox", lambda: emulator)
    return emulator


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    result = CliRunner().invoke(app, list(args), env={**WIDE, **(env or {})}, prog_name="clicksend")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a bug, not a reported error
    return result


def summary_count(output: str, label: str) -> int:
    found = re.search(rf"^{label}\s+([\d,]+)", ANSI.sub("", output), re.MULTILINE)
    assert found, f"no {label!r} line in:\n{output}"
    return int(found.group(1).replace(",", ""))


def send(*numbers: str, body: str = "hello") -> Result:
    args = ["--sandbox", "sms", "send", "--body", body]
    for number in numbers:
        args += ["--to", number]
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.contextmanager
def served(emulator: Sandbox) -> Iterator[str]:
    """The emulator as a real loopback HTTP server (its own event loop, in a thread, because the
    CLI runs ``asyncio.run`` itself); yields its origin, e.g. ``http://127.0.0.1:40123``."""
    ready = threading.Event()
    found: list[str] = []
    failed: list[BaseException] = []
    loops: list[asyncio.AbstractEventLoop] = []
    stop = asyncio.Event()  # bound to the server's loop on first use, set from this thread

    async def serve() -> None:
        async with serve_in_background(emulator) as url:
            loops.append(asyncio.get_running_loop())
            found.append(url)
            ready.set()
            await stop.wait()

    def main() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:  # reported to the test below
            failed.append(exc)
            ready.set()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert ready.wait(15), "the loopback sandbox did not start"
    if failed:
        raise failed[0]
    try:
        yield found[0]
    finally:
        loops[0].call_soon_threadsafe(stop.set)
        thread.join(15)


@contextlib.contextmanager
def plain_tcp_server() -> Iterator[int]:
    """A loopback server that answers any bytes with a plain-HTTP 400 (so a TLS client sees a
    server that does not speak TLS); yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.05)
    stop = threading.Event()

    def main() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            with connection:
                connection.settimeout(5)
                with contextlib.suppress(OSError):
                    connection.recv(4096)
                    connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()
