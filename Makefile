# Two commands do all set-up: `make demo` and `make test`.
# The CPU build of PyTorch is pinned and installed first: a bare `torch`
# requirement would pull a multi-GB CUDA build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_PIN := torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: demo test bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet $(TORCH_PIN)
	$(BIN)/pip install --quiet -e '.[games,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mathless fit --demo --time 30 --out demo-model --overwrite
	$(BIN)/mathless info demo-model
	$(BIN)/mathless predict demo-model --demo --out demo-predictions.csv --overwrite
	head -n 6 demo-predictions.csv

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[games,dev,bench]'
	$(BIN)/python bench/tables.py

clean:
	rm -rf $(VENV) demo-model demo-predictions.csv
