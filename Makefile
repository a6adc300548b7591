# Two set-up commands: `make run` and `make test`. Both create .venv on first use.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTHON ?= python3

.PHONY: run test check lint types pytest bench venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## run: everything in one process on the embedded default (SQLite, outbox, scheduler) on :8000
run: $(STAMP)
	$(VENV)/bin/newsletter run

## test: lint, types and the whole suite (on PostgreSQL too when NEWSLETTER_TEST_DATABASE_URL is set)
test: lint types pytest

check: test

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

types: $(STAMP)
	$(VENV)/bin/mypy newsletter tests bench scheduler.py

pytest: $(STAMP)
	$(PY) -m pytest

## bench: every benchmark in bench/, printing ratios against baselines measured in the same run
bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
