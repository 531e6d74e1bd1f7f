# Two commands on a fresh machine:
#   make run    installs fleet into .venv and runs the built-in CSMS with a simulated fleet over loopback
#   make test   installs fleet with its dev extras into .venv and runs lint, type checks and the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install install-dev lint typecheck bench generate html-report clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Bytecode is compiled at install: every worker process of a run imports fleet, and without it
# (PYTHONDONTWRITEBYTECODE, a read-only tree) each would compile its modules again at start.
install: $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/python -m compileall -q fleet

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q fleet

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

# A short run's HTML report, opened in headless Chromium (Debian: apt-get install chromium) to check
# that its charts render, and the README's screenshot of it.
html-report: install
	mkdir -p build
	-$(BIN)/fleet run profiles/demo-fleet.toml --stations 200 --ramp 20 --duration 60 --timeline-interval 2 --no-control --quiet \
		--threshold 'p99<200ms' --threshold 'errors==0' --report build/run.json --html build/run.html
	$(BIN)/python tools/html_report_check.py build/run.html --screenshot docs/screenshots/html-report.png

generate: install-dev
	$(BIN)/python tools/generate_messages.py

clean:
	rm -rf $(VENV) build *.egg-info
