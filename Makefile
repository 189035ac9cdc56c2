# Imprint's commands. On a clean clone `make run` and `make test` set up .venv themselves.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Re-install when pyproject.toml changes (new dependency, new console script).
INSTALLED := $(VENV)/.installed
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/imprint
# The suite is parallel-safe: each xdist worker gets its own test database, storage and ports.
PYTEST := $(BIN)/pytest -p no:cacheprovider -n auto
# What `check --deploy` must find clean: a public HTTPS deployment with a real key.
PRODUCTION_ENV := IMPRINT_PUBLIC_URL=https://imprint.example.com IMPRINT_DEBUG=false \
	IMPRINT_SECRET_KEY=lint-only-3f9c1e7a5b2d4f608e1a9c3b7d5f2e4a6c8b0d1f3e5a7c9b2d4f6a

.PHONY: run test test-postgres lint bench system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Chromium and nginx from Debian, for the browser and nginx tests (installed when missing).
system-deps:
	sh scripts/system-deps.sh

run: $(INSTALLED)
	$(BIN)/imprint serve $(ARGS)

test: $(INSTALLED) system-deps
	$(PYTEST) $(ARGS)

test-postgres: $(INSTALLED) system-deps
	IMPRINT_DATABASE_URL=$(POSTGRES_URL) $(PYTEST) $(ARGS)

# The Django checks run in a throwaway data directory so that linting leaves no state behind.
lint: $(INSTALLED)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy imprint
	data=$$(mktemp -d) && trap 'rm -rf "$$data"' EXIT && \
	IMPRINT_DATA_DIR=$$data $(BIN)/python manage.py makemigrations --check --dry-run && \
	IMPRINT_DATA_DIR=$$data $(PRODUCTION_ENV) $(BIN)/python manage.py check --deploy --fail-level WARNING

# The benchmark suite (BENCHMARKS.md): each script prints its figures beside its reference,
# measured in the same run. BENCH_ARGS=--seconds 5 (for example) for a quick pass.
bench: $(INSTALLED)
	$(BIN)/python bench/webhook_intake.py --until-p99 --rate 20 $(BENCH_ARGS)
	$(BIN)/python bench/webhook_intake.py --until-p99 --rate 20 --postgres $(BENCH_ARGS)
	$(BIN)/python bench/webhook_intake.py --web-only $(BENCH_ARGS)
	$(BIN)/python bench/webhook_intake.py --web-only --postgres $(BENCH_ARGS)
	$(BIN)/python bench/end_to_end.py $(BENCH_ARGS)
	$(BIN)/python bench/downloads.py
	$(BIN)/python bench/emails.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/orders_page.py
