# Two entry points: `make run` (serve the demo) and `make test` (lint, types, tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export BUYERGUARD_DATABASE_URL ?= sqlite:///$(CURDIR)/var/buyerguard.sqlite3
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv dev-venv lint typecheck pytest clean client

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

# The generated Python client: the schema to clients/python/openapi.json, then the package
# regenerated from it by openapi-python-client, run from a venv of its own (it pins typer<0.28,
# the runtime has 0.29) with its ruff post-hooks; the README comes from clients/templates/.
GENERATOR := $(VENV)/generator

$(GENERATOR)/.installed: clients/generator.lock
	$(PYTHON) -m venv $(GENERATOR)
	$(GENERATOR)/bin/pip install --quiet --disable-pip-version-check -r clients/generator.lock
	touch $@

client: $(BIN)/.runtime $(GENERATOR)/.installed
	mkdir -p clients/python
	$(BIN)/buyerguard openapi --output clients/python/openapi.json
	PATH="$(CURDIR)/$(GENERATOR)/bin:$$PATH" $(GENERATOR)/bin/openapi-python-client generate \
	  --path clients/python/openapi.json --config clients/generator.yaml --meta pdm \
	  --custom-template-path clients/templates --output-path clients/python --overwrite \
	  --fail-on-warning

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
