"""Cold start in a clean venv (runtime deps + the cli extra; issue 13): `import clicksend_async`,
process start to the first completed sandbox call, `clicksend --version`, and optionally the
official SDK's `import clicksend`. Medians of N fresh processes.

    python bench/startup.py --venv .startup-venv        # made (pip install -e .[cli]) if missing
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FIRST_CALL = (
    "import asyncio\n"
    "from clicksend_async.sandbox import Sandbox\n"
    "async def main():\n"
    "    async with Sandbox().client() as cs:\n"
    "        await cs.account.get()\n"
    "asyncio.run(main())\n"
)


# Measured as an installed package runs: with its bytecode cached. (`pip install` of a wheel
# compiles it; an editable install compiles on first import unless PYTHONDONTWRITEBYTECODE is set,
# as it is on some CI machines, where every run would recompile 6,000 lines of models.)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, check=True, capture_output=True, env=ENV)  # warm-up: writes the caches
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=ENV)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venv", default=str(ROOT / ".startup-venv"))
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--official", default=None, help="a python with clicksend-client installed")
    args = parser.parse_args()
    venv = Path(args.venv)
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-e", f"{ROOT}[cli]"], check=True
        )
    baseline = timed([str(python), "-c", "pass"], args.runs)
    rows = [
        ("python -c pass (baseline)", baseline),
        ("import clicksend_async", timed([str(python), "-c", "import clicksend_async"], args.runs)),
        ("start to first sandbox call", timed([str(python), "-c", FIRST_CALL], args.runs)),
        ("clicksend --version", timed([str(venv / "bin" / "clicksend"), "--version"], args.runs)),
    ]
    if args.official:
        rows.append(
            (
                "official: import clicksend",
                timed([args.official, "-c", "import clicksend"], args.runs),
            )
        )
    print(f"{'what':32} {'ms (median)':>12} {'minus baseline':>15}")
    for name, ms in rows:
        print(f"{name:32} {ms:12.0f} {ms - baseline:15.0f}")


if __name__ == "__main__":
    main()
