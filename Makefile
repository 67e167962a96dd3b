# The README's two commands: `make up` runs the whole system, `make test` checks it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := app outbox workers gatewaysim devtools
TERRAFORM_DIR := infra/terraform
# checkov pins boto3/botocore far below what aiobotocore needs, so it gets a venv of its own.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/installed-$(CHECKOV_VERSION)

.PHONY: up test lint typecheck infra-check bench clean

# The bench extra holds the peers bench/peers_*.py measure us against; the smoke tests in
# tests/integration/test_benches.py run those benches, so the dev venv has it too.
$(BIN)/pixwave: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BIN)/pixwave

up: $(BIN)/pixwave
	$(BIN)/pixwave up

# lint-imports checks the map of what may import what ([tool.importlinter] in pyproject.toml).
lint: $(BIN)/pixwave
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(BIN)/pixwave
	$(BIN)/mypy --strict $(PACKAGES)

$(CHECKOV_STAMP):
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $@

# Static checks of the Terraform (a skipped check says why beside its resource), and
# terraform's own formatting where terraform is installed.
infra-check: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --directory $(TERRAFORM_DIR) --framework terraform \
		--compact --quiet --skip-download
	if command -v terraform >/dev/null; then terraform fmt -check -diff $(TERRAFORM_DIR); \
	else echo "terraform is not installed: format check skipped"; fi

# tests.services gives alembic and pytest one PostgreSQL and Redis: the ones named by
# PIXWAVE_TEST_DATABASE_URL / PIXWAVE_TEST_REDIS_URL, or embedded ones it starts.
test: lint typecheck infra-check
	$(BIN)/python -m tests.services sh -c '$(BIN)/alembic check && $(BIN)/pytest'

# The relay and worker benchmarks start their own moto server and databases on the
# machine's PostgreSQL (see --database-server); docs/performance.md has the figures.
bench: $(BIN)/pixwave
	$(BIN)/python -m tests.services $(BIN)/python bench/api.py
	$(BIN)/python bench/relay.py
	$(BIN)/python bench/worker.py --messages 500
	$(BIN)/python bench/peers_relay.py
	$(BIN)/python bench/peers_worker.py --messages 300
	$(BIN)/python -m bench.e2e --count 300 --rate 100

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pixwave .mypy_cache .ruff_cache .pytest_cache
