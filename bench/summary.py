"""Issue 13's benchmarks in one run and one table: each as a subprocess with its JSON output,
their progress and own tables on stderr, then ONE markdown table of ratios and targets on stdout.

    python bench/summary.py                   # the issue's conditions (several minutes)
    python bench/summary.py --quick           # small n, one run each: a try in well under a minute
    python bench/summary.py --only send startup --json /tmp/summary.json

Parts (each a script of bench/):

- ``send``: send.py, SDK vs raw aiohttp vs the official SDK, 64 in flight (the SDK's default
  ``max_concurrency``) and C=1, at 0 and 20 ms server latency; medians of 3 unpinned runs.
- ``pagination``: pagination.py, 20,000 history records at 20 ms, sequential (prefetch 1) vs the
  SDK's default prefetch and 8; medians of 3.
- ``startup``: startup.py, cold start in a runtime-deps-only venv (``import clicksend_async``,
  process start to the first sandbox call), ``clicksend --version`` in a ``[cli]`` venv, and the
  official SDK's import and first call (through .bench-venv's python).
- ``bulk``: bulk_throughput.py, ``send_bulk`` of 100,000 messages (a list) vs raw aiohttp against
  an instant server, and its peak RSS growth vs the ``BulkReport``'s size; medians of 3.

Ratios are SDK / reference: for rates (req/s, records/s) higher is better, for times and memory
lower is. ``met`` is ``no`` where a target is missed or its part failed; rows without a target
(C=1, SDK vs official) show the ratio only. Exits 1 when a part failed, not when a target is
missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT / "src"))

from clicksend_async._constants import (  # noqa: E402  (after the sys.path line above)
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_PREFETCH,
)

# -- issue 13's conditions and targets -------------------------------------------------------------
IN_FLIGHT = DEFAULT_MAX_CONCURRENCY  # "64 in flight": what a default client allows
LATENCIES_MS = (0, 20)
SEND_TARGET = 0.95  # SDK req/s / raw aiohttp req/s at IN_FLIGHT, both latencies
PAGINATION_RECORDS = 20_000
PAGINATION_LATENCY_MS = 20
# 8: the prefetch whose 5.5x DEFAULT_PREFETCH's comment records, kept in the table whatever the
# default becomes.
PAGINATION_PREFETCH = sorted({1, DEFAULT_PREFETCH, 8})
PAGINATION_SPEEDUP_TARGET = 5.0  # the default prefetch's records/s / sequential's
PAGINATION_RSS_TARGET_MB = 20.0  # RSS growth while iterating, below this
IMPORT_TARGET_MS = 100.0
FIRST_CALL_TARGET_MS = 250.0
CLI_VERSION_TARGET_MS = 200.0
BULK_MESSAGES = 100_000
BULK_WALL_TARGET = 2.0  # SDK wall time / raw aiohttp's
BULK_RSS_TARGET = 2.0  # peak RSS growth / the report's deep size

PARTS = ["send", "pagination", "startup", "bulk"]


def part_commands(quick: bool) -> dict[str, list[str]]:
    """Each part's script and arguments (without --json); --quick shrinks n and the repeats."""
    send = [
        "send.py",
        *("--n", "150" if quick else "3000"),
        *("--concurrency", "1", str(IN_FLIGHT)),
        *("--latency-ms", *map(str, LATENCIES_MS)),
        *("--clients", "aiohttp", "aiohttp-typed", "official", "sdk", "sdk-aiohttp"),
        "--no-pin",
        *("--repeat", "1" if quick else "3"),
    ]
    if quick:  # a C=1 run at 20 ms stops after ~2 s instead of sending all n
        send += ["--budget", "2"]
    pagination = [
        "pagination.py",
        *("--records", "2000" if quick else str(PAGINATION_RECORDS)),
        *("--latency-ms", str(PAGINATION_LATENCY_MS)),
        *("--prefetch", *map(str, PAGINATION_PREFETCH)),
        *("--repeat", "1" if quick else "3"),
    ]
    startup = ["startup.py", *(["--runs", "1"] if quick else [])]
    bulk = [
        "bulk_throughput.py",
        *("--n", "10000" if quick else str(BULK_MESSAGES)),
        *("--clients", "aiohttp", "aiohttp-validated", "sdk-list"),
        *("--repeat", "1" if quick else "3"),
    ]
    return {"send": send, "pagination": pagination, "startup": startup, "bulk": bulk}


def run_part(command: list[str], json_file: Path) -> Any:
    """Run one benchmark with its output on our stderr; its JSON result, None if it failed."""
    script, *args = command
    cmd = [sys.executable, str(BENCH_DIR / script), *args, "--json", str(json_file)]
    shown = " ".join(cmd).replace(f"{ROOT}/", "")
    print(f"\n$ {shown}", file=sys.stderr, flush=True)
    # stdout=stderr: the benchmark's own table is progress here; our stdout holds only the table.
    done = subprocess.run(cmd, stdout=sys.stderr, check=False)
    if done.returncode != 0 or not json_file.exists():
        print(f"! {script} failed (exit {done.returncode})", file=sys.stderr, flush=True)
        return None
    return json.loads(json_file.read_text())


