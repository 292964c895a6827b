# Two commands do all set-up on a fresh machine with Python 3.11+ and Node 20+:
#   make synth   -> .venv + npm ci + `npx cdk synth` into cdk.out/
#   make test    -> the same set-up, then the whole test suite (cdk-nag, cfn-lint, ruff, mypy, import-linter,
#                   the size check and the wheel installed into a fresh venv for an external project, included),
#                   then the local runner's suite on the lowest supported moto
# Both are idempotent: set-up re-runs only when pyproject.toml / package-lock.json change.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PY_STAMP   := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

# jsii prints a large banner on Node 20 (deprecated until 2026-10-30, end-of-life since; the
# second variable takes the major version). Only these two banners are silenced.
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup synth test lint bench bench-synth demo clean test-moto-lowest

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: setup
	npx --no-install cdk synth --quiet

# The whole suite on the newest moto (the dev extra's pin), then the local runner's suite on the lowest
# moto the [local] extra allows (test-moto-lowest, below): the range users install is tested at both ends.
test: setup
	$(PY) -m pytest
	$(MAKE) --no-print-directory test-moto-lowest

# The static gates alone: ruff + mypy (tests/test_static.py, which also proves a misspelled prop fails
# mypy), cdk-nag and cfn-lint on the reference app. `make test` runs them too; -rxX would list any
# check marked xfail.
lint: setup
	$(PY) -m pytest -q -rxX tests/test_static.py \
		tests/test_reference_app.py::test_cdk_nag_report_has_no_unacknowledged_finding \
		tests/test_reference_app.py::test_cfn_lint_reports_no_error

bench: setup
	$(PY) -m pytest benchmarks --benchmark-only --benchmark-columns=min,median,mean,rounds

demo: setup
	$(PY) -m cdk_event_pipeline.tools local --demo

clean:
	rm -rf cdk.out .pytest_cache

# Security report of the reference template (docs/security.md): cdk synth, then checkov on
# cdk.out/EventPipelineReference.template.json. checkov gets a venv of its own inside .venv:
# it pins packaging<24, which pytest >= 9 in the dev tools cannot share. It runs offline
# (--skip-download, BC_SKIP_MAPPING). Every accepted check is reported but does not fail the
# target (--soft-fail-on); each is explained per resource in docs/security.md. Any other
# failed check fails it.
CHECKOV_VERSION  := 3.3.30
CHECKOV_VENV     := $(VENV)/checkov
CHECKOV_STAMP    := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
CHECKOV_ACCEPTED := CKV_AWS_18,CKV_AWS_21,CKV_AWS_27,CKV_AWS_115,CKV_AWS_116,CKV_AWS_117,CKV_AWS_158,CKV_AWS_173

.PHONY: security
security: synth $(CHECKOV_STAMP)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --skip-download --quiet --compact \
	    --framework cloudformation -f cdk.out/EventPipelineReference.template.json \
	    --soft-fail-on $(CHECKOV_ACCEPTED)

$(CHECKOV_STAMP): | $(PY_STAMP)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'
	touch $@

# The local runner on the lowest moto the [local] extra allows (pyproject.toml: moto[server]>=5.2,<6),
# installed the way a user's project would install it: `pip install -e '.[local]' 'moto[server]==5.2.0'`
# plus what the local suite needs besides (pytest and the plugins pyproject.toml's addopts use, and
# cdk-nag, which app.py imports), taken from the dev extra's lines so each is written once. In a venv
# of its own inside .venv. `make test` runs the newest moto (the dev extra's pin); this target runs
# tests/local on the lowest (25-70 s of tests on these shared machines, ~2 min more for a fresh
# venv). The speed-ups that release lacks are listed in one MotoSpeedupUnavailable warning
# (docs/local-runner.md).
MOTO_LOWEST       := 5.2.0
MOTO_LOWEST_VENV  := $(VENV)/moto-lowest
MOTO_LOWEST_STAMP := $(MOTO_LOWEST_VENV)/.installed-$(MOTO_LOWEST)
MOTO_LOWEST_TOOLS := $(shell grep -oE '"(cdk-nag|pytest|hypothesis|pytest-benchmark)[=<>][^"]*"' pyproject.toml)

test-moto-lowest: $(MOTO_LOWEST_STAMP) $(NODE_STAMP)
	$(MOTO_LOWEST_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/local

$(MOTO_LOWEST_STAMP): pyproject.toml | $(PY_STAMP)
	$(PYTHON) -m venv $(MOTO_LOWEST_VENV)
	$(MOTO_LOWEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[local]' \
	    'moto[server]==$(MOTO_LOWEST)' $(MOTO_LOWEST_TOOLS)
	rm -f $(MOTO_LOWEST_VENV)/.installed-*
	touch $@

# Synth-cost ratios (docs/benchmarks.md): the reference app over an empty app, the like-for-like system
# built with this library vs AWS Solutions Constructs, and over its own template as plain L1. Solutions
# Constructs are a benchmark-only dependency, pinned, in a venv of their own (never in .venv's dev set).
SC_VERSION  := 2.92.2
BENCH_VENV  := $(VENV)/bench
BENCH_STAMP := $(BENCH_VENV)/.installed-$(SC_VERSION)
SC_PATTERNS := aws-lambda-kinesis-streams aws-kinesis-streams-lambda aws-lambda-sqs aws-sqs-lambda aws-lambda-dynamodb

bench-synth: $(BENCH_STAMP) $(NODE_STAMP)
	$(BENCH_VENV)/bin/python benchmarks/synth_ratio.py --rounds 7

$(BENCH_STAMP): pyproject.toml | $(PY_STAMP)
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e . \
	    $(shell grep -oE '"cdk-nag==[^"]*"' pyproject.toml) \
	    $(foreach p,$(SC_PATTERNS),'aws-solutions-constructs.$(p)==$(SC_VERSION)')
	touch $@
