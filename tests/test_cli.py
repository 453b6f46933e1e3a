"""The `clicksend` commands, run through typer's CliRunner against the emulator.

Each `--sandbox` run builds its emulator through `cli._clients.new_sandbox`; the `sandbox` fixture
makes every run of a test share one, so a test can send, then read the history, and inspect what
the emulator got. Options, errors and output formats have their own files (tests/test_cli_*.py).
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from clicksend_async.bulk import _reconcile as bulk_reconcile
from clicksend_async.cli import _sandbox
from clicksend_async.sandbox import Sandbox
from tests.cli_support import free_port, isolate, run, send, share, summary_count, write_csv


@pytest.fixture(autouse=True)
def session(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate(monkeypatch, tmp_path)


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    return share(monkeypatch, Sandbox())


# -- sms send -------------------------------------------------------------------------------------


def test_sms_send_prints_status_id_and_price_per_recipient(sandbox: Sandbox) -> None:
    result = run(
        "--sandbox", "sms", "send", "--to", "+61411111111", "--to", "+61400000999",
        "--body", "Your code is 1234", "--from", "ACME",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    by_to = {m.to: m for m in sandbox.state.messages.values()}
    for line, to, price in zip(
        lines, ["+61411111111", "+61400000999"], ["0.0000", "0.0700"], strict=True
    ):
        assert line.split() == [to, "SUCCESS", by_to[to].message_id, price, "AUD"]
    assert {(m.body, m.sender) for m in by_to.values()} == {("Your code is 1234", "ACME")}


def test_sms_send_refused_recipient_exits_1(sandbox: Sandbox) -> None:
    result = run("--sandbox", "sms", "send", "--to", "+61411111111", "--to", "nope", "--body", "x")
    assert result.exit_code == 1
    assert "INVALID_RECIPIENT" in result.stdout.splitlines()[1]
    assert result.stderr == "error: 1 of 2 messages not accepted\n"
    assert len(sandbox.state.messages) == 1


def test_sms_send_schedule_accepts_an_iso_datetime_with_offset(sandbox: Sandbox) -> None:
    when = (datetime.now(timezone(timedelta(hours=10))) + timedelta(days=1)).replace(microsecond=0)
    result = run(
        "--sandbox", "sms", "send", "--to", "+61400000001", "--body", "later",
        "--schedule", when.isoformat(),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (message,) = sandbox.state.messages.values()
    assert message.schedule == int(when.timestamp())


# -- sms history ----------------------------------------------------------------------------------


def test_sms_history_json_csv_and_table(sandbox: Sandbox) -> None:
    send("+61400000001", "+61400000002", "+61400000999", body="Hi [bold]there[/]")
    ids = {m.message_id for m in sandbox.state.messages.values()}

    as_json = run("--sandbox", "sms", "history", "--json")
    assert as_json.exit_code == 0, as_json.output
    items = json.loads(as_json.stdout)
    assert {item["message_id"] for item in items} == ids
    assert {"from", "to", "body", "status", "date", "message_price", "custom_string"} <= set(
        items[0]
    )  # wire names (from, not from_)
    assert {item["status"] for item in items} == {"Delivered", "Undelivered"}

    as_csv = run("--sandbox", "sms", "history", "--csv")
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {row["message_id"] for row in rows} == ids
    assert rows[0]["body"] == "Hi [bold]there[/]" and rows[0]["message_price"] == "0.07"

    table = run("--sandbox", "sms", "history")
    assert table.exit_code == 0, table.output
    assert all(message_id in table.stdout for message_id in ids)
    assert "Hi [bold]there[/]" in table.stdout  # user text is not taken as markup
    assert "3 messages" in table.stdout


def test_sms_history_limit_search_and_dates(sandbox: Sandbox) -> None:
    send("+61400000001", "+61400000002", "+61400000999")
    limited = json.loads(run("--sandbox", "sms", "history", "--json", "--limit", "2").stdout)
    assert len(limited) == 2
    found = json.loads(
        run("--sandbox", "sms", "history", "--json", "--search", "to:+61400000999").stdout
    )
    assert [item["to"] for item in found] == ["+61400000999"]
    tomorrow = (datetime.now() + timedelta(days=1)).date().isoformat()
    today = datetime.now().date().isoformat()
    assert json.loads(run("--sandbox", "sms", "history", "--json", "--from", tomorrow).stdout) == []
    # A date alone for --to means the end of that day: today's messages are included.
    assert len(json.loads(run("--sandbox", "sms", "history", "--json", "--to", today).stdout)) == 3


def test_sms_history_json_and_csv_together_is_a_usage_error(sandbox: Sandbox) -> None:
    result = run("--sandbox", "sms", "history", "--json", "--csv")
    assert result.exit_code == 2
    assert "choose one of --json and --csv" in result.stderr


# -- campaign -------------------------------------------------------------------------------------


def test_campaign_fills_placeholders_and_reports_every_bucket(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    contacts = write_csv(
        tmp_path / "contacts.csv",
        "phone,first_name,city\n"
        "+61400000001,Ann,Sydney\n"
        "+61400000002,,Perth\n"  # line 3: empty placeholder value
        ",Bob,Hobart\n"  # line 4: no phone
        "+61400000999,Cy,Melbourne\n"  # the emulator marks ...999 Undelivered
        "not-a-phone,Di,Darwin\n"  # line 6: malformed
        "+61400000005,Ed,Cairns\n",
    )
    result = run(
        "--sandbox", "campaign", "send", "--csv", str(contacts),
        "--body", "Hi {first_name}, your {city} order has shipped.",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    bodies = {m.to: m.body for m in sandbox.state.messages.values()}
    assert bodies == {
        "+61400000001": "Hi Ann, your Sydney order has shipped.",
        "+61400000999": "Hi Cy, your Melbourne order has shipped.",
        "+61400000005": "Hi Ed, your Cairns order has shipped.",
    }
    out = result.stdout
    assert summary_count(out, "rows") == 6
    assert summary_count(out, "accepted") == 3
    assert summary_count(out, "rejected") == 3
    assert summary_count(out, "failed") == 0
    assert summary_count(out, "delivered") == 2
    assert summary_count(out, "undelivered") == 1
    assert "empty first_name  (line 3)" in out
    assert "empty phone  (line 4)" in out
    assert "phone: 'not-a-phone' is not a phone number  (line 6)" in out
    assert "time taken" in out
    assert "3 sent" in result.stderr  # the progress bar's last state


def test_campaign_unknown_placeholder_fails_before_sending(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    contacts = write_csv(tmp_path / "c.csv", "phone_number,name\n+61400000001,Ann\n")
    result = run(
        "--sandbox", "campaign", "send", "--csv", str(contacts), "--body", "Hi {first_name}"
    )
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: --body uses {{first_name}}, which is not a column of {contacts} "
        "(columns: phone_number, name)\n"
    )
    assert sandbox.state.messages == {}


def test_campaign_csv_problems_are_one_line_errors(sandbox: Sandbox, tmp_path: Path) -> None:
    missing = run("--sandbox", "campaign", "send", "--csv", str(tmp_path / "no.csv"), "--body", "x")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error: No such file or directory:")
    no_phone = write_csv(tmp_path / "names.csv", "name\nAnn\n")
    result = run("--sandbox", "campaign", "send", "--csv", str(no_phone), "--body", "x")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "no phone, phone_number or to column" in result.stderr


def test_campaign_reconciles_unknown_chunks_and_resumes_without_resending(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Chunk 1 is processed but its answer is lost (found again by reconcile); chunk 2 gets a 502
    # (never processed: safe to resend). One request at a time so the faults hit those chunks.
    emulator = share(monkeypatch, Sandbox(fault_script=[None, "drop", "html_502"]))
    # The CLI reconciles with the default settle delay (min_age, 60 s): not waited out here.
    monkeypatch.setattr(bulk_reconcile, "DEFAULT_MIN_AGE", 0.0)
    rows = "".join(f"+6140{i:07d},N{i}\n" for i in range(2500))
    contacts = write_csv(tmp_path / "c.csv", "phone,name\n" + rows)
    args = ["--sandbox", "campaign", "send", "--csv", str(contacts), "--body", "Hi {name}"]
    args += ["--concurrency", "1", "--checkpoint", str(tmp_path / "run.jsonl")]
    first = run(*args)
    assert first.exit_code == 1, first.output
    assert summary_count(first.stdout, "accepted") == 2000
    assert summary_count(first.stdout, "unknown") == 0
    assert "safe to resend: 500" in first.stdout
    assert "CSV lines 2002, 2003, 2004, …" in first.stdout
    assert len(emulator.state.messages) == 2000

    again = run(*args)
    assert "0 requests, 3 chunks resumed" in again.stdout
    assert len(emulator.state.messages) == 2000 and emulator.state.duplicates == 0


def test_campaign_with_messages_still_unknown_exits_1_and_says_when_to_run_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Chunk 2 gets a 500 (maybe processed, not in the history): within the settle delay it stays
    # unknown, which is not a success.
    share(monkeypatch, Sandbox(fault_script=[None, "http_500"]))
    rows = "".join(f"+6140{i:07d},N{i}\n" for i in range(1500))
    contacts = write_csv(tmp_path / "c.csv", "phone,name\n" + rows)
    args = ["--sandbox", "campaign", "send", "--csv", str(contacts), "--body", "Hi {name}"]
    result = run(*args, "--concurrency", "1", "--checkpoint", str(tmp_path / "run.jsonl"))
    assert result.exit_code == 1, result.output
    assert summary_count(result.stdout, "unknown") == 500
    assert "not in the history yet" in result.stdout and "again in a minute" in result.stdout


# -- voximplant -----------------------------------------------------------------------------------


def test_voximplant_calls_sandbox_json_and_table(sandbox: Sandbox) -> None:
    first = sandbox.voximplant.start  # the synthetic history is recent: it moves with the clock
    iso = "%Y-%m-%dT%H:%M:%SZ"
    args = ["--sandbox", "voximplant", "calls", "--from", first.strftime(iso)]
    args += ["--to", (first + timedelta(seconds=9)).strftime(iso), "--limit", "4"]
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    sessions = json.loads(result.stdout)
    assert [s["call_session_history_id"] for s in sessions] == [4_000_000_000 + i for i in range(4)]
    assert sessions[0]["start_date"] == first.strftime("%Y-%m-%d %H:%M:%S")
    assert sessions[0]["calls"][0]["remote_number"] == "42027870000"

    no_calls = json.loads(run(*args, "--json", "--no-calls").stdout)
    assert all(s["calls"] is None for s in no_calls)

    table = run(*args)
    assert table.exit_code == 0, table.output
    assert "4000000003" in table.stdout and "42027870003" in table.stdout
    assert "4 call sessions" in table.stdout


# -- usage errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["sms", "history", "--from", "2026-13-01"],
        ["voximplant", "calls", "--from", "yesterday", "--to", "2026-01-02"],
        ["sms", "send", "--to", "+61411111111", "--body", "x", "--schedule", "11/01/2026"],
    ],
)
def test_bad_date_is_a_usage_error(args: list[str], sandbox: Sandbox) -> None:
    result = run("--sandbox", *args)
    assert result.exit_code == 2
    assert "Invalid value for '--" in result.stderr
    assert "is not an ISO 8601 date or datetime (e.g. 2026-11-01" in result.stderr
    assert sandbox.state.messages == {}


# -- sandbox server -------------------------------------------------------------------------------


def test_sandbox_help_lists_the_knobs() -> None:
    result = run("sandbox", "--help")
    assert result.exit_code == 0
    for option in (
        "--host", "--port", "--latency", "--rate-limit", "--fault-rate", "--receipt-delay",
        "--webhook-url",
    ):  # fmt: skip
        assert option in result.stdout


def test_sandbox_prints_url_and_credentials_then_serves_the_configured_emulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: list[tuple[Sandbox, str, int]] = []
    monkeypatch.setattr(_sandbox, "run_server", lambda *args: served.append(args))
    port = free_port()
    result = run(
        "sandbox", "--port", str(port), "--latency", "0.25", "--rate-limit", "5",
        "--fault-rate", "0.1", "--receipt-delay", "30", "--webhook-url", "http://127.0.0.1:9/hook",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"ClickSend sandbox: http://127.0.0.1:{port}/v3"
    assert "username: sandbox" in lines[1] and "api key:  sandbox" in lines[2]
    ((emulator, host, bound),) = served
    assert (host, bound) == ("127.0.0.1", port)
    config = emulator.config
    assert (config.latency, config.rate_limit, config.fault_rate) == (0.25, 5.0, 0.1)
    assert (config.receipt_delay, config.webhook_url) == (30.0, "http://127.0.0.1:9/hook")


# -- entry points ---------------------------------------------------------------------------------


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "clicksend_async.cli", "--sandbox", "sms", "send",
         "--to", "+61400000001", "--body", "hi"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:2] == ["+61400000001", "SUCCESS"]
