"""``clicksend sandbox``: the emulator as a real HTTP server (and ``--reset`` for the session)."""

from __future__ import annotations

import errno
import os
import socket
from typing import Annotated

import typer

from clicksend_async.cli._clients import reset_session
from clicksend_async.cli._common import JSON_HELP, CLIError, fail, options_of, print_json
from clicksend_async.sandbox import FAULT_KINDS, Sandbox, SandboxConfig, serve

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def run_server(sandbox: Sandbox, host: str, port: int) -> None:
    """Serve the emulator over HTTP until interrupted (tests replace this: no port is bound)."""
    serve(sandbox, host=host, port=port)


def check_can_serve(host: str, port: int) -> None:
    """Fail in the user's words, before any banner is printed, when the server cannot start:
    uvicorn missing, or the address not available (the usual case: the port is taken)."""
    try:
        import uvicorn  # noqa: F401  (serve() imports it lazily)
    except ModuleNotFoundError as exc:
        raise CLIError(
            f"the sandbox server needs {exc.name}: pip install 'clicksend-async[cli]'"
        ) from None
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise CLIError(f"cannot listen on {host}: unknown host (--host)") from None
    family, kind, proto, _, address = found[0]
    with socket.socket(family, kind, proto) as probe:
        if os.name != "nt":  # as uvicorn binds: a port in TIME_WAIT is free, a listener is not
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                message = (
                    f"port {port} on {host} is already in use (another clicksend sandbox?): stop "
                    "it, or choose another port with --port"
                )
            elif exc.errno == errno.EACCES:
                message = f"no permission to listen on port {port}: choose one above 1023"
            elif exc.errno == errno.EADDRNOTAVAIL:
                message = f"cannot listen on {host}: not an address of this machine (--host)"
            else:
                message = f"cannot listen on {host}:{port} ({exc.strerror or exc})"
            raise CLIError(message) from None


def sandbox_server(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", metavar="ADDRESS", help="Address to bind.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", min=1, max=65535, help="Port to listen on.")
    ] = 8080,
    latency: Annotated[
        float,
        typer.Option(
            "--latency", metavar="SECONDS", min=0.0, help="Seconds added to every answer."
        ),
    ] = 0.0,
    rate_limit: Annotated[
        float | None,
        typer.Option(
            "--rate-limit",
            metavar="PER-SECOND",
            min=0.001,
            help="Requests per second; beyond it: HTTP 429.",
        ),
    ] = None,
    fault_rate: Annotated[
        float,
        typer.Option(
            "--fault-rate",
            metavar="P",
            min=0.0,
            max=1.0,
            help="Probability that a request faults.",
        ),
    ] = 0.0,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            metavar="KIND",
            help=f"Fault kinds to draw from (repeatable; default all): {', '.join(FAULT_KINDS)}.",
        ),
    ] = None,
    receipt_delay: Annotated[
        float,
        typer.Option(
            "--receipt-delay",
            metavar="SECONDS",
            min=0.0,
            help="Seconds until a sent message's receipt appears.",
        ),
    ] = 0.0,
    webhook_url: Annotated[
        str | None,
        typer.Option("--webhook-url", metavar="URL", help="Push receipts and inbound SMS here."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", metavar="N", help="Seed for reproducible faults.")
    ] = None,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset", help="Clear the --sandbox session (its state file) and exit; no server."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help=JSON_HELP + " The banner: URLs and credentials.")
    ] = False,
) -> None:
    """Run the emulator as a real HTTP server, until Ctrl+C.

    ClickSend v3 under /v3 (username sandbox, API key sandbox), Voximplant under /platform_api.
    It starts empty: its state is its own, not the --sandbox session's. Point any client at it:

        clicksend --base-url http://127.0.0.1:8080/v3 --username sandbox --api-key sandbox ...
    """
    if reset:
        path, existed = reset_session(options_of(ctx))
        if as_json:
            print_json({"state_file": str(path), "cleared": existed})
        else:
            typer.echo(f"sandbox session cleared: {path}" if existed else f"no session at {path}")
        return
    unknown = [kind for kind in fault or () if kind not in FAULT_KINDS]
    if unknown:
        raise typer.BadParameter(
            f"unknown fault kind {', '.join(unknown)}; choose from {', '.join(FAULT_KINDS)}",
            param_hint="'--fault'",
        )
    config = SandboxConfig(
        latency=latency,
        rate_limit=rate_limit,
        fault_rate=fault_rate,
        faults=tuple(fault) if fault else FAULT_KINDS,
        receipt_delay=receipt_delay,
        webhook_url=webhook_url,
        seed=seed,
    )
    try:
        check_can_serve(host, port)
    except CLIError as exc:
        fail(str(exc))
    emulator = Sandbox(config)
    origin = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    if as_json:
        print_json(
            {
                "base_url": f"{origin}/v3",
                "username": config.username,
                "api_key": config.api_key,
                "voximplant_url": f"{origin}/platform_api",
            }
        )
    else:
        typer.echo(f"ClickSend sandbox: {origin}/v3")
        typer.echo(f"  username: {config.username}")
        typer.echo(f"  api key:  {config.api_key}")
        typer.echo(f"  Voximplant GetCallHistory: {origin}/platform_api")
        typer.echo(
            f"  export CLICKSEND_BASE_URL={origin}/v3 CLICKSEND_USERNAME={config.username} "
            f"CLICKSEND_API_KEY={config.api_key}"
        )
        typer.echo("Press Ctrl+C to stop.")
    if host not in LOOPBACK:
        typer.echo(
            f"warning: listening on {host}: anyone who can reach it can use the sandbox's "
            "public credentials",
            err=True,
        )
    run_server(emulator, host, port)
