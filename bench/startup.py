"""Cold start in clean venvs (issue 13): `import clicksend_async` and process start to the first
completed sandbox call with the runtime deps only, `clicksend --version` with the cli extra, and
the official SDK's `import clicksend`; with the official SDK, also process start to the first
completed send against a loopback server, for both SDKs. Medians of N fresh processes.

    python bench/startup.py                    # venvs made if missing (see --venv, --cli-venv)
    python bench/startup.py --runs 3 --json /tmp/startup.json

`--venv` (default .startup-venv) gets `pip install -e <root>` and nothing else: it must hold the
runtime deps only, and a venv holding more is refused (the default one is made again).
`--cli-venv` (default .startup-cli-venv) gets `pip install -e <root>[cli]`. `--official` is a
python with clicksend-client installed (default: .bench-venv's python when it exists, as
`make bench` builds it; `--official ''` skips the official rows).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

DEFAULT_VENV = ROOT / ".startup-venv"
DEFAULT_CLI_VENV = ROOT / ".startup-cli-venv"
BENCH_VENV_PYTHON = ROOT / ".bench-venv" / "bin" / "python"

FIRST_CALL = (
    "import asyncio\n"
    "from clicksend_async.sandbox import Sandbox\n"
    "async def main():\n"
    "    async with Sandbox().client() as cs:\n"
    "        await cs.account.get()\n"
    "asyncio.run(main())\n"
)

# The official SDK has no sandbox: both SDKs send one message to bench/server.py instead (its
# base URL, or host for the official SDK, is argv[1]), each checking the answer as its users would.
FIRST_SEND = (
    "import asyncio, sys\n"
    "from clicksend_async import AsyncClickSend\n"
    "message = {'source': 'bench', 'body': 'Startup benchmark.', 'to': '+61411111111'}\n"
    "async def main():\n"
    "    async with AsyncClickSend('bench-user', 'bench-key', base_url=sys.argv[1]) as cs:\n"
    "        reply = await cs.sms.send(messages=[message])\n"
    "    assert reply.messages[0].status == 'SUCCESS', reply\n"
    "asyncio.run(main())\n"
)
OFFICIAL_FIRST_SEND = (
    "import sys, clicksend\n"
    "from clicksend.models.send_sms_request import SendSmsRequest\n"
    "from clicksend.models.send_sms_request_messages_inner import SendSmsRequestMessagesInner\n"
    "config = clicksend.Configuration(\n"
    "    host=sys.argv[1], username='bench-user', password='bench-key'\n"
    ")\n"
    "api = clicksend.SmsApi(clicksend.ApiClient(config))\n"
    "message = SendSmsRequestMessagesInner(\n"
    "    source='bench', body='Startup benchmark.', to='+61411111111'\n"
    ")\n"
    "reply = api.send_sms(send_sms_request=SendSmsRequest(messages=[message]))\n"
    "assert reply.response_code == 'SUCCESS', reply\n"
)

# Every installed distribution outside clicksend-async's runtime requirements (followed
# transitively, extras left out) and pip's own, as a JSON list; run by the venv's python.
NOT_RUNTIME_DEPS = (
    "import importlib.metadata as md, json, re\n"
    "def norm(name): return re.sub(r'[-_.]+', '-', name).lower()\n"
    "needed, todo = set(), ['clicksend-async']\n"
    "while todo:\n"
    "    name = norm(todo.pop())\n"
    "    if name in needed: continue\n"
    "    needed.add(name)\n"
    "    try: requires = md.requires(name) or []\n"
    "    except md.PackageNotFoundError: continue\n"
    "    todo += [re.split(r'[\\s<>=!~;\\[(]', r, maxsplit=1)[0] for r in requires\n"
    "             if 'extra ==' not in r]\n"
    "installed = {norm(d.metadata['Name']) for d in md.distributions()}\n"
    "print(json.dumps(sorted(installed - needed - {'pip', 'setuptools', 'wheel'})))\n"
)


# Measured as an installed package runs: with its bytecode cached. (`pip install` of a wheel
# compiles it; an editable install compiles on first import unless PYTHONDONTWRITEBYTECODE is set,
# as it is on some CI machines, where every run would recompile 6,000 lines of models.)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str], runs: int) -> float:
    warmup = subprocess.run(cmd, capture_output=True, text=True, env=ENV)  # writes the caches
    if warmup.returncode != 0:
        raise SystemExit(f"{cmd[0]} {cmd[1]} failed ({warmup.returncode}):\n{warmup.stderr}")
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=ENV)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def make_venv(venv: Path, requirement: str) -> None:
    print(f"making {venv} (pip install -e {requirement})", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "-e", requirement], check=True)


def stale(python: Path) -> bool:
    """Whether the venv's install of clicksend-async predates pyproject.toml's dependencies (an
    editable install keeps the metadata of when it was made)."""
    import tomllib

    wanted = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    code = (
        "import importlib.metadata as md, json\n"
        "requires = md.requires('clicksend-async') or []\n"
        "print(json.dumps([r for r in requires if 'extra ==' not in r]))"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        return True
    return {r.replace(" ", "") for r in json.loads(done.stdout)} != {
        r.replace(" ", "") for r in wanted
    }


def not_runtime_deps(python: Path) -> list[str]:
    done = subprocess.run(
        [str(python), "-c", NOT_RUNTIME_DEPS], check=True, capture_output=True, text=True
    )
    extra: list[str] = json.loads(done.stdout)
    return extra


def runtime_venv(venv: Path) -> Path:
    """The venv with `-e <root>` only, made if missing; refused if it holds more."""
    python = venv / "bin" / "python"
    if not python.exists() or stale(python):
        make_venv(venv, str(ROOT))
    extra = not_runtime_deps(python)
    if extra and venv.resolve() == DEFAULT_VENV:
        # This script's own venv, made with the cli extra before the CLI moved to its own venv.
        print(f"{venv} holds {', '.join(extra)}: made again", file=sys.stderr)
        make_venv(venv, str(ROOT))
        extra = not_runtime_deps(python)
    if extra:
        raise SystemExit(
            f"{venv} holds more than clicksend-async's runtime deps ({', '.join(extra)}), so it "
            "is no clean venv: remove it to have it made again, or pass another --venv"
        )
    return python


def cli_venv(venv: Path) -> Path:
    """The venv with `-e <root>[cli]`, made if missing."""
    if not (venv / "bin" / "clicksend").exists() or stale(venv / "bin" / "python"):
        make_venv(venv, f"{ROOT}[cli]")
    return venv / "bin" / "clicksend"


def first_sends(python: Path, official: str, runs: int) -> dict[str, float]:
    """Both SDKs' process start to a completed send, against one server run by `official`."""
    from server import start_server

    # clicksend-client 6.0.2 refuses the string form of messages[].date (see bench/README.md).
    server = start_server(0.0, date_type="int", python=official)
    try:
        # The official SDK's paths include the /v3 that our base URL ends with.
        sdk_url, official_host = server.base_url + "/v3", server.base_url
        return {
            "first_send": timed([str(python), "-c", FIRST_SEND, sdk_url], runs),
            "official_first_send": timed(
                [official, "-c", OFFICIAL_FIRST_SEND, official_host], runs
            ),
        }
    finally:
        server.stop()


