"""The CSV campaign engine behind ``clicksend campaign send``: the contacts file, the body
template, the bulk run with its progress bar, and the summary as plain data (the command renders
it as a table or JSON). The only CLI module that uses :mod:`clicksend_async.bulk`."""

from __future__ import annotations

import contextlib
import csv
import re
import string
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.text import Text

from clicksend_async import AsyncClickSend, _constants, errors
from clicksend_async.bulk import BulkProgress, BulkReport, history_of
from clicksend_async.cli._clients import clicksend
from clicksend_async.cli._common import CLIError, Options, describe_error, err, plain, plural

PHONE_COLUMNS = ("phone", "phone_number", "to")  # the recipient column of a campaign CSV
SHOWN_VALUE = 40  # a rejected value longer than this is cut in the reasons
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


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


# -- the summary, as plain data -------------------------------------------------------------------


@dataclass
class Rejection:
    reason: str  # with the first rejected value shown (quoted, cut at SHOWN_VALUE)
    count: int
    lines: list[int]  # CSV lines, ascending


@dataclass
class Failure:
    error: str  # in the user's words
    messages: int


@dataclass
class CampaignSummary:
    """What ``campaign send`` reports; ``as_json()`` is the ``--json`` output (stable keys)."""

    run_id: str
    csv: str
    rows: int
    accepted: int
    rejected: int
    failed: int
    unknown: int
    safe_to_resend: int
    not_sent: int
    # delivered / undelivered / pending / not_in_history_yet; None when the history failed
    delivery: dict[str, int] | None
    delivery_error: str | None
    rejections: list[Rejection]
    failures: list[Failure]
    safe_to_resend_lines: list[int]
    requests: int
    resumed_chunks: int
    elapsed_seconds: float
    sending_seconds: float
    messages_per_second: float  # messages handed to the API (not the invalid rows), while sending
    reading_error: str | None  # the CSV could not be read to the end

    @property
    def exit_code(self) -> int:
        """1 when messages failed, may need resending, or are still unknown after reconcile
        (the history may lag: run again later); rejected rows alone exit 0."""
        return 1 if self.failed + self.safe_to_resend + self.not_sent + self.unknown else 0

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["elapsed_seconds"] = round(self.elapsed_seconds, 3)
        data["sending_seconds"] = round(self.sending_seconds, 3)
        data["messages_per_second"] = round(self.messages_per_second, 1)
        return data


def _shown(reason: str) -> str:
    def cut(found: re.Match[str]) -> str:
        value = found.group(0)
        return value if len(value) <= SHOWN_VALUE else value[: SHOWN_VALUE - 2] + "…" + value[0]

    return _QUOTED.sub(cut, reason)


def rejections(contacts: Contacts, report: BulkReport) -> list[Rejection]:
    """The reasons for rejection, most common first. Reasons that differ only in the value
    (``phone: '12' is not a phone number``) count as one, shown with the first value."""
    groups: dict[str, tuple[str, set[str], list[int]]] = {}

    def add(reason: str, line: int) -> None:
        key = _QUOTED.sub("…", reason)
        if key not in groups:
            groups[key] = (_shown(reason), set(), [])
        groups[key][1].update(_QUOTED.findall(reason))
        groups[key][2].append(line)

    for line, reason in contacts.invalid:
        add(reason, line)
    for outcome in report.rejected:
        reason = outcome.reason or outcome.status or "?"
        if reason.startswith("to: "):  # the message field is the CSV's phone column
            reason = f"{contacts.phone_column}: {reason[4:]}"
        index = outcome.index
        add(reason, contacts.lines[index] if 0 <= index < len(contacts.lines) else 0)
    found = []
    for first, values, lines in groups.values():
        others = len(values) - 1
        if others > 0:
            first += f" (and {plural(others, 'other value')})"
        found.append(Rejection(first, len(lines), sorted(lines)))
    return sorted(found, key=lambda r: (-r.count, r.lines[0]))


# -- the run --------------------------------------------------------------------------------------


def _phrase(count: int, label: str, style: str) -> str:
    # Colour only a count that needs a look: "0 failed" is not red.
    return f"[{style}]{count:,} {label}[/]" if count else f"{count:,} {label}"


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


async def _delivery(cs: AsyncClickSend, report: BulkReport) -> dict[str, int]:
    """Delivered / undelivered / pending among the run's accepted messages, from the history."""
    wanted = {outcome.reference for outcome in report.accepted}
    counts: Counter[str] = Counter()
    since = report.started_at - _constants.BULK_HISTORY_SKEW
    async for record in history_of(cs, "sms", since, wanted):
        status = record.status or ""
        counts[status.lower() if status in ("Delivered", "Undelivered") else "pending"] += 1
    found = {key: counts[key] for key in ("delivered", "undelivered", "pending")}
    return {**found, "not_in_history_yet": len(wanted) - sum(found.values())}


