# l1ml: two commands on a fresh machine — `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.l1ml-installed

.PHONY: setup demo test test-all fuzz lint bench clean

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	# the local CPU wheel first: a plain `torch` would pull several GB of CUDA
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,da4ml]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/l1ml demo

test: setup
	$(BIN)/python -m pytest

test-all: setup
	$(BIN)/python -m pytest -m "slow or not slow"

# the long fuzz profile (329 cases, 2 workers, ~25-40 min): prints the counts and regenerates the table in
# docs/reliability.md; failing cases are kept with a repro.sh in fuzz_out/failures/
fuzz: setup
	$(BIN)/python -m tests.fuzz.profile --profile long --workers 2 --doc docs/reliability.md

lint: setup
	$(BIN)/ruff check l1ml tests benchmarks

bench: setup
	$(BIN)/python benchmarks/emulator_throughput.py

clean:
	rm -rf demo_out .pytest_cache
