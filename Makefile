# The README's two commands. Longer logic lives in deploy/ and .ci/.
.DEFAULT_GOAL := run
.PHONY: run test install bench

# A fresh machine may only have `python3`; any 3.11 interpreter will do.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# Touched after a successful install, so pip only runs again when pyproject.toml
# is newer than the last install.
STAMP := $(VENV)/.installed-dev

# Defaults for the test run; values already in the environment win.
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/studio)
TEST_REDIS_URL ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/15)
# The tests' Django cache: a database of its own, apart from their brokers' (15,
# and 14 for tests with a broker of their own, TEST_SECOND_REDIS_URL).
TEST_CACHE_URL ?= $(or $(CACHE_URL),redis://127.0.0.1:6379/11)
# The benchmarks fill their database and Redis databases (users, jobs, galleries).
BENCH_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/studio_bench)
BENCH_REDIS_URL ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/12)
BENCH_CACHE_URL ?= $(or $(CACHE_URL),redis://127.0.0.1:6379/13)

$(PY):
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Python 3.11 is required, found " + sys.version)'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(PY) deploy/run.py

# STYLE §9 order. makemigrations needs no database: the embedded default spares
# a warning about a missing one. The last pass re-runs the webapp and worker unit
# tests on SQLite, the zero-configuration default of `make run`.
test: $(STAMP)
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m mypy generator webapp worker bench deploy/run.py deploy/ci/compose-smoke deploy/ci/compose_smoke
	env -u DATABASE_URL $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest -q --doctest-modules generator
	mkdir -p artifacts
	DATABASE_URL="$(TEST_DATABASE_URL)" REDIS_URL="$(TEST_REDIS_URL)" \
		CACHE_URL="$(TEST_CACHE_URL)" TEST_CACHE_URL="$(TEST_CACHE_URL)" \
		$(PY) -m pytest
	@echo "--- webapp, web and worker unit tests again on SQLite (the embedded default) ---"
	env -u DATABASE_URL REDIS_URL="$(TEST_REDIS_URL)" CACHE_URL="$(TEST_CACHE_URL)" \
		$(PY) -m pytest -q \
		tests/webapp tests/web tests/worker -m "not integration and not browser"

# Every figure of BENCHMARKS.md beside its floor (about 7 minutes on 2 idle cores).
bench: $(STAMP)
	DATABASE_URL="$(BENCH_DATABASE_URL)" REDIS_URL="$(BENCH_REDIS_URL)" \
		CACHE_URL="$(BENCH_CACHE_URL)" $(PY) -m bench $(BENCH_ARGS)