# -- the table -------------------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    sdk: str
    reference: str
    ratio: str = "-"
    target: str = "-"
    met: str = "-"


FAILED = "failed"


def compare(
    what: str,
    sdk: float | None,
    reference: float | None,
    unit: Callable[[float], str],
    target: str = "-",
    *,
    ratio_ok: Callable[[float], bool] | None = None,
    sdk_ok: Callable[[float], bool] | None = None,
    reference_name: str = "",
) -> Row:
    """A row of SDK vs reference (None: not measured); the target is on the ratio SDK / reference
    (``ratio_ok``) or on the SDK's own number (``sdk_ok``)."""
    ratio = None if sdk is None or not reference else sdk / reference
    if ratio_ok is not None:
        met = "no" if ratio is None else ("yes" if ratio_ok(ratio) else "no")
    elif sdk_ok is not None:
        met = "no" if sdk is None else ("yes" if sdk_ok(sdk) else "no")
    else:
        met = "-"
    ref_cell = FAILED if reference is None else unit(reference)
    if reference_name:
        ref_cell = f"{ref_cell} ({reference_name})"
    return Row(
        what,
        FAILED if sdk is None else unit(sdk),
        ref_cell,
        "-" if ratio is None else f"{ratio:.2f}x",
        target,
        met,
    )


def absolute(
    what: str,
    sdk: float | None,
    unit: Callable[[float], str],
    target: str,
    sdk_ok: Callable[[float], bool],
) -> Row:
    """A row with nothing to compare against: the target is on the SDK's own number."""
    row = compare(what, sdk, None, unit, target, sdk_ok=sdk_ok)
    row.reference = "-"
    return row


def per_s(value: float) -> str:
    return f"{value:,.0f}/s"


def ms(value: float) -> str:
    return f"{value:,.0f} ms"


def seconds(value: float) -> str:
    return f"{value:,.3f} s"


def mib(value: float) -> str:
    return f"{value / 2**20:,.1f} MiB"


def mb(value: float) -> str:
    return f"{value:,.1f} MB"


def send_rows(result: list[dict[str, Any]] | None) -> list[Row]:
    rps: dict[tuple[str, float, int], float] = {
        (row["client"], row["latency_ms"], row["concurrency"]): row["rps"]
        for row in result or []
        if row.get("rps")  # absent from a failed or skipped run
    }

    def versus(client: str, reference: str, label: str, concurrency: int, latency: float) -> Row:
        targeted = client == "sdk" and reference == "aiohttp" and concurrency == IN_FLIGHT
        return compare(
            f"req/s, {concurrency} in flight, {latency} ms latency: {label}",
            rps.get((client, latency, concurrency)),
            rps.get((reference, latency, concurrency)),
            per_s,
            f">= {SEND_TARGET}x" if targeted else "-",
            ratio_ok=(lambda ratio: ratio >= SEND_TARGET) if targeted else None,
        )

    grid = [(concurrency, latency) for concurrency in (IN_FLIGHT, 1) for latency in LATENCIES_MS]
    rows = [versus("sdk", "aiohttp", "SDK vs raw aiohttp", c, lat) for c, lat in grid]
    # what any client returning models pays, for scale
    floor = "raw aiohttp + the models (typed floor) vs raw aiohttp"
    rows += [versus("aiohttp-typed", "aiohttp", floor, IN_FLIGHT, lat) for lat in LATENCIES_MS]
    # the SDK on the sender a client with a proxy uses
    proxied = "SDK on its aiohttp sender (proxy configured) vs raw aiohttp"
    rows += [versus("sdk-aiohttp", "aiohttp", proxied, IN_FLIGHT, lat) for lat in LATENCIES_MS]
    rows += [versus("sdk", "official", "SDK vs official SDK", c, lat) for c, lat in grid]
    return rows


