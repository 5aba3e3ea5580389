# handoff: `make demo` runs the story on the embedded AWS; `make test` is what CI runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= ap-northeast-1
PY313 := $(shell PYENV_VERSION=3.13.0 python3.13 --version >/dev/null 2>&1 && echo yes)

.PHONY: install demo test lint typecheck unit template build local clean

$(STAMP): pyproject.toml layers/shared/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m ecs_handoff_embedded.demo

local: $(STAMP)
	$(BIN)/handoff local up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

template: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --template template.yaml

# sam build needs a python3.13 for the Lambda runtime; skipped (with a note) where there is none.
build: $(STAMP)
ifeq ($(PY313),yes)
	PATH="$(CURDIR)/$(BIN):$$PATH" PYENV_VERSION=3.13.0 $(BIN)/sam build --template template.yaml
else
	@echo "sam build skipped: no python3.13 on PATH (PYENV_VERSION=3.13.0 python3.13 not found)"
endif

test: lint typecheck template unit build

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .handoff
