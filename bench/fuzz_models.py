"""The property tests of tests/test_model_properties.py with many more examples per model.

Random data that conforms to our own spec (openapi/clicksend.yaml) must never make a response model
raise, and data that fits the lenient scalar types' parsers must parse strictly. Runs in the dev
venv (hypothesis is a dev dependency), on this machine only, no network:

    .venv/bin/python bench/fuzz_models.py                  # 300 examples per model and property
    .venv/bin/python bench/fuzz_models.py --examples 2000 --only SmsHistoryResponse
    .venv/bin/python bench/fuzz_models.py --random         # other examples than the tests'

Prints one line per failing model (with the smallest failing input Hypothesis found) and a
summary with the wall time; exits 1 when any model failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, given, settings

from clicksend_async._base import strict_validation
from clicksend_async._response import ensure_envelope
from clicksend_async.models import clicksend as m
from tests.schema_strategies import SchemaStrategies
from tests.test_model_properties import RESPONSE_MODELS, SPEC


def run(name: str, examples: int, fresh: bool) -> list[str]:
    model = getattr(m, name)
    runs = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not fresh,
        suppress_health_check=list(HealthCheck),
    )
    problems: list[str] = []

    @runs
    @given(SchemaStrategies(SPEC).named(name))
    def never_raises(body: Any) -> None:
        parsed = model.model_validate(ensure_envelope(body))
        json.dumps(parsed.model_dump(mode="json", exclude_unset=True))
        parsed.model_dump()

    @runs
    @given(SchemaStrategies(SPEC, fitting=True).named(name))
    def parses_strictly(body: dict[str, Any]) -> None:
        body.setdefault("response_code", "SUCCESS")
        with strict_validation():
            model.model_validate(body)

    for prop in (never_raises, parses_strictly):
        try:
            prop()
        except Exception as exc:  # report and go on with the next model
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            problems.append(f"{name} {prop.__name__}: {type(exc).__name__}: {first}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300, help="per model and property")
    parser.add_argument("--only", nargs="*", help="model names (default: every response model)")
    parser.add_argument(
        "--random", action="store_true", help="new examples each run (default: the same ones)"
    )
    args = parser.parse_args()
    logging.getLogger("clicksend_async").setLevel(logging.ERROR)  # the kept-raw warnings
    names = args.only or RESPONSE_MODELS
    started = time.perf_counter()
    problems: list[str] = []
    for name in names:
        problems.extend(run(name, args.examples, args.random))
    elapsed = time.perf_counter() - started
    for line in problems:
        print(line)
    print(
        f"{len(names)} models x 2 properties x {args.examples} examples: "
        f"{len(problems)} failing, {elapsed:.1f} s"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
