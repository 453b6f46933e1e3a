# clicksend-async developer commands. `make test` is what CI runs (via .ci/run).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
CODE   := src tests codegen $(wildcard bench)

BENCH_VENV := .bench-venv
BENCH_STAMP := $(BENCH_VENV)/.installed

.PHONY: install codegen codegen-check validate-spec lint format typecheck pytest test bench clean

install: $(STAMP)

# Re-install when pyproject.toml changes; a fresh machine needs only Python, pip and git.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

codegen: $(STAMP)
	$(PY) -m codegen

codegen-check: $(STAMP)
	$(PY) -m codegen --check

validate-spec: $(STAMP)
	$(VENV)/bin/openapi-spec-validator openapi/clicksend.yaml openapi/voximplant.yaml

lint: $(STAMP)
	$(VENV)/bin/ruff check $(CODE)
	$(VENV)/bin/ruff format --check $(CODE)

format: $(STAMP)
	$(VENV)/bin/ruff check --fix $(CODE)
	$(VENV)/bin/ruff format $(CODE)

typecheck: $(STAMP)
	$(VENV)/bin/mypy src

pytest: $(STAMP)
	$(VENV)/bin/pytest

test: codegen-check validate-spec lint typecheck pytest

# Benchmarks run in their own venv so the official SDK never lands in the dev environment.
$(BENCH_STAMP): pyproject.toml bench/requirements.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check -e . -r bench/requirements.txt
	touch $(BENCH_STAMP)

# Unpinned (the OS schedules client and server, as on a user's machine); medians of 3 runs.
bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/send.py --n 3000 --concurrency 1 64 --latency-ms 0 20 \
		--clients httpx official sdk --no-pin --repeat 3
	$(BENCH_VENV)/bin/python bench/bulk.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) .mypy_cache .ruff_cache .pytest_cache
