# `make serve` runs a node; `make test` runs the checks CI runs. Both create .venv on first
# use and reinstall only when pyproject.toml changes.
#
#   make serve PORT=5000 HOST=0.0.0.0 CONFIG=other.toml

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Only values given on the make command line are passed on: HOST in particular is often
# set in the environment (to the machine's name) by shells.
flag = $(if $(filter command line,$(origin $(1))),$(2) $($(1)))

.PHONY: serve test

serve: $(STAMP)
	$(BIN)/hearth serve $(call flag,HOST,--host) $(call flag,PORT,--port) $(call flag,CONFIG,--config)

test: $(STAMP)
	$(BIN)/ruff check --quiet .
	$(BIN)/mypy
	$(BIN)/pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@
