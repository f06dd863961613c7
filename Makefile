# VoltOps — the targets a newcomer can guess. Every target installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv/bin
STAGE ?= dev
REGION ?= us-east-1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := 1
export AWS_EC2_METADATA_DISABLED := true
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install console browser run test lint typecheck unit integration infra-test e2e synth deploy bench schemas clean

help:
	@echo "make run      - bring the whole platform up locally (moto, mosquitto, rules, handlers, API, console, simulator)"
	@echo "make test     - run every test (lint, types, console unit tests + build, unit, integration, CDK synth + cdk-nag + cfn-lint, e2e incl. browser)"
	@echo "make bench    - benchmarks -> bench/results.json"
	@echo "make synth    - synthesize the CDK app into cdk.out"
	@echo "make deploy   - cdk deploy to the AWS account in your environment (STAGE=$(STAGE) REGION=$(REGION))"
	@echo "make schemas  - regenerate events/schemas from the contracts"

install:
	@bash scripts/bootstrap.sh

# The web console: npm ci from console/package-lock.json, then vite build into console/dist.
console: install
	@bash scripts/build_console.sh

# Debian chromium + a CJK font for the browser tests and the console benchmark.
browser:
	@bash scripts/ensure_browser.sh

run: install console
	$(VENV)/python -m infra.local $(ARGS)

lint: install
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

typecheck: install
	$(VENV)/mypy

# Independent tests in parallel; the end-to-end tests then run against ONE local stack in a
# process of their own (the local stack points the process's AWS clients at its moto server).
test: install lint typecheck browser
	@bash scripts/build_console.sh --check
	$(VENV)/pytest -n 2 --dist loadgroup -p no:cacheprovider --ignore=tests/e2e $(PYTEST_ARGS)
	$(VENV)/pytest -p no:cacheprovider tests/e2e $(PYTEST_ARGS)

unit: install
	$(VENV)/pytest -n 2 tests/unit

integration: install
	$(VENV)/pytest -n 2 tests/integration

infra-test: install
	$(VENV)/pytest tests/infrastructure

e2e: install console browser
	$(VENV)/pytest tests/e2e

synth: install console
	npx cdk synth --no-notices -q -c stage=$(STAGE) -c region=$(REGION)

deploy: install console
	npx cdk deploy --no-notices --require-approval never -c stage=$(STAGE) -c region=$(REGION)

bench: install console browser
	$(VENV)/python -m bench $(ARGS)

schemas: install
	$(VENV)/python -m shared.contracts.schemas

clean:
	rm -rf cdk.out build .local console/dist .pytest_cache .mypy_cache .ruff_cache bench/results.json
