# `make serve` runs a node; `make test` runs the checks CI runs. Both create .venv on first
# use and reinstall only when pyproject.toml changes, and install the npm packages of
# package.json (`npm ci`) only when it or its lock file changes.
#
#   make serve PORT=5000 HOST=0.0.0.0 CONFIG=other.toml

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

# Only values given on the make command line are passed on: HOST in particular is often
# set in the environment (to the machine's name) by shells.
flag = $(if $(filter command line,$(origin $(1))),$(2) $($(1)))

.PHONY: serve test chromium

serve: $(STAMP) $(NODE_STAMP)
	$(BIN)/hearth serve $(call flag,HOST,--host) $(call flag,PORT,--port) $(call flag,CONFIG,--config)

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check --quiet .
	$(BIN)/mypy
	$(BIN)/pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# The side-by-side benchmarks (bench/run_all.py, ~10 minutes): Hearth beside python-socketio,
# Django Channels and a bare aiohttp floor; makes bench/.venv-peers (the peers) on first use
# and needs Debian's redis-server. Writes BENCHMARKS.md's "Side by side" section.
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# phoenix.js for the pages (served from node_modules) and the interop tests; never committed.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium, for tests/browser (which skips without it; .ci/run installs it too).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
