# One entry point for developers and CI. `make test` works from a fresh clone on a machine that
# has only Python, pip and Node's npm: it builds .venv and node_modules itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck proto-lint prometheus alert-rules faketime chromium unit proto demo clean

test: lint typecheck proto-lint alert-rules unit

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

# Debian's prometheus package (the machines here are Debian, as root) brings promtool for the
# rule tests and the server that tests/ops/test_prometheus_alert.py scrapes two gateways with.
prometheus:
	command -v promtool >/dev/null && command -v prometheus >/dev/null || \
		(apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null)

alert-rules: prometheus
	promtool check rules config/prometheus/blg-alerts.yml
	cd config/prometheus && promtool test rules blg-alerts.test.yml

# libfaketime shifts one gateway's clock in the fault matrix (tests/faults); Debian's faketime
# package brings it along with the faketime command.
faketime:
	command -v faketime >/dev/null || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null)

# The console's browser tests drive Debian's Chromium through Playwright (tests/console/
# browser.py); `playwright install` would download a browser build, which is not possible here.
chromium:
	test -x /usr/bin/chromium || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

unit: $(STAMP) faketime chromium prometheus
	$(BIN)/pytest

# Regenerates gateway/wire from proto/ with the pinned protoc; tests fail when it is stale.
proto: $(STAMP)
	$(BIN)/python tools/gen_proto.py

demo: $(STAMP)
	$(BIN)/gateway demo

clean:
	rm -rf $(VENV) node_modules .mypy_cache .pytest_cache .ruff_cache
