# handoff: `make demo` runs the story on the embedded AWS; `make test` is what CI runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= ap-northeast-1
# Three pytest-xdist workers on two cores: the end-to-end tests wait on the embedded AWS as much as they compute
# (one worker used about 45 % of a core), so a third worker fills the gaps: make test 5 m 23 s -> 4 m 42 s here.
PYTEST_WORKERS ?= 3
PY313 := $(shell PYENV_VERSION=3.13.0 python3.13 --version >/dev/null 2>&1 && echo yes)

SCAN := .venv-scan
SCAN_STAMP := $(SCAN)/.installed

MUTATION := .venv-mutation
MUTATION_STAMP := $(MUTATION)/.installed

NODE_TOOLS := .node-tools
NODE_STAMP := $(NODE_TOOLS)/.installed

.PHONY: install demo test lint typecheck unit pytest template security asl build local clean bench cli-docs mutation terraform-fmt

$(STAMP): pyproject.toml layers/shared/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# checkov pins an old boto3, so the scanners get a virtualenv of their own.
$(SCAN_STAMP):
	test -x $(SCAN)/bin/python || $(PYTHON) -m venv $(SCAN)
	$(SCAN)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN)/bin/python -m pip install --quiet checkov==3.3.30 bandit==1.9.4
	touch $(SCAN_STAMP)

# Every checkov suppression carries its reason in template.yaml; bandit fails on medium or higher.
security: $(SCAN_STAMP)
	$(SCAN)/bin/checkov --file template.yaml --framework cloudformation --quiet --compact --skip-download
	$(SCAN)/bin/bandit --quiet --recursive --severity-level medium functions layers cli

# Two independent ASL validators, pinned, on the definition with its substitutions filled in.
$(NODE_STAMP):
	mkdir -p $(NODE_TOOLS)
	npm install --prefix $(NODE_TOOLS) --no-audit --no-fund --silent asl-validator@4.0.0 @wmfs/statelint@1.30.0
	touch $(NODE_STAMP)

asl: $(STAMP) $(NODE_STAMP)
	mkdir -p .handoff
	$(BIN)/python tools/render_asl.py . > .handoff/deployment.rendered.asl.json
	$(NODE_TOOLS)/node_modules/.bin/asl-validator --json-path .handoff/deployment.rendered.asl.json
	$(NODE_TOOLS)/node_modules/.bin/statelint .handoff/deployment.rendered.asl.json

demo: $(STAMP)
	$(BIN)/python -m ecs_handoff_embedded.demo

local: $(STAMP)
	$(BIN)/handoff local up

# docs/cli.md's sample session, run for real against a fresh embedded AWS (a test checks it is current).
cli-docs: $(STAMP)
	$(BIN)/python tools/cli_session.py --write

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The unit tests alone (seconds): what to run while writing code.
unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

# Every level, unit to end-to-end, on both cores with PYTEST_WORKERS workers (pytest-xdist: an end-to-end file's tests stay on one worker,
# the unit and integration tests are one unit each; see tests/conftest.py). Each worker starts its own embedded
# AWS. The 20 slowest tests are listed at the end. CI runs this.
pytest: $(STAMP)
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --durations=20

template: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --template template.yaml

# sam build needs a python3.13 for the Lambda runtime. Where there is none it is skipped with a note,
# except in CI (.ci/run sets HANDOFF_CI=1), which fails rather than pass without building.
build: $(STAMP)
ifeq ($(PY313),yes)
	PATH="$(CURDIR)/$(BIN):$$PATH" PYENV_VERSION=3.13.0 $(BIN)/sam build --template template.yaml
else
	@if [ -n "$$HANDOFF_CI" ]; then \
	  echo "sam build cannot run: no python3.13 (PYENV_VERSION=3.13.0 python3.13 not found); CI requires it" >&2; \
	  exit 1; \
	fi
	@echo "sam build skipped: no python3.13 on PATH (PYENV_VERSION=3.13.0 python3.13 not found)"
endif

# The Terraform example in canonical form (providers cannot be downloaded everywhere, so only `fmt`).
# Where no terraform binary is on PATH it is skipped with a note, in CI (HANDOFF_CI=1) too: a CI machine
# need not carry terraform, and tests/unit/test_terraform*.py still parse and check the HCL there.
terraform-fmt:
	@if command -v terraform >/dev/null 2>&1; then \
	  terraform fmt -check -recursive -diff examples/terraform; \
	else \
	  echo "terraform fmt skipped: no terraform on PATH"; \
	fi

test: lint typecheck template terraform-fmt security asl pytest build

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .handoff .mutation $(SCAN) $(NODE_TOOLS) $(MUTATION)

# Not part of `make test`: handoff next to ecs-deploy on the embedded AWS; writes bench/results/latest.json.
bench: $(STAMP)
	$(BIN)/python bench/run.py

# Not part of `make test` either: mutmut over the pure modules with the unit tests (tests/mutation/run.py).
# mutmut needs a newer click than aws-sam-cli pins, so it gets a virtualenv of its own.
$(MUTATION_STAMP): pyproject.toml Makefile  # the pins on its pip line live here
	test -x $(MUTATION)/bin/python || $(PYTHON) -m venv $(MUTATION)
	$(MUTATION)/bin/python -m pip install --quiet --upgrade pip
	$(MUTATION)/bin/python -m pip install --quiet -e . pytest==9.2.0 mutmut==3.8.1 cryptography==50.0.2
	touch $(MUTATION_STAMP)

mutation: $(MUTATION_STAMP)
	$(MUTATION)/bin/python tests/mutation/run.py --survivors
