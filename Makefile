# One place to run things. `make demo` and `make test` are the README's two commands.
# The interpreter .venv is made from (scripts/pick_python.sh says which, and why).
PY ?= $(shell sh scripts/pick_python.sh)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup setup-test native demo test lint typecheck eval nightly bench schema clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,stats]'
	$(BIN)/python scripts/build_native.py
	touch $(STAMP)

setup: $(STAMP)

# The text path's modules compiled with mypyc (about 20% faster; `make setup` does it once).
# Rerun after editing them: until then they run as Python (imr_llm/_native.py).
native: setup
	$(BIN)/python scripts/build_native.py

setup-test: setup
	bash scripts/setup_test_env.sh $(BIN)

demo: setup
	$(BIN)/imr-llm summarize evals/letters/example_letter.txt

lint: setup
	$(BIN)/ruff check imr_llm tests benchmarks scripts
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

test: setup-test lint typecheck
	$(BIN)/pytest

eval: setup
	$(BIN)/imr-llm eval --backend rules --out evals/runs/latest

nightly: setup
	BIN=$(BIN) bash scripts/nightly.sh

bench: setup
	$(BIN)/python benchmarks/bench_throughput.py

schema: setup
	$(BIN)/python -m imr_llm.schema_export

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
	find imr_llm -name '*.so' -delete; rm -f imr_llm/_native.json
