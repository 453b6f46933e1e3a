"""The ``clicksend`` typer app: the root command, its global options (accepted before or after
the subcommand) and the help conventions every command shares."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from typer.core import TyperOption

from clicksend_async import __version__
from clicksend_async.cli._campaign_cmd import campaign_app
from clicksend_async.cli._common import GLOBALS_EPILOG, Command, Group, Options
from clicksend_async.cli._sandbox import sandbox_server
from clicksend_async.cli._sms import sms_app
from clicksend_async.cli._voximplant import voximplant_app

# The root's options that may also be typed after a subcommand; the ones here take a value.
GLOBAL_FLAGS = frozenset({"--sandbox", "--version"})
GLOBAL_VALUES = frozenset({"--sandbox-state", "--base-url", "--username", "--api-key"})
GLOBAL_PANEL = "Global options (also accepted after the command)"


def _option(command: Any, name: str) -> TyperOption | None:
    for param in getattr(command, "params", ()):
        if isinstance(param, TyperOption) and name in (*param.opts, *param.secondary_opts):
            return param
    return None


def _takes_value(command: Any, name: str) -> bool:
    option = _option(command, name)
    return option is not None and not (option.is_flag or option.count)


def hoist_global_options(root: Any, args: list[str], *, completing: bool = False) -> list[str]:
    """Move the global options found after a subcommand to the front, where the root parses
    them: ``clicksend sms history --sandbox`` is ``clicksend --sandbox sms history``.

    The walk follows the subcommands and skips the values of their own options, so a value that
    looks like a global option (``--body --sandbox``) stays the value it is; ``--`` ends it.
    While ``completing`` (shell completion: the line is unfinished) a global option still
    waiting for its value is left out instead of failing.
    """
    hoisted: list[str] = []
    kept: list[str] = []
    command = root
    index = 0
    while index < len(args):
        token = args[index]
        index += 1
        if token == "--":
            kept += args[index - 1 :]
            break
        name, equals, _ = token.partition("=")
        is_global = name in GLOBAL_FLAGS or name in GLOBAL_VALUES
        # A command's own option of the same name (none today) would be its own.
        if command is not root and is_global and _option(command, name) is None:
            if name in GLOBAL_VALUES and not equals:
                if index >= len(args):
                    if completing:
                        break
                    raise typer.BadParameter("requires a value", param_hint=f"'{name}'")
                hoisted += [token, args[index]]
                index += 1
            else:
                hoisted.append(token)
            continue
        kept.append(token)
        if token.startswith("-"):
            if not equals and _takes_value(command, token) and index < len(args):
                kept.append(args[index])
                index += 1
        else:
            command = getattr(command, "commands", {}).get(token, command)
    return hoisted + kept


class RootGroup(Group):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        hoisted = hoist_global_options(self, args, completing=ctx.resilient_parsing)
        result: list[str] = super().parse_args(ctx, hoisted)
        return result


app = typer.Typer(
    name="clicksend",
    cls=RootGroup,
    no_args_is_help=True,
    # Plain tracebacks for real bugs, never with local variables (they could hold credentials).
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"clicksend-async {__version__}")
        raise typer.Exit()


def _url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise typer.BadParameter(
            f"{value!r} is not an http:// or https:// URL (e.g. https://rest.clicksend.com/v3)"
        )
    return value


@app.callback()
def root(
    ctx: typer.Context,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help="Run against the emulator (no network, no account). Its state persists between "
            "commands: a message sent with --sandbox shows in --sandbox sms history.",
            rich_help_panel=GLOBAL_PANEL,
        ),
    ] = False,
    sandbox_state: Annotated[
        Path | None,
        typer.Option(
            "--sandbox-state",
            metavar="FILE",
            envvar="CLICKSEND_SANDBOX_STATE",
            show_envvar=True,
            dir_okay=False,
            help="The --sandbox session file (default: clicksend-async/sandbox-session.json in "
            "the user's cache directory). clicksend sandbox --reset clears it.",
            rich_help_panel=GLOBAL_PANEL,
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            metavar="URL",
            envvar="CLICKSEND_BASE_URL",
            show_envvar=True,
            callback=_url,
            help="The ClickSend API (default: https://rest.clicksend.com/v3); for a local "
            "clicksend sandbox: http://127.0.0.1:8080/v3.",
            rich_help_panel=GLOBAL_PANEL,
        ),
    ] = None,
    username: Annotated[
        str | None,
        typer.Option(
            "--username",
            metavar="NAME",
            envvar="CLICKSEND_USERNAME",
            show_envvar=True,
            help="ClickSend API username.",
            rich_help_panel=GLOBAL_PANEL,
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            metavar="KEY",
            envvar="CLICKSEND_API_KEY",
            show_envvar=True,
            help="ClickSend API key (prefer the environment variable: other users can see "
            "command lines).",
            rich_help_panel=GLOBAL_PANEL,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """ClickSend REST API v3 (and Voximplant call history) from the command line.

    Try it without an account; every command also takes --json:

        clicksend --sandbox sms send --to +61411111111 --body hi
        clicksend --sandbox sms history
    """
    ctx.obj = Options(
        sandbox=sandbox,
        sandbox_state=sandbox_state,
        base_url=base_url,
        username=username,
        api_key=api_key,
    )


app.add_typer(sms_app, name="sms")
app.add_typer(campaign_app, name="campaign")
app.add_typer(voximplant_app, name="voximplant")
app.command("sandbox", cls=Command, epilog=GLOBALS_EPILOG)(sandbox_server)
