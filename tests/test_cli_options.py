"""The `clicksend` command's options: global options wherever they are typed, --json on every
command, credentials and base URL as flags, the persistent sandbox session, shell completion,
readable help, and the console script without the `cli` extra."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import typer

from clicksend_async.cli import _clients, _sandbox
from clicksend_async.cli._app import app
from clicksend_async.cli._common import Options
from clicksend_async.sandbox import Sandbox
from tests.cli_support import free_port, isolate, run, send, served, share, write_csv
from tests.spec_index import ROOT


@pytest.fixture(autouse=True)
def session(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate(monkeypatch, tmp_path)


ISO = "%Y-%m-%dT%H:%M:%SZ"


def commands(command: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every leaf command of the app (sms send, sandbox, ...)."""
    command = command or typer.main.get_command(app)
    children = getattr(command, "commands", None)
    if children is None:
        yield path
        return
    for name, child in children.items():
        yield from commands(child, (*path, name))


def test_the_command_tree() -> None:
    assert sorted(commands()) == [
        ("campaign", "send"),
        ("sandbox",),
        ("sms", "history"),
        ("sms", "send"),
        ("voximplant", "calls"),
    ]


# -- global options anywhere ----------------------------------------------------------------------


def test_global_options_work_before_and_after_the_subcommand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator = share(monkeypatch, Sandbox())
    sent = run("sms", "send", "--to", "+61400000001", "--body", "after", "--sandbox")
    assert sent.exit_code == 0, sent.output
    (message,) = emulator.state.messages.values()
    for args in (
        ["--sandbox", "sms", "history", "--json"],
        ["sms", "--sandbox", "history", "--json"],
        ["sms", "history", "--json", "--sandbox"],
    ):
        result = run(*args)
        assert result.exit_code == 0, (args, result.output)
        assert [item["message_id"] for item in json.loads(result.stdout)] == [message.message_id]
    assert run("sms", "history", "--version").stdout.startswith("clicksend-async ")


def test_a_value_that_looks_like_a_global_option_stays_a_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator = share(monkeypatch, Sandbox())
    result = run("sms", "send", "--to", "+61400000001", "--body", "--sandbox", "--sandbox")
    assert result.exit_code == 0, result.output
    assert [m.body for m in emulator.state.messages.values()] == ["--sandbox"]


def test_a_global_option_missing_its_value_is_a_usage_error() -> None:
    result = run("sms", "history", "--base-url")
    assert result.exit_code == 2
    assert "'--base-url'" in result.stderr and "requires a value" in result.stderr


# -- credentials and base URL as flags ------------------------------------------------------------


def test_base_url_username_and_api_key_flags_and_their_env_vars() -> None:
    emulator = Sandbox()
    with served(emulator) as origin:
        credentials = ["--username", "sandbox", "--api-key", "sandbox"]
        flags = run(
            "--base-url", f"{origin}/v3", *credentials, "sms", "send",
            "--to", "+61400000001", "--body", "by flags",
        )  # fmt: skip
        assert flags.exit_code == 0, flags.output
        after = run("sms", "history", "--json", "--base-url", f"{origin}/v3", *credentials)
        assert after.exit_code == 0, after.output
        assert [item["body"] for item in json.loads(after.stdout)] == ["by flags"]
        env = {
            "CLICKSEND_BASE_URL": f"{origin}/v3",
            "CLICKSEND_USERNAME": "sandbox",
            "CLICKSEND_API_KEY": "sandbox",
        }
        by_env = run("sms", "history", "--json", env=env)
        assert by_env.exit_code == 0, by_env.output
        assert len(json.loads(by_env.stdout)) == 1
        # A flag wins over its environment variable.
        wrong = run("sms", "history", "--api-key", "not-the-key", env=env)
        assert wrong.exit_code == 1 and "HTTP 401" in wrong.stderr
    assert [m.body for m in emulator.state.messages.values()] == ["by flags"]


def test_base_url_must_be_an_http_url() -> None:
    result = run("--base-url", "rest.clicksend.com/v3", "sms", "history")
    assert result.exit_code == 2
    assert "'rest.clicksend.com/v3' is not an http:// or https:// URL" in result.stderr


# -- the sandbox session --------------------------------------------------------------------------


def test_the_sandbox_session_persists_across_commands(session: Path) -> None:
    # No shared emulator here: every command builds its own, as `clicksend` does.
    sent = send("+61400000001", "+61400000999", body="still here")
    ids = {line.split()[2] for line in sent.stdout.splitlines()}
    history = run("--sandbox", "sms", "history", "--json")
    assert history.exit_code == 0, history.output
    assert {item["message_id"] for item in json.loads(history.stdout)} == ids
    assert session.exists()

    send("+61400000002")
    assert len(json.loads(run("--sandbox", "sms", "history", "--json").stdout)) == 3

    reset = run("sandbox", "--reset", "--json")
    assert reset.exit_code == 0, reset.output
    assert json.loads(reset.stdout) == {"state_file": str(session), "cleared": True}
    assert json.loads(run("--sandbox", "sms", "history", "--json").stdout) == []


