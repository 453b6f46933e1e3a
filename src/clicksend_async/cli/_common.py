"""Plumbing shared by the commands: the global options, running a command's coroutine, errors in
the user's words, and output (JSON, CSV, consoles, counts, dates)."""

from __future__ import annotations

import asyncio
import csv
import json
import re
import socket
import ssl
import sys
from collections.abc import Callable, Collection, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar
from urllib.parse import urlsplit

import typer
from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand, TyperGroup, TyperOption

from clicksend_async import errors

T = TypeVar("T")

# Every command's help ends with this: the global options are accepted after it too.
GLOBALS_EPILOG = (
    "Global options (--sandbox, --sandbox-state, --base-url, --username, --api-key) work "
    "before or after the command; clicksend --help describes them."
)
JSON_HELP = "Print JSON (stable keys) instead of text."


class CLIError(Exception):
    """A problem to report as one ``error:`` line (bad CSV, missing credentials, ...)."""


@dataclass
class Options:
    """The global options, shared with every command through the click context."""

    sandbox: bool = False
    sandbox_state: Path | None = None  # the session file; None: the default one
    base_url: str | None = None
    username: str | None = None
    api_key: str | None = field(default=None, repr=False)
    # Set when a client is made: the URL the command talks to, for connection errors.
    endpoint: str | None = None
    clicksend_api: bool = True  # False for Voximplant (no /v3 hint on a 404)


def options_of(ctx: typer.Context) -> Options:
    found = ctx.find_object(Options)
    return found if found is not None else Options()


# -- help -----------------------------------------------------------------------------------------

# typer (0.29) shows an option's Python type (`<bool>`, `<list[str]>`) when it has no metavar.
_TYPE_WORDS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "path": "PATH", "bool": ""}


def _readable_metavars(params: list[Any], ctx: Any) -> None:
    for param in params:
        if not isinstance(param, TyperOption) or param.metavar is not None:
            continue
        if param.is_flag or param.count:
            param.metavar = ""  # a flag takes no value: show none
            continue
        display_type = getattr(param, "display_type", None)
        if display_type is None:  # an older typer (plain click help): no <type> labels
            continue
        label = str(display_type(ctx)).strip("<>").removesuffix(" range")
        if label.startswith("list["):
            label = label[5:-1]
        # Choices (a|b|c) are values to type as shown; a type gets a word.
        param.metavar = label if "|" in label else _TYPE_WORDS.get(label, label.upper())


class Command(TyperCommand):
    """A leaf command whose help names values in words, not Python types."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _readable_metavars(params, ctx)
        return params


class Group(TyperGroup):
    """A command group, with the same help conventions."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        _readable_metavars(params, ctx)
        return params


# -- running and failing --------------------------------------------------------------------------


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(code)


def run(
    options: Options,
    coroutine: Coroutine[Any, Any, T],
    interrupted: Callable[[], str] | None = None,
) -> T:
    """Run a command's coroutine; known failures become one ``error:`` line and exit 1
    (Ctrl+C: 130, with ``interrupted()`` saying what was done). This is the only place that
    calls ``asyncio.run``."""
    try:
        return asyncio.run(coroutine)
    except CLIError as exc:
        fail(str(exc))
    except errors.ClickSendError as exc:  # before OSError: errors.ConnectionError is one
        fail(describe_error(exc, options))
    except OSError as exc:  # files: an unreadable CSV or credentials file, a checkpoint
        fail(os_error(exc))
    except KeyboardInterrupt:
        fail(interrupted() if interrupted is not None else "interrupted", code=130)


def os_error(exc: OSError) -> str:
    if exc.filename and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc)


_CLASS_PREFIX = re.compile(r"\b[A-Z][A-Za-z]*(?:Error|Exception|Timeout)\b:\s*")
_SSL_DETAIL = re.compile(r"\s*ssl:\S+|\s*\(_ssl\.c:\d+\)|\[SSL: [A-Z_]+\]\s*")


def plain(text: str) -> str:
    """A message without the Python class names and transport internals in it."""
    return _SSL_DETAIL.sub("", _CLASS_PREFIX.sub("", text)).strip()


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


# OpenSSL's reasons when the other side is not speaking TLS at all.
_NOT_TLS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG"}
)


def _tls_problem(exc: ssl.SSLError, where: str) -> str:
    # getattr: transports wrap ssl errors in subclasses that do not set these attributes.
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = getattr(exc, "verify_message", None) or "certificate verify failed"
        return (
            f"TLS: the certificate of {where} is not trusted ({detail}); behind a proxy that "
            "re-signs TLS, point SSL_CERT_FILE at its CA bundle"
        )
    reason = str(getattr(exc, "reason", None) or "")
    detail = reason.lower().replace("_", " ") if reason else plain(str(exc))
    hint = (
        "the server does not speak TLS: use http:// for a plain-HTTP server such as "
        "clicksend sandbox"
        if reason in _NOT_TLS
        else "check the URL, or a proxy in between"
    )
    return f"TLS handshake with {where} failed ({detail}): {hint}"


