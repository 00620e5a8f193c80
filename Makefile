# PromptLooper: `make run` serves the app on :8400 with SQLite, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install run serve test test-unit lint migrate migration bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

## install: the .venv with the locked dependencies (and the dashboard build once it exists)
install: $(UV)
	$(UV) sync --frozen --all-extras --inexact --python $(BIN)/python --quiet

## run: install, migrate and serve on http://$${HOST:-0.0.0.0}:$${PORT:-8400} (SQLite in ./data)
run: install
	$(BIN)/promptlooper migrate
	$(BIN)/promptlooper serve

serve:
	$(BIN)/promptlooper serve

## test: install and run every test (Postgres and Redis on 127.0.0.1; required when CI=true)
test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

## lint: ruff and mypy (strict for the package)
lint: install
	$(BIN)/ruff check backend alembic bench
	@# mypy cannot follow setuptools' editable finder: give it the package under its import name.
	mkdir -p .mypy_src && ln -sfn ../backend .mypy_src/promptlooper
	MYPYPATH=.mypy_src $(BIN)/mypy -p promptlooper --exclude 'promptlooper/tests/'

migrate: install
	$(BIN)/promptlooper migrate

## migration m="what changed": autogenerate an Alembic migration against a scratch SQLite database
migration: install
	rm -rf /tmp/promptlooper-migration && DATA_DIR=/tmp/promptlooper-migration $(BIN)/promptlooper migrate
	DATA_DIR=/tmp/promptlooper-migration $(BIN)/alembic revision --autogenerate -m "$(m)"

## bench: the performance targets (see bench/README.md)
bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
