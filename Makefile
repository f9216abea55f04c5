# Two commands matter: `make demo` and `make test`. Both create .venv on first use and
# install the project with everything it needs, so a machine with python3 and pip is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,peers,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/solvent backtest examples/sma_cross.py --data sample --commission-bps 10 --out demo-out

lint: $(STAMP)
	$(BIN)/ruff check src tests examples
	$(BIN)/ruff format --check src tests examples

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q -n 2

test: lint typecheck unit

# Benchmarks against the peers (benchmarks/README.md): tens of minutes; writes benchmarks/RESULTS.md.
# Pass options with ARGS, e.g. make bench ARGS="--quick" or ARGS="--skip-slow --runs 3".
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
