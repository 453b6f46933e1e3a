"""The ``clicksend`` command (``pip install 'clicksend-async[cli]'``).

    clicksend sms send --to +61411111111 --body "hello"
    clicksend sms history --from 2026-11-01 --json
    clicksend campaign send --csv contacts.csv --body "Hi {first_name}" --checkpoint run.jsonl
    clicksend voximplant calls --from 2026-11-01 --to 2026-11-02
    clicksend sandbox --port 8080                 # the emulator as a real server

``clicksend --sandbox <command> ...`` runs any command against the in-process emulator (no
network, no credentials); otherwise credentials come from ``CLICKSEND_USERNAME`` /
``CLICKSEND_API_KEY`` (and ``CLICKSEND_BASE_URL``), or ``VOXIMPLANT_CREDENTIALS`` for Voximplant.

Errors print one ``error: ...`` line on stderr and exit 1 (usage errors exit 2). This module is the
only place that calls ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
import string
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from clicksend_async import __version__, errors
from clicksend_async._client import AsyncClickSend
from clicksend_async.bulk import BulkProgress, BulkReport, history_of
from clicksend_async.models.clicksend import SmsHistoryItem, SmsSendData
from clicksend_async.models.voximplant import CallSessionInfo
from clicksend_async.sandbox import FAULT_KINDS, Sandbox, SandboxConfig
from clicksend_async.voximplant import AsyncVoximplant

__all__ = ["app", "main", "new_sandbox", "run_server"]

T = TypeVar("T")

PHONE_COLUMNS = ("phone", "phone_number", "to")  # the recipient column of a campaign CSV
HISTORY_SLACK = 300.0  # seconds before a run's start that the delivery lookup reads from
TOP_REASONS = 3
EXAMPLE_LINES = 3

app = typer.Typer(
    name="clicksend",
    no_args_is_help=True,
    add_completion=False,
    # Plain tracebacks for real bugs, never with local variables (they could hold credentials).
    pretty_exceptions_enable=False,
)
sms_app = typer.Typer(help="Send SMS and read the SMS history.", no_args_is_help=True)
campaign_app = typer.Typer(help="Send one message to every row of a CSV.", no_args_is_help=True)
voximplant_app = typer.Typer(help="Voximplant call history.", no_args_is_help=True)
app.add_typer(sms_app, name="sms")
app.add_typer(campaign_app, name="campaign")
app.add_typer(voximplant_app, name="voximplant")


class CLIError(Exception):
    """A problem to report as one ``error:`` line (bad CSV, bad template, ...)."""


@dataclass
class Options:
    """The global options, shared with every command through the click context."""

    sandbox: bool = False


# -- clients --------------------------------------------------------------------------------------


def new_sandbox() -> Sandbox:
    """The emulator behind ``--sandbox``: a fresh, empty one for every command run.

    Looked up at call time, so a test (or a script embedding the CLI) can replace it to share one
    emulator between invocations and inspect what it received.
    """
    return Sandbox()


def clicksend_client(options: Options, **client_options: Any) -> AsyncClickSend:
    """The ClickSend client of a command: the in-process emulator with ``--sandbox``, else the
    real API with the credentials of the environment (a clear error when they are missing)."""
    if options.sandbox:
        return AsyncClickSend.sandbox(new_sandbox(), **client_options)
    return AsyncClickSend(**client_options)


def voximplant_client(options: Options, credentials: Path | None) -> AsyncVoximplant:
    if options.sandbox:
        return AsyncVoximplant.sandbox(new_sandbox())
    if credentials is not None:
        return AsyncVoximplant.from_credentials_file(credentials)
    return AsyncVoximplant()  # VOXIMPLANT_CREDENTIALS, or a clear error


def run_server(sandbox: Sandbox, host: str, port: int) -> None:
    """Serve the emulator over HTTP until interrupted (tests replace this: no port is bound)."""
    try:
        import uvicorn  # noqa: F401  (serve imports it lazily: fail here, before serving)

        from clicksend_async.sandbox import serve
    except ModuleNotFoundError as exc:
        raise CLIError(
            f"the sandbox server needs {exc.name}: pip install 'clicksend-async[cli]'"
        ) from None
    serve(sandbox, host=host, port=port)


# -- plumbing -------------------------------------------------------------------------------------


def _options(ctx: typer.Context) -> Options:
    found = ctx.find_object(Options)
    return found if found is not None else Options()


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(code)


def _run(coroutine: Coroutine[Any, Any, T], interrupted: Callable[[], str] | None = None) -> T:
    """Run a command's coroutine; known failures become one ``error:`` line and exit 1
    (Ctrl+C: 130, with ``interrupted()`` saying what was done)."""
    try:
        return asyncio.run(coroutine)
    except (errors.ClickSendError, CLIError) as exc:
        _fail(str(exc) or type(exc).__name__)
    except OSError as exc:  # files: an unreadable CSV or credentials file, a checkpoint
        _fail(_os_error(exc))
    except KeyboardInterrupt:
        _fail(interrupted() if interrupted is not None else "interrupted", code=130)


def _os_error(exc: OSError) -> str:
    if exc.filename and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc)


def _out() -> Console:
    # Built per call: CliRunner and redirections replace sys.stdout between invocations.
    return Console(highlight=False)


def _err() -> Console:
    return Console(stderr=True, highlight=False)


def parse_when(text: str, *, end_of_day: bool = False) -> datetime:
    """ISO 8601 date or datetime → an aware datetime (no offset: local time). A date alone is its
    start, or with ``end_of_day`` its last second (so ``--to 2026-11-01`` includes that day)."""
    value = text.strip()
    if value[-1:] in ("Z", "z"):  # Python 3.10's fromisoformat does not read "Z"
        value = value[:-1] + "+00:00"
    try:
        if len(value) == 10:
            moment = datetime.combine(
                date.fromisoformat(value), clock(23, 59, 59) if end_of_day else clock()
            )
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 date or datetime "
            "(e.g. 2026-11-01 or 2026-11-01T10:00:00+10:00)"
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


def _start(text: str) -> datetime:
    return parse_when(text)


def _end(text: str) -> datetime:
    return parse_when(text, end_of_day=True)


def _local(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _money(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _json_items(items: Sequence[BaseModel]) -> str:
    return json.dumps(
        [item.model_dump(mode="json", by_alias=True) for item in items],
        indent=2,
        ensure_ascii=False,
    )


def _write_csv(model: type[BaseModel], items: Sequence[BaseModel]) -> None:
    """CSV with a header of the wire field names (the model's, then any extra ones seen)."""
    rows = [item.model_dump(mode="json", by_alias=True) for item in items]
    header = [info.alias or name for name, info in model.model_fields.items()]
    for row in rows:
        header += [key for key in row if key not in header]
    writer = csv.DictWriter(sys.stdout, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                key: json.dumps(value) if isinstance(value, (dict, list)) else value
                for key, value in row.items()
            }
        )


