"""``clicksend campaign send``: the command and its summary table (the engine is ``_campaign``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from clicksend_async.cli._campaign import BodyTemplate, Campaign, CampaignSummary, Contacts
from clicksend_async.cli._common import (
    GLOBALS_EPILOG,
    CLIError,
    Command,
    Group,
    fail,
    options_of,
    os_error,
    out,
    plural,
    print_json,
    run,
    tone,
)

TOP_REASONS = 3
EXAMPLE_LINES = 3

campaign_app = typer.Typer(
    cls=Group, help="Send one message to every row of a CSV.", no_args_is_help=True
)


def _examples(lines: list[int]) -> str:
    return ", ".join(map(str, lines[:EXAMPLE_LINES])) + (
        ", …" if len(lines) > EXAMPLE_LINES else ""
    )


def render(summary: CampaignSummary, checkpoint: Path | None) -> None:
    """The summary as a table (fits 80 columns: the third column wraps)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column()
    grid.add_row("rows", f"{summary.rows:,}", escape(summary.csv))
    grid.add_row("accepted", tone(summary.accepted, "green"), "")
    grid.add_row(
        "rejected", tone(summary.rejected, "yellow"), "not sent" if summary.rejected else ""
    )
    for rejection in summary.rejections[:TOP_REASONS]:
        where = f"line{'s' if rejection.count > 1 else ''} {_examples(rejection.lines)}"
        grid.add_row("", f"{rejection.count:,}", f"[dim]{escape(rejection.reason)}  ({where})[/]")
    if len(summary.rejections) > TOP_REASONS:
        others = sum(r.count for r in summary.rejections[TOP_REASONS:])
        more = plural(len(summary.rejections) - TOP_REASONS, "other reason")
        grid.add_row("", f"{others:,}", f"[dim]{more}[/]")
    grid.add_row(
        "failed", tone(summary.failed, "red"), "safe to send again" if summary.failed else ""
    )
    for failure in summary.failures[:TOP_REASONS]:
        grid.add_row("", f"{failure.messages:,}", f"[dim]{escape(failure.error)}[/]")
    grid.add_row(
        "unknown",
        tone(summary.unknown, "red"),
        f"safe to resend: {tone(summary.safe_to_resend, 'yellow')}",
    )
    if summary.not_sent:
        grid.add_row("not sent", tone(summary.not_sent, "red"), "interrupted")
    if summary.delivery is None:
        grid.add_row(
            "delivery", "?", f"history unavailable: {escape(summary.delivery_error or '')}"
        )
    else:
        grid.add_row("delivered", tone(summary.delivery["delivered"], "green"), "")
        grid.add_row("undelivered", tone(summary.delivery["undelivered"], "red"), "")
        for key, label in (("pending", "pending"), ("not_in_history_yet", "not in history yet")):
            if summary.delivery[key]:
                grid.add_row(label, f"{summary.delivery[key]:,}", "no receipt yet")
    resumed = f", {summary.resumed_chunks:,} chunks resumed" if summary.resumed_chunks else ""
    grid.add_row(
        "time taken",
        f"{summary.elapsed_seconds:,.1f} s",
        f"sending {summary.sending_seconds:,.1f} s ({summary.messages_per_second:,.0f} msg/s), "
        f"{plural(summary.requests, 'request')}{resumed}",
    )
    console = out()
    console.print(f"[bold]Campaign summary[/] (run {escape(summary.run_id)})")
    console.print(grid)
    if summary.failed:
        hint = (
            f"re-run with --checkpoint {escape(str(checkpoint))} to send only those"
            if checkpoint
            else "re-running sends every row again (--checkpoint FILE makes a run resumable)"
        )
        console.print(f"{summary.failed:,} failed messages are safe to send again: {hint}")
    if summary.unknown:
        console.print(
            f"{summary.unknown:,} messages have an unknown outcome and are not in the history "
            "yet (it can lag behind what the API accepted): run the same command with the same "
            "--checkpoint again in a minute to settle them; they are never resent blindly"
        )
    if summary.safe_to_resend:
        console.print(
            f"{summary.safe_to_resend:,} messages had an unknown outcome and are not in the "
            f"history: safe to send again (CSV lines {_examples(summary.safe_to_resend_lines)}); "
            "a re-run with --checkpoint does not resend them"
        )


@campaign_app.command("send", cls=Command, epilog=GLOBALS_EPILOG)
def campaign_send(
    ctx: typer.Context,
    csv_path: Annotated[
        Path,
        typer.Option(
            "--csv",
            metavar="FILE",
            help="Contacts CSV with a header; the phone, phone_number or to column is the "
            "recipient.",
            dir_okay=False,
        ),
    ],
    body: Annotated[
        str,
        typer.Option(
            "--body",
            metavar="TEMPLATE",
            help="Message text; {column} is filled from each row, e.g. 'Hi {first_name}'. A row "
            "with an empty placeholder value is reported invalid, not sent.",
        ),
    ],
    sender: Annotated[
        str | None, typer.Option("--from", metavar="SENDER", help="Sender id.")
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            help="Record finished chunks in this file; re-running with it resumes without "
            "resending.",
            dir_okay=False,
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            metavar="N",
            min=1,
            help="Requests in flight (default: the SDK's, 64).",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the summary as JSON (stable keys), no progress bar."),
    ] = False,
) -> None:
    """Send a message to every row of a CSV (1,000 per request), with progress and a summary.

    Exits 1 when messages failed, may need resending or are still unknown (rejected rows alone
    exit 0).
    """
    try:  # the whole file is checked before anything is sent
        if not body.strip():
            raise CLIError("--body is empty")
        contacts = Contacts(csv_path, BodyTemplate(body), sender)
        contacts.check()
    except CLIError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(os_error(exc))
    options = options_of(ctx)
    campaign = Campaign(
        contacts, checkpoint=checkpoint, concurrency=concurrency, progress=not as_json
    )
    summary = run(options, campaign.run(options), campaign.interrupted)
    if as_json:
        print_json(summary.as_json())
    else:
        render(summary, checkpoint)
    if summary.reading_error:
        fail(summary.reading_error)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)