class _DoneOfTotal(ProgressColumn):
    """``1,200/10,000`` (rich's MofNCompleteColumn has no thousands separators)."""

    def render(self, task: Task) -> Text:
        done = f"{int(task.completed):,}"
        return Text(f"{done}/{int(task.total):,}" if task.total is not None else done)


class Campaign:
    """One ``campaign send``: the bulk report it fills, and the summary it ends with."""

    def __init__(
        self,
        contacts: Contacts,
        *,
        checkpoint: Path | None,
        concurrency: int | None,
        progress: bool,
    ) -> None:
        self.contacts = contacts
        self.checkpoint = checkpoint
        self.concurrency = concurrency
        self.progress = progress  # a progress bar and a spinner on stderr
        self.report = BulkReport(channel="sms", run_id="")

    def interrupted(self) -> str:
        """The ``error:`` line of a run stopped by Ctrl+C: what was done, how to resume."""
        counts = self.report.counts
        resume = (
            f"; re-run with --checkpoint {self.checkpoint} to resume" if self.checkpoint else ""
        )
        return (
            f"interrupted: {counts['accepted']:,} accepted, {counts['unknown']:,} in flight "
            f"(outcome unknown), {counts['not_sent']:,} read but not sent{resume}"
        )

    def _progress_bar(self) -> Progress:
        # "failed" counts the messages of failed chunks and of chunks whose outcome is unknown
        # (the summary tells them apart after reconciling). Fits 80 columns.
        return Progress(
            BarColumn(bar_width=None),
            _DoneOfTotal(),
            TextColumn("{task.fields[counts]}"),
            TextColumn("{task.fields[rate]:,.0f}/s eta {task.fields[eta]}"),
            console=err(),
            disable=not self.progress,
        )

    def _show(self, progress: Progress, task: TaskID, p: BulkProgress) -> None:
        invalid = len(self.contacts.invalid)
        done = p.done + invalid
        left = self.contacts.rows - done if self.contacts.rows else None
        counts = [
            _phrase(p.accepted, "sent", "green"),
            _phrase(p.rejected + invalid, "rejected", "yellow"),
            _phrase(p.failed, "failed", "red"),
        ]
        progress.update(
            task,
            completed=done,
            counts=" ".join(counts),
            rate=p.rate,
            eta=_eta(left / p.rate if left is not None and p.rate > 0 else None),
        )

    async def run(self, options: Options) -> CampaignSummary:
        started = time.perf_counter()
        report = self.report
        client_options: dict[str, Any] = {}
        if self.concurrency is not None:
            client_options["max_concurrency"] = self.concurrency
        async with clicksend(options, **client_options) as cs:
            with self._progress_bar() as progress:
                task = progress.add_task(
                    "sending",
                    total=self.contacts.rows or None,
                    counts="0 sent 0 rejected 0 failed",
                    rate=0.0,
                    eta="-",
                )

                def on_progress(p: BulkProgress) -> None:
                    self._show(progress, task, p)

                await cs.sms.send_bulk(
                    iter(self.contacts),
                    checkpoint=self.checkpoint,
                    on_progress=on_progress,
                    max_chunks_in_flight=self.concurrency,
                    report=report,
                )
            sending = time.perf_counter() - started
            if report.unknown:
                await report.reconcile(cs)
            delivery: dict[str, int] | None = None
            delivery_error = None
            status = (
                err().status("reading the delivery receipts from the SMS history…")
                if self.progress
                else contextlib.nullcontext()
            )
            try:
                with status:
                    delivery = await _delivery(cs, report)
            except errors.ClickSendError as exc:  # the sends are done: report them anyway
                delivery_error = describe_error(exc, options)
        return self._summary(options, delivery, delivery_error, sending, started)

    def _summary(
        self,
        options: Options,
        delivery: dict[str, int] | None,
        delivery_error: str | None,
        sending: float,
        started: float,
    ) -> CampaignSummary:
        report, contacts = self.report, self.contacts
        counts = report.counts
        lines = contacts.lines
        resend = sorted(lines[m.index] for m in report.safe_to_resend if m.index < len(lines))
        failures = [
            Failure(
                describe_error(f.exception, options)
                if isinstance(f.exception, errors.ClickSendError)
                else plain(f.error),
                len(f.messages),
            )
            for f in report.failed
        ]
        return CampaignSummary(
            run_id=report.run_id,
            csv=str(contacts.path),
            rows=counts["total"] + len(contacts.invalid),
            accepted=counts["accepted"],
            rejected=counts["rejected"] + len(contacts.invalid),
            failed=counts["failed"],
            unknown=counts["unknown"],
            safe_to_resend=counts["safe_to_resend"],
            not_sent=counts["not_sent"],
            delivery=delivery,
            delivery_error=delivery_error,
            rejections=rejections(contacts, report),
            failures=failures,
            safe_to_resend_lines=resend,
            requests=report.requests,
            resumed_chunks=report.resumed_chunks,
            elapsed_seconds=time.perf_counter() - started,
            sending_seconds=sending,
            messages_per_second=counts["total"] / sending if sending > 0 else 0.0,
            reading_error=contacts.error,
        )
