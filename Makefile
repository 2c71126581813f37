# Two commands for a new user: `make run` and `make test`. Both set up .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# No default run and no test touches the network: Hugging Face libraries stay offline and
# Kedro's telemetry is off.
export KEDRO_DISABLE_TELEMETRY := 1
export DO_NOT_TRACK := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
export MPLBACKEND := Agg

.PHONY: setup run test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

run: setup
	$(BIN)/kedro run

test: setup
	$(BIN)/ruff check src tests bench tools
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

bench: setup
	$(BIN)/python bench/embedding.py

clean:
	rm -rf $(VENV) .cache
