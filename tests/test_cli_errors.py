"""The `clicksend` command's errors: one line in the user's words, naming the next step, never a
Python class name or a secret. The servers they need are started by each test on loopback."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from clicksend_async.cli import _sandbox
from clicksend_async.sandbox import Sandbox
from tests.cli_support import free_port, isolate, plain_tcp_server, run, served, share, write_csv

# What an error line must not contain: Python class names, transport internals.
PYTHON_SPEAK = re.compile(
    r"[A-Z][a-z]+(?:[A-Z][a-z]+)*(?:Error|Exception)\b|ssl:|_ssl\.c|Traceback"
)
CREDENTIALS = ["--username", "someone", "--api-key", "SECRET-KEY-123"]


@pytest.fixture(autouse=True)
def session(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate(monkeypatch, tmp_path)


def one_error_line(result_stderr: str) -> str:
    assert result_stderr.startswith("error: ") and result_stderr.count("\n") == 1, result_stderr
    assert not PYTHON_SPEAK.search(result_stderr), result_stderr
    return result_stderr[len("error: ") : -1]


# -- credentials ----------------------------------------------------------------------------------


def test_missing_credentials_name_the_flag_and_the_env_var(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLICKSEND_USERNAME", "user-who-is-not-printed")
    result = run("sms", "send", "--to", "+61411111111", "--body", "hi")
    assert result.exit_code == 1 and result.stdout == ""
    line = one_error_line(result.stderr)
    assert line.startswith("missing ClickSend credentials: no API key. Pass --api-key or set ")
    assert "CLICKSEND_API_KEY" in line and "--sandbox" in line
    assert "user-who-is-not-printed" not in result.output

    monkeypatch.delenv("CLICKSEND_USERNAME")
    both = one_error_line(run("sms", "history").stderr)
    assert "Pass --username and --api-key or set CLICKSEND_USERNAME and CLICKSEND_API_KEY" in both

    vox = run("voximplant", "calls", "--from", "2026-01-01", "--to", "2026-01-02")
    assert vox.exit_code == 1
    line = one_error_line(vox.stderr)
    assert line.startswith("missing Voximplant credentials: pass --credentials FILE")
    assert "VOXIMPLANT_CREDENTIALS" in line


def test_refused_credentials_say_which_options_to_check() -> None:
    with served(Sandbox()) as origin:
        result = run("sms", "history", "--base-url", f"{origin}/v3", *CREDENTIALS)
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert "HTTP 401 INVALID_CREDENTIALS" in line
    assert line.endswith(
        "check --username and --api-key (or CLICKSEND_USERNAME and CLICKSEND_API_KEY)"
    )
    assert "SECRET-KEY-123" not in result.output


# -- connections ----------------------------------------------------------------------------------


def test_connection_refused_names_the_url_and_asks_if_the_server_runs() -> None:
    url = f"http://127.0.0.1:{free_port()}/v3"
    result = run("sms", "history", "--json", "--base-url", url, *CREDENTIALS)
    assert result.exit_code == 1 and result.stdout == ""
    assert one_error_line(result.stderr) == (
        f"could not connect to {url}: connection refused (is the server running?)"
    )
    assert "SECRET-KEY-123" not in result.output


def test_tls_to_a_plain_http_server_is_explained_without_python() -> None:
    with plain_tcp_server() as port:
        url = f"https://127.0.0.1:{port}/v3"
        result = run("sms", "history", "--base-url", url, *CREDENTIALS)
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert line.startswith(f"TLS handshake with {url} failed (")
    assert line.endswith("the server does not speak TLS: use http:// for a plain-HTTP server "
                         "such as clicksend sandbox")  # fmt: skip


def test_a_base_url_without_v3_suggests_adding_it() -> None:
    with served(Sandbox()) as origin:
        result = run("sms", "history", "--base-url", origin, "--username", "sandbox",
                     "--api-key", "sandbox")  # fmt: skip
        assert result.exit_code == 1
        line = one_error_line(result.stderr)
        assert "HTTP 404" in line
        assert line.endswith(f"the ClickSend API is under /v3: try --base-url {origin}/v3")
        fixed = run("sms", "history", "--base-url", f"{origin}/v3", "--username", "sandbox",
                    "--api-key", "sandbox")  # fmt: skip
        assert fixed.exit_code == 0, fixed.output


# -- campaign input -------------------------------------------------------------------------------


def test_a_rejected_phone_shows_its_value_escaped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    share(monkeypatch, Sandbox())
    contacts = write_csv(
        tmp_path / "c.csv",
        "phone,name\n+61400000001,Ann\n[red]12,Bob\nnot-a-phone,Cy\n" + "x" * 60 + ",Di\n",
    )
    args = ["--sandbox", "campaign", "send", "--csv", str(contacts), "--body", "Hi {name}"]
    result = run(*args)
    assert result.exit_code == 0, result.output
    # Grouped as one reason, shown with its first value, taken literally (not as markup).
    assert "phone: '[red]12' is not a phone number (and 2 other values)  (lines 3, 4, 5)" in (
        result.stdout
    )
    rejections = json.loads(run(*args, "--json").stdout)["rejections"]
    assert rejections == [
        {
            "reason": "phone: '[red]12' is not a phone number (and 2 other values)",
            "count": 3,
            "lines": [3, 4, 5],
        }
    ]


def test_a_long_rejected_value_is_cut(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    share(monkeypatch, Sandbox())
    contacts = write_csv(tmp_path / "c.csv", "phone\n" + "x" * 60 + "\n")
    result = run("--sandbox", "campaign", "send", "--csv", str(contacts), "--body", "hi", "--json")
    (rejection,) = json.loads(result.stdout)["rejections"]
    assert rejection["reason"] == f"phone: '{'x' * 37}…' is not a phone number"


# -- the sandbox server ---------------------------------------------------------------------------


def test_sandbox_on_a_busy_port_fails_before_its_banner(monkeypatch: pytest.MonkeyPatch) -> None:
    served_on: list[int] = []
    monkeypatch.setattr(_sandbox, "run_server", lambda _s, _h, port: served_on.append(port))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("sandbox", "--port", str(port))
    assert result.exit_code == 1
    assert result.stdout == ""  # no banner, no credentials printed for a server that never ran
    assert one_error_line(result.stderr) == (
        f"port {port} on 127.0.0.1 is already in use (another clicksend sandbox?): stop it, or "
        "choose another port with --port"
    )
    assert served_on == []
