# The two set-up commands of the README: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

TOOLCHAINS := litert pytorch quark
# Toolchain environments live inside $(VENV) (deploybench-toolchains/): `toolchain install` is a no-op when current.

.PHONY: run test lint toolchains

run: toolchains  ## create the environments, install, benchmark the bundled model into SQLite, compare
	$(BIN)/deploybench catalog show local
	$(BIN)/deploybench quickstart

test: lint toolchains  ## run every check and the whole test suite
	$(BIN)/pytest

toolchains: $(VENV)/.installed
	for name in $(TOOLCHAINS); do $(BIN)/deploybench toolchain install $$name --quiet || exit 1; done

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
