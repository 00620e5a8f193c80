# PromptLooper: `make run` serves the app on :8400 with SQLite, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

FRONTEND := frontend
NODE_MODULES := $(FRONTEND)/node_modules/.package-lock.json

.PHONY: install run serve test test-backend test-frontend e2e dashboard api-client api-client-check lint lint-deploy migrate \
	migration bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

## install: the .venv with the locked Python dependencies
install: $(UV)
	$(UV) sync --frozen --all-extras --inexact --python $(BIN)/python --quiet

$(NODE_MODULES): $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## dashboard: build the React dashboard into frontend/dist (`promptlooper serve` serves it at /)
dashboard: $(NODE_MODULES)
	cd $(FRONTEND) && npm run --silent build

## api-client: regenerate the dashboard's typed client (src/api/schema.d.ts) from the backend's OpenAPI
api-client: install $(NODE_MODULES)
	@tmp=$$(mktemp -d) && DATA_DIR=$$tmp $(BIN)/promptlooper openapi --output $$tmp/openapi.json 2>/dev/null \
		&& cd $(FRONTEND) && npx --no-install openapi-typescript $$tmp/openapi.json -o src/api/schema.d.ts; \
		rc=$$?; rm -rf $$tmp; exit $$rc

## api-client-check: fail when src/api/schema.d.ts is not what the backend's OpenAPI generates
api-client-check: install $(NODE_MODULES)
	@tmp=$$(mktemp -d) && DATA_DIR=$$tmp $(BIN)/promptlooper openapi --output $$tmp/openapi.json 2>/dev/null \
		&& (cd $(FRONTEND) && npx --no-install openapi-typescript $$tmp/openapi.json -o $$tmp/schema.d.ts >/dev/null) \
		&& diff -u $(FRONTEND)/src/api/schema.d.ts $$tmp/schema.d.ts \
		&& echo "api client is current"; rc=$$?; rm -rf $$tmp; \
		if [ $$rc -ne 0 ]; then echo "frontend/src/api/schema.d.ts is stale: run 'make api-client'" >&2; fi; exit $$rc

## run: install, build the dashboard, migrate and serve on http://$${HOST:-0.0.0.0}:$${PORT:-8400} (SQLite in ./data)
run: install dashboard
	$(BIN)/promptlooper migrate
	$(BIN)/promptlooper serve

serve:
	$(BIN)/promptlooper serve

## test: install and run every test (Postgres and Redis on 127.0.0.1 and Chromium: required when CI=true)
test: lint test-backend test-frontend e2e

## test-backend: the Python suite (unit, API on SQLite and Postgres, production mode with Celery workers)
test-backend: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

## test-frontend: the typed client is current, the dashboard type-checks, Vitest component tests
test-frontend: api-client-check $(NODE_MODULES)
	cd $(FRONTEND) && npm run --silent typecheck && npm run --silent test

## e2e: the dashboard in Debian's Chromium against a real server and a loopback LLM endpoint
e2e: install dashboard
	cd $(FRONTEND) && npm run --silent e2e

## lint: ruff, mypy (strict for the package) and the Docker deployment files
lint: install lint-deploy
	$(BIN)/ruff check backend alembic bench
	$(BIN)/mypy -p promptlooper

## lint-deploy: docker-compose.yml against the Compose Specification schema, hadolint, shellcheck (no Docker engine)
lint-deploy: install
	CHECK_JSONSCHEMA=$(BIN)/check-jsonschema HADOLINT=$(BIN)/hadolint SHELLCHECK=$(BIN)/shellcheck bash scripts/lint-deploy.sh

migrate: install
	$(BIN)/promptlooper migrate

## migration m="what changed": autogenerate an Alembic migration against a scratch SQLite database
migration: install
	rm -rf /tmp/promptlooper-migration && DATA_DIR=/tmp/promptlooper-migration $(BIN)/promptlooper migrate
	DATA_DIR=/tmp/promptlooper-migration $(BIN)/alembic revision --autogenerate -m "$(m)"

## bench: the performance targets (see bench/run.py), tuning (bench/tuning.py), then the dashboard with 10,000 runs in Chromium
bench: install dashboard
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.webhooks
	$(BIN)/python -m bench.tuning
	cd $(FRONTEND) && node e2e/bench.mjs

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache $(FRONTEND)/node_modules $(FRONTEND)/dist