def test_sandbox_state_flag_chooses_the_session_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    send_args = ["sms", "send", "--to", "+61400000001", "--body", "in a"]
    assert run("--sandbox", "--sandbox-state", str(first), *send_args).exit_code == 0
    in_a = run("sms", "history", "--json", "--sandbox", "--sandbox-state", str(first))
    in_b = run("sms", "history", "--json", "--sandbox", "--sandbox-state", str(second))
    assert [item["body"] for item in json.loads(in_a.stdout)] == ["in a"]
    assert json.loads(in_b.stdout) == []


def test_the_default_session_file_is_in_the_users_cache_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CLICKSEND_SANDBOX_STATE")
    for name in ("HOME", "XDG_CACHE_HOME", "LOCALAPPDATA"):  # wherever this platform looks
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    with monkeypatch.context() as linux:
        linux.setattr(sys, "platform", "linux")
        expected = tmp_path / "xdg_cache_home" / "clicksend-async" / "sandbox-session.json"
        assert _clients.state_path(Options()) == expected
    default = _clients.state_path(Options())
    assert tmp_path in default.parents and default.name == "sandbox-session.json"
    send("+61400000001")
    assert default.exists()


def test_an_unreadable_session_file_says_how_to_clear_it(session: Path) -> None:
    session.write_text("{not json", encoding="utf-8")
    result = run("--sandbox", "sms", "history")
    assert result.exit_code == 1
    assert f"the sandbox session file {session} is unreadable" in result.stderr
    assert "clicksend sandbox --reset" in result.stderr
    assert run("sandbox", "--reset").stdout == f"sandbox session cleared: {session}\n"
    assert run("--sandbox", "sms", "history", "--json").stdout.strip() == "[]"


def test_a_session_restores_every_table_of_the_emulator(tmp_path: Path) -> None:
    emulator = Sandbox()
    state = emulator.state
    state.lists[state.next_id()] = {"list_id": 1000, "list_name": "vip"}
    state.contacts[1000] = {state.next_id(): {"contact_id": 1001, "phone_number": "+61400000001"}}
    state.balance = 12.5
    state.responses[200] += 3
    copy = Sandbox()
    copy.state.restore(json.loads(json.dumps(state.snapshot())))
    assert copy.state.snapshot() == state.snapshot()
    assert copy.state.next_id() == state.next_id()  # ids keep counting where they were


# -- --json on every command ----------------------------------------------------------------------


def test_every_command_takes_json() -> None:
    for path in commands():
        result = run(*path, "--help")
        assert result.exit_code == 0, path
        assert "--json" in result.stdout, path


def test_json_output_of_every_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    emulator = share(monkeypatch, Sandbox())
    sent = run("--sandbox", "sms", "send", "--to", "+61400000001", "--to", "bad", "--body", "x",
               "--json")  # fmt: skip
    assert sent.exit_code == 1  # one recipient refused: still JSON on stdout
    data = json.loads(sent.stdout)
    assert {"total_price", "total_count", "queued_count", "messages", "_currency"} <= set(data)
    assert [m["status"] for m in data["messages"]] == ["SUCCESS", "INVALID_RECIPIENT"]

    history = json.loads(run("--sandbox", "sms", "history", "--json").stdout)
    assert [item["to"] for item in history] == ["+61400000001"]

    contacts = write_csv(tmp_path / "c.csv", "phone,name\n+61400000002,Ann\nnope,Bo\n")
    campaign = run("--sandbox", "campaign", "send", "--csv", str(contacts), "--body", "Hi {name}",
                   "--json")  # fmt: skip
    assert campaign.exit_code == 0, campaign.output
    assert campaign.stderr == ""  # no progress bar when a program reads the output
    summary = json.loads(campaign.stdout)
    assert set(summary) == {
        "run_id", "csv", "rows", "accepted", "rejected", "failed", "unknown", "safe_to_resend",
        "not_sent", "delivery", "delivery_error", "rejections", "failures",
        "safe_to_resend_lines", "requests", "resumed_chunks", "elapsed_seconds",
        "sending_seconds", "messages_per_second", "reading_error",
    }  # fmt: skip
    assert (summary["rows"], summary["accepted"], summary["rejected"]) == (2, 1, 1)
    assert summary["delivery"] == {
        "delivered": 1, "undelivered": 0, "pending": 0, "not_in_history_yet": 0,
    }  # fmt: skip
    assert summary["rejections"] == [
        {"reason": "phone: 'nope' is not a phone number", "count": 1, "lines": [3]}
    ]

    first = emulator.voximplant.start  # the synthetic history is recent: it moves with the clock
    calls = run("--sandbox", "voximplant", "calls", "--from", first.strftime(ISO),
                "--to", (first + timedelta(seconds=9)).strftime(ISO), "--limit", "2",
                "--json")  # fmt: skip
    assert [s["call_session_history_id"] for s in json.loads(calls.stdout)] == [
        4_000_000_000,
        4_000_000_001,
    ]

    monkeypatch.setattr(_sandbox, "run_server", lambda *args: None)
    port = free_port()
    banner = run("sandbox", "--port", str(port), "--json")
    assert banner.exit_code == 0, banner.output
    assert json.loads(banner.stdout) == {
        "base_url": f"http://127.0.0.1:{port}/v3",
        "username": "sandbox",
        "api_key": "sandbox",
        "voximplant_url": f"http://127.0.0.1:{port}/platform_api",
    }