# -- global options -------------------------------------------------------------------------------


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"clicksend-async {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help="Run the command against the in-process emulator (no network, no credentials).",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """ClickSend REST API v3 (and Voximplant call history) from the command line.

    Credentials: CLICKSEND_USERNAME and CLICKSEND_API_KEY (and CLICKSEND_BASE_URL).

    Voximplant: --credentials FILE or VOXIMPLANT_CREDENTIALS. With --sandbox: none needed.
    """
    ctx.obj = Options(sandbox=sandbox)


# -- sms ------------------------------------------------------------------------------------------


async def _sms_send(
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
    # Built at run time, so not a literal a type checker can match to SmsMessageParam; the SDK
    # validates every message against the model before sending.
    messages: list[Any] = [{"to": to, "body": body, **extra} for to in recipients]
    async with clicksend_client(options) as cs:
        return await cs.sms.send(messages=messages)


@sms_app.command("send")
def sms_send(
    ctx: typer.Context,
    to: Annotated[
        list[str],
        typer.Option(
            "--to", help="Recipient in E.164 format (repeat for several).", show_default=False
        ),
    ],
    body: Annotated[str, typer.Option("--body", help="The message text.")],
    sender: Annotated[
        str | None, typer.Option("--from", help="Sender id (a number or alphanumeric name).")
    ] = None,
    schedule: Annotated[
        datetime | None,
        typer.Option(
            "--schedule",
            parser=_start,
            metavar="ISO-DATETIME",
            help="Send later, e.g. 2026-11-01T09:00:00+10:00 (no offset: local time).",
        ),
    ] = None,
) -> None:
    """Send one SMS to each --to; prints a line per recipient: number, status, message id, price.

    Exits 1 when any recipient was not accepted.
    """
    data = _run(_sms_send(_options(ctx), to, body, sender, schedule))
    messages = list(data.messages or []) if data is not None else []
    currency = data.currency.currency_name_short if data and data.currency else None
    rows = [
        (
            m.to or "",
            m.status or "",
            m.message_id or "-",
            f"{_money(m.message_price)} {currency}" if currency else _money(m.message_price),
        )
        for m in messages
    ]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(3)]
        typer.echo("  ".join([*cells, row[3]]))
    refused = sum(1 for m in messages if m.status != "SUCCESS")
    if refused or not messages:
        _fail(f"{refused or len(to)} of {len(to)} messages not accepted")


async def _sms_history(
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
    async with clicksend_client(options) as cs:
        return [item async for item in cs.sms.history(**query, max_items=limit)]


@sms_app.command("history")
def sms_history(
    ctx: typer.Context,
    date_from: Annotated[
        datetime | None,
        typer.Option(
            "--from",
            parser=_start,
            metavar="DATE",
            help="From this ISO 8601 date or datetime (no offset: local time).",
        ),
    ] = None,
    date_to: Annotated[
        datetime | None,
        typer.Option(
            "--to",
            parser=_end,
            metavar="DATE",
            help="Up to this ISO 8601 date (inclusive: a date alone means its end) or datetime.",
        ),
    ] = None,
    search: Annotated[
        str | None,
        typer.Option("--search", help="The API's query, e.g. 'status:Delivered,to:+61411'."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many messages.")] = 100,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array (wire fields).")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV with a header row.")] = False,
) -> None:
    """List sent SMS, newest first: a table, or --json / --csv."""
    if as_json and as_csv:
        raise typer.BadParameter("choose one of --json and --csv", param_hint="'--json' / '--csv'")
    if date_from is not None and date_to is not None and date_from > date_to:
        raise typer.BadParameter("--from is after --to", param_hint="'--from'")
    items = _run(_sms_history(_options(ctx), date_from, date_to, search, limit))
    if as_json:
        typer.echo(_json_items(items))
        return
    if as_csv:
        _write_csv(SmsHistoryItem, items)
        return
    table = Table(caption=f"{len(items)} message{'s' if len(items) != 1 else ''}")
    table.add_column("Date (local)", no_wrap=True)
    table.add_column("To", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Message ID", no_wrap=True)
    table.add_column("Price", justify="right", no_wrap=True)
    table.add_column("Body", overflow="ellipsis", no_wrap=True)
    for item in items:
        table.add_row(
            _local(item.date),
            escape(item.to or ""),
            escape(item.status or ""),
            escape(item.message_id or ""),
            _money(item.message_price),
            escape(item.body or ""),
        )
    _out().print(table)


# -- campaign -------------------------------------------------------------------------------------


class BodyTemplate:
    """``--body`` with ``{column}`` placeholders (``{{`` and ``}}`` for literal braces)."""

    def __init__(self, text: str) -> None:
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise CLIError(f"--body: {exc} (write {{{{ and }}}} for literal braces)") from None
        self.parts: list[tuple[str, str | None]] = []
        for literal, name, spec, conversion in parsed:
            if name is not None and (not name.strip() or spec or conversion):
                shown = "{" + name + (f"!{conversion}" if conversion else "")
                shown += (f":{spec}" if spec else "") + "}"
                raise CLIError(f"--body: {shown} is not a placeholder; write {{column}}")
            self.parts.append((literal, name.strip() if name is not None else None))
        self.fields = list(dict.fromkeys(name for _, name in self.parts if name is not None))

    def render(self, row: Mapping[str, str | None]) -> str:
        return "".join(literal + (row[name] or "" if name else "") for literal, name in self.parts)


@dataclass
class Contacts:
    """A campaign CSV read as a stream: one message per row that has a phone and a value for
    every placeholder; other rows are kept (with their line number) as invalid, never sent."""

    path: Path
    template: BodyTemplate
    sender: str | None = None
    phone_column: str = ""
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (CSV line, reason)
    lines: list[int] = field(default_factory=list)  # CSV line of each message, by input index
    rows: int = 0
    error: str | None = None  # a CSV error that stopped the reading part-way

    def check(self) -> None:
        """Check the header against the template and count the rows, before anything is sent."""
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as fh:
                reader = csv.reader(fh)
                header = [name.strip() for name in next(reader, [])]
                total = sum(1 for row in reader if row)  # DictReader skips blank lines too
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CLIError(f"{self.path}: not a readable CSV ({exc})") from None
        if not any(header):
            raise CLIError(f"{self.path} is empty: expected a header row with a phone column")
        by_lower = {name.lower(): name for name in header}
        phone = next((by_lower[c] for c in PHONE_COLUMNS if c in by_lower), None)
        if phone is None:
            raise CLIError(
                f"{self.path} has no {', '.join(PHONE_COLUMNS[:-1])} or {PHONE_COLUMNS[-1]} column "
                f"(columns: {', '.join(header)})"
            )
        unknown = [name for name in self.template.fields if name not in header]
        if unknown:
            raise CLIError(
                f"--body uses {', '.join('{' + n + '}' for n in unknown)}, which "
                f"{'is not a column' if len(unknown) == 1 else 'are not columns'} of {self.path} "
                f"(columns: {', '.join(header)})"
            )
        self.phone_column = phone
        self.rows = total

    def __iter__(self) -> Iterator[dict[str, Any]]:
        # A generator must not raise into send_bulk (the chunks already sent would lose their
        # report): a CSV error ends the stream and is reported after the summary.
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as fh:
                reader = csv.DictReader(fh)
                for raw in reader:
                    line = reader.line_num
                    row = {k.strip(): v for k, v in raw.items() if isinstance(k, str)}
                    phone = (row.get(self.phone_column) or "").strip()
                    empty = [] if phone else [self.phone_column]
                    empty += [n for n in self.template.fields if not (row.get(n) or "").strip()]
                    if empty:
                        self.invalid.append((line, f"empty {', '.join(dict.fromkeys(empty))}"))
                        continue
                    message: dict[str, Any] = {"to": phone, "body": self.template.render(row)}
                    if self.sender:
                        message["from"] = self.sender
                    self.lines.append(line)
                    yield message
        except (csv.Error, UnicodeDecodeError, OSError) as exc:
            self.error = f"{self.path}: reading stopped part-way ({exc})"


@dataclass
class CampaignResult:
    report: BulkReport
    contacts: Contacts
    delivery: Counter[str]
    delivery_error: str | None
    sending: float
    elapsed: float


def _progress_bar() -> Progress:
    # "failed" counts the messages of failed chunks and of chunks whose outcome is unknown (the
    # summary tells them apart after reconciling). Fits 80 columns.
    return Progress(
        BarColumn(bar_width=None),
        MofNCompleteColumn(),
        TextColumn(
            "[green]{task.fields[accepted]:,} sent[/] [yellow]{task.fields[rejected]:,} "
            "rejected[/] [red]{task.fields[failed]:,} failed[/]"
        ),
        TextColumn("{task.fields[rate]:,.0f}/s eta {task.fields[eta]}"),
        console=_err(),
    )


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


async def _delivery(cs: AsyncClickSend, report: BulkReport) -> Counter[str]:
    """Delivered / undelivered / pending among the run's accepted messages, from the history."""
    wanted = {outcome.reference for outcome in report.accepted}
    counts: Counter[str] = Counter()
    since = report.started_at - HISTORY_SLACK
    async for record in history_of(cs, "sms", since, wanted):
        status = record.status or ""
        counts[status.lower() if status in ("Delivered", "Undelivered") else "pending"] += 1
    missing = len(wanted) - sum(counts.values())
    if missing:
        counts["not in history yet"] = missing
    return counts


