# The README's two commands: `make up` runs the whole system, `make test` checks it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := app outbox workers

.PHONY: up test lint typecheck bench clean

$(BIN)/pixwave: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/pixwave

up: $(BIN)/pixwave
	$(BIN)/pixwave up

lint: $(BIN)/pixwave
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/pixwave
	$(BIN)/mypy --strict $(PACKAGES)

# tests.services gives alembic and pytest one PostgreSQL and Redis: the ones named by
# PIXWAVE_TEST_DATABASE_URL / PIXWAVE_TEST_REDIS_URL, or embedded ones it starts.
test: lint typecheck
	$(BIN)/python -m tests.services sh -c '$(BIN)/alembic check && $(BIN)/pytest'

# The relay and worker benchmarks start their own moto server and databases on the
# machine's PostgreSQL (see --database-server); docs/performance.md has the figures.
bench: $(BIN)/pixwave
	$(BIN)/python -m tests.services $(BIN)/python bench/api.py
	$(BIN)/python bench/relay.py
	$(BIN)/python bench/worker.py --messages 500

clean:
	rm -rf $(VENV) .pixwave .mypy_cache .ruff_cache .pytest_cache
