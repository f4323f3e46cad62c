# kokunen — make demo (the main job end to end) and make test (everything CI runs).
# Both install what they need (Python venv, Kafka jars, PostgreSQL) and start and stop their own servers.

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .cache/uv/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
PACKAGES := -p kokunen_contracts -p kokunen_common -p residency_sync -p tax_sync -p eligibility -p transfer_dispatch -p counter

.PHONY: help venv jars print-tools kafka-cli browser design-tokens lint typecheck unit test demo bench chaos restore-drill contracts replay up down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(UV):
	$(PYTHON) -m venv .cache/uv
	.cache/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml contracts/pyproject.toml $(wildcard services/*/pyproject.toml)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

venv: $(VENV)/.synced ## the Python environment (uv, from uv.lock)

jars: ## fetch the Kafka broker jars from Maven Central (cached under .cache/kafka)
	$(PYTHON) deploy/local/localstack.py fetch

JP_FONT := /usr/share/fonts/opentype/ipafont-gothic/ipag.ttf
print-tools: ## Japanese font (fonts-ipafont-gothic) and pdftotext (poppler-utils) for the JPS lists, from Debian
	@if [ ! -f $(JP_FONT) ] || ! command -v pdftotext >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq fonts-ipafont-gothic poppler-utils; \
	fi

kafka-cli: ## Debian's kcat, the command-line client docs/integration.md documents (its test publishes with it)
	@if ! command -v kcat >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq kcat; \
	fi

browser: ## Debian's Chromium for the counter's browser tests (driven by Playwright; never `playwright install`)
	@if ! command -v chromium >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; \
	fi

DESIGN_TOKENS_VERSION := 1.1.9
DESIGN_TOKENS := .cache/design-tokens/$(DESIGN_TOKENS_VERSION)/package/dist/tokens.css
$(DESIGN_TOKENS):
	@command -v npm >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm; }
	mkdir -p $(dir $(DESIGN_TOKENS))../..
	cd .cache/design-tokens/$(DESIGN_TOKENS_VERSION) && npm pack --silent @digital-go-jp/design-tokens@$(DESIGN_TOKENS_VERSION) \
	  && tar xzf digital-go-jp-design-tokens-$(DESIGN_TOKENS_VERSION).tgz package/dist/tokens.css package/LICENSE
	test -s $@

design-tokens: $(DESIGN_TOKENS) ## the Digital Agency design tokens (npm @digital-go-jp/design-tokens, MIT) the counter serves

lint: venv ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv ## mypy --strict on every package
	$(VENV)/bin/mypy $(PACKAGES)
	MYPYPATH=deploy/local:tests $(VENV)/bin/mypy deploy/local/localstack.py deploy/local/demo.py deploy/local/stack.py tests/drills/run_chaos.py tests/drills/run_restore_drill.py

unit: venv ## fast tests only (no broker, no database)
	$(VENV)/bin/pytest -m "not integration" -q

test: venv jars print-tools kafka-cli browser design-tokens ## lint, types, unit, handler and integration tests on a real Kafka broker and PostgreSQL
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory lint typecheck && \
	$(VENV)/bin/pytest -q --durations=15; rc=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s"; exit $$rc

DEMO_LOG := .local/demo-install.log
demo: ## start Kafka, PostgreSQL and every service; publish sample resident changes; show the flow
	@mkdir -p .local; start=$$(date +%s); \
	echo "make demo: installing what it needs (details in $(DEMO_LOG)) …"; \
	if ! $(MAKE) --no-print-directory venv jars print-tools design-tokens > $(DEMO_LOG) 2>&1; then \
	  tail -n 30 $(DEMO_LOG); echo "make demo: the install failed; the whole log is $(DEMO_LOG)"; exit 1; fi; \
	$(PY) deploy/local/demo.py; rc=$$?; \
	echo; echo "make demo: $$(( $$(date +%s) - start )) s, exit status $$rc; install log: $(DEMO_LOG)"; \
	echo "next: make up (the stack in the background), docs/integration.md (publish your own events),"; \
	echo "      docs/configuration.md (every setting), make test (everything CI runs)"; \
	exit $$rc

bench: venv jars print-tools design-tokens ## throughput figures beside raw baselines measured in the same run
	$(PY) tests/bench/run_bench.py

chaos: venv jars ## a long stream under kill -9 of each service, a broker restart and a PostgreSQL outage; 0 lost / 0 doubled
	@start=$$(date +%s); $(PY) tests/drills/run_chaos.py; rc=$$?; echo "make chaos: $$(( $$(date +%s) - start )) s"; exit $$rc

restore-drill: venv jars ## back up, keep writing, restore a new cluster to a point in time, rewind, catch up; RPO/RTO
	@start=$$(date +%s); $(PY) tests/drills/run_restore_drill.py; rc=$$?; echo "make restore-drill: $$(( $$(date +%s) - start )) s"; exit $$rc

up: venv jars kafka-cli design-tokens ## start Kafka, PostgreSQL and every service in the background (.local/stack); print URLs and credentials
	$(PY) deploy/local/stack.py up

down: venv ## stop what `make up` started (idempotent)
	$(PY) deploy/local/stack.py down

replay: venv ## rebuild SERVICE's slice from the retained topics (uses the service's env: URLs and keys)
	@test -n "$(SERVICE)" || { echo "usage: make replay SERVICE=eligibility"; exit 2; }
	$(VENV)/bin/kokunen-admin replay --service $(SERVICE)

contracts: venv ## regenerate JSON Schema and AsyncAPI documents from the contract models
	$(PY) -m kokunen_contracts.export --write

clean: ## remove the venv and caches (the Kafka jar cache included)
	rm -rf $(VENV) .cache .mypy_cache .ruff_cache .pytest_cache
