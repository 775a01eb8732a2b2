# Two entry points: `make run` (serve the demo) and `make test` (lint, types, tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export BUYERGUARD_DATABASE_URL ?= sqlite:///$(CURDIR)/var/buyerguard.sqlite3
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv dev-venv lint typecheck pytest clean

$(BIN)/.runtime: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(BIN)/.dev: $(BIN)/.runtime requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	touch $@

venv: $(BIN)/.runtime
dev-venv: $(BIN)/.dev

run: $(BIN)/.runtime
	mkdir -p var
	$(BIN)/buyerguard db upgrade
	$(BIN)/buyerguard demo load
	$(BIN)/buyerguard serve --host $(HOST) --port $(PORT)

lint: $(BIN)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.dev
	$(BIN)/mypy

pytest: $(BIN)/.dev
	$(BIN)/pytest -q -ra

test: lint typecheck pytest

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
