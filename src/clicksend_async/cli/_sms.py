"""``clicksend sms send`` and ``clicksend sms history``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import RenderableType
from rich.markup import escape

from clicksend_async.cli._clients import clicksend
from clicksend_async.cli._common import (
    GLOBALS_EPILOG,
    JSON_HELP,
    Command,
    Group,
    Options,
    dump,
    end_of,
    fail,
    fitted_table,
    local,
    money,
    options_of,
    out,
    plural,
    print_json,
    run,
    start_of,
    write_csv,
)
from clicksend_async.models.clicksend import SmsHistoryItem, SmsSendData

# Below this width the 36-character message ids are left out of the history table, so that the
# date, recipient, status, price and the start of the body stay readable (80 columns).
WIDE_TABLE = 118
HISTORY_STYLES = {"Delivered": "green", "Undelivered": "red"}

sms_app = typer.Typer(cls=Group, help="Send SMS and read the SMS history.", no_args_is_help=True)


def _styled(text: str, style: str | None, width: int = 0) -> str:
    """A status padded to ``width``, in ``style``: green went through, red did not."""
    cell = escape(text.ljust(width))
    return f"[{style}]{cell}[/]" if style else cell


async def _send(
    options: Options,
    recipients: Sequence[str],
    body: str,
    sender: str | None,
    when: datetime | None,
) -> SmsSendData | None:
    extra: dict[str, Any] = {}
    if sender:
        extra["from"] = sender
    if when is not None:
        extra["schedule"] = when
    async with clicksend(options) as cs:
        messages: list[Any] = [{"to": to, "body": body, **extra} for to in recipients]
        return await cs.sms.send(messages=messages)


@sms_app.command("send", cls=Command, epilog=GLOBALS_EPILOG)
def sms_send(
    ctx: typer.Context,
    to: Annotated[
        list[str],
        typer.Option(
            "--to",
            metavar="PHONE",
            help="Recipient in E.164 format, e.g. +61411111111 (repeat for several).",
            show_default=False,
        ),
    ],
    body: Annotated[str, typer.Option("--body", metavar="TEXT", help="The message text.")],
    sender: Annotated[
        str | None,
        typer.Option("--from", metavar="SENDER", help="Sender id (a number or alphanumeric name)."),
    ] = None,
    schedule: Annotated[
        datetime | None,
        typer.Option(
            "--schedule",
            parser=start_of,
            metavar="ISO-DATETIME",
            help="Send later, e.g. 2026-11-01T09:00:00+10:00 (no offset: local time).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Send one SMS to each --to; prints a line per recipient: number, status, message id, price.

    Exits 1 when any recipient was not accepted (--json: the API's answer, wire field names).
    """
    options = options_of(ctx)
    data = run(options, _send(options, to, body, sender, schedule))
    messages = list(data.messages or []) if data is not None else []
    if as_json:
        print_json(dump([data])[0] if data is not None else None)
    else:
        currency = data.currency.currency_name_short if data and data.currency else None
        rows = [
            (
                m.to or "",
                m.status or "",
                m.message_id or "-",
                f"{money(m.message_price)} {currency}" if currency else money(m.message_price),
            )
            for m in messages
        ]
        widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
        console = out()
        for to_, status, message_id, price in rows:
            cells = [
                escape(to_.ljust(widths[0])),
                _styled(status, "green" if status == "SUCCESS" else "red", widths[1]),
            ]
            cells += [escape(message_id.ljust(widths[2])), escape(price)]
            console.print("  ".join(cells), soft_wrap=True)
    refused = sum(1 for m in messages if m.status != "SUCCESS")
    if refused or not messages:
        fail(f"{refused or len(to):,} of {plural(len(to), 'message')} not accepted")


async def _history(
    options: Options,
    date_from: datetime | None,
    date_to: datetime | None,
    search: str | None,
    limit: int,
) -> list[SmsHistoryItem]:
    query: dict[str, Any] = {}
    if date_from is not None:
        query["date_from"] = date_from
    if date_to is not None:
        query["date_to"] = date_to
    if search:
        query["q"] = search
    async with clicksend(options) as cs:
        return [item async for item in cs.sms.history(**query, max_items=limit)]


def history_table(items: Sequence[SmsHistoryItem], width: int) -> RenderableType:
    """The history as a table that fits ``width`` columns (80 and up): the body is cut with an
    ellipsis first; narrower than WIDE_TABLE, the message ids are left to --json/--csv."""
    wide = width >= WIDE_TABLE
    caption = plural(len(items), "message")
    if items and not wide:
        caption += " (message ids: --json, --csv or a wider terminal)"
    headers = ["Date (local)", "To", "Status", *(["Message ID"] if wide else []), "Price", "Body"]
    rows = [
        [
            local(item.date, seconds=wide),
            escape(item.to or ""),
            _styled(item.status or "", HISTORY_STYLES.get(item.status or "")),
            *([escape(item.message_id or "")] if wide else []),
            money(item.message_price),
            # One line per message: a body's own line breaks would break the table.
            escape(" ".join((item.body or "").split())),
        ]
        for item in items
    ]
    return fitted_table(
        headers, rows, width=width, flexible="Body", right={"Price"}, caption=caption
    )


@sms_app.command("history", cls=Command, epilog=GLOBALS_EPILOG)
def sms_history(
    ctx: typer.Context,
    date_from: Annotated[
        datetime | None,
        typer.Option(
            "--from",
            parser=start_of,
            metavar="DATE",
            help="From this ISO 8601 date or datetime (no offset: local time).",
        ),
    ] = None,
    date_to: Annotated[
        datetime | None,
        typer.Option(
            "--to",
            parser=end_of,
            metavar="DATE",
            help="Up to this ISO 8601 date (inclusive: a date alone means its end) or datetime.",
        ),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(
            "--search",
            metavar="QUERY",
            help="The API's query, e.g. 'status:Delivered,to:+61411'.",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, help="At most this many messages.")
    ] = 100,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array (wire field names).")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV with a header row.")] = False,
) -> None:
    """List sent SMS, newest first: a table, or --json / --csv."""
    if as_json and as_csv:
        raise typer.BadParameter("choose one of --json and --csv", param_hint="'--json' / '--csv'")
    if date_from is not None and date_to is not None and date_from > date_to:
        raise typer.BadParameter("--from is after --to", param_hint="'--from'")
    options = options_of(ctx)
    items = run(options, _history(options, date_from, date_to, search, limit))
    if as_json:
        print_json(dump(items))
    elif as_csv:
        write_csv(SmsHistoryItem, items)
    else:
        console = out()
        console.print(history_table(items, console.width))
