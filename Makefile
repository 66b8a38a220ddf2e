# The README's two commands are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint typecheck pytest bench clean messages

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

## Extract the pages' messages and bring the fr/nl/en catalogues up to date; then translate
## what `tests/web/test_i18n.py` reports as untranslated (docs/web.md). The app compiles
## the catalogues in memory when it starts: no .mo file to build or commit.
TRANSLATIONS := ssa/web/translations
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ --add-location=file --sort-by-file --width 100 \
		--project ssa --copyright-holder "ssa contributors" -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -D messages \
		--no-fuzzy-matching --ignore-obsolete --width 100
	$(BIN)/pybabel compile --statistics -d $(TRANSLATIONS) -D messages -o /dev/null 2>&1 | grep translated || true

bench: install
	$(BIN)/python bench/ledger.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
