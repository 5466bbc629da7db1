# Developer entry points. Everything installs/starts what it needs on first use:
#   deploy/local/bootstrap.sh  Python + uv 0.13.8 -> .venv (uv sync --frozen)
#   deploy/local/services.sh   PostgreSQL+PostGIS and Redis -> .run/env
# Overridable, e.g. `make run PORT=8001`, `make test ARGS='-k ingest -x'`, `make PYTHON=python3.12`.

SHELL := /bin/bash

PYTHON    ?=
HOST      ?= 127.0.0.1
PORT      ?= 8000
DEMO_USER ?= demo
SAMPLE    ?= ../shared/hae-samples/ivailop7__Healthkit-influxdb-grafana__sample-data.json
ARGS      ?=

BIN      := .venv/bin
ENV_FILE := .run/env
# Run a command with the service URLs from $(ENV_FILE) exported.
WITH_ENV := set -a && . ./$(ENV_FILE) && set +a &&

export PYTHON

.DEFAULT_GOAL := help

.PHONY: help bootstrap services stop run test lint fmt migrate bench clean

help:
	@echo 'make run       migrate, create a demo user + API key, serve on $(HOST):$(PORT)'
	@echo 'make test      run the test suite (ARGS=... is passed to pytest)'
	@echo 'make lint      ruff check + ruff format --check'
	@echo 'make fmt       ruff fixes + ruff format'
	@echo 'make migrate   alembic upgrade head on the dev database'
	@echo 'make bench     run the benchmark'
	@echo 'make services  find or start PostgreSQL+PostGIS and Redis, write $(ENV_FILE)'
	@echo 'make stop      stop the private PostgreSQL/Redis under .run/ (if any)'
	@echo 'make clean     stop them and remove .venv .tools .run'

bootstrap:
	@bash deploy/local/bootstrap.sh

services:
	@bash deploy/local/services.sh

stop:
	@bash deploy/local/services.sh stop

run: bootstrap services
	@HOST='$(HOST)' PORT='$(PORT)' DEMO_USER='$(DEMO_USER)' SAMPLE='$(SAMPLE)' bash deploy/local/run.sh

test: bootstrap services
	@bash deploy/local/test-tools.sh
	@$(WITH_ENV) PATH="$$PWD/.tools/bin:$$PATH" \
		HAE_REQUIRE_DEPLOY_TOOLS="$${HAE_REQUIRE_DEPLOY_TOOLS:-$${CI:+1}}" $(BIN)/pytest $(ARGS)

lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: bootstrap
	$(BIN)/ruff check --fix-only .
	$(BIN)/ruff format .

migrate: bootstrap services
	@$(WITH_ENV) $(BIN)/alembic upgrade head

# A benchmark is a runnable module: bench/__main__.py (or bench.py), else tests/bench/.
bench:
	@if [ -f bench/__main__.py ] || [ -f bench.py ]; then mod=bench; \
	elif [ -f tests/bench/__main__.py ] || [ -f tests/bench.py ]; then mod=tests.bench; \
	else echo 'no benchmark yet'; exit 1; fi; \
	bash deploy/local/bootstrap.sh && bash deploy/local/services.sh && \
	$(WITH_ENV) $(BIN)/python -m $$mod $(ARGS)

clean: stop
	rm -rf .venv .tools .run