async def _campaign(
    options: Options,
    contacts: Contacts,
    report: BulkReport,
    checkpoint: Path | None,
    concurrency: int | None,
) -> CampaignResult:
    started = time.perf_counter()
    client_options: dict[str, Any] = {}
    if concurrency is not None:
        client_options["max_concurrency"] = concurrency
    async with clicksend_client(options, **client_options) as cs:
        with _progress_bar() as progress:
            task = progress.add_task(
                "sending",
                total=contacts.rows or None,
                accepted=0,
                rejected=0,
                failed=0,
                rate=0.0,
                eta="-",
            )

            def on_progress(p: BulkProgress) -> None:
                _show(progress, task, p, contacts)

            await cs.sms.send_bulk(
                iter(contacts),
                checkpoint=checkpoint,
                on_progress=on_progress,
                max_chunks_in_flight=concurrency,
                report=report,
            )
        sending = time.perf_counter() - started
        if report.unknown:
            await report.reconcile(cs)
        delivery: Counter[str] = Counter()
        delivery_error = None
        try:
            with _err().status("reading the delivery receipts from the SMS history…"):
                delivery = await _delivery(cs, report)
        except errors.ClickSendError as exc:  # the sends are done: report them anyway
            delivery_error = str(exc)
    return CampaignResult(
        report, contacts, delivery, delivery_error, sending, time.perf_counter() - started
    )


