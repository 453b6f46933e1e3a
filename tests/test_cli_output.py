"""The `clicksend` command's text output: tables that fit 80 columns, thousands separators in
every count, and colours that mean something (red only when something failed)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from clicksend_async.sandbox import DOCS_TEST_KEY, Sandbox, SandboxConfig
from tests.cli_support import ANSI, RED, isolate, run, send, share, summary_count, write_csv

NARROW = {"COLUMNS": "80"}
COLOUR = {"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "200"}


@pytest.fixture(autouse=True)
def session(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate(monkeypatch, tmp_path)


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    return share(monkeypatch, Sandbox())


def widest(text: str) -> int:
    return max(len(line) for line in ANSI.sub("", text).splitlines())


# -- 80 columns -----------------------------------------------------------------------------------


def test_the_history_table_is_readable_at_80_columns(sandbox: Sandbox) -> None:
    send("+61400000001", "+61400000999", body="Your order #1234 has shipped and is on its way")
    result = run("--sandbox", "sms", "history", env=NARROW)
    assert result.exit_code == 0, result.output
    assert widest(result.stdout) <= 80, result.stdout
    rows = [line for line in result.stdout.splitlines() if "+6140000" in line]
    assert len(rows) == 2
    expected = {"+61400000001": "Delivered", "+61400000999": "Undelivered"}
    for row in rows:
        # Every column but the body is whole; the body is cut, not dropped.
        to = next(number for number in expected if number in row)
        assert expected.pop(to) in row and "0.0700" in row and "Your order #1234" in row, row
    assert "message ids: --json, --csv or a wider terminal" in result.stdout


def test_the_call_table_fits_80_columns(sandbox: Sandbox) -> None:
    first, iso = sandbox.voximplant.start, "%Y-%m-%dT%H:%M:%SZ"  # recent: moves with the clock
    args = ["--sandbox", "voximplant", "calls", "--from", first.strftime(iso)]
    args += ["--to", (first + timedelta(seconds=9)).strftime(iso), "--limit", "3"]
    result = run(*args, env=NARROW)
    assert result.exit_code == 0, result.output
    assert widest(result.stdout) <= 80, result.stdout
    assert "4000000002" in result.stdout and "42027870002" in result.stdout


def test_the_campaign_summary_fits_80_columns(sandbox: Sandbox, tmp_path: Path) -> None:
    bad = "".join(f"not-a-phone-{i},N\n" for i in range(5))
    contacts = write_csv(tmp_path / "c.csv", "phone,name\n+61400000001,Ann\n" + bad)
    args = ["--sandbox", "campaign", "send", "--csv", str(contacts), "--body", "Hi {name}"]
    result = run(*args, env=NARROW)
    assert result.exit_code == 0, result.output
    assert widest(result.stdout) <= 80, result.stdout
    assert widest(result.stderr) <= 80, result.stderr  # the progress bar


# -- thousands separators -------------------------------------------------------------------------


def test_counts_have_thousands_separators(sandbox: Sandbox, tmp_path: Path) -> None:
    rows = "".join(f"+6140{i:07d}\n" for i in range(1_200))
    contacts = write_csv(tmp_path / "c.csv", "phone\n" + rows)
    campaign = run("--sandbox", "campaign", "send", "--csv", str(contacts), "--body", "hi")
    assert campaign.exit_code == 0, campaign.output
    assert summary_count(campaign.stdout, "accepted") == 1_200
    assert re.search(r"^accepted +1,200 *$", ANSI.sub("", campaign.stdout), re.MULTILINE)
    assert "1,200/1,200" in campaign.stderr and "1,200 sent" in campaign.stderr
    assert "2 requests" in campaign.stdout

    history = run("--sandbox", "sms", "history", "--limit", "1500")
    assert history.exit_code == 0, history.output
    assert "1,200 messages" in history.stdout

    refused = run("--sandbox", "sms", "send", "--body", "x", *(["--to", "nope"] * 1_000))
    assert refused.exit_code == 1
    assert refused.stderr == "error: 1,000 of 1,000 messages not accepted\n"


# -- colours --------------------------------------------------------------------------------------


def lines_with(text: str, word: str) -> list[str]:
    return [line for line in text.splitlines() if word in ANSI.sub("", line)]


def test_zero_failed_is_not_red(sandbox: Sandbox, tmp_path: Path) -> None:
    contacts = write_csv(tmp_path / "c.csv", "phone\n+61400000001\n+61400000002\n")
    result = run("--sandbox", "campaign", "send", "--csv", str(contacts), "--body", "hi",
                 env=COLOUR)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert ANSI.search(result.stdout), "colour was not forced"
    for line in lines_with(result.stderr, "0 failed") + lines_with(result.stdout, "failed"):
        assert not RED.search(line), repr(line)
    (accepted,) = lines_with(result.stdout, "accepted")
    assert "\x1b[32m" in accepted  # 2 accepted: green


def test_failures_are_red(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A banned account: every send is refused (403), so its chunk failed as a whole.
    share(monkeypatch, Sandbox(SandboxConfig(username="banned", api_key=DOCS_TEST_KEY)))
    contacts = write_csv(tmp_path / "c.csv", "phone\n+61400000001\n+61400000002\n")
    result = run("--sandbox", "campaign", "send", "--csv", str(contacts), "--body", "hi",
                 env=COLOUR)  # fmt: skip
    assert result.exit_code == 1, result.output
    (failed,) = lines_with(result.stdout, "failed  ")
    assert RED.search(failed), repr(failed)
    assert any(RED.search(line) for line in lines_with(result.stderr, "2 failed"))
    (accepted,) = lines_with(result.stdout, "accepted")
    assert "\x1b[32m" not in accepted  # nothing accepted: no green

    args = ["--sandbox", "campaign", "send", "--csv", str(contacts), "--body", "hi", "--json"]
    summary = json.loads(run(*args).stdout)
    assert summary["failures"] == [
        {"error": "POST /sms/send: HTTP 403 FORBIDDEN: This account is banned", "messages": 2}
    ]


def test_sms_send_status_colours(sandbox: Sandbox) -> None:
    result = run("--sandbox", "sms", "send", "--to", "+61400000001", "--to", "nope",
                 "--body", "x", env=COLOUR)  # fmt: skip
    ok, refused = result.stdout.splitlines()
    assert "\x1b[32mSUCCESS" in ok and not RED.search(ok)
    assert RED.search(refused) and "INVALID_RECIPIENT" in refused
