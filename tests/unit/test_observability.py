"""The Grafana dashboard and the Prometheus alert rules against the code: every metric
they name is one the roles define (found in the source, confirmed in the registry once
its module is imported), every label they select or group by is one of its labels, every
expression parses (promtool), every alert fires as alerts.test.yml says (promtool), and
every runbook link lands on a heading of docs/operations.md."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from prometheus_client import REGISTRY

from tests.deploy_tools import ROOT, deploy_tool

PACKAGES = ("app", "outbox", "workers")
METRIC_TYPES = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram"}
SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
}
ALERTS = ROOT / "deploy/prometheus/alerts.yml"
ALERT_TESTS = ROOT / "deploy/prometheus/alerts.test.yml"
DASHBOARD = ROOT / "deploy/grafana/pixwave.json"
OPERATIONS = ROOT / "docs/operations.md"
# Prometheus renames a scraped `job` label to `exported_job` (honor_labels: false).
RENAMED_BY_PROMETHEUS = {"exported_job": "job"}
# Grafana's own variables, given a value so promtool can parse the expression.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$__interval": "1m"}
SERIES = re.compile(r"\b(pixwave_[a-z0-9_]+)\b(\{[^}]*\})?")
MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*\"")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str
    labels: tuple[str, ...]
    module: str


def _metric_of(call: ast.Call, module: str) -> Metric | None:
    kind = call.func.id if isinstance(call.func, ast.Name) else None
    if kind not in METRIC_TYPES or not call.args:
        return None
    name = call.args[0]
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        return None
    labels: tuple[str, ...] = ()
    if len(call.args) > 2 and isinstance(call.args[2], ast.List):
        labels = tuple(ast.literal_eval(call.args[2]))
    return Metric(name.value, METRIC_TYPES[kind], labels, module)


@cache
def defined_metrics() -> dict[str, Metric]:
    """Every Counter(...), Gauge(...) and Histogram(...) the packages define."""
    found: dict[str, Metric] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            for node in ast.walk(ast.parse(path.read_text())):
                metric = _metric_of(node, module) if isinstance(node, ast.Call) else None
                if metric is not None:
                    found[metric.name] = metric
    return found


@cache
def sample_names() -> dict[str, Metric]:
    """The series names Prometheus scrapes, each to its metric (a counter's name loses
    any `_total` it was given, then every sample gets one)."""
    return {
        metric.name.removesuffix("_total") + suffix: metric
        for metric in defined_metrics().values()
        for suffix in SAMPLE_SUFFIXES[metric.kind]
    }


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def every_expression() -> list[str]:
    return [rule["expr"] for rule in alert_rules()] + dashboard_expressions()


def assert_names_real_series(expression: str) -> None:
    found = SERIES.findall(expression)
    assert found, f"names no PixWave metric: {expression}"
    metrics = []
    for name, matchers in found:
        assert name in sample_names(), f"{name} is not a metric the code defines"
        metric = sample_names()[name]
        metrics.append(metric)
        allowed = set(metric.labels) | ({"le"} if name.endswith("_bucket") else set())
        for label in MATCHER.findall(matchers):
            assert RENAMED_BY_PROMETHEUS.get(label, label) in allowed, f"{name} has no {label}"
    labels = {label for metric in metrics for label in metric.labels} | {"le"}
    for grouping in GROUPING.findall(expression):
        for label in filter(None, (part.strip() for part in grouping.split(","))):
            assert RENAMED_BY_PROMETHEUS.get(label, label) in labels, f"{label}: {expression}"


# -- the metrics catalogue ------------------------------------------------------------


def test_every_metric_found_in_the_source_is_registered_once_imported() -> None:
    for module in {metric.module for metric in defined_metrics().values()}:
        importlib.import_module(module)
    registered = {family.name: family.type for family in REGISTRY.collect()}
    for metric in defined_metrics().values():
        family = metric.name.removesuffix("_total")
        assert registered.get(family) == metric.kind, metric.name
    # Covers each role: api, relay, workers, gateways, payments, scheduler, Redis fallback.
    assert len({m.module for m in defined_metrics().values()}) >= 7


def test_the_name_check_refuses_an_unknown_metric_or_label() -> None:
    with pytest.raises(AssertionError):
        assert_names_real_series("rate(pixwave_outbox_published[5m])")
    with pytest.raises(AssertionError):
        assert_names_real_series('pixwave_worker_queue_depth{queu="x"}')
    with pytest.raises(AssertionError):
        assert_names_real_series("sum by (tenant) (pixwave_worker_in_flight)")
    assert_names_real_series('sum by (le) (pixwave_worker_handler_seconds_bucket{consumer="x"})')


# -- alert rules ----------------------------------------------------------------------


def test_the_rules_file_has_prometheus_rule_groups_shape() -> None:
    document = yaml.safe_load(ALERTS.read_text())
    assert set(document) == {"groups"}
    names = [group["name"] for group in document["groups"]]
    assert len(names) == len(set(names))
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit"}
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
            assert rule["labels"]["severity"] in {"warning", "critical"}
            assert {"summary", "description", "runbook"} <= set(rule["annotations"])


def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        [deploy_tool("promtool"), "check", "rules", str(ALERTS)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_alert_fires_as_its_promtool_tests_say() -> None:
    result = subprocess.run(
        [deploy_tool("promtool"), "test", "rules", str(ALERT_TESTS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tested = {
        case["alertname"]
        for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    required = {
        "PixWaveOutboxLagging",
        "PixWaveOutboxEventParked",
        "PixWaveDeadLetters",
        "PixWaveGatewayCircuitOpened",
        "PixWaveApiErrors",
        "PixWaveCardsSlowToSettle",
        "PixWaveSchedulerJobStale",
    }
    assert required <= tested


@pytest.mark.parametrize("expression", every_expression())
def test_every_expression_names_real_metrics_and_labels(expression: str) -> None:
    assert_names_real_series(expression)


def github_anchors(markdown: Path) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", markdown.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_every_runbook_link_lands_on_a_heading_of_the_runbook() -> None:
    anchors = github_anchors(OPERATIONS)
    for rule in alert_rules():
        page, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert page == "docs/operations.md", rule["alert"]
        assert anchor in anchors, rule["alert"]


# -- the dashboard --------------------------------------------------------------------


def test_the_dashboard_is_grafana_json_with_a_prometheus_source() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "pixwave-overview"
    assert dashboard["title"]
    [source] = dashboard["templating"]["list"]
    assert (source["type"], source["query"]) == ("datasource", "prometheus")
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"
            assert [t["refId"] for t in panel["targets"]]
    shown = " ".join(dashboard_expressions())
    for topic in ("outbox_oldest", "queue_depth", "circuit_opened", 'status=~"5.."', "to_terminal"):
        assert topic in shown


def test_promtool_parses_every_dashboard_expression(tmp_path: Path) -> None:
    """Each expression, Grafana's variables given values, as a recording rule."""
    rules = []
    for index, expression in enumerate(dashboard_expressions()):
        for variable, value in GRAFANA_VARIABLES.items():
            expression = expression.replace(variable, value)
        rules.append({"record": f"pixwave:dashboard_panel_{index}", "expr": expression})
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [deploy_tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- the compose profiles: logs (Vector -> Loki) and metrics (Prometheus), Grafana ------

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
COMPOSE_SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
VECTOR = ROOT / "deploy/logs/vector.yaml"
PROMETHEUS = ROOT / "deploy/prometheus/prometheus.yml"
# A real line of each kind the roles write: an event with extras, and an exception.
LOGURU_LINES = """
from loguru import logger
from app.logs import configure_logging
configure_logging(role="api", level="INFO", json_lines=True)
logger.info("http.request", status=201, route="/v1/payment_intents")
try:
    raise ValueError("boom")
except ValueError:
    logger.exception("http.unhandled_error")
"""


def profile(name: str) -> set[str]:
    return {s for s, service in COMPOSE_SERVICES.items() if name in service.get("profiles", [])}


def mounted_sources(service: str) -> dict[str, str]:
    """Repository files a service mounts, by where they land in the container."""
    mounts = [volume.split(":") for volume in COMPOSE_SERVICES[service].get("volumes", [])]
    return {target: source for source, target, *_ in mounts if source.startswith("./")}


def test_the_profiles_add_their_services_and_leave_the_default_stack_alone() -> None:
    assert profile("logs") == {"loki", "vector", "grafana"}
    assert profile("metrics") == {"prometheus", "grafana"}
    assert profile("tracing") == {"jaeger"}
    observability = profile("logs") | profile("metrics") | profile("tracing")
    for name, service in COMPOSE_SERVICES.items():
        assert (name in observability) == ("profiles" in service), name
    for name in observability:
        for source in mounted_sources(name).values():
            assert (ROOT / source).exists(), f"{name} mounts {source}"


def test_every_traced_role_exports_only_when_told_and_jaeger_takes_otlp() -> None:
    """Off by default; the endpoint docs/operations.md gives is Jaeger's OTLP/HTTP port."""
    assert "4318:4318" in COMPOSE_SERVICES["jaeger"]["ports"]
    for role in ("api", "relay", "worker-charge", "worker-webhooks", "scheduler"):
        setting = COMPOSE_SERVICES[role]["environment"]["PIXWAVE_OTEL_EXPORTER_OTLP_ENDPOINT"]
        assert setting == "${PIXWAVE_OTEL_EXPORTER_OTLP_ENDPOINT:-}", role
    runbook = (ROOT / "docs/operations.md").read_text()
    assert "PIXWAVE_OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318" in runbook


def vector_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(VECTOR.read_text())
    return config


def test_vector_reads_this_project_and_ships_to_the_compose_loki() -> None:
    config = vector_config()
    assert mounted_sources("vector")["/etc/vector/pixwave.yaml"] == "./deploy/logs/vector.yaml"
    assert COMPOSE_SERVICES["vector"]["command"] == ["--config", "/etc/vector/pixwave.yaml"]
    assert "/var/run/docker.sock:/var/run/docker.sock:ro" in COMPOSE_SERVICES["vector"]["volumes"]
    [source] = config["sources"].values()
    assert source["type"] == "docker_logs"
    assert source["include_labels"] == [f"com.docker.compose.project={COMPOSE['name']}"]
    components = set(config["sources"]) | set(config.get("transforms", {}))
    for section in ("transforms", "sinks"):
        for name, component in config[section].items():
            assert set(component["inputs"]) <= components, name
    [sink] = config["sinks"].values()
    assert sink["type"] == "loki"
    host, port = sink["endpoint"].removeprefix("http://").split(":")
    assert host in profile("logs")
    assert f"{port}:{port}" in COMPOSE_SERVICES[host]["ports"]
    assert set(sink["labels"]) == {"service", "role", "level"}


def loguru_records() -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-c", LOGURU_LINES], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def resolves(document: dict[str, Any], path: str) -> bool:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


def test_vector_reads_fields_loguru_really_writes() -> None:
    program = vector_config()["transforms"]["loguru"]["source"]
    event, failure = loguru_records()
    read = set(re.findall(r"\brecord\.([a-z_.]+[a-z_])", program))
    assert {"message", "time.repr", "level.name", "extra", "exception"} <= read
    for path in read:
        assert resolves(failure["record"], path), path
    assert event["record"]["extra"]["role"] == "api"
    assert event["record"]["exception"] is None
    assert "Traceback" in failure["text"]
    assert set(re.findall(r"\bline\.([a-z_]+)", program)) <= set(failure)


def test_every_field_vector_writes_is_in_the_runbook_mapping() -> None:
    program = vector_config()["transforms"]["loguru"]["source"]
    written = set(re.findall(r"^\s*\.([a-z_]+) =", program, flags=re.MULTILINE))
    assert {"timestamp", "level", "message", "role", "service", "fields"} <= written
    mapping = OPERATIONS.read_text().split("## Logs", 1)[1].split("\n## ", 1)[0]
    for field in written:
        assert f"`{field}`" in mapping, field


def test_prometheus_scrapes_each_role_where_compose_serves_its_metrics() -> None:
    result = subprocess.run(
        [deploy_tool("promtool"), "check", "config", str(PROMETHEUS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(PROMETHEUS.read_text())
    assert config["rule_files"] == [ALERTS.name]
    [job] = config["scrape_configs"]
    targets = {
        target: group["labels"]["role"]
        for group in job["static_configs"]
        for target in group["targets"]
    }
    roles = [
        name
        for name, service in COMPOSE_SERVICES.items()
        if service.get("image") == "pixwave:local"
        and "healthcheck" in service
        and name != "gateway-sim"
    ]
    assert sorted(targets.values()) == sorted(roles)
    for target, role in targets.items():
        health = urlsplit(COMPOSE_SERVICES[role]["healthcheck"]["test"][-1])
        assert target == f"{role}:{health.port}"
    assert mounted_sources("prometheus") == {"/etc/prometheus": "./deploy/prometheus"}


def test_grafana_provisions_both_sources_and_the_dashboard() -> None:
    sources = yaml.safe_load((ROOT / "deploy/grafana/datasources.yaml").read_text())
    urls = {source["type"]: urlsplit(source["url"]) for source in sources["datasources"]}
    assert set(urls) == {"loki", "prometheus"}
    for url in urls.values():
        assert url.hostname in COMPOSE_SERVICES
        assert f"{url.port}:{url.port}" in COMPOSE_SERVICES[url.hostname]["ports"]
    providers = yaml.safe_load((ROOT / "deploy/grafana/dashboards.yaml").read_text())
    [provider] = providers["providers"]
    mounted = mounted_sources("grafana")
    dashboard_path = f"{provider['options']['path']}/{DASHBOARD.name}"
    assert mounted[dashboard_path] == f"./{DASHBOARD.relative_to(ROOT)}"
