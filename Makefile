# The two set-up commands of the README: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run test lint

run: $(VENV)/.installed  ## create the environment, install, benchmark the bundled model into SQLite, compare
	$(BIN)/deploybench catalog show local
	$(BIN)/deploybench quickstart

test: lint  ## run every check and the whole test suite
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@
