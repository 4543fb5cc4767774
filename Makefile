# Dev/CI entry points. `make setup` pins torch to the CPU build via constraints.txt.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-all lint format bench quality

setup: $(BIN)/ganterm

$(BIN)/ganterm: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

demo: setup
	$(BIN)/ganterm train

test: setup
	$(BIN)/pytest -q

test-all: setup
	$(BIN)/pytest -q -m ''

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/ui.py
	$(BIN)/python benchmarks/tui_overhead.py
	$(BIN)/python benchmarks/throughput.py

quality: setup
	$(BIN)/python benchmarks/quality.py
