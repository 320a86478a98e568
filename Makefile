# dualloop — every command a user or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export AWS_DEFAULT_REGION ?= us-east-1
export SAGEMAKER_VALIDATE_ROLE := false

.PHONY: help install test demo lint format typecheck pr bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(STAMP) $(NODE_STAMP) ## create .venv with dualloop (editable) and dev tools, and the CDK CLI from the npm lock

test: install ## run the whole test suite (unit, functional, infra, e2e) on the local cloud
	$(BIN)/pytest -m "not bench" $(PYTEST_ARGS)

demo: install ## run the dual loop end to end on the embedded local cloud
	$(BIN)/dualloop demo

lint: install ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## apply ruff formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install ## mypy (strict) over the packages
	$(BIN)/mypy shared inner_pipeline outer_orchestrator infra

pr: lint typecheck test ## what CI does: lint, type-check, tests

bench: install ## benchmarks; prints figures
	$(BIN)/pytest -m bench -s tests/bench $(PYTEST_ARGS)

clean: ## remove build and test artefacts (keeps .venv and node_modules)
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info .dualloop spark-warehouse metastore_db derby.log
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -not -path './node_modules/*' -exec rm -rf {} +
