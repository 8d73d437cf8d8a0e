# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.t1d-qa-installed

.PHONY: setup index run chat test eval bench lint clean

# torch is pinned and installed first: the CPU build. Letting pip resolve it through
# sentence-transformers would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "t1d-qa needs Python 3.11 in .venv: remove .venv and run make PYTHON=/path/to/python3.11")'
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

index: setup
	$(BIN)/t1d-qa index

run: index
	$(BIN)/t1d-qa serve

chat: index
	$(BIN)/t1d-qa chat

test: setup
	bash scripts/ensure-chromium.sh
	bash scripts/ensure-postgres.sh
	$(BIN)/python -m pytest

eval: index
	$(BIN)/t1d-qa eval --report eval-report.html

bench: index
	$(BIN)/python benchmarks/fusion.py
	$(BIN)/python benchmarks/latency.py
	$(BIN)/python benchmarks/screen.py

lint: setup
	$(BIN)/ruff check src tests benchmarks app.py

clean:
	rm -rf .t1d_qa/index .pytest_cache test-artifacts
