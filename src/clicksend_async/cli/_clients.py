"""The clients of a command: the real APIs (credentials from the flags or the environment, a
clear error naming both when they are missing), or with ``--sandbox`` the emulator, whose state is
kept in a session file between commands."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from clicksend_async import AsyncClickSend
from clicksend_async.cli._common import CLIError, Options
from clicksend_async.sandbox import Sandbox
from clicksend_async.voximplant import AsyncVoximplant

STATE_ENV = "CLICKSEND_SANDBOX_STATE"
STATE_FORMAT = 1  # bumped when the session file's layout changes
NO_ACCOUNT = "or add --sandbox to try the commands against the emulator, no account needed"


def new_sandbox() -> Sandbox:
    """The emulator behind ``--sandbox``, before its session state is loaded into it.

    Looked up at call time, so a test (or a script embedding the CLI) can replace it to share one
    emulator between invocations, set its knobs and inspect what it received.
    """
    return Sandbox()


# -- the sandbox session --------------------------------------------------------------------------


def cache_dir() -> Path:
    """The user's cache directory (XDG on Linux, as macOS and Windows name it elsewhere)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def state_path(options: Options) -> Path:
    """``--sandbox-state``, else ``$CLICKSEND_SANDBOX_STATE``, else under the user's cache dir."""
    if options.sandbox_state is not None:
        return options.sandbox_state
    return cache_dir() / "clicksend-async" / "sandbox-session.json"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside the session file for the whole command, so two commands
    run at once do not lose each other's sends (POSIX; elsewhere the last writer wins)."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _load(emulator: Sandbox, path: Path) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != STATE_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {STATE_FORMAT}")
        emulator.state.restore(data["state"])
    except FileNotFoundError:
        return  # a new session
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CLIError(
            f"the sandbox session file {path} is unreadable ({exc}): clear it with "
            "clicksend sandbox --reset, or pass another --sandbox-state"
        ) from None


def _save(emulator: Sandbox, path: Path) -> None:
    # Written beside the target and renamed over it: a crash never leaves half a session.
    # default=str: a record the emulator keeps is JSON from a request, but never crash on one.
    state = emulator.state.snapshot()
    text = json.dumps({"format": STATE_FORMAT, "state": state}, default=str)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


@contextlib.contextmanager
def sandbox_session(options: Options) -> Iterator[Sandbox]:
    """The emulator with the session's state loaded; the state is saved back afterwards (also
    after an error or Ctrl+C: what was sent stays in the history)."""
    path = state_path(options)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create {path.parent} for the sandbox session ({exc})") from None
    emulator = new_sandbox()
    with _locked(path):
        _load(emulator, path)
        try:
            yield emulator
        finally:
            _save(emulator, path)


def reset_session(options: Options) -> tuple[Path, bool]:
    """Delete the session file; returns (its path, whether there was one)."""
    path = state_path(options)
    try:
        path.unlink()
    except FileNotFoundError:
        return path, False
    return path, True


# -- clients --------------------------------------------------------------------------------------


def _credentials(options: Options) -> tuple[str, str]:
    missing = [
        (what, flag, env)
        for what, flag, env, value in (
            ("username", "--username", "CLICKSEND_USERNAME", options.username),
            ("API key", "--api-key", "CLICKSEND_API_KEY", options.api_key),
        )
        if not value
    ]
    if missing:
        whats, flags, envs = (" and ".join(part) for part in zip(*missing, strict=True))
        raise CLIError(
            f"missing ClickSend credentials: no {whats}. Pass {flags} or set {envs} ({NO_ACCOUNT})"
        )
    assert options.username is not None and options.api_key is not None
    return options.username, options.api_key


@contextlib.asynccontextmanager
async def clicksend(options: Options, **client_options: Any) -> AsyncIterator[AsyncClickSend]:
    """The ClickSend client of a command (``async with clicksend(options) as cs``)."""
    options.clicksend_api = True
    if options.sandbox:
        with sandbox_session(options) as emulator:
            options.endpoint = "the sandbox"
            async with AsyncClickSend.sandbox(emulator, **client_options) as cs:
                yield cs
        return
    username, api_key = _credentials(options)
    client = AsyncClickSend(username, api_key, base_url=options.base_url, **client_options)
    options.endpoint = client.base_url
    async with client as cs:
        yield cs


@contextlib.asynccontextmanager
async def voximplant(options: Options, credentials: Path | None) -> AsyncIterator[AsyncVoximplant]:
    options.clicksend_api = False
    if options.sandbox:
        # The emulator's call history is generated, not recorded: no session state to load.
        options.endpoint = "the sandbox"
        async with AsyncVoximplant.sandbox(new_sandbox()) as vox:
            yield vox
        return
    if credentials is not None:
        client = AsyncVoximplant.from_credentials_file(credentials)
    elif os.environ.get("VOXIMPLANT_CREDENTIALS"):
        client = AsyncVoximplant()
    else:
        raise CLIError(
            "missing Voximplant credentials: pass --credentials FILE (a service account's "
            f"credentials.json) or set VOXIMPLANT_CREDENTIALS to its path ({NO_ACCOUNT})"
        )
    options.endpoint = client.base_url
    async with client as vox:
        yield vox
