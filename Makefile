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

# Tests run in TEST_WORKERS processes (pytest-xdist), each with its own local cloud; most of a
# test's time is spent waiting on jobs, servers and the JVM, so two workers fit two cores.
TEST_WORKERS ?= 2

test: install ## run the whole test suite (unit, functional, infra, e2e) on the local cloud
	$(BIN)/pytest -m "not bench" -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

demo: install ## run the dual loop end to end on the embedded local cloud
	$(BIN)/dualloop demo

lint: install ## ruff lint and format check; import contracts (dependencies flow one way)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install ## apply ruff formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install ## mypy (strict) over the packages
	$(BIN)/mypy shared inner_pipeline outer_orchestrator infra

pr: lint typecheck test ## what CI does: lint, type-check, tests

bench: install ## benchmarks; prints figures
	$(BIN)/pytest -m bench -s tests/bench $(PYTEST_ARGS)

clean: ## remove build and test artefacts (keeps .venv and node_modules)
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache .import_linter_cache build dist *.egg-info .dualloop spark-warehouse metastore_db derby.log
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -not -path './node_modules/*' -exec rm -rf {} +

# ---- infrastructure (AWS) ----
# Owned by the platform team (infra/). STAGE picks the config stage and the stack (dualloop-<stage>).
STAGE ?= dev
CDK := node_modules/.bin/cdk
CDK_ARGS = --app "$(BIN)/python -m infra.app" --context stage=$(STAGE) --output cdk.out
# The dualloop CLI reads the stage from the environment (shared.config: DUALLOOP_*). Naming
# STAGE (make run STAGE=dev) means the deployed stack on AWS; without it, the local cloud.
TARGET := $(if $(filter command line environment,$(origin STAGE)),aws,local)
DUALLOOP := DUALLOOP_STAGE=$(STAGE) DUALLOOP_TARGET=$(TARGET) $(BIN)/dualloop

.PHONY: synth bootstrap diff deploy destroy upsert-pipeline run approve status aws-credentials

# `cdk deploy` asks before IAM/security broadening, which needs a terminal: with none (CI=true
# or no TTY on stdin) it would stop the deploy, so there it approves. Override either way with
# REQUIRE_APPROVAL=never|broadening|any-change.
INTERACTIVE := $(if $(filter true 1,$(CI)),,$(shell test -t 0 && echo yes))
REQUIRE_APPROVAL ?= $(if $(INTERACTIVE),broadening,never)

synth: install ## synthesize the stack into cdk.out, offline, with cdk-nag (STAGE=dev|prod)
	$(CDK) synth $(CDK_ARGS) --quiet
	@echo "synthesized $(STAGE) into cdk.out/"

aws-credentials: install
	@$(BIN)/python -m infra.check_credentials --stage $(STAGE)

bootstrap: aws-credentials ## once per account and region: cdk bootstrap (version >= 6) where STAGE's config deploys
	$(CDK) bootstrap $$($(BIN)/python -m infra.check_credentials --stage $(STAGE) --print-environment)

diff: aws-credentials ## show what deploy would change (needs AWS credentials)
	$(CDK) diff $(CDK_ARGS)

deploy: install ## deploy the stack for STAGE (needs AWS credentials, and `make bootstrap` once)
	@$(BIN)/python -m infra.check_credentials --stage $(STAGE) --require-bootstrap
	$(CDK) deploy $(CDK_ARGS) --require-approval $(REQUIRE_APPROVAL)

destroy: aws-credentials ## delete the stack for STAGE (prod retains its data and refuses: termination protection)
	$(CDK) destroy $(CDK_ARGS)

upsert-pipeline: install ## create/update the inner pipeline wherever AWS_ENDPOINT_URL points (AWS or local)
	$(DUALLOOP) inner upsert $(ARGS)

run: install ## start a retrain (ARGS: see `dualloop run --help`)
	$(DUALLOOP) run $(ARGS)

approve: install ## approve a registered model (ARGS: the model package ARN and options)
	$(DUALLOOP) approve $(ARGS)

status: install ## show retrains, the pipeline and the endpoint
	$(DUALLOOP) status $(ARGS)
