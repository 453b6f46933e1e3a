"""Hostile webhook payloads: how long ``parse_webhook`` takes to refuse each, and the peak memory.

    python bench/webhooks.py

Each payload is what anyone could post to a public webhook URL (issue 11, point 6). One row per
payload: the outcome (the exception type and the start of its message), the median wall time
of 3 runs and the growth of the process's peak RSS over the whole run. Time is measured here,
never asserted in tests (the machine is shared).
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

from clicksend_async.webhooks import parse_webhook

RECEIPT = "message_id=A&status=Delivered&message_type=sms"
PAYLOADS: dict[str, Callable[[], tuple[Any, str | None]]] = {
    "100,000-deep JSON array": lambda: ("[" * 100_000 + "]" * 100_000, None),
    "100,000-deep JSON object": lambda: ('{"a":' * 100_000 + "1" + "}" * 100_000, None),
    "5,000-digit JSON integer": lambda: ('{"message_id":"A","user_id":' + "9" * 5000 + "}", None),
    "user_id=1e999999999 (form)": lambda: (RECEIPT + "&user_id=1e999999999", None),
    "500,000 form fields (2 MB)": lambda: ("a=1&" * 500_000, None),
    "500,000 form fields, max_bytes=4e6": lambda: ("a=1&" * 500_000, "big"),
    "2 MB body": lambda: ((RECEIPT + "&custom_string=" + "x" * 2_000_000).encode(), None),
    "1 MB unterminated JSON string": lambda: ("[" * 40 + '"' + '\\"' * 500_000, None),
    "1 MB of [],[],... (wide JSON)": lambda: ("[" + "[]," * 340_000 + "[]]", None),
    '1 MB of "","",... in a field': lambda: ('{"a":[' + '"",' * 340_000 + "1]}", None),
    "1 MB of 1,1,... in a field": lambda: ('{"a":[' + "1," * 500_000 + "1]}", None),
    "valid SMS receipt (form)": lambda: (RECEIPT, None),
}


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    print(f"{'payload':38} {'median':>9}  outcome")
    start_rss = _peak_rss_mib()
    for name, build in PAYLOADS.items():
        payload, mode = build()
        kwargs = {"max_bytes": 4_000_000} if mode == "big" else {}
        times = []
        outcome = ""
        for _ in range(3):
            began = time.perf_counter()
            try:
                event = parse_webhook(payload, **kwargs)
                outcome = f"ok: {type(event).__name__}"
            except Exception as exc:
                outcome = f"{type(exc).__name__}: {str(exc)[:60]}"
            times.append(time.perf_counter() - began)
        print(f"{name:38} {statistics.median(times) * 1000:7.1f}ms  {outcome}")
    print(f"peak RSS growth over the run: {_peak_rss_mib() - start_rss:.1f} MiB")


if __name__ == "__main__":
    main()