def _connection_problem(exc: errors.ConnectionError, where: str) -> str:
    causes = list(_causes(exc))
    tls = [cause for cause in causes if isinstance(cause, ssl.SSLError)]
    if tls:  # the innermost one is the ssl module's own, with the reason
        return _tls_problem(tls[-1], where)
    for cause in causes:
        if isinstance(cause, ConnectionRefusedError):
            return f"could not connect to {where}: connection refused (is the server running?)"
        if isinstance(cause, socket.gaierror):
            host = urlsplit(where).hostname or where
            return f"could not connect to {where}: unknown host {host} (check the URL, or DNS)"
    return plain(str(exc))


def describe_error(exc: errors.ClickSendError, options: Options) -> str:
    """The error in the user's words, with the next step when there is an obvious one."""
    where = options.endpoint or "the API"
    if isinstance(exc, errors.ConnectionError):
        return _connection_problem(exc, where)
    if isinstance(exc, errors.TimeoutError):
        return f"{where} did not answer in time: {plain(str(exc))}"
    if isinstance(exc, errors.NotFoundError) and options.clicksend_api and options.endpoint:
        url = urlsplit(options.endpoint)
        if url.scheme in ("http", "https") and not url.path.rstrip("/").endswith("/v3"):
            suggestion = options.endpoint.rstrip("/") + "/v3"
            return (
                f"{plain(str(exc))} — {options.endpoint} has no such path; the ClickSend API is "
                f"under /v3: try --base-url {suggestion}"
            )
    if isinstance(exc, errors.AuthenticationError) and options.clicksend_api:
        return (
            f"{plain(str(exc))}: check --username and --api-key "
            "(or CLICKSEND_USERNAME and CLICKSEND_API_KEY)"
        )
    return plain(str(exc)) or type(exc).__name__


# -- dates ----------------------------------------------------------------------------------------


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


def start_of(text: str) -> datetime:
    return parse_when(text)


def end_of(text: str) -> datetime:
    return parse_when(text, end_of_day=True)


def local(moment: datetime | None, *, seconds: bool = True) -> str:
    if moment is None:
        return ""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


# -- output ---------------------------------------------------------------------------------------


def out() -> Console:
    # Built per call: CliRunner and redirections replace sys.stdout between invocations.
    return Console(highlight=False)


def err() -> Console:
    return Console(stderr=True, highlight=False)


def money(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 message`` / ``1,234 messages``: every count the CLI prints has thousands separators."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def tone(count: int, style: str) -> str:
    """A count in ``style`` (rich markup) when it is not zero: colour marks what needs a look,
    and ``0 failed`` is nothing to look at."""
    return f"[{style}]{count:,}[/]" if count else f"{count:,}"


def fitted_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    width: int,
    flexible: str,
    right: Collection[str] = (),
    caption: str = "",
) -> Table:
    """A table of one line per row that fits ``width``: every column keeps its full width but
    ``flexible``, which is cut with an ellipsis (rich alone would shrink every column alike, and
    at 80 columns squeeze the phone numbers to nothing). Cells are rich markup."""
    widths = [
        max([len(header), *(Text.from_markup(row[i]).cell_len for row in rows)])
        for i, header in enumerate(headers)
    ]
    gaps = 3 * (len(headers) - 1)  # SIMPLE_HEAD: one space of padding each side of a divider
    table = Table(box=box.SIMPLE_HEAD, caption=caption, show_edge=False, pad_edge=False)
    for header, column_width in zip(headers, widths, strict=True):
        justify: Literal["left", "right"] = "right" if header in right else "left"
        if header == flexible:
            rest = sum(widths) - column_width + gaps
            table.add_column(
                header, overflow="ellipsis", no_wrap=True, max_width=max(10, width - rest)
            )
        else:
            table.add_column(header, no_wrap=True, justify=justify, min_width=column_width)
    for row in rows:
        table.add_row(*row)
    return table


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def dump(items: Sequence[BaseModel]) -> list[dict[str, Any]]:
    """Models as their wire fields (every declared field, so the keys are stable)."""
    return [item.model_dump(mode="json", by_alias=True) for item in items]


def write_csv(model: type[BaseModel], items: Sequence[BaseModel]) -> None:
    """CSV with a header of the wire field names (the model's, then any extra ones seen)."""
    rows = dump(items)
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
