# `make up` and `make test` each do all set-up on a fresh machine, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXAMPLE := examples/algorithms

.PHONY: up test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The example in the local cloud on 127.0.0.1:4566, until Ctrl-C: its static stack first (the
# service imports its exports), then the service.
up: $(STAMP)
	$(BIN)/gear up $(EXAMPLE)/static $(EXAMPLE)

test: $(STAMP) lint typecheck
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/config_load.py
	$(BIN)/python bench/package.py
	$(BIN)/python bench/cloud.py
	$(BIN)/python bench/events.py
	$(BIN)/python bench/http.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