def _show(progress: Progress, task: TaskID, p: BulkProgress, contacts: Contacts) -> None:
    invalid = len(contacts.invalid)
    done = p.done + invalid
    left = contacts.rows - done if contacts.rows else None
    progress.update(
        task,
        completed=done,
        accepted=p.accepted,
        rejected=p.rejected + invalid,
        failed=p.failed,
        rate=p.rate,
        eta=_eta(left / p.rate if left is not None and p.rate > 0 else None),
    )


def _reasons(result: CampaignResult) -> list[tuple[str, int, list[int]]]:
    """The most common reasons for rejection: (reason, count, example CSV lines)."""
    phone = result.contacts.phone_column
    lines = result.contacts.lines
    found: dict[str, list[int]] = {}
    for line, reason in result.contacts.invalid:
        found.setdefault(reason, []).append(line)
    for outcome in result.report.rejected:
        reason = re.sub(r"'[^']*'|\"[^\"]*\"", "…", outcome.reason or outcome.status or "?")
        if reason.startswith("to: "):  # the message field is the CSV's phone column
            reason = f"{phone}: {reason[4:]}"
        line = lines[outcome.index] if 0 <= outcome.index < len(lines) else 0
        found.setdefault(reason, []).append(line)
    ranked = sorted(found.items(), key=lambda item: (-len(item[1]), min(item[1])))
    return [(reason, len(at), sorted(at)[:EXAMPLE_LINES]) for reason, at in ranked]


