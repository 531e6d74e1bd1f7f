# Two commands on a fresh machine:
#   make run    installs fleet into .venv and runs the built-in CSMS with a simulated fleet over loopback
#   make test   installs fleet with its dev extras into .venv and runs lint, type checks and the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install install-dev lint typecheck bench generate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

run: install
	$(BIN)/fleet run

lint: install-dev
	$(BIN)/ruff check fleet tests tools examples

typecheck: install-dev
	$(BIN)/mypy

test: install-dev lint typecheck
	$(BIN)/python -m pytest -q -n auto --dist loadfile

bench: install
	$(BIN)/fleet bench --codec

generate: install-dev
	$(BIN)/python tools/generate_messages.py

clean:
	rm -rf $(VENV) build *.egg-info
