# One entry point for developers and CI. `make test` works from a fresh clone on a machine that
# has only Python, pip and Node's npm: it builds .venv and node_modules itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck proto-lint unit proto demo clean

test: lint typecheck proto-lint unit

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

node_modules/.bin/buf: package.json package-lock.json
	npm install --no-audit --no-fund --silent
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

proto-lint: node_modules/.bin/buf
	cd proto && ../node_modules/.bin/buf lint

unit: $(STAMP)
	$(BIN)/pytest

# Regenerates gateway/wire from proto/ with the pinned protoc; tests fail when it is stale.
proto: $(STAMP)
	$(BIN)/python tools/gen_proto.py

demo: $(STAMP)
	$(BIN)/gateway demo

clean:
	rm -rf $(VENV) node_modules .mypy_cache .pytest_cache .ruff_cache