def _summary(result: CampaignResult, checkpoint: Path | None) -> int:
    """Print the summary; returns the exit code (1 when messages need attention)."""
    report, contacts = result.report, result.contacts
    counts = report.counts
    rejected = counts["rejected"] + len(contacts.invalid)
    rows = counts["total"] + len(contacts.invalid)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    grid.add_column()
    grid.add_row("rows", f"{rows:,}", escape(str(contacts.path)))
    grid.add_row("accepted", f"{counts['accepted']:,}", "")
    grid.add_row("rejected", f"{rejected:,}", "not sent" if rejected else "")
    reasons = _reasons(result)
    for reason, count, lines in reasons[:TOP_REASONS]:
        more = ", …" if count > len(lines) else ""
        where = f"line{'s' if count > 1 else ''} {', '.join(map(str, lines))}{more}"
        grid.add_row("", f"{count:,}", f"[dim]{escape(reason)}  ({where})[/]")
    if len(reasons) > TOP_REASONS:
        others = sum(count for _, count, _ in reasons[TOP_REASONS:])
        grid.add_row("", f"{others:,}", f"[dim]{len(reasons) - TOP_REASONS} other reasons[/]")
    grid.add_row(
        "failed", f"{counts['failed']:,}", "safe to send again" if counts["failed"] else ""
    )
    for failure in report.failed[:TOP_REASONS]:
        grid.add_row("", f"{len(failure.messages):,}", f"[dim]{escape(failure.error)}[/]")
    grid.add_row(
        "unknown",
        f"{counts['unknown']:,}",
        f"safe to resend: {counts['safe_to_resend']:,}",
    )
    if counts["not_sent"]:
        grid.add_row("not sent", f"{counts['not_sent']:,}", "interrupted")
    if result.delivery_error:
        grid.add_row("delivery", "?", f"history unavailable: {escape(result.delivery_error)}")
    else:
        grid.add_row("delivered", f"{result.delivery['delivered']:,}", "")
        grid.add_row("undelivered", f"{result.delivery['undelivered']:,}", "")
        for status in ("pending", "not in history yet"):
            if result.delivery[status]:
                grid.add_row(status, f"{result.delivery[status]:,}", "no receipt yet")
    rate = (counts["total"] / result.sending) if result.sending > 0 else 0.0
    grid.add_row(
        "time taken",
        f"{result.elapsed:.1f} s",
        f"sending {result.sending:.1f} s ({rate:,.0f} msg/s), {report.requests} "
        f"request{'s' if report.requests != 1 else ''}"
        + (f", {report.resumed_chunks} chunks resumed" if report.resumed_chunks else ""),
    )
    console = _out()
    console.print(f"[bold]Campaign summary[/] (run {report.run_id})")
    console.print(grid)
    if counts["failed"]:
        hint = (
            f"re-run with --checkpoint {escape(str(checkpoint))} to send only those"
            if checkpoint
            else "re-running sends every row again (--checkpoint FILE makes a run resumable)"
        )
        console.print(f"{counts['failed']:,} failed messages are safe to send again: {hint}")
    if counts["safe_to_resend"]:
        lines = sorted(
            contacts.lines[m.index] for m in report.safe_to_resend if m.index < len(contacts.lines)
        )
        shown = ", ".join(map(str, lines[:EXAMPLE_LINES])) + (
            ", …" if len(lines) > EXAMPLE_LINES else ""
        )
        console.print(
            f"{counts['safe_to_resend']:,} messages had an unknown outcome and are not in the "
            f"history: safe to send again (CSV lines {shown}); a re-run with --checkpoint does "
            "not resend them"
        )
    return 1 if counts["failed"] + counts["safe_to_resend"] + counts["not_sent"] else 0


