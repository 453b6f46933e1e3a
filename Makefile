# clicksend-async developer commands. `make test` is what CI runs (via .ci/run).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
CODE   := src tests codegen $(wildcard bench)

.PHONY: install codegen codegen-check validate-spec lint format typecheck pytest test bench demo clean

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

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
