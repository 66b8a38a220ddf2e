# The README's two commands are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint typecheck pytest bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

## Install, migrate the embedded SQLite database, load the demo and serve on $(HOST):$(PORT).
run: install
	$(BIN)/ssa db upgrade
	$(BIN)/ssa demo
	$(BIN)/ssa serve --host $(HOST) --port $(PORT)

## Install, lint, type-check and run the tests (SQLite, and PostgreSQL when reachable).
test: install lint typecheck pytest

lint: install
	$(BIN)/ruff check ssa tests migrations bench
	$(BIN)/ruff format --check ssa tests migrations bench

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/ledger.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
