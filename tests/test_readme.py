"""The README's Python examples run as written (the HTTP layer is swapped for a respx router)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from clicksend_async import _base_client
from clicksend_async._transport import HttpxSender
from clicksend_async.voximplant import _client as vox_client
from tests.conftest import BASE, envelope
from tests.redisserver import redis_server
from tests.spec_index import EXAMPLES, ROOT

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)


def fake_api() -> respx.MockRouter:
    router = respx.MockRouter(base_url=BASE, assert_all_called=False)
    message = {
        "message_id": "M1",
        "status": "SUCCESS",
        "message_price": "0.0700",
        "date": "1436871253",
    }
    router.post("/sms/send").respond(200, json=envelope({"messages": [message]}))
    router.get("/sms/history").respond(
        200, json=envelope({"total": 1, "current_page": 1, "last_page": 1, "data": [message]})
    )
    router.get("/account").respond(
        200,
        json=envelope({"username": "demo", "balance": "12.500000"}),
        headers={"x-ratelimit-remaining": "99"},
    )
    return router


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2 and any("AsyncClickSend" in block for block in BLOCKS)


def fake_voximplant() -> respx.MockRouter:
    router = respx.MockRouter(base_url=vox_client.DEFAULT_BASE_URL, assert_all_called=False)
    example = json.loads((EXAMPLES / "POST__platform_api__GetCallHistory.json").read_text())
    router.post("/GetCallHistory").respond(200, json=example)
    return router


def write_credentials(directory: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    credentials = {"account_id": 1, "key_id": "k1", "private_key": pem, "account_email": "a@b.c"}
    (directory / "credentials.json").write_text(json.dumps(credentials))


def senders_to(clicksend: respx.MockRouter, voximplant: respx.MockRouter) -> Any:
    """The default sender of both clients, answered by the fake of the API its URL names."""

    async def handler(request: httpx.Request) -> httpx.Response:
        is_vox = str(request.url).startswith(vox_client.DEFAULT_BASE_URL)
        return await (voximplant if is_vox else clicksend).async_handler(request)

    def sender(**_: Any) -> HttpxSender:
        mock = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        return HttpxSender(mock, owned=True)

    return sender


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(
    block: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    if "serve_in_background" not in block:  # else it talks to the emulator on loopback
        monkeypatch.setattr(
            _base_client, "DefaultSender", senders_to(fake_api(), fake_voximplant())
        )
    write_credentials(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLICKSEND_USERNAME", "demo")
    monkeypatch.setenv("CLICKSEND_API_KEY", "demo-key")
    with contextlib.ExitStack() as stack:
        if "REDIS_URL" in block:  # the example's local Redis: a real one on a free port
            monkeypatch.setenv("REDIS_URL", stack.enter_context(redis_server()).url)
        exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    expected = [text for marker, text in EXPECTED.items() if marker in block]
    assert expected, "every README example needs an expected output in EXPECTED"
    for text in expected:
        assert text in out


# A marker that identifies each README block -> text its output must contain.
EXPECTED = {
    "cs.sms.history(date_from=since": "M1 SUCCESS 0.0700",
    "from_credentials_file": "Normal call clearing",
    "send_bulk(": "'accepted': 2500",
    "fault_script": "outcome unknown: True ('r1',)",
    "parse_webhook(": "SmsDeliveryReceiptWebhook Delivered 2015-08-10 02:33:01+00:00",
    "SmsHistoryResponse": "",
    "RedisRateBackend(REDIS_URL)": "2 workers, 20 sends in",
    "on_request": "-> GET /account attempt 1\n<- 200",
    "RedisCheckpoint(REDIS_URL": "sent twice: 0",
}


# -- the examples type-check as strictly as a user's CI would (issue 14, point 4) ---------------

CHECKERS_ENV = {**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"}  # no version check online


def write_blocks(directory: Path, blocks: list[str]) -> list[Path]:
    paths = []
    for i, block in enumerate(blocks):
        path = directory / f"readme_block_{i}.py"
        path.write_text(block, encoding="utf-8")
        paths.append(path)
    return paths


def run_mypy(directory: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mypy", "--strict"]
    command += ["--config-file", str(ROOT / "pyproject.toml")]
    command += ["--cache-dir", str(directory / ".mypy_cache"), "--no-error-summary", str(directory)]
    return subprocess.run(command, capture_output=True, text=True, cwd=directory, timeout=300)


def run_pyright(directory: Path) -> dict[str, Any]:
    (directory / "pyrightconfig.json").write_text(
        json.dumps({"typeCheckingMode": "strict", "pythonVersion": "3.10"})
    )
    # The pip package bundles pyright and runs it on the machine's Node.js; without one it would
    # download Node, which a test must never do.
    assert shutil.which("node"), "pyright needs Node.js on PATH"
    pyright = Path(sys.executable).with_name("pyright")
    result = subprocess.run(
        [str(pyright), "--outputjson", "--pythonpath", sys.executable, str(directory)],
        capture_output=True,
        text=True,
        cwd=directory,
        env=CHECKERS_ENV,
        timeout=300,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_every_readme_example_passes_mypy_strict_and_pyright_strict(tmp_path: Path) -> None:
    write_blocks(tmp_path, BLOCKS)
    mypy = run_mypy(tmp_path)
    assert mypy.returncode == 0 and mypy.stdout == "", mypy.stdout + mypy.stderr
    report = run_pyright(tmp_path)
    errors_found = [
        f"{Path(d['file']).name}:{d['range']['start']['line'] + 1}: {d['message']}"
        for d in report["generalDiagnostics"]
        if d["severity"] == "error"
    ]
    assert errors_found == [] and report["summary"]["filesAnalyzed"] == len(BLOCKS)


TYPOS = """
import asyncio
from clicksend_async import AsyncClickSend


async def main() -> None:
    async with AsyncClickSend() as cs:
        await cs.sms.send(messages=[{"too": "+61411111111", "body": "hi"}])  # line 8
        await cs.sms.send({"mesages": []})  # line 9
        print([r.status async for r in cs.sms.receipts()])  # line 10
        sent = await cs.sms.send(messages=[{"to": "+61411111111", "body": "hi"}])
        print(sent.messages)  # line 12: no "None" to narrow any more


asyncio.run(main())
"""


def test_both_checkers_catch_a_misspelt_message_key_and_an_undeclared_field(
    tmp_path: Path,
) -> None:
    write_blocks(tmp_path, [TYPOS])
    mypy = run_mypy(tmp_path)
    flagged = {int(line.split(":")[1]) for line in mypy.stdout.splitlines() if ": error:" in line}
    assert flagged == {8, 9, 10}, mypy.stdout
    report = run_pyright(tmp_path)
    lines = {d["range"]["start"]["line"] + 1 for d in report["generalDiagnostics"]}
    assert lines == {8, 9, 10}, report["generalDiagnostics"]