@campaign_app.command("send")
def campaign_send(
    ctx: typer.Context,
    csv_path: Annotated[
        Path,
        typer.Option(
            "--csv",
            help="Contacts CSV with a header; the phone, phone_number or to column is the "
            "recipient.",
            dir_okay=False,
        ),
    ],
    body: Annotated[
        str,
        typer.Option(
            "--body",
            help="Message text; {column} is filled from each row, e.g. 'Hi {first_name}'. A row "
            "with an empty placeholder value is reported invalid, not sent.",
        ),
    ],
    sender: Annotated[str | None, typer.Option("--from", help="Sender id.")] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="Record finished chunks in this file; re-running with it resumes without "
            "resending.",
            dir_okay=False,
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", min=1, help="Requests in flight (default: the SDK's, 64)."),
    ] = None,
) -> None:
    """Send a message to every row of a CSV (1000 per request), with a progress bar and a summary.

    Exits 1 when messages failed or may need resending (rejected rows alone exit 0).
    """
    try:  # the whole file is checked before anything is sent
        if not body.strip():
            raise CLIError("--body is empty")
        contacts = Contacts(csv_path, BodyTemplate(body), sender)
        contacts.check()
    except CLIError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(_os_error(exc))
    report = BulkReport(channel="sms", run_id="")

    def interrupted() -> str:
        counts = report.counts
        resume = f"; re-run with --checkpoint {checkpoint} to resume" if checkpoint else ""
        return (
            f"interrupted: {counts['accepted']:,} accepted, {counts['unknown']:,} in flight "
            f"(outcome unknown), {counts['not_sent']:,} read but not sent{resume}"
        )

    result = _run(_campaign(_options(ctx), contacts, report, checkpoint, concurrency), interrupted)
    code = _summary(result, checkpoint)
    if contacts.error:
        _fail(contacts.error)
    if code:
        raise typer.Exit(code)


# -- voximplant -----------------------------------------------------------------------------------


async def _calls(
    options: Options,
    from_date: datetime,
    to_date: datetime,
    credentials: Path | None,
    with_calls: bool,
    limit: int,
) -> list[CallSessionInfo]:
    async with voximplant_client(options, credentials) as vox:
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


