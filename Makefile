# Every target creates or reuses .venv by itself; only Python 3.11+ is required
# (Node/npm is used, when present, to fetch the pinned front-end assets).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
VENDOR := tierline/platform/static/vendor

.PHONY: setup demo test lint lint-infra format bench clean services-stop

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

$(VENDOR)/htmx.min.js: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --silent && mkdir -p $(VENDOR) && \
		cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js; \
	else \
		echo "npm not found: pages work without htmx (plain form posts); install Node for it"; \
	fi

setup: $(STAMP) $(VENDOR)/htmx.min.js

# make demo PORT=8080 HOST=0.0.0.0 DATA_DIR=/tmp/tierline-demo
PORT     ?= 8000
HOST     ?= 127.0.0.1
DATA_DIR ?=

demo: setup
	$(if $(DATA_DIR),TIERLINE_DATA_DIR=$(DATA_DIR) )$(BIN)/tierline demo --host $(HOST) --port $(PORT)

# Two workers (pytest-xdist), each with its own embedded PostgreSQL and Redis: the suite waits
# on servers more than it computes, so two processes use a 2-core machine fully. TEST_WORKERS=0
# runs in one process.
TEST_WORKERS ?= 2

test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

lint: setup lint-infra
	$(BIN)/ruff check tierline tests bench migrations
	$(BIN)/ruff format --check tierline tests bench migrations
	$(BIN)/mypy tierline

# The deployment files, with no Docker daemon: hadolint on the Dockerfile, and compose.yaml
# against the Compose Specification's JSON schema (shipped inside check-jsonschema).
lint-infra: setup
	$(BIN)/hadolint Dockerfile
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec compose.yaml

format: setup
	$(BIN)/ruff check --fix tierline tests bench migrations
	$(BIN)/ruff format tierline tests bench migrations

bench: setup
	$(BIN)/python -m bench

services-stop: setup
	$(BIN)/tierline services stop

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache .mypy_cache .ruff_cache
