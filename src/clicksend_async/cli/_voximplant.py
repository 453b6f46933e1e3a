"""``clicksend voximplant calls``: Voximplant's GetCallHistory."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import RenderableType
from rich.markup import escape

from clicksend_async.cli._clients import voximplant
from clicksend_async.cli._common import (
    GLOBALS_EPILOG,
    Command,
    Group,
    Options,
    dump,
    end_of,
    fitted_table,
    local,
    money,
    options_of,
    out,
    plural,
    print_json,
    run,
    start_of,
)
from clicksend_async.models.voximplant import CallSessionInfo

voximplant_app = typer.Typer(cls=Group, help="Voximplant call history.", no_args_is_help=True)


async def _calls(
    options: Options,
    from_date: datetime,
    to_date: datetime,
    credentials: Path | None,
    with_calls: bool,
    limit: int,
) -> list[CallSessionInfo]:
    async with voximplant(options, credentials) as vox:
        history = vox.call_history(
            from_date=from_date,
            to_date=to_date,
            with_calls=with_calls,
            count=min(limit, 1000),
            max_items=limit,
        )
        return [session async for session in history]


def _session_cost(session: CallSessionInfo) -> Decimal | None:
    costs = [c.cost for c in session.calls or [] if c.cost is not None]
    costs += [r.cost for r in session.records or [] if r.cost is not None]
    costs += [u.cost for u in session.other_resource_usage or [] if u.cost is not None]
    return sum(costs, Decimal(0)) if costs else None


def calls_table(sessions: list[CallSessionInfo], width: int) -> RenderableType:
    """Sessions as a table; the remote numbers (the only open-ended column) are cut to fit."""
    headers = ["Session ID", "Start (local)", "Duration (s)", "Cost", "Remote number"]
    rows = []
    for session in sessions:
        numbers = dict.fromkeys(c.remote_number for c in session.calls or [] if c.remote_number)
        rows.append(
            [
                str(session.call_session_history_id or ""),
                local(session.start_date),
                "" if session.duration is None else f"{session.duration:,}",
                money(_session_cost(session)),
                escape(", ".join(numbers)),
            ]
        )
    return fitted_table(
        headers,
        rows,
        width=width,
        flexible="Remote number",
        right={"Duration (s)", "Cost"},
        caption=plural(len(sessions), "call session"),
    )


@voximplant_app.command("calls", cls=Command, epilog=GLOBALS_EPILOG)
def voximplant_calls(
    ctx: typer.Context,
    from_date: Annotated[
        datetime,
        typer.Option(
            "--from", parser=start_of, metavar="DATE", help="From this ISO 8601 date/time."
        ),
    ],
    to_date: Annotated[
        datetime,
        typer.Option(
            "--to",
            parser=end_of,
            metavar="DATE",
            help="Up to this ISO 8601 date (inclusive) or datetime.",
        ),
    ],
    credentials: Annotated[
        Path | None,
        typer.Option(
            "--credentials",
            metavar="FILE",
            help="Service-account credentials.json (default: $VOXIMPLANT_CREDENTIALS).",
            dir_okay=False,
        ),
    ] = None,
    with_calls: Annotated[
        bool, typer.Option("--calls/--no-calls", help="Include each session's calls.")
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array (wire field names).")
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, help="At most this many sessions.")
    ] = 100,
) -> None:
    """List call sessions (GetCallHistory): a table, or --json."""
    if from_date > to_date:
        raise typer.BadParameter("--from is after --to", param_hint="'--from'")
    options = options_of(ctx)
    sessions = run(options, _calls(options, from_date, to_date, credentials, with_calls, limit))
    if as_json:
        print_json(dump(sessions))
    else:
        console = out()
        console.print(calls_table(sessions, console.width))