LABELS = {
    "baseline": "python -c pass (baseline)",
    "import": "import clicksend_async",
    "first_sandbox_call": "start to first sandbox call",
    "first_send": "start to first loopback send",
    "cli_version": "clicksend --version",
    "official_baseline": "official: python -c pass",
    "official_import": "official: import clicksend",
    "official_first_send": "official: first loopback send",
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="runtime deps only")
    parser.add_argument("--cli-venv", type=Path, default=DEFAULT_CLI_VENV, help="with [cli]")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument(
        "--official",
        default=str(BENCH_VENV_PYTHON) if BENCH_VENV_PYTHON.exists() else "",
        help="a python with clicksend-client installed ('' to skip; default: %(default)r)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the medians (ms) here")
    args = parser.parse_args()
    python = runtime_venv(args.venv)
    clicksend = cli_venv(args.cli_venv)

    ms = {
        "baseline": timed([str(python), "-c", "pass"], args.runs),
        "import": timed([str(python), "-c", "import clicksend_async"], args.runs),
        "first_sandbox_call": timed([str(python), "-c", FIRST_CALL], args.runs),
        "cli_version": timed([str(clicksend), "--version"], args.runs),
    }
    if args.official:
        ms["official_baseline"] = timed([args.official, "-c", "pass"], args.runs)
        ms["official_import"] = timed([args.official, "-c", "import clicksend"], args.runs)
        ms.update(first_sends(python, args.official, args.runs))

    print(f"{'what':32} {'ms (median)':>12} {'minus baseline':>15}")
    over_baseline = {}
    for key, label in LABELS.items():
        if key not in ms:
            continue
        baseline = ms["official_baseline" if key.startswith("official") else "baseline"]
        over_baseline[key] = ms[key] - baseline
        print(f"{label:32} {ms[key]:12.0f} {over_baseline[key]:15.0f}")
    if args.json:
        result = {
            "runs": args.runs,
            "venv": str(args.venv),
            "cli_venv": str(args.cli_venv),
            "official_python": args.official or None,
            "ms": ms,
            "ms_over_baseline": over_baseline,  # official rows: over the official python's
        }
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
