"""The ``clicksend`` command (``pip install 'clicksend-async[cli]'``).

    clicksend sms send --to +61411111111 --body "hello"
    clicksend sms history --from 2026-11-01 --json
    clicksend campaign send --csv contacts.csv --body "Hi {first_name}" --checkpoint run.jsonl
    clicksend voximplant calls --from 2026-11-01 --to 2026-11-02
    clicksend sandbox --port 8080                 # the emulator as a real server

``--sandbox`` (anywhere on the line) runs a command against the emulator, whose state persists
between commands in a session file; otherwise the credentials come from ``--username`` /
``--api-key`` / ``--base-url`` or ``CLICKSEND_USERNAME`` / ``CLICKSEND_API_KEY`` /
``CLICKSEND_BASE_URL`` (``--credentials`` or ``VOXIMPLANT_CREDENTIALS`` for Voximplant).

Layout: ``_app`` (the root command and the global options), ``_common`` (errors in user words,
output helpers), ``_clients`` (clients and the sandbox session), one module per command group
(``_sms``, ``_campaign_cmd``, ``_voximplant``, ``_sandbox``) and the CSV campaign engine
(``_campaign``, the only module that uses ``clicksend_async.bulk``).

This module imports nothing but the standard library: the console script must be able to say
which extra is missing when typer or rich is not installed.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["main"]

# The top-level packages of the `cli` extra that the command needs to start at all (uvicorn is
# checked by `clicksend sandbox` itself).
CLI_EXTRA = frozenset({"typer", "rich", "click"})
MISSING_EXTRA = (
    "error: the clicksend command needs the 'cli' extra ({name} is not installed): "
    "pip install 'clicksend-async[cli]'\n"
)


def main() -> None:
    """The ``clicksend`` console script."""
    if sys.argv[1:] == ["--version"]:
        # Answered before typer, rich and the SDK load: scripts call this to probe the install.
        from importlib.metadata import PackageNotFoundError, version

        try:
            sys.stdout.write(f"clicksend-async {version('clicksend-async')}\n")
            return
        except PackageNotFoundError:  # running from a source tree: the full path below answers
            pass
    try:
        from clicksend_async.cli._app import app
    except ModuleNotFoundError as exc:
        name = (exc.name or "").partition(".")[0]
        if name not in CLI_EXTRA:
            raise
        sys.stderr.write(MISSING_EXTRA.format(name=name))
        raise SystemExit(2) from None
    app(prog_name="clicksend")


def __getattr__(name: str) -> Any:
    # `clicksend_async.cli.app` (the typer app, for embedding or CliRunner) without importing
    # typer when only `main` is wanted.
    if name == "app":
        from clicksend_async.cli._app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
