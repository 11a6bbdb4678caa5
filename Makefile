# Opsbook: the targets README names. Each target installs what is missing first.
#   make setup   Debian's chromium, npm packages, the Python venv (.venv)
#   make build   schema types, TypeScript, the JupyterLab extension, the opsbook Python package
#   make lab     JupyterLab with Opsbook and the quickstart notebook
#   make test    lint, jest, pytest and the Galata suite, with each runner's summary
#   make bench   benchmarks in bench/

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
PYTHON ?= python3
STAMPS := .stamps
JUPYTERLAB_VERSION := 4.5.11
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
LAB_AS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: setup build lab test lint test-jest test-pytest test-ui bench clean

setup: $(STAMPS)/chromium $(STAMPS)/npm $(STAMPS)/venv

$(STAMPS):
	@mkdir -p $@

$(STAMPS)/chromium: | $(STAMPS)
	@if ! command -v chromium >/dev/null; then \
	  echo "setup: installing Debian's chromium"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi
	@touch $@

# npm 11 runs no dependency install scripts unless allowed; onnxruntime-node and zeromq ship their
# CPU binaries in the package, so none is needed. `npm install` (which follows the lock) rather than
# `npm ci`: the registry reachable here lacks some other platforms' optional binaries, which the lock
# then omits, and `npm ci` refuses such a lock as out of sync.
$(STAMPS)/npm: package.json package-lock.json */package.json | $(STAMPS)
	npm install --no-audit --no-fund
	@touch $@

$(STAMPS)/venv: | $(STAMPS)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q "jupyterlab==$(JUPYTERLAB_VERSION)" hatchling hatch-jupyter-builder
	@touch $@

build: setup
	npm run build -w schema
	tsc -b
	@# npm links a workspace's bin only when its target exists; on a fresh clone dist/ comes after
	@# npm install, so link `npx opsbook` now.
	@[ -e node_modules/.bin/opsbook ] || npm rebuild @opsbook/core --ignore-scripts >/dev/null
	@# The extension's build script makes an empty node_modules/ there first: without one, the
	@# JupyterLab builder runs jlpm install, which fails on other platforms' DuckDB binaries.
	npm run build:prod -w jupyterlab-extension
	@if [ ! -f $(STAMPS)/pip ] || [ kernel-bridge/python/pyproject.toml -nt $(STAMPS)/pip ]; then \
	  $(VENV)/bin/pip install -q -e "kernel-bridge/python[test]" && touch $(STAMPS)/pip; \
	fi
	jupyter labextension develop --overwrite kernel-bridge/python >/dev/null

lab: build
	jupyter lab $(LAB_AS_ROOT) --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/examples/quickstart.ipynb

lint: setup
	eslint --max-warnings 0 .

# Every suite runs even when an earlier one fails, so one run shows all failures.
test: build
	@rm -rf $(STAMPS)/results && mkdir -p $(STAMPS)/results; failed=""; \
	$(MAKE) --no-print-directory lint || failed="$$failed lint"; \
	$(MAKE) --no-print-directory test-jest || failed="$$failed jest"; \
	$(MAKE) --no-print-directory test-pytest || failed="$$failed pytest"; \
	$(MAKE) --no-print-directory test-ui || failed="$$failed galata"; \
	node scripts/test-summary.mjs $(STAMPS)/results; \
	if [ -n "$$failed" ]; then echo "make test: failed:$$failed"; exit 1; fi

test-jest:
	jest --ci --json --outputFile=$(STAMPS)/results/jest.json

test-pytest:
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider --junitxml=$(STAMPS)/results/pytest.xml kernel-bridge/python

test-ui:
	cd ui-tests && PLAYWRIGHT_JSON_OUTPUT_NAME=../$(STAMPS)/results/galata.json playwright test --reporter=list,json

bench: build
	node bench/run.mjs

clean:
	rm -rf $(STAMPS) schema/generated schema/lib src/dist kernel-bridge/lib jupyterlab-extension/lib \
	  vscode-extension/dist kernel-bridge/python/opsbook/labextension