@voximplant_app.command("calls")
def voximplant_calls(
    ctx: typer.Context,
    from_date: Annotated[
        datetime,
        typer.Option("--from", parser=_start, metavar="DATE", help="From this ISO 8601 date/time."),
    ],
    to_date: Annotated[
        datetime,
        typer.Option(
            "--to",
            parser=_end,
            metavar="DATE",
            help="Up to this ISO 8601 date (inclusive) or datetime.",
        ),
    ],
    credentials: Annotated[
        Path | None,
        typer.Option(
            "--credentials",
            help="Service-account credentials.json (default: $VOXIMPLANT_CREDENTIALS).",
            dir_okay=False,
        ),
    ] = None,
    with_calls: Annotated[
        bool, typer.Option("--calls/--no-calls", help="Include each session's calls.")
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array (wire fields).")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many sessions.")] = 100,
) -> None:
    """List call sessions (GetCallHistory): a table, or --json."""
    if from_date > to_date:
        raise typer.BadParameter("--from is after --to", param_hint="'--from'")
    sessions = _run(_calls(_options(ctx), from_date, to_date, credentials, with_calls, limit))
    if as_json:
        typer.echo(_json_items(sessions))
        return
    table = Table(caption=f"{len(sessions)} call session{'s' if len(sessions) != 1 else ''}")
    table.add_column("Session ID", no_wrap=True)
    table.add_column("Start (local)", no_wrap=True)
    table.add_column("Duration (s)", justify="right", no_wrap=True)
    table.add_column("Remote number", no_wrap=True)
    table.add_column("Cost", justify="right", no_wrap=True)
    for session in sessions:
        numbers = dict.fromkeys(c.remote_number for c in session.calls or [] if c.remote_number)
        table.add_row(
            str(session.call_session_history_id or ""),
            _local(session.start_date),
            "" if session.duration is None else str(session.duration),
            escape(", ".join(numbers)),
            _money(_session_cost(session)),
        )
    _out().print(table)


# -- sandbox server -------------------------------------------------------------------------------


@app.command("sandbox")
def sandbox_server(
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")
    ] = 8080,
    latency: Annotated[
        float, typer.Option("--latency", min=0.0, help="Seconds added to every answer.")
    ] = 0.0,
    rate_limit: Annotated[
        float | None,
        typer.Option("--rate-limit", min=0.001, help="Requests per second; beyond it: HTTP 429."),
    ] = None,
    fault_rate: Annotated[
        float,
        typer.Option("--fault-rate", min=0.0, max=1.0, help="Probability that a request faults."),
    ] = 0.0,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help=f"Fault kinds to draw from (repeatable; default all): {', '.join(FAULT_KINDS)}.",
        ),
    ] = None,
    receipt_delay: Annotated[
        float,
        typer.Option(
            "--receipt-delay", min=0.0, help="Seconds until a sent message's receipt appears."
        ),
    ] = 0.0,
    webhook_url: Annotated[
        str | None, typer.Option("--webhook-url", help="Push receipts and inbound SMS here.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for reproducible faults.")
    ] = None,
) -> None:
    """Run the emulator as a real HTTP server, until Ctrl+C.

    ClickSend v3 under /v3 (username sandbox, API key sandbox), Voximplant under /platform_api.
    """
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
    emulator = Sandbox(config)
    origin = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    typer.echo(f"ClickSend sandbox: {origin}/v3")
    typer.echo(f"  username: {config.username}")
    typer.echo(f"  api key:  {config.api_key}")
    typer.echo(f"  Voximplant GetCallHistory: {origin}/platform_api")
    typer.echo(
        f"  export CLICKSEND_BASE_URL={origin}/v3 CLICKSEND_USERNAME={config.username} "
        f"CLICKSEND_API_KEY={config.api_key}"
    )
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(
            f"warning: listening on {host}: anyone who can reach it can use the sandbox's "
            "public credentials",
            err=True,
        )
    typer.echo("Press Ctrl+C to stop.")
    try:
        run_server(emulator, host, port)
    except CLIError as exc:
        _fail(str(exc))


def main() -> None:
    """The ``clicksend`` console script."""
    app(prog_name="clicksend")


if __name__ == "__main__":
    main()
