# bqsynth developer entry points. Everything runs locally: the BigQuery and
# Cloud Storage emulators come from scripts/local_stack.sh, Python from .venv
# (scripts/bootstrap.sh). `make help` lists the targets.
#
# The stack started by `demo`, `test` or `benchmark` is left running so that
# the next run starts instantly; stop it with `make stack-stop`. (.ci/run
# stops it itself.) Ports and project: see the header of scripts/local_stack.sh
# (BQSYNTH_BQ_PORT, BQSYNTH_GCS_PORT, ...); they apply to every target here.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

VENV   := .venv
PYTHON := $(VENV)/bin/python
STACK  := bash scripts/local_stack.sh

DEMO_CONFIG ?= configs/demo.yaml
PYTEST_ARGS ?= -q tests

# Prefix for commands that talk to the emulators: exports BIGQUERY_EMULATOR_HOST,
# STORAGE_EMULATOR_HOST and GOOGLE_CLOUD_PROJECT for the rest of the line.
WITH_STACK_ENV := eval "$$($(STACK) env)" &&

.DEFAULT_GOAL := help
.PHONY: help bootstrap demo test lint benchmark benchmark-sdv stack-start stack-stop stack-status stack-reset clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

bootstrap: ## create/update .venv (Python 3.11, pinned requirements)
	bash scripts/bootstrap.sh

stack-start: ## start the BigQuery + GCS emulators (idempotent)
	$(STACK) start

stack-stop: ## stop the emulators
	$(STACK) stop

stack-status: ## show whether the emulators are up
	$(STACK) status

stack-reset: ## stop the emulators and wipe their data
	$(STACK) reset

demo: bootstrap stack-start ## load the demo source tables, then run the pipeline locally
	$(WITH_STACK_ENV) $(PYTHON) -m demo
	$(WITH_STACK_ENV) $(PYTHON) submit.py --local --config $(DEMO_CONFIG)

test: bootstrap stack-start ## run the test suite against the emulators (leaves them running)
	$(WITH_STACK_ENV) $(PYTHON) -m pytest $(PYTEST_ARGS)

lint: bootstrap ## ruff check + ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

benchmark: bootstrap stack-start ## run benchmarks/demo_benchmark.py against the emulators
	$(WITH_STACK_ENV) $(PYTHON) benchmarks/demo_benchmark.py

benchmark-sdv: bootstrap stack-start ## bqsynth vs SDV 2.0 (GaussianCopula, HMA) on demo + TPC-H; creates .bench/sdv-venv
	bash benchmarks/setup_sdv_venv.sh
	$(WITH_STACK_ENV) $(PYTHON) benchmarks/sdv_benchmark.py

clean: ## remove caches and local outputs (keeps .venv and .stack)
	rm -rf local_outputs .pytest_cache .ruff_cache build dist
	find . -path ./.venv -prune -o -path ./.stack -prune -o -name __pycache__ -type d -exec rm -rf {} +