def pagination_rows(result: dict[str, Any] | None) -> list[Row]:
    medians = {row["prefetch"]: row for row in (result or {}).get("medians", [])}
    records = (result or {}).get("records", PAGINATION_RECORDS)
    latency = (result or {}).get("latency_ms", PAGINATION_LATENCY_MS)
    sequential = medians.get(1, {})
    rows = []
    for prefetch in PAGINATION_PREFETCH:
        if prefetch == 1:
            continue
        mode = medians.get(prefetch, {})
        default = prefetch == DEFAULT_PREFETCH
        name = f"prefetch {prefetch}" + (" (default)" if default else "")
        rows.append(
            compare(
                f"history, {records:,} records at {latency:g} ms: {name} vs sequential, records/s",
                mode.get("records_per_s"),
                sequential.get("records_per_s"),
                per_s,
                f">= {PAGINATION_SPEEDUP_TARGET:g}x" if default else "-",
                ratio_ok=(lambda ratio: ratio >= PAGINATION_SPEEDUP_TARGET) if default else None,
            )
        )
    default = medians.get(DEFAULT_PREFETCH, {})
    row = compare(
        f"history, prefetch {DEFAULT_PREFETCH} (default) vs sequential: RSS growth while iterating",
        default.get("rss_growth_mb"),
        sequential.get("rss_growth_mb"),
        mb,
        f"< {PAGINATION_RSS_TARGET_MB:g} MB",
        sdk_ok=lambda growth: growth < PAGINATION_RSS_TARGET_MB,
    )
    row.ratio = "-"  # a ratio to sequential's near-zero growth says nothing
    return [*rows, row]


def startup_rows(result: dict[str, Any] | None) -> list[Row]:
    # Whole processes (python start to exit), as a user's script or shell sees them.
    times: dict[str, float] = (result or {}).get("ms", {})
    return [
        compare(
            "cold start: `import clicksend_async` (runtime deps only) vs `import clicksend`",
            times.get("import"),
            times.get("official_import"),
            ms,
            f"<= {IMPORT_TARGET_MS:g} ms",
            sdk_ok=lambda value: value <= IMPORT_TARGET_MS,
        ),
        absolute(
            "cold start: process start to first completed sandbox call",
            times.get("first_sandbox_call"),
            ms,
            f"<= {FIRST_CALL_TARGET_MS:g} ms",
            lambda value: value <= FIRST_CALL_TARGET_MS,
        ),
        compare(
            "cold start: process start to first completed send (loopback) vs official SDK",
            times.get("first_send"),
            times.get("official_first_send"),
            ms,
        ),
        absolute(
            "cold start: `clicksend --version` (cli extra)",
            times.get("cli_version"),
            ms,
            f"<= {CLI_VERSION_TARGET_MS:g} ms",
            lambda value: value <= CLI_VERSION_TARGET_MS,
        ),
    ]


def bulk_rows(result: dict[str, Any] | None) -> list[Row]:
    medians = (result or {}).get("medians", {})
    raw, sdk = medians.get("aiohttp", {}), medians.get("sdk-list", {})
    n = (result or {}).get("n", BULK_MESSAGES)
    return [
        compare(
            f"send_bulk of {n:,} messages, instant server: wall time vs raw aiohttp",
            sdk.get("wall"),
            raw.get("wall"),
            seconds,
            f"<= {BULK_WALL_TARGET:g}x",
            ratio_ok=lambda ratio: ratio <= BULK_WALL_TARGET,
        ),
        compare(
            f"{n:,} messages, raw aiohttp validating each one into the model (validated floor) "
            "vs raw aiohttp: wall time",
            medians.get("aiohttp-validated", {}).get("wall"),
            raw.get("wall"),
            seconds,
        ),
        compare(
            f"send_bulk of {n:,} messages: peak RSS growth vs the BulkReport's size",
            sdk.get("rss_growth"),
            sdk.get("report_deep"),
            mib,
            f"<= {BULK_RSS_TARGET:g}x",
            ratio_ok=lambda ratio: ratio <= BULK_RSS_TARGET,
            reference_name="report",
        ),
    ]


# Each part's rows from its JSON result (None: the part failed).
ROWS: dict[str, Callable[[Any], list[Row]]] = {
    "send": send_rows,
    "pagination": pagination_rows,
    "startup": startup_rows,
    "bulk": bulk_rows,
}


def markdown(rows: list[Row]) -> str:
    lines = [
        "| what | SDK | reference | ratio | target | met |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    lines += [
        f"| {r.what} | {r.sdk} | {r.reference} | {r.ratio} | {r.target} | {r.met} |" for r in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small n and one run each (a try, not the issue's conditions)",
    )
    parser.add_argument("--only", nargs="+", choices=PARTS, default=PARTS, help="parts to run")
    parser.add_argument("--json", metavar="FILE", help="also write every part's results here")
    args = parser.parse_args(argv)

    commands = part_commands(args.quick)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-summary-") as tmp:
        for part in PARTS:
            if part in args.only:
                results[part] = run_part(commands[part], Path(tmp) / f"{part}.json")
    rows = [row for part in PARTS if part in args.only for row in ROWS[part](results[part])]
    failed = [part for part in results if results[part] is None]

    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"quick": args.quick, "results": results, "rows": [asdict(r) for r in rows]},
                indent=2,
            )
        )
    print(
        "\n# issue 13 summary"
        + (": QUICK run (small n, 1 run each), not the issue's conditions" if args.quick else "")
        + (f"; failed: {', '.join(failed)}" if failed else ""),
        file=sys.stderr,
        flush=True,
    )
    print(markdown(rows), flush=True)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