# -- help and completion --------------------------------------------------------------------------


def test_help_names_values_in_words_never_python_types() -> None:
    for path in [(), ("sms",), ("campaign",), ("voximplant",), *commands()]:
        result = run(*path, "--help")
        assert result.exit_code == 0, path
        python_type = re.search(r"<(?:bool|str|int|float|path|list\[[^\]]*\])[^>]*>", result.stdout)
        assert python_type is None, (path, python_type)
    assert "--to" in run("sms", "send", "--help").stdout
    assert re.search(r"--to\s+PHONE", run("sms", "send", "--help").stdout)


def test_show_completion_prints_the_bash_script(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without shell detection (what a test can rely on) the shell is named as the value.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    result = run("--show-completion", "bash")
    assert result.exit_code == 0, result.output
    assert "_CLICKSEND_COMPLETE=complete_bash" in result.stdout
    assert "complete -o default -F _clicksend_completion clicksend" in result.stdout


def test_completion_completes_commands_and_options() -> None:
    def complete(line: str) -> list[str]:
        words = line.split(" ")
        env = {
            "_CLICKSEND_COMPLETE": "complete_bash",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
        }
        result = run(env=env)
        assert result.exit_code == 0, result.output
        return result.stdout.split()

    assert complete("clicksend sms h") == ["history"]
    assert complete("clicksend s") == ["sandbox", "sms"]
    assert "--checkpoint" in complete("clicksend campaign send --")
    assert "--sandbox-state" in complete("clicksend --sandbox-")
    # Global options after the command do not get in the way, even unfinished.
    assert complete("clicksend sms --sandbox h") == ["history"]
    assert complete("clicksend sms history --base-url ") == []  # a URL: nothing to offer


# -- the README's "Command line" section ----------------------------------------------------------


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    lines = [
        line
        for block in re.findall(r"```bash\n(.*?)```", section, re.S)
        for line in block.splitlines()
    ]
    return [line.split("  #", 1)[0].strip() for line in lines if line.startswith("clicksend ")]


def test_the_readmes_sandbox_session_runs_as_written() -> None:
    session_commands = [line for line in readme_commands() if "--sandbox" in line.split()]
    assert len(session_commands) == 3
    results = [run(*shlex.split(line)[1:]) for line in session_commands]
    assert [r.exit_code for r in results] == [0, 0, 0], [r.output for r in results]
    history = json.loads(results[-1].stdout)
    assert sorted(item["status"] for item in history) == ["Delivered", "Undelivered"]


def test_the_readmes_sandbox_server_commands_run_as_written() -> None:
    (client,) = [line for line in readme_commands() if "--base-url http://127.0.0.1:8080" in line]
    assert "clicksend sandbox --port 8080" in readme_commands()
    emulator = Sandbox()
    with served(emulator) as origin:
        result = run(*shlex.split(client.replace("http://127.0.0.1:8080", origin))[1:])
    assert result.exit_code == 0, result.output
    assert "0 messages" in result.stdout


# -- the console script ---------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["typer", "rich"])
def test_the_script_without_the_cli_extra_says_what_to_install(missing: str) -> None:
    code = (
        f"import sys; sys.modules[{missing!r}] = None\n"
        "from clicksend_async.cli import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "sms", "history"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "pip install 'clicksend-async[cli]'" in done.stderr
    assert f"({missing} is not installed)" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_importing_the_cli_package_does_not_import_typer() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys, clicksend_async.cli; print('typer' in sys.modules)"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_version_answers_without_loading_typer_or_the_sdk() -> None:
    """`clicksend --version` is what install scripts probe: it must be fast (issue 13)."""
    import subprocess
    import sys

    code = (
        "import sys; sys.argv = ['clicksend', '--version']\n"
        "from clicksend_async.cli import main; main()\n"
        "print(sorted(m for m in ('typer', 'rich', 'httpx', 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    version_line, loaded = out.stdout.splitlines()
    assert version_line.startswith("clicksend-async ") and loaded == "[]"
