# Casebook: `make serve` sets up and starts the chat UI on the sample library;
# `make test` sets up and runs the whole test suite. Both work on a fresh machine.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export HF_HUB_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: install serve test lint format bench library clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first: its pinned CPU wheel; a bare `torch` requirement would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser tests (never `playwright install`).
/usr/bin/chromium:
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq chromium >/dev/null

# Debian's nginx for the reverse-proxy tests, which start their own on 127.0.0.1 with a generated config.
/usr/sbin/nginx:
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq nginx >/dev/null

serve: install
	$(BIN)/casebook serve

test: install /usr/bin/chromium /usr/sbin/nginx
	$(BIN)/ruff check assistant ingest vectorstore prompts eval tests bench examples/build_library.py
	$(BIN)/ruff format --check assistant ingest vectorstore prompts eval tests bench examples/build_library.py
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check --fix assistant ingest vectorstore prompts eval tests bench examples/build_library.py
	$(BIN)/ruff format assistant ingest vectorstore prompts eval tests bench examples/build_library.py

library: install
	$(BIN)/python examples/build_library.py

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
